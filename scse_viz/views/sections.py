"""What a page shows, as plain records: headings, text, formulas, rows of pictures or charts, tables and metrics,
and the columns and folds that hold them.

A view (``scse_viz.views.<task>``, ``views.attention``, ``views.teaching``) builds these from a run; ``scse_viz.ui
.sections`` shows any list of them with Streamlit. Pictures are RGB arrays, charts Vega-Lite specs and plots
matplotlib figures drawn on demand, so the page lays them out and computes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 3  # 2: a part of the page (a header), 3: a step inside it (a subheader)


@dataclass(frozen=True)
class Text:
    text: str  # Markdown
    html: bool = False  # the text holds inline HTML (colour swatches)


@dataclass(frozen=True)
class Caption:
    """Small print under what it explains."""

    text: str


@dataclass(frozen=True)
class Notice:
    """A hint in a box: what to do for something to appear here."""

    text: str


@dataclass(frozen=True)
class Formula:
    latex: str


@dataclass(frozen=True)
class Note:
    """A note that must not be missed (drawn as a coloured box): ``level`` "warning" for something that changes how
    the results read, "success" for a check that passed, "info" for context."""

    text: str  # Markdown
    level: str = "info"


@dataclass(frozen=True)
class Pictures:
    """One picture per column: (caption, H×W×3 uint8)."""

    items: tuple[tuple[str, np.ndarray], ...]


@dataclass(frozen=True)
class Tiles:
    """Small pictures in one row that wraps, each ``width`` pixels wide on screen: (caption, H×W×3 uint8)."""

    items: tuple[tuple[str, np.ndarray], ...]
    width: int = 180


@dataclass(frozen=True)
class Plot:
    """A matplotlib figure shown as a picture, drawn only the first time ``key`` is shown in a session."""

    key: tuple[Any, ...]
    make: Callable[[], Figure]
    caption: str


@dataclass(frozen=True)
class Scale:
    """A colour bar under the pictures before it: the map's colours from ``vmin`` to ``vmax`` and what they mean."""

    cmap: str
    vmin: float
    vmax: float
    label: str


@dataclass(frozen=True)
class Charts:
    """One Vega-Lite chart per column."""

    specs: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Column:
    """How a table shows one column: "number" (``format``: printf-like, or "localized" for thousands separators)
    or "text"; ``width`` in pixels or "small", "medium", "large"."""

    kind: str = "number"
    format: str | None = None
    width: int | str | None = None


@dataclass(frozen=True)
class Table:
    rows: tuple[dict[str, Any], ...]
    columns: tuple[tuple[str, Column], ...] = ()  # (column name, how to show it) where the default will not do


@dataclass(frozen=True)
class Metrics:
    """One metric per column: (label, value, change or None)."""

    items: tuple[tuple[str, str, str | None], ...]


@dataclass(frozen=True)
class Columns:
    """Side by side: one list of sections per column, the columns' widths in proportion to ``widths``."""

    widths: tuple[float, ...]
    parts: tuple[tuple[Section, ...], ...]


@dataclass(frozen=True)
class Fold:
    """Sections folded under ``title`` (open at first when ``expanded``)."""

    title: str
    sections: tuple[Section, ...]
    expanded: bool = False


Section = (
    Heading
    | Text
    | Caption
    | Notice
    | Note
    | Formula
    | Pictures
    | Tiles
    | Plot
    | Scale
    | Charts
    | Table
    | Metrics
    | Columns
    | Fold
)
FigureMaker = tuple[str, Callable[[], Figure]]  # (title, draws the figure when someone asks for it)
