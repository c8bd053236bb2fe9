"""Vega-Lite charts for the Gate health page's checks: the randomisation curves (``scse_viz.sanity``), the class
specificity across depth (``gate_health.class_specificity``) and per-class gates per channel; and the panel sizes
that keep small multiples readable at the page's width. Plain dicts from plain rows; no streamlit, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PAGE_WIDTH = 1100  # px of plot a wide page gives all panels of one chart together (Streamlit's wide layout, 1400 px)
MIN_STEP = 44  # px per box or category: a box of 60 % of it is still wide enough to see and to hover
PANEL_HEIGHT = 260


def panel_width(panels: int, categories: int) -> int:
    """Width of one small multiple: the page's width shared by the panels, never less than ``MIN_STEP`` px per
    category (a chart wider than the page wraps, see :func:`panel_columns`)."""
    shared = PAGE_WIDTH // max(1, panels) - 60  # 60 px: the panel's own axis and padding
    return int(max(MIN_STEP * max(1, categories), shared, 200))


def panel_columns(panels: int, width: int) -> int:
    """How many panels fit side by side at :data:`PAGE_WIDTH`; the rest wrap onto further rows."""
    return int(max(1, min(panels, PAGE_WIDTH // (width + 60))))


def facet_height(panels: int, width: int, height: int = PANEL_HEIGHT) -> int:
    """The element's plot height for ``panels`` wrapped at :func:`panel_columns` (each row's panels, its labels)."""
    rows = -(-max(1, panels) // panel_columns(panels, width))
    return rows * height + (rows - 1) * 110


MEASURES = {
    "sse_rho": "sSE map: Spearman ρ",
    "sse_ssim": "sSE map: SSIM",
    "cse_rho": "cSE gate: Spearman ρ",
}


def sanity_points(rows: Sequence[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """Long rows (step, layer, block, measure, value) of one mode's randomisation rows, for :func:`sanity_chart`."""
    points = []
    for r in rows:
        if r["mode"] != mode:
            continue
        for key, title in MEASURES.items():
            if r.get(key) is not None:
                points.append(
                    {
                        "step": r["step"],
                        "layer": r["layer"] or "(trained)",
                        "block": r["block"],
                        "measure": title,
                        "value": r[key],
                    }
                )
    return points


def sanity_chart(points: Sequence[dict[str, Any]], mode: str) -> dict[str, Any]:
    """One panel per measure (sSE ρ, sSE SSIM, cSE ρ), one line per block: similarity to the trained model's gates
    against the number of layers re-initialised (cascading: from the output down; independent: one at a time)."""
    measures = [m for m in MEASURES.values() if any(p["measure"] == m for p in points)]
    width = panel_width(len(measures), 8)
    x_title = (
        "layers re-initialised, from the output towards the input"
        if mode == "cascading"
        else "layer re-initialised alone (output first)"
    )
    return {
        "data": {"values": list(points)},
        "title": f"similarity to the trained model's gates ({mode} randomisation)",
        "facet": {"field": "measure", "type": "nominal", "title": None, "sort": measures},
        "columns": panel_columns(len(measures), width),
        "spec": {
            "width": width,
            "height": PANEL_HEIGHT,
            "layer": [
                {
                    "mark": {"type": "line", "point": True},
                    "encoding": {
                        "x": {"field": "step", "type": "quantitative", "title": x_title},
                        "y": {
                            "field": "value",
                            "type": "quantitative",
                            "scale": {"domain": [-1, 1]},
                            "title": "similarity (1 = unchanged)",
                        },
                        "color": {"field": "block", "type": "nominal", "title": "block", "sort": None},
                        "tooltip": [
                            {"field": "block"},
                            {"field": "step"},
                            {"field": "layer", "title": "layer re-initialised"},
                            {"field": "measure"},
                            {"field": "value", "format": ".3f"},
                        ],
                    },
                },
                {
                    "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#404040"},
                    "encoding": {"y": {"datum": 0}},
                },
            ],
        },
        "height": facet_height(len(measures), width),
    }


SPECIFICITY_MEASURES = {"class specificity": "class specificity", "saturated share": "saturated share"}


def specificity_points(summary: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Long rows (model, block, depth, measure, value) of ``gate_health.class_specificity``."""
    return [
        {"model": e["model"], "block": e["block"], "depth": e["depth"], "measure": m, "value": e[m]}
        for e in summary
        for m in SPECIFICITY_MEASURES
        if e.get(m) is not None
    ]


def specificity_chart(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Class specificity (share of the cSE gates' variance between classes) and the saturated share, side by side,
    against depth, one line per model: SENet found specificity rising with depth."""
    blocks = list(dict.fromkeys(p["block"] for p in sorted(points, key=lambda p: p["depth"])))
    width = panel_width(2, len(blocks))
    return {
        "data": {"values": list(points)},
        "title": "class specificity of the cSE gates across depth",
        "facet": {"field": "measure", "type": "nominal", "title": None},
        "columns": panel_columns(2, width),
        "spec": {
            "width": width,
            "height": PANEL_HEIGHT,
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "block", "type": "ordinal", "sort": blocks, "title": "block (input → output)"},
                "y": {"field": "value", "type": "quantitative", "scale": {"domain": [0, 1]}, "title": "share"},
                "color": {"field": "model", "type": "nominal", "title": "model"},
                "tooltip": [
                    {"field": "model"},
                    {"field": "block"},
                    {"field": "measure"},
                    {"field": "value", "format": ".3f"},
                ],
            },
        },
        "height": facet_height(2, width),
    }


def class_channel_chart(rows: Sequence[dict[str, Any]], model: str) -> dict[str, Any]:
    """SENet's Fig. 6 for one model: per block (a panel each, wrapped), each class's mean cSE gate per channel."""
    blocks = list(dict.fromkeys(r["block"] for r in rows))
    channels = max((r["channel"] for r in rows), default=0) + 1
    width = max(panel_width(min(3, len(blocks)), 1), min(4 * channels, 1000))
    return {
        "data": {"values": list(rows)},
        "title": f"{model}: each class's mean cSE gate per channel",
        "facet": {"field": "block", "type": "nominal", "title": None, "sort": blocks},
        "columns": panel_columns(len(blocks), width),
        "resolve": {"scale": {"x": "independent"}},
        "spec": {
            "width": width,
            "height": 200,
            "mark": {"type": "line", "strokeWidth": 1},
            "encoding": {
                "x": {"field": "channel", "type": "quantitative", "title": "channel"},
                "y": {"field": "mean gate", "type": "quantitative", "scale": {"domain": [0, 1]}, "title": "mean w"},
                "color": {"field": "label", "type": "nominal", "title": "class"},
                "tooltip": [
                    {"field": "block"},
                    {"field": "label", "title": "class"},
                    {"field": "channel"},
                    {"field": "mean gate", "format": ".3f"},
                    {"field": "images"},
                ],
            },
        },
        "height": facet_height(len(blocks), width, 200),
    }
