"""How each task's results are drawn (flows layer: uses ``scse_viz.render``, no streamlit).

A task names its view module (``Task.view``); :func:`view_for` finds it. Sections are the plain records the
pages show (``scse_viz.ui.sections``).
"""

from scse_viz.views.base import TaskView, view_for
from scse_viz.views.sections import (
    Caption,
    Charts,
    Column,
    Columns,
    FigureMaker,
    Fold,
    Formula,
    Heading,
    Metrics,
    Note,
    Notice,
    Pictures,
    Plot,
    Scale,
    Section,
    Table,
    Text,
    Tiles,
)

__all__ = [
    "Caption",
    "Charts",
    "Column",
    "Columns",
    "FigureMaker",
    "Fold",
    "Formula",
    "Heading",
    "Metrics",
    "Note",
    "Notice",
    "Pictures",
    "Plot",
    "Scale",
    "Section",
    "Table",
    "TaskView",
    "Text",
    "Tiles",
    "view_for",
]
