"""Pictures as RGB arrays, composited with numpy: what the pages show on every rerun.

A matplotlib figure costs 100–500 ms to draw; the app redraws on every widget change, so the pictures on screen are
made here instead (a colormap lookup and an alpha blend, a few milliseconds) and the matplotlib figures of the other
modules are drawn only when someone downloads a PNG or SVG. Both use the same colours, limits and geometry: maps
must already be on the image's pixels (``upsample_map``), nothing here resamples except :func:`enlarge`, which
repeats pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
from matplotlib import colormaps

from scse_viz.render.geometry import check_image
from scse_viz.render.outputs import DIFF_COLOR, class_colors

DIFF_RGB = tuple(int(DIFF_COLOR[i : i + 2], 16) / 255.0 for i in (1, 3, 5))


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Gray H×W or colour H×W×3 in [0, 1] (or uint8) -> float32 H×W×3."""
    img = check_image(image).astype(np.float32)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img


@cache
def _color_table(cmap: str) -> tuple[np.ndarray, np.ndarray]:
    """The colormap's N colours and, last, its colour for NaN ("bad"), as matplotlib returns them (float32 RGB), and
    the same table as uint8 (:func:`_to_uint8` of each row): read once per colormap, by matplotlib's own calls."""
    colormap = colormaps[cmap]
    rows = colormap(np.arange(colormap.N))[:, :3]  # integers are direct lookups: the table's rows
    bad = colormap(np.array([np.nan]))[:, :3]
    table = np.concatenate([rows, bad]).astype(np.float32)
    table.flags.writeable = False
    as_bytes = _to_uint8(table)
    as_bytes.flags.writeable = False
    return table, as_bytes


def _color_indices(values: np.ndarray, vmin: float, vmax: float, n: int) -> np.ndarray:
    """Row of :func:`_color_table` for each value: the arithmetic of matplotlib's ``Colormap.__call__`` on floats
    clipped to 0…1 (times N, 1.0 onto the last colour, truncated; NaN onto the bad colour, row N)."""
    if vmax <= vmin:
        raise ValueError(f"vmax ({vmax}) must be larger than vmin ({vmin})")
    scaled = np.clip((np.asarray(values, dtype=np.float64) - vmin) / (vmax - vmin), 0.0, 1.0)
    scaled *= n
    scaled[scaled == n] = n - 1
    bad = np.isnan(scaled)
    with np.errstate(invalid="ignore"):
        indices = scaled.astype(np.intp)
    indices[bad] = n
    return indices


def colorize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """Map values through a matplotlib colormap with fixed limits (clipped) -> float32 H×W×3.

    The same colours as ``colormaps[cmap](clipped)[..., :3].astype(np.float32)``, bit for bit (the tests compare the
    two), from a table read once: matplotlib's call builds a float64 RGBA image first, which made colouring most of
    the cost of a 512×512 map (``python -m benchmarks.photo_latency``)."""
    table, _ = _color_table(cmap)
    return table[_color_indices(values, vmin, vmax, len(table) - 1)]


def colorize_uint8(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """``_to_uint8(colorize(values, cmap, vmin, vmax))`` -> uint8 H×W×3, looked up as bytes directly."""
    _, as_bytes = _color_table(cmap)
    return as_bytes[_color_indices(values, vmin, vmax, len(as_bytes) - 1)]


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def overlay(
    image: np.ndarray, values: np.ndarray, cmap: str, alpha: float, vmin: float = 0.0, vmax: float = 1.0
) -> np.ndarray:
    """``values`` (on the image's pixels) coloured and blended over the image with opacity ``alpha`` -> uint8."""
    base = to_rgb(image)
    if np.shape(values) != base.shape[:2]:
        raise ValueError(f"map of shape {np.shape(values)} is not on the image's pixels {base.shape[:2]}")
    return _to_uint8((1.0 - alpha) * base + alpha * colorize(values, cmap, vmin, vmax))


def mask_overlay(
    image: np.ndarray, mask: np.ndarray, n_classes: int, alpha: float = 0.5, colors: Sequence[Any] | None = None
) -> np.ndarray:
    """Class colours over the image (class 0 transparent), the palette of ``mask_overlay_figure`` -> uint8."""
    base = to_rgb(image)
    m = np.asarray(mask)
    if m.shape != base.shape[:2]:
        raise ValueError(f"mask of shape {m.shape} is not on the image's pixels {base.shape[:2]}")
    rgba = class_colors(n_classes, colors)[m].astype(np.float32)
    weight = alpha * rgba[..., 3:4]
    return _to_uint8((1.0 - weight) * base + weight * rgba[..., :3])


def highlight(image: np.ndarray, where: np.ndarray, alpha: float = 0.75) -> np.ndarray:
    """Pixels where ``where`` is true painted in the difference colour (the one of ``difference_map_figure``)."""
    base = to_rgb(image)
    if np.shape(where) != base.shape[:2]:
        raise ValueError(f"selection of shape {np.shape(where)} is not on the image's pixels {base.shape[:2]}")
    out = base.copy()
    out[where] = (1.0 - alpha) * base[where] + alpha * np.asarray(DIFF_RGB, dtype=np.float32)
    return _to_uint8(out)


def enlarge(rgb: np.ndarray, min_side: int = 224, max_side: int = 2048, max_width: int | None = None) -> np.ndarray:
    """Repeat pixels by the smallest integer factor that makes the shorter side at least ``min_side``, but never
    beyond a longer side of ``max_side`` (a 5×1024 strip is not blown up to 225×46080) nor a width of ``max_width``.

    Small inputs (the classifier's 28×28) stay crisp in the browser instead of being blurred by its scaling, and
    pixel (i, j) still covers exactly the block of pixels it came from.
    """
    factor = max(1, min(-(-min_side // min(rgb.shape[:2])), max_side // max(rgb.shape[:2])))
    if max_width is not None:
        factor = max(1, min(factor, max_width // rgb.shape[1]))
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1) if factor > 1 else rgb
