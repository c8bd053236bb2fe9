"""Write the shipped sample inputs (``assets/samples/<family>/``) and the Fashion card's preprocessing picture.

``python -m scse_viz.train.samples [--family brain fashion] [--out assets/samples] [--data-root DIR]``

Every sample is held-out test data (or made from it), chosen by a fixed rule, and every file is written byte for byte
the same on every run: PNGs carry no timestamps, the NIfTI volume is gzipped with mtime 0, and the synthetic photos
draw their noise from a seeded generator. Each family's ``index.json`` says what every file is.

- brain: two test slices per orientation (in each of the two test slabs, the slice with the most brain voxels) as
  8-bit gray PNGs of exactly what the app displays for that slice, with their tissue labels as PNGs of class indices;
  and the T1 template cropped to the brain and averaged to 2 mm as a small ``.nii.gz``.
- fashion: the first two official test images of every class (28×28 PNG, as stored), and three synthetic
  "photos" made from test garments (dark garment on a light, unevenly lit background, noise, JPEG) that exercise
  the photo preprocessing. Also ``assets/models/fashion/preprocessing.png``: before/after ``fashion_preprocess``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from PIL import Image, ImageFilter

from scse_viz.data.brain import TEST_SLABS, BrainSlice, brain_slice, slab_of, split_indices, template_volumes
from scse_viz.data.fashion import CLASS_NAMES, load_fashion
from scse_viz.io import ORIENTATIONS
from scse_viz.preprocess import fashion_preprocess
from scse_viz.render import figure_bytes, new_figure
from scse_viz.zoo import ASSETS

GENERATOR = "python -m scse_viz.train.samples"
VOLUME_STEP = 2  # voxels of the 1 mm template averaged along each axis of the sample volume
VOLUME_MARGIN = 2  # voxels kept around the brain's bounding box before averaging
FASHION_PER_CLASS = 2
PHOTO_SEED = 2018


def _png(array: np.ndarray) -> bytes:
    """An 8-bit gray PNG ("L") of a uint8 H×W array, without metadata (so the bytes depend on the pixels only)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _entry(name: str, title: str, file: str, kind: str, description: str, mask: str | None = None,
           label: int | None = None, source_index: int | None = None) -> dict[str, Any]:  # fmt: skip
    """One sample of ``index.json``; ``source_index`` is the Fashion-MNIST test image it was made from."""
    entry = {"name": name, "title": title, "file": file, "kind": kind, "mask": mask, "label": label,
             "description": description}  # fmt: skip
    return entry if source_index is None else {**entry, "source_index": source_index}


def write_index(folder: Path, family: str, about: str, entries: list[dict[str, Any]]) -> Path:
    index = {"family": family, "generator": GENERATOR, "about": about, "samples": entries}
    path = folder / "index.json"
    path.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    return path


# ---------------------------------------------------------------------------------------------------------- brain

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
        (folder / image).write_bytes(_png(display_pixels(item)))
        (folder / mask).write_bytes(_png(item.labels))
        height, width = item.pixels.shape
        where = slice_position_mm(item.orientation, item.index)
        entries.append(_entry(
            item.name, f"{item.orientation.capitalize()} slice {item.index} ({where})", image, "image",
            f"{item.orientation.capitalize()} slice {item.index} ({where}) of the MNI152 2009a T1 template (1 mm, "
            f"{height}×{width} px), from a held-out test slab: no model saw this slice in training. Oriented as the "
            f"app shows a slice of a volume: {ORIENTATION_TEXT[item.orientation]}. Stored as 8-bit gray. The mask "
            "holds the tissue labels (0 background, 1 CSF, 2 GM, 3 WM) the models are scored against.",
            mask=mask,
        ))  # fmt: skip
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
    return _entry(
        name, f"T1 volume, {VOLUME_STEP} mm (whole template)", file, "volume",
        f"The MNI152 2009a T1 template, cropped to the brain and averaged over {VOLUME_STEP}×{VOLUME_STEP}×"
        f"{VOLUME_STEP} voxel blocks ({x}×{y}×{z} voxels of {VOLUME_STEP} mm, uint8, RAS+ with the template's MNI "
        "affine, so every orientation shows the right way round). Pick any slice: it contains training slices as "
        "well as test slices, and at 2 mm it is coarser than what the models were trained on (1 mm). No labels.",
    )  # fmt: skip


def write_brain(out: Path) -> Path:
    folder = out / "brain"
    folder.mkdir(parents=True, exist_ok=True)
    entries = [*brain_slice_samples(folder), brain_volume_sample(folder)]
    about = ("Slices and a small volume of the MNI152 2009a T1 template (shipped inside nilearn). The PNG slices are "
             "from the held-out test slabs and come with their tissue labels.")  # fmt: skip
    return write_index(folder, "brain", about, entries)


# -------------------------------------------------------------------------------------------------------- fashion


@dataclass(frozen=True)
class PhotoRecipe:
    """How one synthetic photo is made from a test garment (all colours RGB in [0, 1])."""

    name: str
    test_index: int
    background: tuple[float, float, float]
    garment: tuple[float, float, float]
    canvas: tuple[int, int]  # (H, W)
    offset: tuple[int, int]  # top-left of the garment on the canvas
    light_falloff: float  # darkening of the far corner by the light gradient
    shadow: float  # darkness of the soft shadow (0: none)
    noise: float  # standard deviation of the Gaussian sensor noise
    quality: int  # JPEG quality
    description: str


PHOTO_SIDE = 196  # the 28-pixel garment upscaled 7×
PHOTOS = (
    PhotoRecipe("photo-sneaker", 9, (0.95, 0.95, 0.93), (0.16, 0.18, 0.22), (236, 292), (22, 58), 0.10, 0.0, 0.015,
                85, "a dark sneaker on white, lit from the top left"),
    PhotoRecipe("photo-trouser", 2, (0.90, 0.88, 0.84), (0.13, 0.17, 0.33), (260, 230), (40, 10), 0.12, 0.10, 0.02,
                80, "navy trousers on a beige backdrop with a soft shadow"),
    PhotoRecipe("photo-bag", 18, (0.93, 0.93, 0.95), (0.38, 0.17, 0.10), (250, 250), (14, 30), 0.08, 0.08, 0.025,
                75, "a brown bag on a cool white backdrop with a soft shadow"),
)  # fmt: skip


def _soft_shadow(mask: np.ndarray, radius: float) -> np.ndarray:
    """A 0/1 mask blurred with a Gaussian of ``radius`` pixels, in [0, 1] (8-bit steps are plenty for a shadow)."""
    image = Image.fromarray((mask * 255).astype(np.uint8), mode="L")
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64) / 255.0


def synthetic_photo(garment: np.ndarray, recipe: PhotoRecipe, rng: np.random.Generator) -> bytes:
    """A test garment (uint8 28×28, light on black) turned into a product-photo-like RGB JPEG.

    The garment is upscaled (Lanczos) and used as coverage: each pixel mixes the backdrop colour and the garment's
    dark colour, so the luma falls linearly with the dataset intensity and the inverted picture resembles the
    original. Then a soft offset shadow, a light gradient, Gaussian noise and JPEG compression.
    """
    coverage = np.asarray(Image.fromarray(garment, mode="L").resize((PHOTO_SIDE, PHOTO_SIDE), Image.LANCZOS),
                          dtype=np.float64) / 255.0  # fmt: skip
    h, w = recipe.canvas
    top, left = recipe.offset
    alpha = np.zeros((h, w))
    alpha[top : top + PHOTO_SIDE, left : left + PHOTO_SIDE] = np.clip(coverage, 0.0, 1.0)
    backdrop = np.ones((h, w, 3)) * np.asarray(recipe.background)
    if recipe.shadow:
        shadow = np.roll(_soft_shadow(alpha > 0.1, 9.0), (10, 8), axis=(0, 1))
        backdrop *= (1.0 - recipe.shadow * shadow)[:, :, None]
    photo = backdrop * (1.0 - alpha[:, :, None]) + np.asarray(recipe.garment) * alpha[:, :, None]
    v, u = np.mgrid[0:h, 0:w]
    photo *= (1.0 - recipe.light_falloff * (u / w + v / h) / 2.0)[:, :, None]
    photo += rng.normal(0.0, recipe.noise, photo.shape)
    rgb = np.round(np.clip(photo, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="JPEG", quality=recipe.quality)
    return buffer.getvalue()


def _slug(class_name: str) -> str:
    return class_name.lower().replace("/", "-").replace(" ", "-")


def fashion_test_samples(folder: Path, images: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    entries = []
    for label, class_name in enumerate(CLASS_NAMES):
        for index in np.flatnonzero(labels == label)[:FASHION_PER_CLASS]:
            name = f"test-{index:05d}-{_slug(class_name)}"
            (folder / f"{name}.png").write_bytes(_png(images[index]))
            entries.append(_entry(
                name, f"{class_name} (test image {index})", f"{name}.png", "image",
                f"Fashion-MNIST official test image {index} (class {label}, {class_name}), 28×28 8-bit gray exactly "
                "as stored in the dataset: a light garment on black, the kind of picture the models learned from.",
                label=int(label), source_index=int(index),
            ))  # fmt: skip
    return entries


def fashion_photo_samples(folder: Path, images: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    rng = np.random.default_rng(PHOTO_SEED)
    entries = []
    for recipe in PHOTOS:
        label = int(labels[recipe.test_index])
        file = f"{recipe.name}.jpg"
        (folder / file).write_bytes(synthetic_photo(images[recipe.test_index], recipe, rng))
        h, w = recipe.canvas
        entries.append(_entry(
            recipe.name, f"{CLASS_NAMES[label]}, photo-like (synthetic)", file, "image",
            f"SYNTHETIC, not a real photograph: Fashion-MNIST test image {recipe.test_index} ({CLASS_NAMES[label]}) "
            f"upscaled to {PHOTO_SIDE} px and drawn as {recipe.description} ({h}×{w} RGB, uneven light, Gaussian "
            f"noise σ {recipe.noise}, JPEG quality {recipe.quality}). It shows what the app's photo preprocessing "
            "does with a light background: invert, level, crop to the garment, centre, shrink to 28×28.",
            label=label, source_index=recipe.test_index,
        ))  # fmt: skip
    return entries


def preprocessing_figure(photo: bytes, dataset_image: np.ndarray) -> bytes:
    """PNG: a synthetic photo and a dataset image, each before and after ``fashion_preprocess``."""
    with Image.open(io.BytesIO(photo)) as opened:
        photo_rgb = np.asarray(opened.convert("RGB"))
    rows = [("synthetic photo", photo_rgb), ("dataset test image", dataset_image)]
    fig = new_figure((6.4, 6.2))
    axes = fig.subplots(2, 2)
    for (what, before), (left, right) in zip(rows, axes):
        after = fashion_preprocess(before)
        h, w = before.shape[:2]
        left.imshow(before, cmap=None if before.ndim == 3 else "gray", vmin=0, vmax=255, interpolation="nearest")
        left.set_title(f"{what}: {h}×{w}" + (" RGB" if before.ndim == 3 else " gray"), fontsize=9)
        right.imshow(after, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        right.set_title("after fashion_preprocess: 28×28", fontsize=9)
        for axis in (left, right):
            axis.set_xticks([])
            axis.set_yticks([])
    fig.suptitle("fashion_preprocess: invert a light background, level, crop, centre, resize", fontsize=10)
    return figure_bytes(fig, "png", dpi=100)


def write_fashion(out: Path, data_root: Path | None, figure_path: Path | None) -> Path:
    folder = out / "fashion"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = load_fashion("test", root=data_root)
    entries = [*fashion_test_samples(folder, images, labels), *fashion_photo_samples(folder, images, labels)]
    about = ("Official Fashion-MNIST test images (two per class, never trained on) and three synthetic photo-like "
             "pictures made from test garments to show the photo preprocessing.")  # fmt: skip
    if figure_path is not None:
        photo = (folder / f"{PHOTOS[0].name}.jpg").read_bytes()
        figure_path.write_bytes(preprocessing_figure(photo, images[PHOTOS[1].test_index]))
    return write_index(folder, "fashion", about, entries)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=GENERATOR, description=__doc__.splitlines()[0])
    parser.add_argument("--family", nargs="+", default=["brain", "fashion"], choices=["brain", "fashion"])
    parser.add_argument("--out", type=Path, default=ASSETS / "samples")
    parser.add_argument("--data-root", type=Path, help="fashion: folder with the IDX files (default: Debian's)")
    parser.add_argument("--figure", type=Path, default=ASSETS / "models" / "fashion" / "preprocessing.png",
                        help="where the Fashion card's preprocessing picture goes")  # fmt: skip
    args = parser.parse_args(argv)
    for family in args.family:
        if family == "brain":
            index = write_brain(args.out)
        else:
            index = write_fashion(args.out, args.data_root, args.figure)
        files = [p for p in index.parent.iterdir() if p.is_file()]
        print(f"{family}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1024:.0f} KiB in {index.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
