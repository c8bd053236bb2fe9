"""What a task is: the one place that knows what a model's output means.

Pages, flows, export and attribution never test which task they hold; they ask it. A task reads the raw output of
one forward pass into a typed :class:`Prediction`, scores it against ground truth, says what a knock-out changed,
names the attribution target a class index stands for, and lists the arrays an export holds. How a task's results
are drawn lives one layer up: each ``scse_viz.views`` module registers its view for its task's type
(``views.register_view``), so this layer names no upper module and needs no matplotlib.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from scse_viz.errors import ScseVizError
from scse_viz.geometry import DisplayGeometry

if TYPE_CHECKING:  # captum loads with scse_viz.attribution: only the method that needs it imports it
    from scse_viz.attribution.targets import AttributionTarget


class OutputError(ScseVizError):
    """A model's output does not have the form its task reads (a tuple instead of logits, the wrong rank)."""


@dataclass(frozen=True)
class Prediction:
    """One model's reading of one input; each task's subclass holds what its output holds (class probabilities,
    a mask, a restored image)."""


class Task(ABC):
    """One kind of output (segmentation, classification, …) over a fixed list of classes."""

    name: ClassVar[str]  # for people and exported metadata; never branched on
    output_rank: ClassVar[int]  # dimensions of the logits tensor the task reads (N×K: 2, N×K×H×W: 4)
    target_explanation: ClassVar[str]  # one sentence: what an attribution for a class explains
    target_label: ClassVar[str] = "Target class"  # what the attribution page calls the choice of a target

    def __init__(self, class_names: Sequence[str]) -> None:
        self.class_names = tuple(class_names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.class_names)} classes)"

    def logits(self, output: Any) -> torch.Tensor:
        """The model's output as an N×K(×H×W) float tensor, or one :class:`OutputError` saying what is wrong."""
        if not isinstance(output, torch.Tensor):
            raise OutputError(f"the model returned {type(output).__name__}, not a tensor of class scores")
        if output.dim() != self.output_rank or output.shape[1] != len(self.class_names):
            raise OutputError(
                f"{self.name} with {len(self.class_names)} classes reads outputs of rank {self.output_rank} with "
                f"{len(self.class_names)} channels; the model returned shape {tuple(output.shape)}"
            )
        return output.float()

    @abstractmethod
    def read(self, output: Any, geometry: DisplayGeometry) -> Prediction:
        """The raw output of one forward pass (batch of one) -> this task's prediction, on the displayed pixels."""

    @abstractmethod
    def score(self, prediction: Prediction, truth: Any) -> dict[str, Any]:
        """The prediction against the input's ground truth (a mask, a class index, …)."""

    @abstractmethod
    def knockout_effect(self, intact: Prediction, knocked: Prediction) -> dict[str, Any]:
        """How a prediction changed when a gate was replaced by a constant."""

    @abstractmethod
    def target_kind(self) -> str:
        """The attribution objective of this task (an ``AttributionTarget.kind``)."""

    def attribution_target(self, class_index: int) -> AttributionTarget:
        """What an attribution for ``class_index`` explains on a model of this task."""
        from scse_viz.attribution.targets import AttributionTarget

        names = self.class_names
        name = names[class_index] if 0 <= class_index < len(names) else None
        return AttributionTarget(self.target_kind(), class_index, name)  # type: ignore[arg-type]

    def explained_target(self, class_index: int, truth: Any, prepared: Any) -> AttributionTarget:
        """The target for ``class_index`` on one input (its ground truth and :class:`~scse_viz.preprocess.Prepared`):
        the plain :meth:`attribution_target`, unless the task's objective needs the input's own data."""
        return self.attribution_target(class_index)

    @abstractmethod
    def predicted_classes(self, prediction: Prediction) -> list[int]:
        """Classes an attribution can explain on this prediction."""

    @abstractmethod
    def default_target(self, reference: Prediction, others: Sequence[Prediction]) -> int:
        """The class to explain first, given the reference model's prediction and every model's."""

    def slice_maps(self, prediction: Prediction) -> dict[str, np.ndarray]:
        """Name -> H×W map of one slice's prediction, for stacking slices into a volume (none by default: a class
        per slice is no map)."""
        return {}

    @abstractmethod
    def export_arrays(self, prediction: Prediction) -> dict[str, np.ndarray]:
        """Name -> array of what an export keeps of the prediction."""
