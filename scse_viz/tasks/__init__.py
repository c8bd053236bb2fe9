"""Tasks: what a family's outputs mean (reading, scoring, knock-out effect, attribution target, export).

Each task is one class in its own module; a family holds one task object. See :class:`~scse_viz.tasks.base.Task`.
"""

from scse_viz.tasks.base import OutputError, Prediction, Task
from scse_viz.tasks.classification import ClassificationTask, ClassPrediction, top_classes
from scse_viz.tasks.restoration import RestorationPrediction, RestorationTask, RestorationTruth
from scse_viz.tasks.segmentation import SegmentationPrediction, SegmentationTask, class_areas, disagreement

__all__ = [
    "ClassPrediction",
    "ClassificationTask",
    "OutputError",
    "Prediction",
    "RestorationPrediction",
    "RestorationTask",
    "RestorationTruth",
    "SegmentationPrediction",
    "SegmentationTask",
    "Task",
    "class_areas",
    "disagreement",
    "top_classes",
]
