"""A real whole head as training anatomy and as a test condition: the "Colin 27" T1 scan in Debian's mricron-data.

Why: the synthetic heads drawn around the template (:mod:`scse_viz.data.synthhead`) are far easier than a real one;
on real T1 heads the earlier models labelled 10-60 % of the face, tongue and scalp as tissue. Colin 27
(``/usr/share/mricron/templates/ch2.nii.gz``: 27 averaged T1 scans of one person, 1 mm, 181×217×181, in MNI space,
skull, scalp, eyes and upper face in view) is a real head with real non-brain anatomy; ``ch2bet.nii.gz`` is the same
scan with the brain extracted. Package ``mricron-data``, BSD-3-clause (Chris Rorden's MRIcron; the scan is
Holmes et al., J Comput Assist Tomogr 1998). Training installs it when missing; the app never needs it.

Labels, all decided on the scan's 1 mm grid:

- **brain** = ``ch2bet > 0``, cleaned: the largest connected piece only (anything outside the skull goes), holes
  filled. :func:`brain_mask_report` gives its Dice with the MNI152 2009a template's brain resampled onto this grid.
- **CSF/GM/WM** inside the brain from the scan's own intensities: a three-class Gaussian mixture gives each class's
  mean; partial volume is handled the way the renderer mixes it, as linear fractions between the two neighbouring
  class means (a voxel halfway between GM and WM is half of each). Where a partial-volume voxel stops being one class
  and becomes the next follows the template's own labels (:func:`template_class_boundaries`): the models learn one
  definition of each class from two heads, and the template's is the headline's. Measured on the template, its
  CSF/GM boundary lies at its CSF mean (a voxel is CSF only where it is as dark as pure CSF) and its GM/WM boundary
  about halfway between the GM and WM means; the real head's boundaries sit at the same fractions of its own means.
  (Its labels were the largest fraction before, which put the CSF/GM boundary halfway and called 13 % of the brain
  CSF against the template's 8.5 %: the models were taught two CSFs.) A thin GM shell that partial volume paints at
  CSF/WM borders (ventricles) is given back to CSF or WM. :func:`tissue_report` compares the labels with the MNI152
  GM/WM maps (Dice per class).
- **outside the brain** (background for the models; head tissue for synthesis, indices of
  :data:`scse_viz.data.synthhead.TISSUES`): the head is everything above a low threshold with holes filled per slice;
  its outer 2 mm is skin; inside, by intensity relative to the brain's class means: below 0.6 × the CSF mean bone
  or air; CSF-like voxels (below the CSF/GM midpoint) within 4 mm of the brain the CSF rim, inside the two orbits
  (MNI coordinates) the eyes' vitreous; bright voxels marrow within 12 mm of the brain and fat elsewhere; the rest
  muscle where darker than GM, soft tissue otherwise. The CSF rim is CSF for the models (as on the template, whose
  brain mask holds it), everything from the skull outwards background.

Split: along each orientation the slices with at least ``MIN_BRAIN_PIXELS`` brain voxels are cut into 12 slabs as the
template's are (:mod:`scse_viz.datasets.brain`); slabs 2 and 9 are the test set, 5 and 6 validation (along the sagittal
axis 4 and 7, :data:`VAL_SLABS_BY_ORIENTATION`), the rest training with a guard of ``GUARD`` slices, and the slices
beyond the brain (face, neck, top of the scalp) are training slices too.
Along the sagittal axis slabs 2 and 9 are each other's mirror image (the brain's extent is centred on the midline
within a few mm, :func:`sagittal_asymmetry_mm`), so no test slice's mirror twin is trained on. Every slab comes from the
same person: the test measures new sections of a head the models saw other sections of, not a new person.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from scse_viz.data.synthhead import (
    AIR,
    CSF,
    EYE,
    FAT,
    FIRST_HEAD,
    GM,
    MARROW,
    MUSCLE,
    RIM,
    SKIN,
    SKULL,
    SOFT,
    WM,
    training_labels,
)
from scse_viz.datasets.brain import (
    GUARD,
    MIN_BRAIN_PIXELS,
    SLABS,
    SPLITS,
    TEST_SLABS,
    VAL_SLABS,
    class_probabilities,
    labels_from_probabilities,
    template_volumes,
)
from scse_viz.io import ORIENTATIONS, Volume, image_from_slice, load_volume, volume_slice
from scse_viz.metrics import dice_counts, dice_report

PACKAGE = "mricron-data"
FOLDER = Path("/usr/share/mricron/templates")
HEAD_FILE, BRAIN_FILE = "ch2.nii.gz", "ch2bet.nii.gz"
LICENCE = "BSD-3-clause (MRIcron, Chris Rorden; Colin 27 scan: Holmes et al., J Comput Assist Tomogr 22, 1998)"
EYE_CENTRES_MM = ((-33.0, 52.0, -38.0), (33.0, 52.0, -38.0))  # the orbits' vitreous in MNI space, about 12 mm radius
EYE_RADIUS_MM = 14.0
RIM_MM, MARROW_MM, SKIN_MM = 4.0, 12.0, 2.0
FAR_MM = 3.0  # the non-brain share counts head pixels at least this far from the brain (its mask's edge is uncertain)


class RealHeadMissingError(FileNotFoundError):
    """Colin 27 is not where Debian's ``mricron-data`` puts it."""


def ensure_installed(folder: Path = FOLDER) -> Path:
    """The folder holding Colin 27; Debian's package is installed first when it is missing (needs root and apt)."""
    if not (folder / HEAD_FILE).exists():
        if folder != FOLDER or shutil.which("apt-get") is None:
            raise RealHeadMissingError(f"{folder / HEAD_FILE} is missing: apt-get install {PACKAGE}")
        subprocess.run(["apt-get", "install", "-y", PACKAGE], check=True, capture_output=True)
    if not (folder / HEAD_FILE).exists():
        raise RealHeadMissingError(f"{folder / HEAD_FILE} is still missing after apt-get install {PACKAGE}")
    return folder


@dataclass(frozen=True)
class RealHeadVolumes:
    """The scan and its labels on the scan's grid (RAS+, 1 mm)."""

    head: Volume
    brain: np.ndarray  # bool, the cleaned brain mask
    probabilities: np.ndarray  # 4×X×Y×Z float32: background, CSF, GM, WM fractions (0 outside the brain)
    tissues: np.ndarray  # X×Y×Z uint8 indices into synthhead.TISSUES
    removed_voxels: int  # voxels of ch2bet's mask outside its largest piece


def _read(folder: Path, name: str) -> Volume:
    return load_volume((folder / name).read_bytes(), name)


def clean_brain_mask(extracted: np.ndarray) -> tuple[np.ndarray, int]:
    """``ch2bet > 0`` -> (the largest connected piece with its holes filled, voxels dropped as other pieces)."""
    mask = extracted > 0
    pieces, count = ndimage.label(mask)
    if count == 0:
        return mask, 0
    sizes = ndimage.sum_labels(mask, pieces, index=np.arange(1, count + 1))
    largest = pieces == (1 + int(np.argmax(sizes)))
    return ndimage.binary_fill_holes(largest), int(mask.sum() - largest.sum())


def class_means(intensities: np.ndarray, seed: int = 0) -> np.ndarray:
    """CSF, GM and WM means (ascending, as in a T1 scan) of a three-class Gaussian mixture on brain intensities."""
    from sklearn.mixture import GaussianMixture

    values = intensities.reshape(-1, 1).astype(np.float64)
    rng = np.random.default_rng(seed)
    sample = values[rng.choice(len(values), size=min(len(values), 200_000), replace=False)]
    mixture = GaussianMixture(3, random_state=seed, n_init=3).fit(sample)
    return np.sort(mixture.means_.ravel())


def partial_volume_fractions(intensities: np.ndarray, means: np.ndarray) -> np.ndarray:
    """3×… CSF/GM/WM fractions: linear between the two neighbouring class means, pure beyond the outer ones."""
    csf, gm, wm = means
    v = np.asarray(intensities, dtype=np.float32)
    low = np.clip((v - csf) / (gm - csf), 0.0, 1.0)  # 0 at the CSF mean, 1 at the GM mean
    high = np.clip((v - gm) / (wm - gm), 0.0, 1.0)  # 0 at the GM mean, 1 at the WM mean
    below = v <= gm
    p_csf = np.where(below, 1.0 - low, 0.0)
    p_wm = np.where(below, 0.0, high)
    p_gm = 1.0 - p_csf - p_wm
    return np.stack([p_csf, p_gm, p_wm]).astype(np.float32)


def give_back_border_gm(labels: np.ndarray, intensities: np.ndarray, means: np.ndarray) -> np.ndarray:
    """GM voxels that touch both CSF and WM and have at most 6 GM neighbours (of 26) are partial volume at a CSF/WM
    border (the ventricles' edge), not cortex: they go to CSF or WM, whichever mean is nearer."""
    cube = np.ones((3, 3, 3), dtype=bool)
    near_csf = ndimage.binary_dilation(labels == CSF, cube)
    near_wm = ndimage.binary_dilation(labels == WM, cube)
    gm_neighbours = ndimage.convolve((labels == GM).astype(np.uint8), cube.astype(np.uint8), mode="constant") - 1
    border = (labels == GM) & near_csf & near_wm & (gm_neighbours <= 6)
    fixed = labels.copy()
    closer_to_csf = np.abs(intensities - means[0]) < np.abs(intensities - means[2])
    fixed[border & closer_to_csf] = CSF
    fixed[border & ~closer_to_csf] = WM
    return fixed


def head_tissues(
    head: np.ndarray, brain: np.ndarray, labels: np.ndarray, means: np.ndarray, affine: np.ndarray
) -> np.ndarray:
    """Tissue map (synthhead.TISSUES) of the whole scan: the brain's labels inside, head tissue found by intensity
    outside (module docstring)."""
    threshold = 0.5 * means[0]  # half the CSF mean: above the air's noise, below every tissue but bone
    inside = head > threshold
    inside = ndimage.binary_opening(inside, iterations=1)
    pieces, count = ndimage.label(inside)
    if count:
        sizes = ndimage.sum_labels(inside, pieces, index=np.arange(1, count + 1))
        inside = pieces == (1 + int(np.argmax(sizes)))
    inside = np.pad(inside, 4)  # closing erodes at the array's border: pad so the head's cut edges stay head
    inside = ndimage.binary_closing(inside, iterations=3)[4:-4, 4:-4, 4:-4]
    for axis in range(3):  # holes per slice: sinuses, mouth and ear canals are inside the head
        inside = np.stack([ndimage.binary_fill_holes(s) for s in np.moveaxis(inside, axis, 0)], axis=axis)
    inside |= brain
    tissues = np.full(head.shape, AIR, dtype=np.uint8)
    tissues[brain] = labels[brain]
    outside_brain = inside & ~brain
    from_brain = ndimage.distance_transform_edt(~brain)
    from_air = ndimage.distance_transform_edt(inside)
    bone = head < 0.6 * means[0]  # cortical bone, air in the sinuses: darker than anything but air
    dark = head < 0.5 * (means[0] + means[1])  # CSF-like: the rim, the eyes' vitreous
    bright = head > means[2] + 0.35 * (means[2] - means[1])  # fat, marrow
    darker = head < means[1]  # muscle is darker than GM in a T1 scan
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in head.shape], indexing="ij"), axis=-1)
    world = grid @ affine[:3, :3].T + affine[:3, 3]
    eyes = np.zeros(head.shape, dtype=bool)
    for centre in EYE_CENTRES_MM:
        eyes |= np.linalg.norm(world - np.asarray(centre), axis=-1) <= EYE_RADIUS_MM
    tissues[outside_brain] = SOFT
    tissues[outside_brain & darker] = MUSCLE
    tissues[outside_brain & bone] = SKULL
    tissues[outside_brain & dark & eyes] = EYE
    tissues[outside_brain & dark & ~bone & (from_brain <= RIM_MM)] = RIM
    tissues[outside_brain & bright] = FAT
    tissues[outside_brain & bright & (from_brain <= MARROW_MM)] = MARROW
    tissues[outside_brain & (from_air <= SKIN_MM)] = SKIN
    return tissues


def best_threshold(values: np.ndarray, upper: np.ndarray) -> tuple[float, float]:
    """The threshold ``t`` for which ``values > t`` agrees with the boolean ``upper`` on the most items, and that
    agreement (a share): exact, from the sorted values (every gap between two neighbours is a candidate)."""
    order = np.argsort(values, kind="stable")
    v, u = np.asarray(values, np.float64)[order], np.asarray(upper, bool)[order]
    # agreement when the first k sorted items are called lower: lower ones among them + upper ones after them
    lower_before = np.concatenate([[0], np.cumsum(~u)])
    upper_after = u.sum() - np.concatenate([[0], np.cumsum(u)])
    agree = lower_before + upper_after
    distinct = np.concatenate([[True], v[1:] > v[:-1], [True]])  # a cut between equal values is not a threshold
    k = int(np.argmax(np.where(distinct, agree, -1)))
    t = v[0] - 1.0 if k == 0 else v[-1] if k == len(v) else 0.5 * (v[k - 1] + v[k])
    return float(t), float(agree[k] / len(v))


def template_labels() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MNI152 template's T1 intensities (float32), its brain mask and its brain voxels' labels (1-3, the
    template dataset's rule): what its class boundaries are measured on."""
    t1, gm, wm = template_volumes()
    data = np.asarray(t1.data, dtype=np.float32)
    brain = data > 0
    return data, brain, labels_from_probabilities(class_probabilities(data, gm.data, wm.data)[:, brain])


@lru_cache(maxsize=1)
def template_class_boundaries() -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the MNI152 template's own labels put the CSF/GM and the GM/WM boundary in its T1 intensities, each as a
    fraction of the way between the two classes' mixture means (0: at the lower class's mean, 1: at the upper's),
    with the share of those two classes' voxels the boundary puts on their own side: ((fraction, agreement) CSF/GM,
    (fraction, agreement) GM/WM)."""
    data, brain, labels = template_labels()
    values = data[brain]
    means = class_means(values)
    found = []
    for lower in (CSF, GM):
        pair = (labels == lower) | (labels == lower + 1)
        threshold, agreement = best_threshold(values[pair], labels[pair] == lower + 1)
        low, high = means[lower - CSF], means[lower - CSF + 1]
        found.append(((threshold - low) / (high - low), agreement))
    return found[0], found[1]


def tissue_labels(intensities: np.ndarray, brain: np.ndarray, means: np.ndarray) -> np.ndarray:
    """CSF/GM/WM labels inside ``brain`` (0 outside) with the class boundaries at the template's fractions
    (:func:`template_class_boundaries`) of this scan's own class means, then the border GM given back."""
    (csf_gm, _), (gm_wm, _) = template_class_boundaries()
    lower = means[0] + csf_gm * (means[1] - means[0])
    upper = means[1] + gm_wm * (means[2] - means[1])
    labels = CSF + (intensities > lower).astype(np.uint8) + (intensities > upper).astype(np.uint8)
    return give_back_border_gm(np.where(brain, labels, 0).astype(np.uint8), intensities, means)  # changes GM only


@lru_cache(maxsize=1)
def real_head(folder: Path = FOLDER) -> RealHeadVolumes:
    """Colin 27 with its labels (cached: about 20 s to compute)."""
    folder = ensure_installed(folder)
    head = _read(folder, HEAD_FILE)
    brain, removed = clean_brain_mask(_read(folder, BRAIN_FILE).data)
    data = np.asarray(head.data, dtype=np.float32)
    means = class_means(data[brain])
    # the fractions stay the physical partial-volume mix (the renderer draws with them); the labels are the classes
    # the models learn, cut where the template cuts (tissue_labels)
    fractions = partial_volume_fractions(data, means) * brain
    labels = tissue_labels(data, brain, means)
    probabilities = np.concatenate([(~brain)[None].astype(np.float32), fractions])
    tissues = head_tissues(data, brain, labels, means, head.affine)
    return RealHeadVolumes(head, brain, probabilities, tissues, removed)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks (NaN when both are empty), by the formula the cards use (:mod:`scse_viz.metrics`)."""
    counts = dice_counts(np.asarray(a, dtype=bool), np.asarray(b, dtype=bool), 2)
    return dice_report(counts, ("outside", "inside"))["dice"]["inside"]


def template_on_grid(target: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MNI152 2009a template's brain mask and GM/WM probabilities (0-1) resampled onto ``target``'s grid (both
    are in MNI space: world millimetres agree)."""
    t1, gm, wm = template_volumes()
    to_template = np.linalg.inv(t1.affine) @ target.affine
    matrix, offset = to_template[:3, :3], to_template[:3, 3]

    def resample(data: np.ndarray, order: int) -> np.ndarray:
        return ndimage.affine_transform(
            np.asarray(data, np.float32),
            matrix,
            offset,
            output_shape=target.data.shape,
            order=order,
            mode="constant",
            cval=0.0,
        )

    return resample(t1.data, 0) > 0, resample(gm.data, 1) / 255.0, resample(wm.data, 1) / 255.0


def brain_mask_report(volumes: RealHeadVolumes | None = None) -> dict[str, float]:
    """Dice of the cleaned ``ch2bet`` mask with the MNI152 brain, and the voxels the cleaning dropped."""
    volumes = volumes or real_head()
    mni_brain, _, _ = template_on_grid(volumes.head)
    return {"brain Dice vs MNI152": dice(volumes.brain, mni_brain), "voxels removed": float(volumes.removed_voxels)}


def tissue_report(volumes: RealHeadVolumes | None = None) -> dict[str, float]:
    """Dice per class of the mixture labels with the MNI152 maps' labels (argmax of CSF = 1 - GM - WM, GM, WM inside
    the MNI152 brain), over the voxels both call brain."""
    volumes = volumes or real_head()
    mni_brain, gm, wm = template_on_grid(volumes.head)
    mni = np.argmax(np.stack([np.clip(1 - gm - wm, 0, 1), gm, wm]), axis=0) + 1
    ours = volumes.tissues  # inside the brain: the labels the models learn
    both = volumes.brain & mni_brain
    names = {CSF: "CSF", GM: "GM", WM: "WM"}
    counts = dice_counts(ours[both], mni[both], max(names) + 1)
    scores = dice_report(counts, [names.get(k, "outside") for k in range(len(counts))])["dice"]
    return {name: scores[name] for name in names.values()}


# ---------------------------------------------------------------------------------------------------------- slices


@dataclass(frozen=True)
class RealHeadSlice:
    """One slice of the real head as the app shows it, with labels on the same pixels."""

    orientation: str
    index: int
    image: np.ndarray  # H×W float32 in [0, 1] through ``image_from_slice``, as an uploaded volume
    probabilities: np.ndarray  # 4×H×W
    tissues: np.ndarray  # H×W uint8 (synthhead.TISSUES)

    @property
    def name(self) -> str:
        return f"colin27-{self.orientation}-{self.index:03d}"

    @property
    def pixels(self) -> np.ndarray:  # the name evaluation and the app's slices use
        return self.image

    @property
    def labels(self) -> np.ndarray:
        return training_labels(self.tissues)

    @property
    def head(self) -> np.ndarray:
        """Non-brain head pixels (skull outwards) at least FAR_MM from the brain and its CSF rim: what the card's
        non-brain share counts."""
        brain = (self.tissues < FIRST_HEAD) & (self.tissues != AIR)
        far = ndimage.distance_transform_edt(~brain) >= FAR_MM if brain.any() else np.ones(brain.shape, bool)
        return (self.tissues >= FIRST_HEAD) & far


def extent_slabs(brain: np.ndarray, orientation: str) -> dict[int, int]:
    """Slice index -> slab (0..SLABS-1) for the slices along ``orientation`` with at least MIN_BRAIN_PIXELS brain."""
    axis = ORIENTATIONS.index(orientation)
    counts = brain.sum(axis=tuple(a for a in range(3) if a != axis))
    present = np.flatnonzero(counts >= MIN_BRAIN_PIXELS)
    indices = np.arange(present[0], present[-1] + 1)
    return {int(i): int(s) for i, s in zip(indices, (np.arange(len(indices)) * SLABS) // len(indices))}


# The real head's sagittal validation slabs are 4 and 7 (a mirror pair beside the midline), so that its midline
# slabs 5 and 6 train the models: the midline section (falx, corpus callosum, brainstem, vermis) appears in no other
# sagittal slice, and models fine-tuned without one left most of a midline brain unlabelled (template validation Dice
# 0.56-0.72 on sagittal slices against 0.85-0.88 on coronal and axial ones, 2026-12-07). The template's own midline
# slabs stay held out (its validation), the check that a midline learnt on one head holds on another.
VAL_SLABS_BY_ORIENTATION = {"sagittal": (4, 7)}


def val_slabs(orientation: str, midline_trained: bool = True) -> tuple[int, ...]:
    """The real head's validation slabs along ``orientation``; ``midline_trained=False`` gives the template's slabs
    everywhere (the split of the runs recorded before 2026-12-07)."""
    return VAL_SLABS_BY_ORIENTATION.get(orientation, VAL_SLABS) if midline_trained else VAL_SLABS


def split_indices(
    orientation: str, split: str, volumes: RealHeadVolumes | None = None, midline_trained: bool = True
) -> list[int]:
    """Slice indices of ``split`` along ``orientation`` (module docstring); training adds the slices beyond the brain
    that hold head."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    volumes = volumes or real_head()
    slabs = extent_slabs(volumes.brain, orientation)
    validation = set(val_slabs(orientation, midline_trained))
    if split != "train":
        wanted = set(TEST_SLABS) if split == "test" else validation
        return [i for i, s in slabs.items() if s in wanted]
    held_out = set(TEST_SLABS) | validation
    held = [i for i, s in slabs.items() if s in held_out]
    axis = ORIENTATIONS.index(orientation)
    head_counts = (volumes.tissues != AIR).sum(axis=tuple(a for a in range(3) if a != axis))
    candidates = [i for i in range(volumes.tissues.shape[axis]) if head_counts[i] >= MIN_BRAIN_PIXELS]
    return [i for i in candidates if slabs.get(i, -1) not in held and min(abs(i - h) for h in held) > GUARD]


def sagittal_asymmetry_mm(volumes: RealHeadVolumes | None = None) -> float:
    """How far the middle of the brain's left-right extent lies from the midline (x = 0 mm)."""
    volumes = volumes or real_head()
    slabs = extent_slabs(volumes.brain, "sagittal")
    first, last = min(slabs), max(slabs)
    return float(volumes.head.affine[0, 0] * (first + last) / 2 + volumes.head.affine[0, 3])


def real_head_slice(orientation: str, index: int, volumes: RealHeadVolumes | None = None) -> RealHeadSlice:
    volumes = volumes or real_head()
    head = volumes.head
    tissue_volume = Volume(volumes.tissues.astype(np.float32), head.affine, "tissues", head.zooms)
    tissues = np.rint(volume_slice(tissue_volume, orientation, index)).astype(np.uint8)
    probabilities = np.stack(
        [volume_slice(Volume(p, head.affine, "p", head.zooms), orientation, index) for p in volumes.probabilities]
    )
    image = image_from_slice(volume_slice(head, orientation, index), f"colin27-{orientation}-{index}").pixels
    return RealHeadSlice(orientation, index, np.asarray(image, np.float32), probabilities.astype(np.float32), tissues)


def load_real_head_slices(
    split: str, orientations: tuple[str, ...] = ORIENTATIONS, midline_trained: bool = True
) -> list[RealHeadSlice]:
    volumes = real_head()
    return [
        real_head_slice(o, i, volumes) for o in orientations for i in split_indices(o, split, volumes, midline_trained)
    ]


@lru_cache(maxsize=1)
def test_slices() -> tuple[RealHeadSlice, ...]:
    """The held-out test slabs of the real head (the card's real-head condition), cached."""
    return tuple(load_real_head_slices("test"))
