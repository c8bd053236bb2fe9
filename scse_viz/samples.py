"""Sample inputs shipped with each model family, so a visitor can try the app without a file of their own.

``assets/samples/<family>/index.json`` lists the family's samples; ``python -m scse_viz.train.samples`` writes them
(held-out test images only, never training data). A sample is handed to the app as the bytes of its file, exactly
like an upload, so it takes the very same path through loading and preprocessing. Where the truth is known (the
brain slices' tissue labels, the garments' classes) the sample carries it for comparison.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from scse_viz.zoo import ASSETS, FAMILIES
from scse_viz.zoo import family as family_spec

SAMPLE_KINDS = ("image", "volume")
INDEX_NAME = "index.json"


@dataclass(frozen=True)
class Sample:
    """One sample file of a family, with what is known about it."""

    family: str
    name: str  # stable identifier, unique within the family
    title: str  # short label for a picker
    path: Path  # the file the app reads (PNG, JPEG or .nii.gz)
    kind: str  # "image" | "volume"
    mask_path: Path | None  # PNG of class indices (mode "L"), same size as the image; None when unknown
    label: int | None  # class index of a classification sample; None otherwise
    description: str  # where the sample comes from and what was done to it


def samples_folder(family: str) -> Path:
    """``assets/samples/<family>`` (``family`` must be a shipped family)."""
    return ASSETS / "samples" / family_spec(family).name


def _inside(folder: Path, relative: str) -> Path:
    """``folder / relative``, refusing names that leave the folder (an index is data, not a licence to read files)."""
    path = (folder / relative).resolve()
    if folder.resolve() not in path.parents:
        raise ValueError(f"{folder / INDEX_NAME}: sample file {relative!r} lies outside {folder}")
    return path


def _sample(family: str, folder: Path, entry: dict[str, Any]) -> Sample:
    kind = entry["kind"]
    if kind not in SAMPLE_KINDS:
        raise ValueError(f"{folder / INDEX_NAME}: sample {entry.get('name')!r} has unknown kind {kind!r}")
    mask = entry.get("mask")
    label = entry.get("label")
    return Sample(
        family=family,
        name=str(entry["name"]),
        title=str(entry["title"]),
        path=_inside(folder, entry["file"]),
        kind=kind,
        mask_path=None if mask is None else _inside(folder, mask),
        label=None if label is None else int(label),
        description=str(entry.get("description", "")),
    )


def list_samples(family: str) -> list[Sample]:
    """The samples of ``family`` in the index's order; empty when none are shipped (a brought model's family)."""
    if family not in FAMILIES:
        return []
    folder = samples_folder(family)
    index = folder / INDEX_NAME
    if not index.is_file():
        return []
    entries = json.loads(index.read_text())["samples"]
    return [_sample(family, folder, entry) for entry in entries]


def sample_bytes(sample: Sample) -> bytes:
    """The sample file's bytes: what the app passes to ``scse_viz.io.load_any`` as if the visitor had uploaded it."""
    return sample.path.read_bytes()


def sample_truth_mask(sample: Sample) -> np.ndarray | None:
    """H×W uint8 class indices of the sample (same size as its image), or None where no truth is shipped."""
    if sample.mask_path is None:
        return None
    with Image.open(sample.mask_path) as mask, Image.open(sample.path) as image:
        if mask.mode != "L":
            raise ValueError(f"{sample.mask_path.name}: a truth mask must be an 8-bit gray PNG, not mode {mask.mode}")
        if mask.size != image.size:
            raise ValueError(f"{sample.mask_path.name} is {mask.size} pixels but {sample.path.name} is {image.size}")
        return np.array(mask, dtype=np.uint8)


def sample_truth(sample: Sample) -> np.ndarray | int | None:
    """What is known to be right about the sample, in the form its family's task scores: the truth mask where one
    is shipped, else the class label, else None."""
    mask = sample_truth_mask(sample)
    return mask if mask is not None else sample.label
