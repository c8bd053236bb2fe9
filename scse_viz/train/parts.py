"""What training, evaluation, shipping and the sample builder need to know of one family, in one record.

Each shipped family's training module, ``scse_viz/train/<family name>.py``, defines ``PARTS``; the commands look it
up here instead of branching on the family's name, so a new family brings its parts and touches none of the
commands. The family record does not name its training module (dependencies point down: loading a model needs no
training code); this layer finds it by that name.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from scse_viz.family import Family
from scse_viz.train.common import TrainResult
from scse_viz.train.config import RunConfig

MeasureTest = Callable[[nn.Module, "torch.device | None", "Path | None"], dict[str, Any]]


@dataclass(frozen=True)
class FamilyTraining:
    """One family's training-side parts.

    ``measure_test(model, device, data_root)`` returns the test report with the headline number under ``"metric"``
    and the per-class numbers under ``"per_class"`` (class name -> value); ``record_metric`` is the key under which
    a training run's JSON stores that headline number; ``tolerance`` is how far ``python -m scse_viz.evaluate`` lets
    a re-measured headline number differ from the card before it fails.
    """

    config: type[RunConfig]
    train: Callable[[Any, Path, Path | None], TrainResult]  # (config, out_dir, data_root)
    measure_test: MeasureTest
    metric_name: str  # for people: "test mean Dice (CSF, GM, WM)"
    record_metric: str  # key of the headline number in a run's JSON record
    tolerance: float
    write_samples: Callable[[Path, Path | None, Path | None], Path]  # (samples, data_root, card pictures) -> index
    extra_assets: Callable[[Family, Path | None], list[Path]] | None = None  # written after shipping (statistics)
    # methods without training measured on the same test inputs (method -> measure -> value), for the card
    references: Callable[[], dict[str, dict[str, float]]] | None = None
    check_every_number: bool = False  # evaluate holds every per-class number to the tolerance, not only the headline
    # in-distribution model inputs for the novelty statistics (``python -m scse_viz.train.novelty``):
    # (split "fit" | "calibrate" | "test", about how many, data_root) -> batches N×C×H×W, drawn reproducibly
    novelty_inputs: Callable[[str, int, Path | None], list[torch.Tensor]] | None = None


def _training_module(family: Family) -> str | None:
    """``scse_viz.train.<family name>`` where that module exists and the family is a shipped one."""
    if family.loader is not None or not family.name.isidentifier():
        return None
    name = f"{__package__}.{family.name}"
    return name if importlib.util.find_spec(name) is not None else None


def parts_for(family: Family) -> FamilyTraining:
    """The ``PARTS`` of the family's training module; ValueError for a family that cannot be trained here."""
    module = _training_module(family)
    if module is None:
        raise ValueError(f"the {family.name} family has no training code")
    parts = getattr(importlib.import_module(module), "PARTS", None)
    if not isinstance(parts, FamilyTraining):
        raise ValueError(f"{module} defines no FamilyTraining called PARTS")
    return parts


def trainable_families() -> list[str]:
    """Names of the shipped families that have training code."""
    from scse_viz import zoo

    return [f.name for f in zoo.list_families() if _training_module(f) is not None]
