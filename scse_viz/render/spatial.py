"""sSE spatial gate q over the image, the scSE effective gain, and a grid of every block's map.

Every map arrives already on the image's pixels (``scse_viz.explore.spatial_map`` and ``displayed_gain`` put it
there with the model's own geometry), the same arrays the page's pictures blend, so a figure shows exactly what the
tab shows; nothing here resamples or recomputes a gain. Maps are drawn pixel-aligned with nearest interpolation.
Colour limits are fixed (0..1 for q, −1..1 for the gain); any other limits are announced on the colorbar.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from scse_viz.render import colormaps
from scse_viz.render.export import new_figure
from scse_viz.render.geometry import check_image, pixel_extent, show_image

SSE_CMAP = colormaps.GATE
SSE_ALPHA = 0.5
SSE_LABEL = "sSE gate q (0–1)"
GAIN_CMAP = colormaps.DIVERGING
GAIN_LIMIT = 1.0  # w_c + q_ij − 1 lies in (−1, 1)
GAIN_LABEL = "w_c + q_ij − 1"
GAIN_EXPLAINED = "> 0 boosted, < 0 damped, 0 = unchanged (scSE sum x·w + x·q)"
UNAVAILABLE_FACE = "0.85"
CELL_INCHES = 3.0


def _check_map(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``m`` as float64, refused unless it is a finite map on the image's pixels (``size``)."""
    a = np.asarray(m, dtype=np.float64)
    if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"a map must be a non-empty finite 2-D array, got shape {a.shape}")
    if a.shape != tuple(size):
        raise ValueError(f"map of shape {a.shape} is not on the image's pixels {tuple(size)}")
    return a


def _overlay(ax: Any, values: np.ndarray, **kwargs: Any) -> Any:
    h, w = values.shape
    return ax.imshow(values, interpolation="nearest", origin="upper", extent=pixel_extent(h, w), **kwargs)


def spatial_overlay_figure(
    image: np.ndarray,
    sse_map: np.ndarray,
    *,
    cmap: str = SSE_CMAP,
    alpha: float = SSE_ALPHA,
    title: str = "sSE gate q",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Figure:
    """The image with its sSE gate q (on the image's pixels) on top; the colorbar says "rescaled" unless limits are
    the gate's 0..1."""
    fig = new_figure((6.0, 5.0))
    ax = fig.add_subplot()
    h, w = show_image(ax, image)
    im = _overlay(ax, _check_map(sse_map, (h, w)), cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    rescaled = (vmin, vmax) != (0.0, 1.0)
    label = f"sSE gate q (rescaled: colours span {vmin:g}–{vmax:g})" if rescaled else SSE_LABEL
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title)
    return fig


def effective_gain_figure(
    image: np.ndarray, gain: np.ndarray, which: str, *, alpha: float = 0.6, title: str = ""
) -> Figure:
    """Diverging view of the scSE sum's gain minus 1, w_c + q_ij − 1 (``gain``, on the image's pixels, computed by
    ``scse_viz.explore.displayed_gain``), on fixed symmetric limits [−1, 1]; ``which`` says which w_c ("mean over
    64 channels", "channel 3") in the title and on the colorbar."""
    fig = new_figure((6.0, 5.0))
    ax = fig.add_subplot()
    h, w = show_image(ax, image)
    im = _overlay(ax, _check_map(gain, (h, w)), cmap=GAIN_CMAP, alpha=alpha, vmin=-GAIN_LIMIT, vmax=GAIN_LIMIT)
    fig.colorbar(im, ax=ax, label=f"{GAIN_LABEL} ({which})")
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}effective gain {GAIN_LABEL}, {which}\n{GAIN_EXPLAINED}", fontsize=9)
    return fig


def spatial_grid_figure(
    image: np.ndarray,
    maps: list[tuple[str, np.ndarray | None, str | None]],
    cmap: str = SSE_CMAP,
    alpha: float = SSE_ALPHA,
    ncols: int = 4,
) -> Figure:
    """Every block's sSE map over the image, one cell each, on one shared 0..1 colorbar.

    Each entry is (title, map on the image's pixels, None). A block without a map is passed as (title, None, note):
    the note ("did not run", "not readable: …") is written in a grey cell; a None note means "did not run".
    """
    if not maps:
        raise ValueError("spatial_grid_figure needs at least one block")
    ncols = max(1, min(ncols, len(maps)))
    nrows = math.ceil(len(maps) / ncols)
    fig = new_figure((CELL_INCHES * ncols + 1.0, CELL_INCHES * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    img = check_image(image)
    aspect = img.shape[0] / img.shape[1]
    mappable, used = None, []
    for ax, (name, m, extra) in zip(axes, maps):
        used.append(ax)
        if m is None:
            ax.set_box_aspect(aspect)  # same shape as the image cells
            ax.set_facecolor(UNAVAILABLE_FACE)
            ax.set_xticks([])
            ax.set_yticks([])
            note = textwrap.fill(extra or "did not run", 24)
            ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=8, transform=ax.transAxes)
            ax.set_title(name, fontsize=9)
            continue
        h, w = show_image(ax, img)
        mappable = _overlay(ax, _check_map(m, (h, w)), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
        ax.set_title(name, fontsize=9)
    for ax in axes[len(maps) :]:
        ax.set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=used, label=SSE_LABEL, shrink=0.8)
    return fig
