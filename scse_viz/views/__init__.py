"""How each task's results are drawn (flows layer: uses ``scse_viz.render``, no streamlit).

Each task's view module registers its view for the task's type (:func:`register_view`); importing this package
imports them all, so :func:`view_for` finds every shipped task's view. Sections are the plain records the pages show
(``scse_viz.ui.sections``).
"""

from scse_viz.views import classification, restoration, segmentation  # noqa: F401  (each registers its view)
from scse_viz.views.base import TaskView, register_view, view_for
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
    "register_view",
    "view_for",
]
