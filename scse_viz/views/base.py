"""A task's view: what the Outputs tab, the knock-out comparison and the exported figures show for one run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TypeVar

import numpy as np

from scse_viz.explore import FamilyRun, ModelOutput
from scse_viz.render import raster
from scse_viz.tasks import Task
from scse_viz.views.sections import FigureMaker, Section

T = TypeVar("T", bound=Task)


def task_of(run: FamilyRun, kind: type[T]) -> T:
    """The run's task, checked to be the one the calling view draws (a view handed another task's run is a bug)."""
    task = run.family.task
    if not isinstance(task, kind):
        raise TypeError(f"a view of {kind.__name__} was handed a run of {type(task).__name__}")
    return task


class TaskView(ABC):
    """Draws one task's results; pages show the sections without knowing the task."""

    @abstractmethod
    def outputs(self, run: FamilyRun) -> list[Section]:
        """Every model's output side by side, scored against the ground truth where the input has it."""

    @abstractmethod
    def knockout(self, run: FamilyRun, intact: ModelOutput, knocked: ModelOutput, setting: str) -> list[Section]:
        """One model intact and with a gate replaced (``setting`` says how, for captions), and what changed."""

    @abstractmethod
    def figures(self, run: FamilyRun, variant: str) -> list[FigureMaker]:
        """The output figures an export offers, with ``variant`` the model chosen on the page."""

    def plane_picture(self, task: Task, base: np.ndarray, maps: dict[str, np.ndarray]) -> np.ndarray:
        """A plane of a volume (gray H×W in [0, 1]) with the task's slice maps of that plane drawn on it
        (``Task.slice_maps``), as float RGB in [0, 1]; by default the plane itself."""
        return raster.to_rgb(base)


_VIEWS: dict[type[Task], TaskView] = {}


def register_view(task_type: type[Task], view: TaskView) -> None:
    """Draw every task of ``task_type`` (and its subclasses) with ``view``: the views layer adds a task's drawing
    here, so the task itself never names the module that draws it (dependencies point down)."""
    _VIEWS[task_type] = view


def view_for(task: Task) -> TaskView:
    """The view registered for the task's type, or for the nearest of its base classes."""
    for kind in type(task).__mro__:
        if kind in _VIEWS:
            return _VIEWS[kind]
    raise TypeError(f"no view is registered for {type(task).__name__}: call scse_viz.views.register_view")
