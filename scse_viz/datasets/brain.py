"""2-D brain slices with tissue labels from the MNI152 2009a symmetric template that ships inside nilearn's wheel.

Nothing is downloaded: the T1 template and its GM/WM probability maps are read from the installed ``nilearn``
package (its test slabs are the brain family's test set, read by the batch and the Gate health page).

Labels (one per voxel, decided at the template's 1 mm):

- brain = T1 > 0 (the template is skull-stripped: everything outside the brain is exactly 0);
- outside the brain: background (0);
- inside: the largest of p_CSF = max(1 - p_GM - p_WM, 0), p_GM and p_WM (probabilities = stored value / 255), ties
  going to the later class (GM before CSF, WM before GM). CSF is therefore "inside the brain but neither GM nor WM":
  ventricles, sulcal CSF and the partial-volume rim.

Split: along each orientation the slices that hold at least ``MIN_BRAIN_PIXELS`` brain voxels are cut into 12
contiguous slabs of equal length. Slabs 2 and 9 are the test set, 5 and 6 validation, the other eight training,
and the ``GUARD`` slices of a training slab next to a held-out slab are dropped. The pairs are mirror images of each
other, because the template is left-right symmetric: a sagittal test slice's mirror twin is never trained on.
Held-out slabs are never seen as slices of their own orientation, but their voxels do appear as lines of training
slices in the other two orientations: the test measures new 2-D sections of the same brain, not new brains.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from scse_viz.families.classes import BRAIN_CLASSES  # noqa: F401  (the labels' names, shared with the family)
from scse_viz.io import ORIENTATIONS, Volume, image_from_slice, load_volume, volume_slice

TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
MIN_BRAIN_PIXELS = 200
SLABS = 12
TEST_SLABS = (2, 9)
VAL_SLABS = (5, 6)
GUARD = 2
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class BrainSlice:
    """One 2-D slice as the app would show it (``volume_slice`` orientation) with its tissue labels."""

    orientation: str
    index: int
    pixels: np.ndarray  # H×W float32 in [0, 1], through ``image_from_slice`` exactly as an uploaded volume
    labels: np.ndarray  # H×W uint8, indices into BRAIN_CLASSES
    probabilities: np.ndarray  # 4×H×W float32 class probabilities the labels are the argmax of

    @property
    def name(self) -> str:
        return f"mni152-{self.orientation}-{self.index:03d}"


def _template_bytes(kind: str) -> bytes:
    resource = importlib.resources.files("nilearn") / "datasets" / "data" / TEMPLATE.format(kind)
    return resource.read_bytes()


@lru_cache(maxsize=1)
def template_volumes() -> tuple[Volume, Volume, Volume]:
    """(T1, GM, WM) as RAS+ volumes, loaded through the app's own NIfTI reader."""
    return tuple(load_volume(_template_bytes(kind), f"mni152-{kind}.nii.gz") for kind in ("t1", "gm", "wm"))


def class_probabilities(t1: np.ndarray, gm: np.ndarray, wm: np.ndarray) -> np.ndarray:
    """4×… probabilities (background, CSF, GM, WM) from raw template values (0..255), following the module rule."""
    brain = (t1 > 0).astype(np.float32)
    p_gm, p_wm = gm.astype(np.float32) / 255.0, wm.astype(np.float32) / 255.0
    p_csf = np.clip(1.0 - p_gm - p_wm, 0.0, 1.0)
    return np.stack([1.0 - brain, brain * p_csf, brain * p_gm, brain * p_wm]).astype(np.float32)


def labels_from_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Argmax over the class axis (axis 0) with ties going to the later class, as uint8."""
    flipped = probabilities[::-1]
    return (len(probabilities) - 1 - np.argmax(flipped, axis=0)).astype(np.uint8)


def brain_extent(orientation: str) -> tuple[int, int]:
    """First and last slice index (inclusive) along ``orientation`` with at least MIN_BRAIN_PIXELS brain voxels."""
    t1 = template_volumes()[0].data
    axis = ORIENTATIONS.index(orientation)
    counts = (t1 > 0).sum(axis=tuple(a for a in range(3) if a != axis))
    present = np.flatnonzero(counts >= MIN_BRAIN_PIXELS)
    return int(present[0]), int(present[-1])


def slab_of(orientation: str) -> dict[int, int]:
    """Slice index -> slab number (0..SLABS-1) for every slice inside the brain extent."""
    first, last = brain_extent(orientation)
    indices = np.arange(first, last + 1)
    slabs = (np.arange(len(indices)) * SLABS) // len(indices)
    return {int(i): int(s) for i, s in zip(indices, slabs)}


def split_indices(orientation: str, split: str) -> list[int]:
    """Slice indices of ``split`` ("train", "val", "test") along ``orientation``, following the module's rule."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    slabs = slab_of(orientation)
    held_out = set(TEST_SLABS) | set(VAL_SLABS)
    if split != "train":
        wanted = set(TEST_SLABS if split == "test" else VAL_SLABS)
        return [i for i, s in slabs.items() if s in wanted]
    held = [i for i, s in slabs.items() if s in held_out]
    return [i for i, s in slabs.items() if s not in held_out and min(abs(i - h) for h in held) > GUARD]


def brain_slice(orientation: str, index: int) -> BrainSlice:
    """One slice of the template with labels, in the app's display orientation."""
    t1, gm, wm = template_volumes()
    raw = [volume_slice(v, orientation, index) for v in (t1, gm, wm)]
    probabilities = class_probabilities(*raw)
    pixels = image_from_slice(raw[0], f"mni152-{orientation}-{index}").pixels
    return BrainSlice(orientation, index, np.array(pixels), labels_from_probabilities(probabilities), probabilities)


def load_brain_slices(split: str, orientations: tuple[str, ...] = ORIENTATIONS) -> list[BrainSlice]:
    """Every slice of ``split`` in the given orientations, in orientation then index order."""
    return [brain_slice(o, i) for o in orientations for i in split_indices(o, split)]


def test_images(data_root: Path | None = None) -> Iterator[tuple[str, np.ndarray, None]]:
    """The brain family's test set as the app shows it: the test slabs' slices, one at a time, in orientation then
    index order (tissue labels are per pixel: no label per image); ``data_root`` unused (the template ships inside
    nilearn)."""
    for orientation in ORIENTATIONS:
        for index in split_indices(orientation, "test"):
            item = brain_slice(orientation, index)
            yield f"{item.orientation}-{item.index:03d}", item.pixels, None
