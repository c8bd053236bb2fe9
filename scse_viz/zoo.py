"""The shipped model families: list them, load a variant in eval mode, and prepare an image the way it was trained.

Weights live in ``assets/models/<family>/<variant>.safetensors`` next to the family's card (``card.json`` for
programs, ``card.md`` for people). Only safetensors are read (no pickle), and nothing is ever downloaded. The
``prepare`` of a family is the very function its training and evaluation used, so the app shows the model the
same kind of picture it learned from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from scse_viz.blocks import ATTENTION_KINDS, AttentionKind
from scse_viz.data.brain import BRAIN_CLASSES
from scse_viz.data.fashion import CLASS_NAMES as FASHION_CLASSES
from scse_viz.errors import CheckpointError
from scse_viz.preprocess import (
    SquareGeometry,
    brain_preprocess,
    brain_tensor,
    fashion_preprocess,
    fashion_tensor,
)
from scse_viz.train.config import BrainConfig, FashionConfig, RunConfig

ASSETS = Path(os.environ.get("SCSE_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
VARIANT_LABELS: dict[str, str] = {"none": "baseline", "cse": "cSE", "sse": "sSE", "scse": "scSE"}


@dataclass(frozen=True)
class Prepared:
    """An image made ready for one family's models.

    ``pixels`` is what the model sees (size×size, in [0, 1], before the network's own normalisation), ``tensor`` the
    1×1×size×size input, and ``geometry`` maps maps at the model's resolution back onto the original image (None
    where no inverse is kept: the classifier's crop-and-resize).
    """

    pixels: np.ndarray
    tensor: torch.Tensor
    geometry: SquareGeometry | None


@dataclass(frozen=True)
class Family:
    """One family of four models that differ only in their attention blocks."""

    name: str
    title: str
    task: Literal["segmentation", "classification"]
    class_names: tuple[str, ...]
    config_class: type[RunConfig]
    trained_on: str  # one sentence for people: what images these models know

    @property
    def folder(self) -> Path:
        return ASSETS / "models" / self.name

    @property
    def variants(self) -> tuple[str, ...]:
        return ATTENTION_KINDS

    def build(self, variant: str) -> nn.Module:
        """The untrained architecture of ``variant`` (the family's recipe)."""
        _check_variant(variant)
        return self.config_class(variant=variant).build_model()

    def weights_path(self, variant: str) -> Path:
        _check_variant(variant)
        return self.folder / f"{variant}.safetensors"

    def prepare(self, image: np.ndarray) -> Prepared:
        """Gray (H×W) or colour (H×W×3) image in [0, 1] (or uint8) -> what the family's models take."""
        if self.name == "brain":
            pixels, geometry = brain_preprocess(image)
            return Prepared(pixels, brain_tensor(pixels), geometry)
        pixels = fashion_preprocess(image)
        return Prepared(pixels, fashion_tensor(pixels), None)

    def card(self) -> dict[str, Any]:
        """The family's ``card.json`` (metrics measured by our own evaluation, recipe, shipped seeds and hashes)."""
        return load_card(self.name)


FAMILIES: dict[str, Family] = {
    "brain": Family(
        name="brain",
        title="Brain MRI tissue segmentation (U-Net)",
        task="segmentation",
        class_names=BRAIN_CLASSES,
        config_class=BrainConfig,
        trained_on="2-D slices (sagittal, coronal, axial) of the MNI152 2009a T1 brain template, skull-stripped, "
        "with intensity and shape augmentation",
    ),
    "fashion": Family(
        name="fashion",
        title="Fashion-MNIST garment classification (residual network)",
        task="classification",
        class_names=FASHION_CLASSES,
        config_class=FashionConfig,
        trained_on="Fashion-MNIST: 28×28 gray photos of single garments, light on a black background",
    ),
}


def _check_variant(variant: str) -> None:
    if variant not in ATTENTION_KINDS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {ATTENTION_KINDS}")


def list_families() -> list[Family]:
    return list(FAMILIES.values())


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[name]


@cache
def _card_text(path: Path, mtime: float) -> str:
    return path.read_text()


def load_card(name: str) -> dict[str, Any]:
    """``assets/models/<name>/card.json`` (re-read when the file changes); FileNotFoundError if not shipped."""
    path = family(name).folder / "card.json"
    return json.loads(_card_text(path, path.stat().st_mtime))


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
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or extra or wrong:
        parts = []
        for label, names in (("missing", missing), ("unexpected", extra), ("with the wrong shape", wrong)):
            if names:
                shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
                parts.append(f"{len(names)} {label} ({shown})")
        raise CheckpointError(
            f"{source} does not fit the {type(model).__name__} it is loaded into: " + "; ".join(parts) + "."
        )
    model.load_state_dict(tensors, strict=True)
    return model


def load_model(family_name: str, variant: AttentionKind | str) -> nn.Module:
    """The shipped model of ``family_name`` / ``variant``, in eval mode on the CPU."""
    spec = family(family_name)
    model = spec.build(variant)
    return load_checkpoint(model, spec.weights_path(variant)).eval()
