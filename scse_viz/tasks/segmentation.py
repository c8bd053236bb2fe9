"""Segmentation: one class per pixel, scored by Dice, explained through a class's predicted region."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from scse_viz.geometry import DisplayGeometry
from scse_viz.metrics import dice_counts, dice_report
from scse_viz.tasks.base import OutputError, Prediction, Task


@dataclass(frozen=True)
class SegmentationPrediction(Prediction):
    """``probabilities`` K×H×W and ``mask`` H×W (uint8 class indices), both on the displayed image's pixels."""

    probabilities: np.ndarray
    mask: np.ndarray


def class_areas(mask: np.ndarray, class_names: Sequence[str]) -> list[dict]:
    """Pixels and share of the image per class (every class, also absent ones)."""
    counts = np.bincount(mask.ravel(), minlength=len(class_names))
    return [
        {"class": name, "pixels": int(c), "percent": 100.0 * float(c) / mask.size}
        for name, c in zip(class_names, counts)
    ]


def disagreement(mask: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Where two masks differ (H×W bool) and the share of differing pixels."""
    differ = mask != reference
    return differ, float(differ.mean())


class SegmentationTask(Task):
    """Per-pixel classes; the first class is the background (left out of the mean Dice).

    ``single_logit``: the model returns one logit map for a two-class problem (binary segmentation, as
    segmentation_models_pytorch with ``classes=1``): its sigmoid is the second class's probability.
    """

    name = "segmentation"
    output_rank = 4
    target_explanation = "Explained: the class's summed logits over the pixels each model predicts as that class."

    def __init__(self, class_names: Sequence[str], single_logit: bool = False) -> None:
        super().__init__(class_names)
        if single_logit and len(self.class_names) != 2:
            raise ValueError("a single-logit segmentation has exactly two classes")
        self.single_logit = single_logit

    def logits(self, output: Any) -> torch.Tensor:
        """N×K×H×W class scores; a single logit map l becomes the pair (0, l), whose softmax is (1 − σ(l), σ(l))."""
        if not self.single_logit:
            return super().logits(output)
        if not isinstance(output, torch.Tensor) or output.dim() != 4 or output.shape[1] != 1:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise OutputError(f"a single-logit segmentation reads N×1×H×W outputs; the model returned shape {shape}")
        return torch.cat([torch.zeros_like(output), output], dim=1).float()

    def read(self, output: Any, geometry: DisplayGeometry) -> SegmentationPrediction:
        """Softmax over the classes, mapped back onto the displayed pixels, then the most probable class."""
        probabilities = geometry.to_display(self.logits(output).softmax(dim=1)[0].numpy())
        return SegmentationPrediction(probabilities, np.argmax(probabilities, axis=0).astype(np.uint8))

    def dice(self, mask: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
        """Dice per class and the mean over the foreground classes, as the evaluation computes them."""
        return dice_report(dice_counts(mask, truth, len(self.class_names)), self.class_names)

    def score(self, prediction: Prediction, truth: Any) -> dict[str, Any]:
        return self.dice(_mask(prediction), np.asarray(truth))

    def areas(self, prediction: Prediction) -> list[dict]:
        return class_areas(_mask(prediction), self.class_names)

    def knockout_effect(self, intact: Prediction, knocked: Prediction) -> dict[str, Any]:
        """Share of pixels that changed class, and the knocked-out mask's mean Dice against the intact one."""
        _, changed = disagreement(_mask(knocked), _mask(intact))
        return {"changed_fraction": changed, "dice_vs_intact": self.dice(_mask(knocked), _mask(intact))["mean_dice"]}

    def target_kind(self) -> str:
        return "class_region"

    def attribution_target(self, class_index: int):
        """A class region; on a one-logit model the foreground's region is where its logit is positive."""
        return replace(super().attribution_target(class_index), single_logit=self.single_logit)

    def predicted_classes(self, prediction: Prediction) -> list[int]:
        """Classes predicted somewhere: only they have a region to explain (a one-logit model: its foreground)."""
        found = [int(k) for k in np.unique(_mask(prediction))]
        return [k for k in found if k == 1] if self.single_logit else found

    def default_target(self, reference: Prediction, others: Sequence[Prediction]) -> int:
        """The foreground class the reference predicts on most pixels among those every model predicts somewhere
        (so no model has an empty region), falling back to the reference's largest class."""
        counts = np.bincount(_mask(reference).ravel(), minlength=len(self.class_names))
        everywhere = set.intersection(*(set(self.predicted_classes(p)) for p in [reference, *others]))
        foreground = [k for k in everywhere if k != 0 and counts[k] > 0]
        pool = foreground or [int(k) for k in np.flatnonzero(counts)]
        return max(pool, key=lambda k: (counts[k], -k))

    def slice_maps(self, prediction: Prediction) -> dict[str, np.ndarray]:
        return {"mask": _mask(prediction)}

    def export_arrays(self, prediction: Prediction) -> dict[str, np.ndarray]:
        return {"probabilities": prediction.probabilities, "mask": _mask(prediction)}


def _mask(prediction: Prediction) -> np.ndarray:
    if not isinstance(prediction, SegmentationPrediction):
        raise TypeError(f"a segmentation task reads SegmentationPrediction, not {type(prediction).__name__}")
    return prediction.mask
