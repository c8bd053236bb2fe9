"""sSE spatial gate q over the image, the scSE effective gain, and a grid of every block's map.

Maps are upsampled with the model's own geometry (:func:`upsample_map`) and drawn pixel-aligned with nearest
interpolation, so what is shown at image pixel (i, j) is exactly the resampled gate there. Colour limits are fixed
(0..1 for q, −1..1 for the gain); any other limits are announced on the colorbar.
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
from scse_viz.upsample import upsample_map

Stride = tuple[float, float] | None

SSE_CMAP = colormaps.GATE
SSE_ALPHA = 0.5
SSE_LABEL = "sSE gate q (0–1)"
GAIN_CMAP = colormaps.DIVERGING
GAIN_LIMIT = 1.0  # w_c + q_ij − 1 lies in (−1, 1)
GAIN_LABEL = "w_c + q_ij − 1"
GAIN_EXPLAINED = "> 0 boosted, < 0 damped, 0 = unchanged (scSE sum x·w + x·q)"
UNAVAILABLE_FACE = "0.85"
CELL_INCHES = 3.0


def _check_map(m: np.ndarray) -> np.ndarray:
    a = np.asarray(m, dtype=np.float64)
    if a.ndim != 2 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"an sSE map must be a non-empty finite 2-D array, got shape {a.shape}")
    return a


def _overlay(ax: Any, values: np.ndarray, **kwargs: Any) -> Any:
    h, w = values.shape
    return ax.imshow(values, interpolation="nearest", origin="upper", extent=pixel_extent(h, w), **kwargs)


def _stride_text(stride: Stride) -> str:
    return "" if stride is None else f", stride {stride[0]:g}×{stride[1]:g}"


def spatial_overlay_figure(
    image: np.ndarray,
    sse_map: np.ndarray,
    *,
    stride: Stride = None,
    cmap: str = SSE_CMAP,
    alpha: float = SSE_ALPHA,
    title: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Figure:
    """The image with its sSE gate q on top; the colorbar says "rescaled" unless limits are the gate's 0..1."""
    q = _check_map(sse_map)
    fig = new_figure((6.0, 5.0))
    ax = fig.add_subplot()
    h, w = show_image(ax, image)
    im = _overlay(ax, upsample_map(q, (h, w), stride), cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    rescaled = (vmin, vmax) != (0.0, 1.0)
    label = f"sSE gate q (rescaled: colours span {vmin:g}–{vmax:g})" if rescaled else SSE_LABEL
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title or f"sSE gate q ({q.shape[0]}×{q.shape[1]}{_stride_text(stride)})")
    return fig


def effective_gain_figure(
    image: np.ndarray,
    channel_gate: np.ndarray,
    sse_map: np.ndarray,
    channel: int | None = None,
    stride: Stride = None,
    alpha: float = 0.6,
    title: str = "",
) -> Figure:
    """Diverging view of w_c + q_ij − 1, the scSE sum's gain minus 1, on fixed symmetric limits [−1, 1].

    ``channel=None`` shows the mean over channels (= mean(w) + q − 1). Only meaningful for blocks that join their
    branches by sum (the seed's scSE); a max-join block has a different gain.
    """
    w = np.asarray(channel_gate, dtype=np.float64)
    if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)):
        raise ValueError(f"a channel gate must be a non-empty finite 1-D vector, got shape {w.shape}")
    if channel is not None and not 0 <= channel < w.size:
        raise ValueError(f"channel {channel} does not exist (the gate has {w.size} channels)")
    q = _check_map(sse_map)
    wc, which = (w.mean(), f"mean over {w.size} channels") if channel is None else (w[channel], f"channel {channel}")
    fig = new_figure((6.0, 5.0))
    ax = fig.add_subplot()
    h, w_px = show_image(ax, image)
    gain = wc + upsample_map(q, (h, w_px), stride) - 1.0
    im = _overlay(ax, gain, cmap=GAIN_CMAP, alpha=alpha, vmin=-GAIN_LIMIT, vmax=GAIN_LIMIT)
    fig.colorbar(im, ax=ax, label=f"{GAIN_LABEL} ({which})")
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}effective gain {GAIN_LABEL}, {which}\n{GAIN_EXPLAINED}", fontsize=9)
    return fig


def spatial_grid_figure(
    image: np.ndarray,
    maps: list[tuple[str, np.ndarray | None, Any]],
    cmap: str = SSE_CMAP,
    alpha: float = SSE_ALPHA,
    ncols: int = 4,
) -> Figure:
    """Every block's sSE map over the image, one cell each, on one shared 0..1 colorbar.

    Each entry is (name, map, stride). A block without a map is passed as (name, None, note): the note ("did not
    run", "not readable: …") is written in a grey cell; a None note means "did not run".
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
        q = _check_map(m)
        h, w = show_image(ax, img)
        mappable = _overlay(ax, upsample_map(q, (h, w), extra), cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
        ax.set_title(f"{name}\n{q.shape[0]}×{q.shape[1]}{_stride_text(extra)}", fontsize=9)
    for ax in axes[len(maps) :]:
        ax.set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=used, label=SSE_LABEL, shrink=0.8)
    return fig
