"""The fashion family's samples: official test images, synthetic photo-like pictures, the card's preprocessing figure.

The first two official test images of every class (28×28 PNG, as stored), and three synthetic "photos" made from
test garments (dark garment on a light, unevenly lit background, noise, JPEG) that exercise the photo
preprocessing; their noise comes from a seeded generator, so every run writes the same bytes. Also
``preprocessing.png`` for the card: before/after ``fashion_preprocess``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from scse_viz.datasets.fashion import CLASS_NAMES, load_fashion
from scse_viz.preprocess import fashion_preprocess
from scse_viz.render import figure_bytes, new_figure
from scse_viz.train.samples.common import entry, png_bytes, write_index

FASHION_PER_CLASS = 2
PHOTO_SEED = 2018
PREPROCESSING_FIGURE = "preprocessing.png"


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
    PhotoRecipe(
        "photo-sneaker",
        9,
        (0.95, 0.95, 0.93),
        (0.16, 0.18, 0.22),
        (236, 292),
        (22, 58),
        0.10,
        0.0,
        0.015,
        85,
        "a dark sneaker on white, lit from the top left",
    ),
    PhotoRecipe(
        "photo-trouser",
        2,
        (0.90, 0.88, 0.84),
        (0.13, 0.17, 0.33),
        (260, 230),
        (40, 10),
        0.12,
        0.10,
        0.02,
        80,
        "navy trousers on a beige backdrop with a soft shadow",
    ),
    PhotoRecipe(
        "photo-bag",
        18,
        (0.93, 0.93, 0.95),
        (0.38, 0.17, 0.10),
        (250, 250),
        (14, 30),
        0.08,
        0.08,
        0.025,
        75,
        "a brown bag on a cool white backdrop with a soft shadow",
    ),
)


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
    coverage = (
        np.asarray(Image.fromarray(garment, mode="L").resize((PHOTO_SIDE, PHOTO_SIDE), Image.LANCZOS), dtype=np.float64)
        / 255.0
    )
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
            (folder / f"{name}.png").write_bytes(png_bytes(images[index]))
            entries.append(
                entry(
                    name,
                    f"{class_name} (test image {index})",
                    f"{name}.png",
                    "image",
                    f"Fashion-MNIST official test image {index} (class {label}, {class_name}), 28×28 8-bit gray exactly "
                    "as stored in the dataset: a light garment on black, the kind of picture the models learned from.",
                    label=int(label),
                    source_index=int(index),
                )
            )
    return entries


def fashion_photo_samples(folder: Path, images: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    rng = np.random.default_rng(PHOTO_SEED)
    entries = []
    for recipe in PHOTOS:
        label = int(labels[recipe.test_index])
        file = f"{recipe.name}.jpg"
        (folder / file).write_bytes(synthetic_photo(images[recipe.test_index], recipe, rng))
        h, w = recipe.canvas
        entries.append(
            entry(
                recipe.name,
                f"{CLASS_NAMES[label]}, photo-like (synthetic)",
                file,
                "image",
                f"SYNTHETIC, not a real photograph: Fashion-MNIST test image {recipe.test_index} ({CLASS_NAMES[label]}) "
                f"upscaled to {PHOTO_SIDE} px and drawn as {recipe.description} ({h}×{w} RGB, uneven light, Gaussian "
                f"noise σ {recipe.noise}, JPEG quality {recipe.quality}). It shows what the app's photo preprocessing "
                "does with a light background: invert, level, crop to the garment, centre, shrink to 28×28.",
                label=label,
                source_index=recipe.test_index,
            )
        )
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


def write_fashion(out: Path, data_root: Path | None, card_assets: Path | None) -> Path:
    """Write the samples to ``out/fashion`` and, unless ``card_assets`` is None, the card's preprocessing figure
    into that folder."""
    folder = out / "fashion"
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = load_fashion("test", root=data_root)
    entries = [*fashion_test_samples(folder, images, labels), *fashion_photo_samples(folder, images, labels)]
    about = (
        "Official Fashion-MNIST test images (two per class, never trained on) and three synthetic photo-like "
        "pictures made from test garments to show the photo preprocessing."
    )
    if card_assets is not None:
        photo = (folder / f"{PHOTOS[0].name}.jpg").read_bytes()
        (card_assets / PREPROCESSING_FIGURE).write_bytes(preprocessing_figure(photo, images[PHOTOS[1].test_index]))
    return write_index(folder, "fashion", about, entries)
