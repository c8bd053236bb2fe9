"""Figures without pyplot, and their bytes for download.

The app renders from several threads at once, so no figure may touch pyplot's global state: every figure is a bare
``matplotlib.figure.Figure`` with its own Agg canvas (no global backend switch).

Memory: figures made here are not registered with pyplot, so ``plt.close`` is neither needed nor meaningful. Freeing
them is the caller's job: drop every reference (the garbage collector then frees them), or call ``fig.clear()`` first
when a figure is kept in a long-lived structure.
"""

from __future__ import annotations

import io
from typing import Literal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DEFAULT_DPI = 150
FORMATS = ("png", "svg")


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A Figure with its own Agg canvas and constrained layout (labels and colorbars fit without ``tight``)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_bytes(fig: Figure, fmt: Literal["png", "svg"] = "png", dpi: int = DEFAULT_DPI) -> bytes:
    """Encode ``fig`` as PNG or SVG bytes at ``dpi``; the figure stays open (closing it is the caller's job)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None  # reproducible SVG: no timestamp
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
    return buf.getvalue()
