"""What a page shows, as plain records: headings, text, rows of pictures or charts, tables and metrics.

A task's view (``scse_viz.views.<task>``) builds these from a run; ``scse_viz.ui.sections`` shows any list of them
with Streamlit. Pictures are RGB arrays and charts Vega-Lite specs, already drawn, so the page lays them out and
computes nothing.
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


@dataclass(frozen=True)
class Text:
    text: str  # Markdown
    html: bool = False  # the text holds inline HTML (colour swatches)


@dataclass(frozen=True)
class Note:
    """A note that must not be missed (drawn as a coloured box): ``level`` "warning" for something that changes how
    the results read, "info" for context."""

    text: str  # Markdown
    level: str = "info"


@dataclass(frozen=True)
class Pictures:
    """One picture per column: (caption, H×W×3 uint8)."""

    items: tuple[tuple[str, np.ndarray], ...]


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
class Table:
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Metrics:
    """One metric per column: (label, value, change or None)."""

    items: tuple[tuple[str, str, str | None], ...]


Section = Heading | Text | Note | Pictures | Scale | Charts | Table | Metrics
FigureMaker = tuple[str, Callable[[], Figure]]  # (title, draws the figure when someone asks for it)
