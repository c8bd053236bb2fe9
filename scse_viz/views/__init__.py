"""How each task's results are drawn (flows layer: uses ``scse_viz.render``, no streamlit).

A task names its view module (``Task.view``); :func:`view_for` finds it. Sections are the plain records the
pages show (``scse_viz.ui.sections``).
"""

from scse_viz.views.base import TaskView, view_for
from scse_viz.views.sections import Charts, FigureMaker, Heading, Metrics, Note, Pictures, Scale, Section, Table, Text

__all__ = [
    "Charts",
    "FigureMaker",
    "Heading",
    "Metrics",
    "Note",
    "Pictures",
    "Scale",
    "Section",
    "Table",
    "TaskView",
    "Text",
    "view_for",
]
