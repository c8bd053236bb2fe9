"""A model family as a plain record: its models, its task, its preprocessing and where its weights and card lie.

A brought model (``scse_viz.bring``) is a family too, whose ``loader`` hands out the models it was given.
Everything that differs between families is a field here, so nothing else branches on a family's name: pages ask
``family.task`` what the outputs mean, ``family.prepare`` turns a picture into the models' input, ``family.build``
makes the untrained architecture of a variant. Training, evaluation and shipping find their per-family parts in
``scse_viz/train/<name>.py`` themselves (the record names no training code, so loading a model needs none).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from scse_viz.blocks import ATTENTION_KINDS
from scse_viz.preprocess import Prepared
from scse_viz.tasks import Task

ASSETS = Path(os.environ.get("SCSE_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
VARIANT_LABELS: dict[str, str] = {"none": "baseline", "cse": "cSE", "sse": "sSE", "scse": "scSE"}


@dataclass(frozen=True, eq=False)  # eq=False: compared and hashed by identity (one record per family)
class Family:
    """Models that differ only in their attention blocks, trained alike for one task."""

    name: str
    title: str
    task: Task
    prepare: Callable[[np.ndarray], Prepared]  # picture (H×W or H×W×3 in [0, 1]) -> what the models take
    build: Callable[[str], nn.Module]  # variant -> the untrained architecture (a brought family: its loaded model)
    trained_on: str  # one sentence for people: what images these models know
    variants: tuple[str, ...] = ATTENTION_KINDS
    baseline: str | None = "none"  # the variant without attention that the others are compared with (None: none)
    variant_labels: Mapping[str, str] = field(default_factory=lambda: dict(VARIANT_LABELS))
    loader: Callable[[str], nn.Module] | None = None  # a brought family's ready models; None: the shipped weights
    provenance: Mapping[str, Any] = field(default_factory=dict)  # where a brought model came from (exports say it)
    degradation: Any = None  # what the app does to a clean picture first (``scse_viz.degradation``); None: nothing
    max_side: int | None = None  # longest side the models run at (larger inputs are shrunk); None: the app's default
    suits: Callable[[Any], bool] | None = None  # does a decoded upload (LoadedImage or Volume) fit these models?
    # the family's test set as the app would see it, (name, pixels in [0, 1], label or None) from data_root (None: the
    # default place), for ``python -m scse_viz.batch test`` and the Gate health page; None: the family has none
    test_images: Callable[[Path | None], Iterable[tuple[str, np.ndarray, Any]]] | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.task.class_names

    @property
    def folder(self) -> Path:
        return ASSETS / "models" / self.name

    def label(self, variant: str) -> str:
        """The variant's name for people ("baseline", "scSE", …)."""
        return self.variant_labels.get(variant, variant)

    def check_variant(self, variant: str) -> None:
        if variant not in self.variants:
            raise ValueError(f"unknown variant {variant!r}; choose one of {self.variants}")

    def weights_path(self, variant: str) -> Path:
        self.check_variant(variant)
        return self.folder / f"{variant}.safetensors"

    def card(self) -> dict[str, Any]:
        """The family's ``card.json`` (metrics measured by our own evaluation, recipe, shipped seeds and hashes);
        FileNotFoundError when none is shipped."""
        path = self.folder / "card.json"
        return json.loads(_card_text(path, path.stat().st_mtime))

    @property
    def excitation_file(self) -> Path | None:
        """Per-class cSE statistics over the family's test set (``excitation.npz``), where they are shipped."""
        path = self.folder / "excitation.npz"
        return path if path.is_file() else None


@cache
def _card_text(path: Path, mtime: float) -> str:
    return path.read_text()
