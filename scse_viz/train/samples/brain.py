"""The brain family's samples: held-out test slices with their tissue labels, and a small T1 volume.

Two test slices per orientation (in each of the two test slabs, the slice with the most brain voxels) as 8-bit gray
PNGs of exactly what the app displays for that slice, with their tissue labels as PNGs of class indices; and the T1
template cropped to the brain and averaged to 2 mm as a small ``.nii.gz`` (gzipped with mtime 0).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from scse_viz.datasets.brain import TEST_SLABS, BrainSlice, brain_slice, slab_of, split_indices, template_volumes
from scse_viz.io import ORIENTATIONS
from scse_viz.train.samples.common import entry, png_bytes, write_index

VOLUME_STEP = 2  # voxels of the 1 mm template averaged along each axis of the sample volume
VOLUME_MARGIN = 2  # voxels kept around the brain's bounding box before averaging


ORIENTATION_TEXT = {
    "sagittal": "rows run superior → inferior, columns posterior → anterior (the nose points right)",
    "coronal": "rows run superior → inferior, columns the patient's left → right",
    "axial": "rows run anterior → posterior, columns the patient's left → right",
}


def chosen_brain_slices() -> list[BrainSlice]:
    """Per orientation, in each test slab, the test slice with the most brain voxels (ties: the lower index)."""
    chosen = []
    for orientation in ORIENTATIONS:
        slabs = slab_of(orientation)
        test = [brain_slice(orientation, i) for i in split_indices(orientation, "test")]
        for slab in TEST_SLABS:
            members = [s for s in test if slabs[s.index] == slab]
            chosen.append(max(members, key=lambda s: (int(np.count_nonzero(s.labels)), -s.index)))
    return chosen


def slice_position_mm(orientation: str, index: int) -> str:
    """Where the slice lies in MNI space, for people: e.g. ``x = -36 mm``."""
    axis = ORIENTATIONS.index(orientation)
    affine = template_volumes()[0].affine
    return f"{'xyz'[axis]} = {affine[axis, axis] * index + affine[axis, 3]:+.0f} mm"


def display_pixels(item: BrainSlice) -> np.ndarray:
    """The slice as the app displays it, in 8 bits: ``pixels`` (already scaled to [0, 1]) × 255, rounded."""
    return np.round(item.pixels * 255.0).astype(np.uint8)


def brain_slice_samples(folder: Path) -> list[dict[str, Any]]:
    entries = []
    for item in chosen_brain_slices():
        image, mask = f"{item.name}.png", f"{item.name}-mask.png"
        (folder / image).write_bytes(png_bytes(display_pixels(item)))
        (folder / mask).write_bytes(png_bytes(item.labels))
        height, width = item.pixels.shape
        where = slice_position_mm(item.orientation, item.index)
        entries.append(
            entry(
                item.name,
                f"{item.orientation.capitalize()} slice {item.index} ({where})",
                image,
                "image",
                f"{item.orientation.capitalize()} slice {item.index} ({where}) of the MNI152 2009a T1 template (1 mm, "
                f"{height}×{width} px), from a held-out test slab: no model saw this slice in training. Oriented as the "
                f"app shows a slice of a volume: {ORIENTATION_TEXT[item.orientation]}. Stored as 8-bit gray. The mask "
                "holds the tissue labels (0 background, 1 CSF, 2 GM, 3 WM) the models are scored against.",
                mask=mask,
            )
        )
    return entries


def template_image() -> nib.Nifti1Image:
    """The T1 template (values 0..255, 1 mm) as the app reads it, RAS+ with its MNI affine."""
    t1 = template_volumes()[0]
    return nib.Nifti1Image(np.asarray(t1.data), np.asarray(t1.affine))


def downsampled_brain(image: nib.Nifti1Image, step: int = VOLUME_STEP, margin: int = VOLUME_MARGIN) -> nib.Nifti1Image:
    """Crop to the brain's bounding box (plus ``margin``) and average ``step``³ blocks; the affine follows exactly.

    Block averaging keeps the geometry simple to state: new voxel (i, j, k) is the mean of old voxels
    ``start + step·(i, j, k) + (0..step-1)``, so its centre lies at old index ``start + step·(i, j, k) + (step-1)/2``.
    """
    data = np.asarray(image.dataobj, dtype=np.float64)
    inside = np.argwhere(data > 0)
    start = np.maximum(inside.min(axis=0) - margin, 0)
    stop = np.minimum(inside.max(axis=0) + 1 + margin, data.shape)
    count = (stop - start) // step
    stop = start + count * step
    crop = data[start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]]
    blocks = crop.reshape(count[0], step, count[1], step, count[2], step).mean(axis=(1, 3, 5))
    to_old = np.eye(4)
    to_old[:3, :3] *= step
    to_old[:3, 3] = start + (step - 1) / 2.0
    affine = image.affine @ to_old
    out = nib.Nifti1Image(np.round(blocks).astype(np.uint8), affine)
    out.header.set_xyzt_units("mm")
    out.set_qform(affine, code=4)  # MNI152 space
    out.set_sform(affine, code=4)
    return out


def nifti_gz_bytes(image: nib.Nifti1Image) -> bytes:
    """``.nii.gz`` bytes with a zero gzip timestamp, so the file is identical on every run."""
    return gzip.compress(image.to_bytes(), compresslevel=9, mtime=0)


def brain_volume_sample(folder: Path) -> dict[str, Any]:
    volume = downsampled_brain(template_image())
    name = f"mni152-t1-{VOLUME_STEP}mm"
    file = f"{name}.nii.gz"
    (folder / file).write_bytes(nifti_gz_bytes(volume))
    x, y, z = volume.shape
    return entry(
        name,
        f"T1 volume, {VOLUME_STEP} mm (whole template)",
        file,
        "volume",
        f"The MNI152 2009a T1 template, cropped to the brain and averaged over {VOLUME_STEP}×{VOLUME_STEP}×"
        f"{VOLUME_STEP} voxel blocks ({x}×{y}×{z} voxels of {VOLUME_STEP} mm, uint8, RAS+ with the template's MNI "
        "affine, so every orientation shows the right way round). Pick any slice: it contains training slices as "
        "well as test slices, and at 2 mm it is coarser than what the models were trained on (1 mm). No labels.",
    )


def write_brain(out: Path) -> Path:
    folder = out / "brain"
    folder.mkdir(parents=True, exist_ok=True)
    entries = [*brain_slice_samples(folder), brain_volume_sample(folder)]
    about = (
        "Slices and a small volume of the MNI152 2009a T1 template (shipped inside nilearn). The PNG slices are "
        "from the held-out test slabs and come with their tissue labels."
    )
    return write_index(folder, "brain", about, entries)
