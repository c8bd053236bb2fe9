"""Synthetic heads drawn from the template's tissue labels: the SynthSeg / SynthStrip idea on 2-D slices.

Why: U-Nets trained on one skull-stripped template's own intensities label a real scan's skull, scalp and neck as
tissue and fail on any other contrast. Following Billot et al. ("SynthSeg", Medical Image Analysis 2023) and Hoopes
et al. ("SynthStrip", NeuroImage 2022), a training image here is rendered from a label map, not taken from the
template: the brain's CSF/GM/WM probabilities come from the MNI152 template, the head around it is drawn at random
(extra-cerebral CSF, skull with marrow, muscle, fat, skin, a neck, a rough face, eyes), and every label gets a random
intensity, so T1-, T2-, PD- and FLAIR-like contrasts all occur. Blur, a bias field, a lower acquisition resolution,
noise and gamma follow. Only the brain's classes are targets: the CSF rim between brain and skull is CSF (the
template's brain mask holds that rim too), everything else the head adds is labelled background.

The generator works on any pixel size (``mm_per_px``): the training samples are drawn at the model's 160×160, the
test heads of the model card at the template's 1 mm. Every random choice comes from the ``numpy`` generator given,
so a seeded generator reproduces a head exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from scse_viz.datasets.brain import labels_from_probabilities, load_brain_slices
from scse_viz.geometry import resize_image
from scse_viz.io import ORIENTATIONS

TISSUES: tuple[str, ...] = (
    "air",
    "CSF",
    "GM",
    "WM",
    "CSF rim",
    "skull",
    "marrow",
    "muscle",
    "fat",
    "skin",
    "eye",
    "soft tissue",
)
AIR, CSF, GM, WM, RIM, SKULL, MARROW, MUSCLE, FAT, SKIN, EYE, SOFT = range(len(TISSUES))
BRAIN = (CSF, GM, WM)
# From SKULL on, tissues are head outside the brain: background for the models. The CSF rim between brain and skull
# is CSF (``training_labels``), as the template's own brain mask holds that rim inside it and labels it CSF: the
# same dark band must not be CSF on the template and background on a head.
FIRST_HEAD = SKULL

# Typical relative intensities (0 dark .. 1 bright) of each tissue in the two contrasts the card measures.
# T1-weighted: WM > GM > CSF, fat and marrow bright, cortical bone and air dark, the vitreous of the eye dark.
# T2-weighted: CSF and the eye bright, GM > WM, fat fairly bright, bone dark.
T1_LIKE = np.array([0.02, 0.22, 0.52, 0.78, 0.22, 0.05, 0.62, 0.35, 0.95, 0.55, 0.18, 0.45], dtype=np.float32)
T2_LIKE = np.array([0.02, 0.95, 0.58, 0.40, 0.95, 0.04, 0.45, 0.25, 0.70, 0.45, 0.92, 0.40], dtype=np.float32)
# Proton density: CSF bright but GM > WM close together, fat bright. FLAIR: T2-weighted with CSF (and the eye) nulled.
PD_LIKE = np.array([0.02, 0.85, 0.75, 0.62, 0.85, 0.06, 0.60, 0.45, 0.80, 0.60, 0.85, 0.55], dtype=np.float32)
FLAIR_LIKE = np.array([0.02, 0.08, 0.62, 0.45, 0.08, 0.04, 0.50, 0.30, 0.75, 0.50, 0.10, 0.40], dtype=np.float32)
TYPICAL = {"t1": T1_LIKE, "t2": T2_LIKE, "pd": PD_LIKE, "flair": FLAIR_LIKE}
CONTRASTS = ("random", "t1", "t2", "pd", "flair")  # new ones go last: test heads are seeded by the index
CANVAS_PAD = 1.4  # canvas side / the slice's longer side: room for a head (~1.3×) and a neck below


@dataclass(frozen=True)
class SynthHead:
    """One rendered head: the picture and its labels on the same pixels."""

    image: np.ndarray  # H×W float32, not yet scaled to [0, 1] (the app's preprocessing does that)
    tissues: np.ndarray  # H×W uint8 indices into TISSUES

    @property
    def labels(self) -> np.ndarray:
        """Training targets: background, CSF (with the rim), GM, WM (every other head tissue is background)."""
        return training_labels(self.tissues)

    @property
    def head(self) -> np.ndarray:
        """Pixels of non-brain head tissue from the skull outwards (what the card's "non-brain share" counts)."""
        return self.tissues >= FIRST_HEAD


def training_labels(tissues: np.ndarray) -> np.ndarray:
    """Tissue map -> (background, CSF, GM, WM) labels as uint8: the CSF rim is CSF, every other head tissue
    background."""
    labels = np.where(tissues < RIM, tissues, AIR)
    return np.where(tissues == RIM, CSF, labels).astype(np.uint8)


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """A smooth random field of about unit standard deviation: ``cells``×``cells`` normal values, resized up."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    return resize_image(coarse, shape)


def head_canvas(probabilities: np.ndarray, orientation: str, pad: float = CANVAS_PAD) -> np.ndarray:
    """Place a slice's 4×H×W class probabilities on a square canvas ``pad`` times its longer side, with room for a
    head around it and, on sagittal and coronal slices (rows run superior -> inferior), for the neck below."""
    _, h, w = probabilities.shape
    side = int(round(max(h, w) * pad))
    top = (side - h) // 2 if orientation == "axial" else (side - h) // 4
    left = (side - w) // 2
    canvas = np.zeros((probabilities.shape[0], side, side), dtype=np.float32)
    canvas[0] = 1.0
    canvas[:, top : top + h, left : left + w] = probabilities
    return canvas


def _ellipse(shape: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float]) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return ((rows - centre[0]) / max(radii[0], 1e-3)) ** 2 + ((cols - centre[1]) / max(radii[1], 1e-3)) ** 2 <= 1.0


def add_head(labels: np.ndarray, orientation: str, rng: np.random.Generator, mm_per_px: float) -> np.ndarray:
    """Brain labels (0 outside, CSF/GM/WM inside) -> a tissue map with a random head drawn around the brain.

    Layers outwards from the brain, each of random thickness that varies smoothly along the head: CSF rim, skull
    (with marrow between its tables), muscle; then a neck below (sagittal, coronal), a rough face in front (sagittal)
    or at the top (axial), eyes sometimes; the whole head wrapped in fat and skin. The CSF rim is at least a pixel
    thick. Head tissue only ever goes where
    there was no brain: brain pixels keep their label.
    """
    brain = labels > 0
    tissues = labels.astype(np.uint8).copy()
    if not brain.any():
        return tissues
    shape = labels.shape
    outside = ndimage.distance_transform_edt(~brain) * mm_per_px
    free = ~brain

    def varying(low: float, high: float) -> np.ndarray:
        return np.clip(rng.uniform(low, high) * (1.0 + 0.35 * smooth_field(shape, rng)), 0.2 * low, None)

    rim = np.maximum(varying(0.5, 4.0), mm_per_px)  # at least a pixel: the skull never touches the brain
    skull = rim + varying(3.0, 9.0)
    muscle = skull + varying(0.0, 6.0)
    tissues[free & (outside <= rim)] = RIM
    tissues[free & (outside > rim) & (outside <= skull)] = SKULL
    if rng.random() < 0.7:  # diploë: the marrow between the inner and outer table
        middle = (rim + skull) / 2
        tissues[free & (np.abs(outside - middle) <= (skull - rim) / 5)] = MARROW
    head = outside <= muscle

    rows, cols = np.nonzero(brain)
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    height, width = bottom - top + 1, right - left + 1
    extra = np.zeros(shape, dtype=bool)
    if orientation in ("sagittal", "coronal") and rng.random() < 0.85:  # the neck, down to the picture's edge
        centre = left + width * (rng.uniform(0.35, 0.5) if orientation == "sagittal" else rng.uniform(0.45, 0.55))
        half = width * rng.uniform(0.22, 0.4) * (1.0 + 0.15 * smooth_field(shape, rng))
        r, c = np.ogrid[: shape[0], : shape[1]]
        extra |= (r >= top + height * rng.uniform(0.55, 0.8)) & (np.abs(c - centre) <= half)
    if orientation == "sagittal" and rng.random() < 0.8:  # a rough face: in front of and below the brain
        extra |= _ellipse(
            shape,
            (top + height * rng.uniform(0.6, 0.85), right - width * rng.uniform(0.05, 0.2)),
            (height * rng.uniform(0.25, 0.4), width * rng.uniform(0.2, 0.35)),
        )
    if orientation == "axial" and rng.random() < 0.4:  # face or nose in front (rows run anterior -> posterior)
        extra |= _ellipse(
            shape,
            (top + height * rng.uniform(-0.05, 0.1), left + width * rng.uniform(0.4, 0.6)),
            (height * rng.uniform(0.1, 0.25), width * rng.uniform(0.15, 0.35)),
        )
    soft = (head | extra) & (tissues == AIR)
    muscle_part = smooth_field(shape, rng, cells=6) > rng.uniform(-0.5, 0.8)
    tissues[soft & muscle_part] = MUSCLE
    tissues[soft & ~muscle_part] = SOFT

    eyes = []
    if orientation == "sagittal" and rng.random() < 0.4:
        eyes.append((top + height * rng.uniform(0.45, 0.65), right + width * rng.uniform(-0.02, 0.06)))
    if orientation in ("axial", "coronal") and rng.random() < 0.3:
        row = top + height * (rng.uniform(0.0, 0.12) if orientation == "axial" else rng.uniform(0.55, 0.8))
        eyes += [(row, left + width * 0.32), (row, left + width * 0.68)]
    for centre in eyes:
        radius = rng.uniform(9.0, 13.0) / mm_per_px
        tissues[_ellipse(shape, centre, (radius, radius * rng.uniform(0.85, 1.15))) & (tissues >= MUSCLE)] = EYE

    beyond = ndimage.distance_transform_edt(tissues == AIR) * mm_per_px  # scalp: fat, then skin, around it all
    fat = varying(1.0, 7.0)
    skin = fat + varying(0.5, 2.5)
    tissues[(beyond > 0) & (beyond <= skin)] = SKIN
    tissues[(beyond > 0) & (beyond <= fat)] = FAT
    return tissues


def draw_intensities(rng: np.random.Generator, contrast: str = "random") -> tuple[np.ndarray, np.ndarray]:
    """(mean, texture std) per tissue. ``"random"``: every tissue's mean uniform in [0, 1], so CSF is brighter than WM
    about half the time; ``"t1"``, ``"t2"``, ``"pd"``, ``"flair"``: the typical values with a small jitter."""
    if contrast not in CONTRASTS:
        raise ValueError(f"unknown contrast {contrast!r}; choose one of {CONTRASTS}")
    if contrast == "random":
        means = rng.uniform(0.0, 1.0, len(TISSUES)).astype(np.float32)
        means[AIR] = rng.uniform(0.0, 0.15)
    else:
        base = TYPICAL[contrast]
        means = np.clip(base + rng.uniform(-0.06, 0.06, len(TISSUES)), 0.0, 1.0).astype(np.float32)
    stds = rng.uniform(0.0, 0.05, len(TISSUES)).astype(np.float32)
    means[RIM], stds[RIM] = means[CSF], stds[CSF]  # the rim is CSF: one fluid, one intensity
    return means, stds


def render(
    tissues: np.ndarray,
    probabilities: np.ndarray,
    means: np.ndarray,
    stds: np.ndarray,
    rng: np.random.Generator,
    corrupt: bool = True,
) -> np.ndarray:
    """Intensities for a tissue map: each tissue its mean plus a fine texture; inside the brain the partial-volume
    mixture of the CSF/GM/WM means by the template's probabilities. With ``corrupt``: partial-volume blur, a smooth
    multiplicative bias field, sometimes a lower acquisition resolution, and Gaussian noise."""
    image = means[tissues].astype(np.float32)
    brain = np.isin(tissues, BRAIN)
    parts = probabilities[1:4]
    total = parts.sum(axis=0)
    mixture = (parts * means[[CSF, GM, WM], None, None]).sum(axis=0) + (1.0 - total).clip(0, None) * means[RIM]
    image[brain] = mixture[brain]
    texture = ndimage.gaussian_filter(rng.standard_normal(tissues.shape).astype(np.float32), 0.7) * 1.8
    image += stds[tissues] * texture
    if not corrupt:
        return image
    image = ndimage.gaussian_filter(image, rng.uniform(0.0, 1.0))
    image *= np.exp(rng.uniform(0.0, 0.35) * smooth_field(tissues.shape, rng, cells=3))
    if rng.random() < 0.4:  # acquired at a lower resolution along one or both axes, then interpolated back
        factors = rng.uniform(1.0, 3.0, 2) * (rng.random(2) < 0.7)
        coarse = tuple(max(8, int(n / max(f, 1.0))) for n, f in zip(tissues.shape, factors))
        image = resize_image(resize_image(image, coarse), tissues.shape)
    return image + rng.normal(0.0, rng.uniform(0.0, 0.04), tissues.shape).astype(np.float32)


def synth_head(
    probabilities: np.ndarray, orientation: str, rng: np.random.Generator, mm_per_px: float, contrast: str = "random"
) -> SynthHead:
    """Draw a head around a slice's 4×H×W class probabilities (already on the canvas it is drawn on) and render it."""
    tissues = add_head(labels_from_probabilities(probabilities), orientation, rng, mm_per_px)
    means, stds = draw_intensities(rng, contrast)
    return SynthHead(render(tissues, probabilities, means, stds, rng), tissues)


@lru_cache(maxsize=len(CONTRASTS))
def test_heads(contrast: str) -> tuple[SynthHead, ...]:
    """The held-out test slabs drawn as heads at the template's 1 mm in one contrast: what the model card measures.

    Each slice's generator is seeded by (orientation, index, contrast), so every run of the evaluation draws the
    same heads; none of the training draws can coincide with them (training seeds come from torch's RNG and the
    test slices are never training slices)."""
    heads = []
    for item in load_brain_slices("test"):
        canvas = head_canvas(item.probabilities, item.orientation)
        rng = np.random.default_rng([2026, ORIENTATIONS.index(item.orientation), item.index, CONTRASTS.index(contrast)])
        heads.append(synth_head(canvas, item.orientation, rng, 1.0, contrast))
    return tuple(heads)
