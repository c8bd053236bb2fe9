"""Interactive charts as Vega-Lite specifications (plain dicts): bars with hover tooltips for the pages.

The same rows and colours as the matplotlib figures (:func:`channel_gate_table`, the class palette), so the chart on
screen and the PNG/SVG download say the same thing. Nothing here imports streamlit; a page passes the dict to
``st.vega_lite_chart``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scse_viz.render.channel import (
    BAR_COLOR,
    BOOST_COLOR,
    COMPARE_COLORS,
    REFERENCE,
    SUPPRESS_COLOR,
    Order,
    channel_gate_table,
)
from scse_viz.render.gate_checks import PANEL_HEIGHT, facet_height, panel_columns, panel_width

ROLE_NAMES = {
    "boost": "highest w (strongest boost)",
    "suppression": "lowest w (strongest suppression)",
    "": "other channels",
}
GATE_AXIS = {"title": "gate w_c (0–1)", "scale": {"domain": [0, 1]}}


CHART_MARGIN = 120  # px around a chart's plot area: title, rotated channel labels, axis title, legend below


def element_height(spec: dict[str, Any]) -> int | str:
    """The page element's height for ``spec``: its plot height plus the room around it.

    Streamlit 1.67 sizes a Vega-Lite element by ``st.vega_lite_chart(..., height=...)`` and ignores the spec's own
    height, which flattened the gate bars to a strip; pages pass this value so each chart gets the height it asks for.
    """
    height = spec.get("height")
    return height + CHART_MARGIN if isinstance(height, int) else "content"


def _reference_rule(value: float = REFERENCE) -> dict[str, Any]:
    return {
        "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#404040"},
        "encoding": {"y": {"datum": value}, "tooltip": {"value": f"{value:g} = σ(0), an untrained gate"}},
    }


def channel_gate_chart(
    gate: np.ndarray, order: Order = "sorted", top_k: int | None = None, highlight: int = 3, title: str = ""
) -> dict[str, Any]:
    """Bars of one image's cSE gate, hover shows channel and w, dashed reference at 0.5, boosts/suppressions coloured."""
    rows = channel_gate_table(gate, order, top_k, highlight)
    values = [
        {"channel": r["channel"], "w": r["value"], "rank": r["rank"], "role": ROLE_NAMES[r["role"]]} for r in rows
    ]
    sort = {"field": "rank", "order": "ascending"}
    bars = {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "channel",
                "type": "ordinal",
                "sort": sort,
                "title": "channel (sorted by w)" if order == "sorted" else "channel",
            },
            "y": {"field": "w", "type": "quantitative", **GATE_AXIS},
            "color": {
                "field": "role",
                "type": "nominal",
                "title": None,
                "legend": {"orient": "bottom"},
                "scale": {"domain": list(ROLE_NAMES.values()), "range": [BOOST_COLOR, SUPPRESS_COLOR, BAR_COLOR]},
            },
            "tooltip": [
                {"field": "channel", "type": "ordinal"},
                {"field": "w", "type": "quantitative", "format": ".4f"},
            ],
        },
    }
    return {"data": {"values": values}, "title": title, "layer": [bars, _reference_rule()], "height": 260}


def gate_comparison_chart(gate_a: np.ndarray, gate_b: np.ndarray, labels: tuple[str, str]) -> dict[str, Any]:
    """Two inputs' gates of one block as grouped bars (hover: channel, input, w) with the 0.5 reference."""
    a, b = np.asarray(gate_a, dtype=float), np.asarray(gate_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"both gates must be 1-D with the same channels, got {a.shape} and {b.shape}")
    values = [
        {"channel": c, "input": label, "w": float(g[c])} for label, g in zip(labels, (a, b)) for c in range(a.size)
    ]
    bars = {
        "mark": "bar",
        "encoding": {
            "x": {"field": "channel", "type": "ordinal"},
            "xOffset": {"field": "input"},
            "y": {"field": "w", "type": "quantitative", **GATE_AXIS},
            "color": {
                "field": "input",
                "type": "nominal",
                "scale": {"range": list(COMPARE_COLORS)},
                "legend": {"orient": "bottom", "title": None},
            },
            "tooltip": [{"field": "channel"}, {"field": "input"}, {"field": "w", "format": ".4f"}],
        },
    }
    return {"data": {"values": values}, "layer": [bars, _reference_rule()], "height": 220}


def gate_difference_chart(difference: np.ndarray, labels: tuple[str, str]) -> dict[str, Any]:
    """w(B) − w(A) per channel, red up / blue down, hover shows the value."""
    d = np.asarray(difference, dtype=float)
    values = [
        {"channel": c, "difference": float(v), "sign": "B higher" if v >= 0 else "A higher"} for c, v in enumerate(d)
    ]
    title = f"w({labels[1]}) − w({labels[0]})"
    return {
        "data": {"values": values},
        "mark": "bar",
        "height": 160,
        "encoding": {
            "x": {"field": "channel", "type": "ordinal"},
            "y": {"field": "difference", "type": "quantitative", "title": title},
            "color": {
                "field": "sign",
                "type": "nominal",
                "legend": None,
                "scale": {"domain": ["B higher", "A higher"], "range": [BOOST_COLOR, SUPPRESS_COLOR]},
            },
            "tooltip": [{"field": "channel"}, {"field": "difference", "format": "+.4f"}],
        },
    }


def probability_chart(top: Sequence[tuple[str, float]], title: str = "") -> dict[str, Any]:
    """Horizontal bars of the most probable classes, most probable on top, hover shows the probability."""
    values = [{"class": name, "probability": p, "rank": i} for i, (name, p) in enumerate(top)]
    return {
        "data": {"values": values},
        "title": title,
        "mark": "bar",
        "height": 24 * max(1, len(values)),
        "encoding": {
            "y": {"field": "class", "type": "nominal", "sort": {"field": "rank"}, "title": None},
            "x": {"field": "probability", "type": "quantitative", "scale": {"domain": [0, 1]}},
            "tooltip": [{"field": "class"}, {"field": "probability", "format": ".4f"}],
        },
    }


def gate_distribution_chart(values: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Small multiples, one panel per model: per block, the distribution of each image's mean gate (box: quartiles,
    whiskers: min–max), on the gates' whole 0–1 range so panels compare at a glance; hover shows the numbers."""
    blocks = list(dict.fromkeys(v["block"] for v in values))
    models = len({v["model"] for v in values})
    width = panel_width(models, len(blocks))  # the page's width shared by the panels, ≥ 44 px per box
    return {
        "data": {"values": list(values)},
        "title": f"each image's mean {title}",
        "facet": {"field": "model", "type": "nominal", "title": None},
        "columns": panel_columns(models, width),
        "spec": {
            "width": width,
            "height": PANEL_HEIGHT,
            "mark": {
                "type": "boxplot",
                "extent": "min-max",
                "color": BAR_COLOR,
                "size": max(8, int(0.6 * width / max(1, len(blocks)))),
            },
            "encoding": {
                "x": {"field": "block", "type": "nominal", "sort": blocks, "title": None, "axis": {"labelAngle": -60}},
                "y": {"field": "value", "type": "quantitative", "scale": {"domain": [0, 1]}, "title": "mean gate"},
            },
        },
        "height": facet_height(models, width),
    }


def class_profile_chart(profiles: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    """Per model (one panel each), each class's mean gate across the blocks, one line per class."""
    blocks = list(dict.fromkeys(p["block"] for p in profiles))
    models = len({p["model"] for p in profiles})
    width = panel_width(models, len(blocks))
    return {
        "data": {"values": list(profiles)},
        "title": f"mean {title} per class",
        "facet": {"field": "model", "type": "nominal", "title": None},
        "columns": panel_columns(models, width),
        "spec": {
            "width": width,
            "height": PANEL_HEIGHT,
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "block", "type": "nominal", "sort": blocks, "title": None, "axis": {"labelAngle": -60}},
                "y": {"field": "mean", "type": "quantitative", "title": "mean gate", "scale": {"zero": False}},
                "color": {"field": "label", "type": "nominal", "title": "class"},
                "tooltip": [
                    {"field": "label"},
                    {"field": "block"},
                    {"field": "mean", "format": ".4f"},
                    {"field": "images"},
                ],
            },
        },
        "height": facet_height(models, width),
    }


def perturbation_chart(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Deletion and insertion curves side by side (``gate_health.perturbation_curves``), one line per ranking: a
    faithful sSE map falls faster than random under deletion and rises faster under insertion."""
    return {
        "data": {"values": list(points)},
        "facet": {"column": {"field": "curve", "type": "nominal", "title": None, "sort": ["deletion", "insertion"]}},
        "spec": {
            "width": 280,
            "height": 220,
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {
                    "field": "share of pixels",
                    "type": "quantitative",
                    "axis": {"format": "%"},
                    "title": "share of pixels removed (deletion) or put in (insertion)",
                },
                "y": {
                    "field": "objective",
                    "type": "quantitative",
                    "title": "objective (0 = black input, 1 = the input)",
                },
                "color": {"field": "ranking", "type": "nominal", "title": "pixels ranked by"},
                "tooltip": [
                    {"field": "curve"},
                    {"field": "ranking"},
                    {"field": "share of pixels", "format": ".0%"},
                    {"field": "objective", "format": ".4f"},
                    {"field": "images"},
                ],
            },
        },
        "height": 220,
    }
