"""Attribution next to attention: the signed attribution map, the sSE map and where their top-k % pixels lie, as
pictures for the page (numpy), a matplotlib figure for download, and the agreement chart across blocks (Vega-Lite).

Attributions are signed (red raises the target, blue lowers it) and drawn on symmetric limits ±L that the caller
chooses and names; sSE maps on their fixed 0..1. Every map must already lie on the image's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from scse_viz.render import colormaps
from scse_viz.render.export import new_figure
from scse_viz.render.geometry import show_image
from scse_viz.render.raster import _to_uint8, to_rgb
from scse_viz.render.spatial import CELL_INCHES, SSE_LABEL, UNAVAILABLE_FACE, _overlay

ATTRIBUTION_CMAP = colormaps.DIVERGING
# top-k overlap classes: 1 sSE only, 2 attribution only, 3 both (0: neither, left transparent)
OVERLAP_NAMES = ("sSE only", "attribution only", "both")
OVERLAP_COLORS = ("#f2c12e", "#3b8bd4", "#d7301f")
MEASURES = {"spearman": "Spearman ρ (sSE vs |attribution|)", "iou": "IoU of the top-k % pixels"}
AXIS_TITLES = {"spearman": "Spearman ρ", "iou": "top-k IoU"}


def _overlap_rgb() -> np.ndarray:
    return np.array([[int(c[i : i + 2], 16) / 255.0 for i in (1, 3, 5)] for c in OVERLAP_COLORS], dtype=np.float32)


def overlap_picture(image: np.ndarray, overlap: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """The overlap classes (0 neither, 1 sSE only, 2 attribution only, 3 both) painted over the image -> uint8."""
    base = to_rgb(image)
    classes = np.asarray(overlap)
    if classes.shape != base.shape[:2]:
        raise ValueError(f"overlap of shape {classes.shape} is not on the image's pixels {base.shape[:2]}")
    if classes.size and (classes.min() < 0 or classes.max() > 3):
        raise ValueError("overlap classes must lie in 0..3")
    out = base.copy()
    for k, rgb in enumerate(_overlap_rgb(), start=1):
        where = classes == k
        out[where] = (1.0 - alpha) * base[where] + alpha * rgb
    return _to_uint8(out)


def agreement_chart(rows: Sequence[dict[str, Any]], measure: str = "spearman", title: str = "") -> dict[str, Any]:
    """One line per (model, method) across the blocks in network order, hover shows block, stride and the value.

    ``rows`` are ``compare_attribution.agreement_rows``; ``measure`` is "spearman" or "iou".
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {sorted(MEASURES)}, got {measure!r}")
    blocks = list(dict.fromkeys(r["block"] for r in rows))
    values = [
        {"block": r["block"], "series": f"{r['model']} · {r['method']}", "value": r[measure], "stride": r["stride"]}
        for r in rows
    ]
    domain = [-1, 1] if measure == "spearman" else [0, 1]
    line = {
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {
                "field": "block",
                "type": "ordinal",
                "sort": blocks,
                "title": "attention block (input → output)",
                "axis": {"labelAngle": -30, "labelLimit": 220},
            },
            "y": {"field": "value", "type": "quantitative", "title": AXIS_TITLES[measure], "scale": {"domain": domain}},
            "color": {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "bottom"}},
            "tooltip": [
                {"field": "series", "title": "model · method"},
                {"field": "block"},
                {"field": "stride", "title": "stride"},
                {"field": "value", "format": ".4f"},
            ],
        },
    }
    zero = {"mark": {"type": "rule", "strokeDash": [4, 3], "color": "#808080"}, "encoding": {"y": {"datum": 0}}}
    return {"data": {"values": values}, "title": title, "layer": [line, zero], "height": 260}


def attribution_grid_figure(
    image: np.ndarray,
    rows: Sequence[tuple[str, np.ndarray | None, np.ndarray | None, np.ndarray | None, str]],
    limit: float,
    *,
    cmap: str = colormaps.GATE,
    alpha: float = 0.5,
    title: str = "",
) -> Figure:
    """One row per model: its attribution (signed, on ±``limit``), its sSE map (0..1) and the top-k overlap.

    Each row is (model label, attribution or None, sSE map or None, overlap classes or None, note for empty cells).
    """
    if not rows:
        raise ValueError("attribution_grid_figure needs at least one row")
    if not limit > 0:
        raise ValueError(f"the colour limit must be positive, got {limit!r}")
    fig = new_figure((CELL_INCHES * 3 + 1.5, CELL_INCHES * len(rows) + 0.6))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    img = to_rgb(image)
    aspect = img.shape[0] / img.shape[1]
    signed = attention = None
    for (label, attribution, sse, overlap, note), cells in zip(rows, axes):
        for ax, values, name in zip(cells, (attribution, sse, overlap), ("attribution", "sSE map", "top-k overlap")):
            ax.set_title(f"{label} · {name}", fontsize=9)
            if values is None:
                ax.set_box_aspect(aspect)
                ax.set_facecolor(UNAVAILABLE_FACE)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)
                continue
            show_image(ax, image)
            if name == "attribution":
                signed = _overlay(ax, values, cmap=ATTRIBUTION_CMAP, alpha=alpha, vmin=-limit, vmax=limit)
            elif name == "sSE map":
                attention = _overlay(ax, values, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
            else:
                shown = np.ma.masked_equal(np.asarray(values, dtype=np.int64), 0)
                _overlay(ax, shown, cmap=ListedColormap(OVERLAP_COLORS), alpha=0.7, vmin=0.5, vmax=3.5)
    if signed is not None:
        fig.colorbar(
            signed,
            ax=axes[:, 0].tolist(),
            label=f"attribution (±{limit:.3g}: red raises, blue lowers)",
            shrink=0.8,
            location="bottom",
        )
    if attention is not None:
        fig.colorbar(attention, ax=axes[:, 1].tolist(), label=SSE_LABEL, shrink=0.8, location="bottom")
    handles = [Patch(color=c, label=n) for c, n in zip(OVERLAP_COLORS, OVERLAP_NAMES)]
    axes[-1, 2].legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.05), fontsize=8, ncols=3)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
