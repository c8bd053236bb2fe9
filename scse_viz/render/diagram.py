"""A schematic of the scSE block (the landing page's picture): both branches, their gates' shapes and the sum."""

from __future__ import annotations

import itertools

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from scse_viz.render.export import new_figure

CSE_COLOR = "#d62728"
SSE_COLOR = "#1f77b4"
BOX_FACE = "#f4f4f4"


def _box(ax, x: float, y: float, text: str, color: str = "0.3", width: float = 1.5) -> tuple[float, float]:
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - 0.32),
            width,
            0.64,
            boxstyle="round,pad=0.04",
            facecolor=BOX_FACE,
            edgecolor=color,
            linewidth=1.4,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5, color="0.1")
    return x, y


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], color: str = "0.35") -> None:
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=10, color=color, linewidth=1.2, shrinkA=0, shrinkB=0
        )
    )


def scse_diagram_figure() -> Figure:
    """x → cSE (GAP, 1×1 C→C/r, ReLU, 1×1 C/r→C, σ: w, C×1×1) and sSE (1×1 C→1, σ: q, 1×H×W) → x·w + x·q."""
    fig = new_figure((10.0, 3.2))
    ax = fig.add_subplot()
    ax.set_xlim(-0.1, 14.3)
    ax.set_ylim(-1.95, 1.95)
    ax.axis("off")
    width = 1.45
    top = [
        (2.3, "global avg pool\nC×1×1"),
        (4.05, "1×1 conv\nC → C/r"),
        (5.8, "ReLU"),
        (7.55, "1×1 conv\nC/r → C"),
        (9.3, "sigmoid\nw: C×1×1"),
        (11.35, "x · w\nchannels rescaled"),
    ]
    bottom = [(3.2, "1×1 conv\nC → 1"), (7.0, "sigmoid\nq: 1×H×W"), (11.35, "x · q\npixels rescaled")]
    _box(ax, 0.55, 0.0, "x\nC×H×W", width=1.0)
    _box(ax, 13.6, 0.0, "x·w + x·q\nC×H×W", width=1.3)
    for row, y, color in ((top, 1.1, CSE_COLOR), (bottom, -1.1, SSE_COLOR)):
        for x, text in row:
            _box(ax, x, y, text, color, width=width)
        for (x0, _), (x1, _) in itertools.pairwise(row):
            _arrow(ax, (x0 + width / 2 + 0.02, y), (x1 - width / 2 - 0.04, y), color)
        _arrow(ax, (1.07, 0.15 if y > 0 else -0.15), (row[0][0] - width / 2 - 0.04, y), color)
        _arrow(ax, (row[-1][0] + width / 2 + 0.02, y), (12.93, 0.15 if y > 0 else -0.15), "0.35")
    ax.text(
        5.8,
        1.75,
        "cSE: spatial squeeze, channel excitation — one weight per channel",
        ha="center",
        fontsize=9,
        color=CSE_COLOR,
    )
    ax.text(
        5.8,
        -1.85,
        "sSE: channel squeeze, spatial excitation — one weight per pixel",
        ha="center",
        fontsize=9,
        color=SSE_COLOR,
    )
    return fig
