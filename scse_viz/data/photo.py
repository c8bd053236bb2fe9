"""Clean colour images for the photo denoisers, and the noise whose standard deviation varies across the image.

Nothing is downloaded. The training images are of two kinds:

- *dead leaves*: occluding discs and rectangles with a power-law size distribution (pdf ∝ r^-3, scale invariant
  like natural images), drawn front to back, coloured with pixels and textured with patches of real photographs,
  blurred a little and downscaled twice for soft, antialiased edges (Achddou, Gousseau and Ladjal, SSVM 2021;
  "VibrantLeaves", 2025). Our own small generator: the ``deadleaves`` package on PyPI needs Python ≥ 3.12.
- random crops of the photographs in Debian's wallpaper packages (:data:`WALLPAPER_PACKAGES`, installed by the
  training command), downscaled by a random factor first so that JPEG blocks and the cameras' own noise shrink
  below the noise we add.

The evaluation photographs are the colour photos inside the scikit-image wheel (:data:`TEST_PHOTOS`, read by
:mod:`scse_viz.datasets.photos`, below the app), never trained on. Noise: ``noisy = clean + σ(x, y) · n``, n standard normal per pixel and colour, σ on the 0–1 scale (0–50/255
in training), in one of the :data:`NOISE_PATTERNS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from scse_viz.geometry import resize_image
from scse_viz.noise import MAX_SIGMA, NOISE_PATTERNS, add_noise, sigma_map  # noqa: F401  (the training data's noise)

WALLPAPER_PACKAGES: tuple[str, ...] = ("plasma-workspace-wallpapers", "mate-backgrounds", "gnome-backgrounds")
WALLPAPER_DIRS: tuple[str, ...] = (
    "/usr/share/wallpapers",
    "/usr/share/backgrounds/mate",
    "/usr/share/backgrounds/gnome",
)


class WallpapersMissingError(FileNotFoundError):
    """No wallpaper photographs where Debian's packages put them (install :data:`WALLPAPER_PACKAGES`)."""


# ------------------------------------------------------------------------------------------------------ photographs


def wallpaper_files(dirs: Sequence[str | Path] = WALLPAPER_DIRS) -> list[Path]:
    """The raster wallpapers (JPEG, PNG) under ``dirs``, sorted, without KDE's screenshot previews, and of KDE's
    wallpapers (one picture in many sizes, ``<name>/contents/images/<W>x<H>.jpg``) only the largest size."""
    files = [
        p
        for d in dirs
        if Path(d).is_dir()
        for p in Path(d).rglob("*")
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and "screenshot" not in p.name.lower()
    ]
    largest: dict[Path, Path] = {}
    for p in files:
        if p.parent.name.startswith("images") and p.parent.parent.name == "contents":
            if p.parent not in largest or p.stat().st_size > largest[p.parent].stat().st_size:
                largest[p.parent] = p
    files = [p for p in files if not (p.parent in largest and largest[p.parent] != p)]
    if not files:
        raise WallpapersMissingError(
            f"no wallpapers under {', '.join(map(str, dirs))}: apt-get install {' '.join(WALLPAPER_PACKAGES)}"
        )
    return sorted(files)


def read_rgb(path: str | Path, max_side: int | None = None) -> np.ndarray:
    """An image file as H×W×3 float32 in [0, 1] (alpha dropped, gray repeated), shrunk to ``max_side``."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        if max_side is not None and max(image.size) > max_side:
            scale = max_side / max(image.size)
            image = image.resize(
                (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.LANCZOS
            )
        return np.asarray(image, dtype=np.float32) / 255.0


def evaluation_crop(image: np.ndarray, side: int) -> np.ndarray:
    """The central ``side``×``side`` crop (the whole image where it is smaller)."""
    h, w = image.shape[:2]
    top, left = max((h - side) // 2, 0), max((w - side) // 2, 0)
    return np.ascontiguousarray(image[top : top + side, left : left + side])


def photo_crops(
    files: Sequence[Path], count: int, side: int, rng: np.random.Generator, shrink: tuple[float, float] = (2.0, 6.0)
) -> np.ndarray:
    """``count`` random side×side crops of the photographs, each photo shrunk by a random factor first.

    The photos are read once at a working size (longest side 1024) and then shrunk again per crop, so every crop
    shows detail at a scale between 1/2 and 1/6 of the wallpaper's own resolution (about 1920 px wide).
    """
    photos = [_working_photo(str(p)) for p in files]
    crops = np.empty((count, side, side, 3), dtype=np.float32)
    for i in range(count):
        photo = photos[rng.integers(len(photos))]
        factor = rng.uniform(*shrink) / 2.0  # working photos are already half the wallpaper size
        h, w = photo.shape[:2]
        size = max(side, round(h / factor)), max(side, round(w / factor))
        scaled = resize_image(photo, size) if factor > 1.0 else photo
        top, left = rng.integers(scaled.shape[0] - side + 1), rng.integers(scaled.shape[1] - side + 1)
        crops[i] = scaled[top : top + side, left : left + side]
    return crops


@cache
def _working_photo(path: str) -> np.ndarray:
    return read_rgb(path, max_side=1024)


# ------------------------------------------------------------------------------------------------------ dead leaves


@dataclass(frozen=True)
class DeadLeaves:
    """Settings of the dead-leaves generator (sizes in pixels of the final image)."""

    side: int = 96
    min_radius: float = 1.0
    max_radius: float = 48.0
    max_shapes: int = 4000
    texture_probability: float = 0.5  # share of shapes filled with a photo texture instead of a flat colour
    rectangle_probability: float = 0.3
    max_blur: float = 1.0  # Gaussian blur σ drawn from [0, max_blur], at twice the final resolution


def dead_leaves(
    settings: DeadLeaves, palette: np.ndarray, textures: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One dead-leaves image, side×side×3 in [0, 1].

    Shapes are drawn front to back (each covers only what no earlier shape covered) until the image is covered or
    ``max_shapes`` are placed; ``palette`` (N×3) gives the flat colours, ``textures`` (M×s×s×3 photo patches) the
    textures, recoloured to the shape's colour. Drawn at twice the size, blurred, then averaged 2×2 down.
    """
    big = 2 * settings.side
    image = np.zeros((big, big, 3), dtype=np.float32)
    free = np.ones((big, big), dtype=bool)
    lo, hi = (2 * settings.min_radius) ** -2, (2 * settings.max_radius) ** -2
    for _ in range(settings.max_shapes):
        radius = (lo - rng.uniform() * (lo - hi)) ** -0.5
        cy, cx = rng.uniform(-radius, big + radius, size=2)
        top, bottom = max(int(cy - radius), 0), min(int(cy + radius) + 1, big)
        left, right = max(int(cx - radius), 0), min(int(cx + radius) + 1, big)
        if top >= bottom or left >= right:
            continue
        ys, xs = np.ogrid[top:bottom, left:right]
        if rng.uniform() < settings.rectangle_probability:
            aspect = rng.uniform(0.3, 1.0)
            inside = (np.abs(ys - cy) <= radius * aspect) & (np.abs(xs - cx) <= radius)
        else:
            inside = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2
        region = inside & free[top:bottom, left:right]
        if not region.any():
            continue
        colour = palette[rng.integers(len(palette))]
        if rng.uniform() < settings.texture_probability:
            patch = _texture(textures, bottom - top, right - left, rng)
            fill = np.clip(colour + (patch - patch.mean(axis=(0, 1))) * rng.uniform(0.5, 1.5), 0.0, 1.0)
            image[top:bottom, left:right][region] = fill[region]
        else:
            image[top:bottom, left:right][region] = colour
        free[top:bottom, left:right] &= ~region
        if not free.any():
            break
    image[free] = palette[rng.integers(len(palette))]
    blur = rng.uniform(0.0, settings.max_blur)
    if blur > 0.1:
        image = _gaussian_blur(image, 2 * blur)
    return image.reshape(settings.side, 2, settings.side, 2, 3).mean(axis=(1, 3))


def _texture(textures: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random h×w piece of a random texture patch, tiled by reflection where the patch is smaller."""
    patch = textures[rng.integers(len(textures))]
    if patch.shape[0] < h or patch.shape[1] < w:
        reps = (math.ceil(h / patch.shape[0]), math.ceil(w / patch.shape[1]), 1)
        patch = np.tile(patch, reps)
    top, left = rng.integers(patch.shape[0] - h + 1), rng.integers(patch.shape[1] - w + 1)
    return patch[top : top + h, left : left + w]


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(image, sigma=(sigma, sigma, 0), mode="reflect").astype(np.float32)


def palette_from(photos: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` colours sampled from random pixels of the photographs (N×H×W×3): real photos' colour statistics."""
    n, h, w, _ = photos.shape
    return photos[rng.integers(n, size=count), rng.integers(h, size=count), rng.integers(w, size=count)]
