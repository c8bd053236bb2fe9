"""Classification: one class per image, scored by whether the top class is right, explained through a logit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scse_viz.geometry import DisplayGeometry
from scse_viz.tasks.base import Prediction, Task


@dataclass(frozen=True)
class ClassPrediction(Prediction):
    """``probabilities``: K class probabilities (softmax of the logits)."""

    probabilities: np.ndarray

    @property
    def top_class(self) -> int:
        return int(np.argmax(self.probabilities))


def top_classes(probabilities: np.ndarray, class_names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The k most probable classes, most probable first (ties: lower class index first)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:k]
    return [(class_names[i], float(probabilities[i])) for i in order]


class ClassificationTask(Task):
    """One label per image from a fixed list of classes."""

    name = "classification"
    output_rank = 2
    target_explanation = "Explained: the class's logit (before the softmax)."

    def read(self, output: Any, geometry: DisplayGeometry) -> ClassPrediction:
        """Softmax over the classes (nothing to map back: the output has no pixels)."""
        return ClassPrediction(self.logits(output).softmax(dim=1)[0].numpy())

    def top(self, prediction: Prediction, k: int = 5) -> list[tuple[str, float]]:
        return top_classes(prediction.probabilities, self.class_names, k)

    def score(self, prediction: Prediction, truth: Any) -> dict[str, Any]:
        """Whether the top class is the true one, and the probability the model gives the true class."""
        label = int(truth)
        top = int(np.argmax(prediction.probabilities))
        return {
            "truth": self.class_names[label],
            "predicted": self.class_names[top],
            "correct": top == label,
            "probability_of_truth": float(prediction.probabilities[label]),
        }

    def knockout_effect(self, intact: Prediction, knocked: Prediction) -> dict[str, Any]:
        """The top class before and after, and the largest change of any class's probability."""
        delta = knocked.probabilities - intact.probabilities
        return {
            "top1_intact": self.class_names[int(np.argmax(intact.probabilities))],
            "top1_knocked": self.class_names[int(np.argmax(knocked.probabilities))],
            "largest_change": float(np.abs(delta).max()),
        }

    def target_kind(self) -> str:
        return "class"

    def predicted_classes(self, prediction: Prediction) -> list[int]:
        """Every class: a logit can be explained whatever the model predicts."""
        return list(range(len(self.class_names)))

    def default_target(self, reference: Prediction, others: Sequence[Prediction]) -> int:
        """The reference model's top class."""
        return int(np.argmax(reference.probabilities))

    def export_arrays(self, prediction: Prediction) -> dict[str, np.ndarray]:
        return {"probabilities": prediction.probabilities}
