"""Small figures for the teaching page: vectors as bars, feature maps as grids of heatmaps on one colour scale.

Raw feature maps are not images in [0, 1], so they are drawn as plain heatmaps (no image underneath), pixel-aligned
with :func:`pixel_extent`. Every grid shares one colour scale across its cells, so "before" and "after" can be
compared by colour; the limits are written on the colorbar. The cSE gate w itself is drawn by
:func:`~scse_viz.render.channel.channel_gate_figure` (fixed 0–1 axis, 0.5 dashed); per-class mean gates by
:func:`class_excitation_figure` (SE-Net Fig. 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from scse_viz.color import luma
from scse_viz.render import colormaps
from scse_viz.render.channel import BOOST_COLOR, REFERENCE, REFERENCE_COLOR, SUPPRESS_COLOR
from scse_viz.render.export import new_figure
from scse_viz.render.geometry import pixel_extent
from scse_viz.render.spatial import GAIN_CMAP, SSE_CMAP, SSE_LABEL

FEATURE_CMAP = colormaps.LEVEL  # feature maps without negative values
SIGNED_CMAP = colormaps.DIVERGING  # feature maps or logits with both signs: white at 0, symmetric limits
GAIN_RANGE = (0.0, 2.0)  # w_c + q_ij lies in (0, 2); centred at 1 = "left as it was"
GAIN_MAP_LABEL = "gain w_c + q_ij (1 = unchanged)"
ANNOTATE_MAX_PIXELS = 144  # single maps up to 12×12 get their values printed in the cells
CELL = 1.9  # inches per heatmap in a grid
LABELLED_BARS = 32  # vectors up to this length get every value printed on its bar
MAX_WIDTH = 14.0  # inches


def _vector(values: Any) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"expected a non-empty finite 1-D vector, got shape {v.shape}")
    return v


def _map(values: Any) -> np.ndarray:
    m = np.asarray(values, dtype=np.float64)
    if m.ndim != 2 or m.size == 0 or not np.all(np.isfinite(m)):
        raise ValueError(f"expected a non-empty finite 2-D map, got shape {m.shape}")
    return m


def shared_limits(arrays: Sequence[np.ndarray]) -> tuple[str, float, float]:
    """(cmap, vmin, vmax) for arrays shown on one scale: symmetric and diverging if they have both signs."""
    lo = min(float(np.min(a)) for a in arrays)
    hi = max(float(np.max(a)) for a in arrays)
    if lo < 0.0 < hi:
        lim = max(-lo, hi)
        return SIGNED_CMAP, -lim, lim
    if hi - lo < 1e-12:  # a constant map: give it a visible range around its value
        return FEATURE_CMAP, lo - 0.5, hi + 0.5
    return FEATURE_CMAP, lo, hi


def vector_figure(
    values: Any,
    *,
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    labels: Sequence[str] | None = None,
    reference: float | None = None,
    reference_label: str = "",
) -> Figure:
    """One bar per entry; positive bars red, negative blue, optional dashed reference line.

    Up to :data:`LABELLED_BARS` entries get their value printed on the bar and every tick labelled; longer vectors
    (a real block has up to 256 channels) keep a readable width and label every k-th tick (the table has them all).
    """
    v = _vector(values)
    labels = [str(i) for i in range(v.size)] if labels is None else list(labels)
    if len(labels) != v.size:
        raise ValueError(f"{len(labels)} labels for {v.size} values")
    fig = new_figure((min(MAX_WIDTH, max(3.2, 0.55 * v.size + 1.4)), 2.8))
    ax = fig.add_subplot()
    bars = ax.bar(np.arange(v.size), v, color=np.where(v >= 0, BOOST_COLOR, SUPPRESS_COLOR), width=0.7)
    if v.size <= LABELLED_BARS:
        ax.bar_label(bars, labels=[f"{x:.2f}" for x in v], fontsize=7, padding=2)
    ax.axhline(0.0, color=REFERENCE_COLOR, linewidth=0.8)
    if reference is not None:
        ax.axhline(reference, color=REFERENCE_COLOR, linestyle="--", linewidth=1.0, label=reference_label or None)
        if reference_label:
            ax.legend(loc="upper right", fontsize=7)
    lo = min(0.0, float(v.min()), reference if reference is not None else 0.0)
    hi = max(0.0, float(v.max()), reference if reference is not None else 0.0)
    pad = 0.18 * max(hi - lo, 1e-6)
    ax.set_ylim(lo - (pad if lo < 0 else 0.0), hi + pad)
    step = max(1, -(-v.size // LABELLED_BARS))
    ticks = np.arange(0, v.size, step)
    ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=8, rotation=90 if step > 1 else 0)
    ax.set_xlim(-0.6, v.size - 0.4)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    return fig


def _draw(ax: Any, m: np.ndarray, cmap: str, vmin: float, vmax: float) -> Any:
    h, w = m.shape
    im = ax.imshow(
        m, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", origin="upper", extent=pixel_extent(h, w)
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def heatmap_grid_figure(
    rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
    *,
    label: str,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str = "",
) -> Figure:
    """A grid of 2-D maps: each row is (row label, [(cell title, map), …]), all cells on one colour scale.

    Without ``cmap``/``vmin``/``vmax`` the scale comes from :func:`shared_limits` over every cell.
    """
    if not rows or not all(cells for _, cells in rows):
        raise ValueError("heatmap_grid_figure needs at least one row with at least one cell")
    maps = [[(name, _map(m)) for name, m in cells] for _, cells in rows]
    auto_cmap, auto_lo, auto_hi = shared_limits([m for cells in maps for _, m in cells])
    cmap = cmap or auto_cmap
    vmin = auto_lo if vmin is None else vmin
    vmax = auto_hi if vmax is None else vmax
    ncols = max(len(cells) for cells in maps)
    fig = new_figure((CELL * ncols + 1.3, CELL * len(rows) + (0.4 if title else 0.1)))
    axes = fig.subplots(len(rows), ncols, squeeze=False)
    im = None
    for r, ((row_label, _), cells) in enumerate(zip(rows, maps)):
        for col in range(ncols):
            ax = axes[r, col]
            if col >= len(cells):
                ax.set_visible(False)
                continue
            name, m = cells[col]
            im = _draw(ax, m, cmap, vmin, vmax)
            ax.set_title(name, fontsize=8)
            if col == 0:
                ax.set_ylabel(row_label, fontsize=8)
    bar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9)
    bar.set_label(f"{label}\n[{vmin:.2f} … {vmax:.2f}]", fontsize=8)  # two lines: fits a one-row grid
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def channel_maps_figure(
    maps: Sequence[tuple[str, np.ndarray]], channels: Sequence[int], *, label: str = "value", title: str = ""
) -> Figure:
    """A few channels of several C×H×W maps (e.g. x before and x·w after), one row per map, one shared scale."""
    channels = [int(c) for c in channels]
    if not channels:
        raise ValueError("choose at least one channel")
    rows = []
    for row_label, m in maps:
        a = np.asarray(m)
        if a.ndim != 3 or not all(0 <= c < a.shape[0] for c in channels):
            raise ValueError(f"{row_label!r}: need a C×H×W map containing channels {channels}, got {a.shape}")
        rows.append((row_label, [(f"channel {c}", a[c]) for c in channels]))
    return heatmap_grid_figure(rows, label=label, title=title)


def value_map_figure(
    m: Any,
    *,
    title: str,
    label: str,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    fmt: str = "{:.2f}",
) -> Figure:
    """One 2-D map with its values printed in the cells (maps up to 12×12); limits as in :func:`shared_limits`."""
    a = _map(m)
    auto_cmap, auto_lo, auto_hi = shared_limits([a])
    cmap, vmin, vmax = cmap or auto_cmap, auto_lo if vmin is None else vmin, auto_hi if vmax is None else vmax
    h, w = a.shape
    side = min(5.0, 0.42 * max(h, w) + 1.2)
    fig = new_figure((side + 1.0, side))
    ax = fig.add_subplot()
    im = _draw(ax, a, cmap, vmin, vmax)
    if a.size <= ANNOTATE_MAX_PIXELS:
        norm, colormap = im.norm, im.get_cmap()
        for (i, j), v in np.ndenumerate(a):
            r, g, b, _ = colormap(norm(v))
            dark = float(luma(np.asarray([r, g, b]))) < 0.5
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=6, color="white" if dark else "black")
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    ax.set_title(title, fontsize=9)
    return fig


def sse_map_figure(q: Any, title: str = "sSE gate q") -> Figure:
    """The sSE gate q with its values, on the gate's fixed range 0–1 (the same colours as the app's overlays)."""
    return value_map_figure(q, title=title, label=SSE_LABEL, cmap=SSE_CMAP, vmin=0.0, vmax=1.0)


def gain_figure(gain: Any, channels: Sequence[int], title: str = "") -> Figure:
    """w_c + q_ij for a few channels, diverging around 1 ("unchanged") on the fixed symmetric range 0–2."""
    g = np.asarray(gain)
    channels = [int(c) for c in channels]
    if g.ndim != 3 or not channels or not all(0 <= c < g.shape[0] for c in channels):
        raise ValueError(f"need a C×H×W gain containing channels {channels}, got shape {g.shape}")
    rows = [("w_c + q_ij", [(f"channel {c}", g[c]) for c in channels])]
    return heatmap_grid_figure(
        rows,
        label=GAIN_MAP_LABEL,
        cmap=GAIN_CMAP,
        vmin=GAIN_RANGE[0],
        vmax=GAIN_RANGE[1],
        title=title or "effective gain: red = boosted (> 1), blue = damped (< 1)",
    )


def join_comparison_figure(joins: dict[str, np.ndarray], channel: int, ours: str | None = None) -> Figure:
    """One channel of each way to join the branches, side by side on one scale; ``ours`` is marked as such."""
    if not joins:
        raise ValueError("no joins to compare")
    cells = []
    for name, m in joins.items():
        a = np.asarray(m)
        if a.ndim != 3 or not 0 <= channel < a.shape[0]:
            raise ValueError(f"{name!r}: need a C×H×W map containing channel {channel}, got shape {a.shape}")
        cells.append((f"{name}\n(our models)" if name == ours else f"{name}\n(alternative)", a[channel]))
    return heatmap_grid_figure(
        [(f"channel {channel}", cells)],
        label="joined output",
        title=f"channel {channel} after each join, one colour scale",
    )


def class_excitation_figure(
    panels: Sequence[tuple[str, np.ndarray]], class_names: Sequence[str], *, title: str = ""
) -> Figure:
    """SE-Net Fig. 6: per panel (one block), one line per class of its mean gate over channel index.

    ``panels`` are (panel title, K×C class-mean gates). Lines rather than a class × channel heatmap: the question is
    whether the classes' curves coincide or separate, and on the gate's fixed 0–1 axis (0.5 dashed) a separation of
    a few hundredths is visible as lines but lost in a colour scale that must also span 0.2–0.9. Rows of NaN
    (classes without images) are skipped.
    """
    if not panels:
        raise ValueError("no blocks to draw")
    names = list(class_names)
    colors = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    fig = new_figure((8.5, 2.3 * len(panels) + (0.4 if title else 0.0)))
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for ax, (panel_title, means) in zip(axes, panels):
        m = np.asarray(means, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != len(names):
            raise ValueError(f"{panel_title!r}: need {len(names)} classes × C gates, got shape {m.shape}")
        channels = np.arange(m.shape[1])
        for k, row in enumerate(m):
            if np.all(np.isfinite(row)):
                ax.plot(channels, row, color=colors[k % len(colors)], linewidth=1.1, label=names[k])
        ax.axhline(REFERENCE, color=REFERENCE_COLOR, linestyle="--", linewidth=1.0)
        ax.set_ylim(0.0, 1.0)
        ax.set_xlim(-0.5, m.shape[1] - 0.5)
        ax.set_ylabel("mean w_c", fontsize=8)
        ax.set_title(panel_title, fontsize=9)
    axes[-1].set_xlabel("channel index", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7, title="class", title_fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
