"""The shipped model families: list them, load a variant in eval mode, and prepare an image the way it was trained.

Families are the records of the modules in :mod:`scse_viz.families`. Weights live in
``assets/models/<family>/<variant>.safetensors`` next to the family's card (``card.json`` for programs,
``card.md`` for people). Only safetensors are read (no pickle), and nothing is ever downloaded. The
``prepare`` of a family is the very function its training and evaluation used, so the app shows the model the
same kind of picture it learned from.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from scse_viz import families as _families_package
from scse_viz.blocks import AttentionKind
from scse_viz.errors import CheckpointError
from scse_viz.family import ASSETS, VARIANT_LABELS, Family
from scse_viz.preprocess import Prepared

__all__ = [
    "ASSETS",
    "FAMILIES",
    "VARIANT_LABELS",
    "Family",
    "Prepared",
    "family",
    "list_families",
    "load_card",
    "load_checkpoint",
    "load_model",
    "load_state",
    "models_of",
]


@cache
def _discover() -> dict[str, Family]:
    """Every ``FAMILY`` of the modules in ``scse_viz.families``, in module-name order."""
    found: dict[str, Family] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(_families_package.__path__)):
        record = getattr(importlib.import_module(f"{_families_package.__name__}.{module}"), "FAMILY", None)
        if isinstance(record, Family):
            if record.name in found:
                raise RuntimeError(f"two families are called {record.name!r}")
            found[record.name] = record
    return found


FAMILIES: dict[str, Family] = _discover()


def list_families() -> list[Family]:
    return list(FAMILIES.values())


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[name]


def load_card(name: str) -> dict:
    """``assets/models/<name>/card.json`` (re-read when the file changes); FileNotFoundError if not shipped."""
    return family(name).card()


def load_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a safetensors state dict into ``model`` strictly; every mismatch becomes one :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no weights file at {path}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({error})") from error
    return load_state(model, tensors, path.name)


def load_state(model: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> nn.Module:
    """Copy ``tensors`` into ``model``, refusing missing or extra names and shape mismatches with one message."""
    check_fits(model.state_dict(), tensors, source, type(model).__name__)
    model.load_state_dict(tensors, strict=True)
    return model


def check_fits(expected: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor], source: str, kind: str) -> None:
    """Refuse missing or extra names and shape mismatches between a model's ``expected`` state and ``tensors`` with
    one :class:`CheckpointError` (shapes only: ``expected`` may live on the meta device)."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or extra or wrong:
        parts = []
        for label, names in (("missing", missing), ("unexpected", extra), ("with the wrong shape", wrong)):
            if names:
                shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
                parts.append(f"{len(names)} {label} ({shown})")
        raise CheckpointError(f"{source} does not fit the {kind} it is loaded into: " + "; ".join(parts) + ".")


def models_of(spec: Family) -> dict[str, nn.Module]:
    """Every variant of ``spec`` in eval mode: a brought family's own models, or the shipped weights loaded."""
    if spec.loader is not None:
        return {variant: spec.loader(variant) for variant in spec.variants}
    return {variant: load_model(spec.name, variant) for variant in spec.variants}


def load_model(family_name: str, variant: AttentionKind | str) -> nn.Module:
    """The shipped model of ``family_name`` / ``variant``, in eval mode on the CPU, its weights channels-last.

    Channels-last (NHWC) lets oneDNN's convolutions run 1.2-1.5 times faster on this CPU (brain, photo; measured by
    ``python -m benchmarks.app_latency``) and changes nothing else: a convolution with channels-last weights takes an
    input in either layout, and the outputs and every captured gate are the same numbers up to float rounding
    (differences about 1e-6 of outputs in [0, 1]); they are still exactly what this model computed."""
    spec = family(family_name)
    spec.check_variant(variant)
    model = load_checkpoint(spec.build(variant), spec.weights_path(variant)).eval()
    return model.to(memory_format=torch.channels_last)
