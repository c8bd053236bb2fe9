"""What an attribution explains: one scalar per image, built from a class index and the model's own prediction.

- classifier (output N×K): the logit of class k (pre-softmax, so the score does not saturate);
- segmentation (output N×K×H×W): the *class region* of k, the sum of class k's logits over the pixels the model
  predicts as k for the unperturbed input. The mask is fixed from that one forward pass and then held constant:
  the objective must be one differentiable function of the input for Integrated Gradients' completeness to hold,
  and Occlusion must compare the same pixels before and after a patch is covered. A class predicted nowhere has no
  region to explain and raises :class:`AttributionError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from scse_viz.attribution.records import AttributionError

TargetKind = Literal["class", "class_region"]
TARGET_KINDS: tuple[TargetKind, ...] = ("class", "class_region")


@dataclass(frozen=True)
class AttributionTarget:
    """A class of a classifier (``kind="class"``) or a class region of a segmentation model (``"class_region"``)."""

    kind: TargetKind
    class_index: int
    class_name: str | None = None
    # A model with one logit map for two classes (binary segmentation): the class's logit is output channel 0 and
    # its region is where that logit is positive. None: the class's logit is output channel ``class_index``.
    single_logit: bool = False

    @classmethod
    def for_task(cls, task: Any, class_index: int) -> AttributionTarget:
        """The target ``task`` (a :class:`scse_viz.tasks.Task`, e.g. a zoo family's ``task``) gives a class index:
        the same as ``task.attribution_target(class_index)``."""
        return task.attribution_target(class_index)

    @property
    def class_label(self) -> str:
        return f"class {self.class_index}" + (f" ({self.class_name})" if self.class_name else "")


@dataclass(frozen=True)
class Objective:
    """The scalar per image that attributions explain, on one model."""

    forward: Callable[[torch.Tensor], torch.Tensor]  # N×C×H×W -> N
    description: str
    value: float  # the objective at the unperturbed input
    region: np.ndarray | None = None  # class region: H×W bool mask, fixed from the unperturbed prediction


def build_objective(model: nn.Module, x: torch.Tensor, target: AttributionTarget) -> Objective:
    """Run ``model(x)`` once (no grad) and return the objective for ``target``; typed errors for every misfit."""
    if target.kind not in TARGET_KINDS:
        raise AttributionError(f"unknown target kind {target.kind!r}; use 'class' or 'class_region'")
    with torch.no_grad():
        output = model(x)
    if not isinstance(output, torch.Tensor):
        raise AttributionError("the model must return one tensor of class scores")
    expected = 2 if target.kind == "class" else 4
    if output.dim() != expected:
        shape = "×".join(str(s) for s in output.shape)
        wanted = "N×K class scores" if expected == 2 else "N×K×H×W per-pixel class scores"
        raise AttributionError(f"a {target.kind!r} target needs a model that returns {wanted}; this one returns {shape}")
    k, classes = target.class_index, output.shape[1]
    if target.single_logit:
        if classes != 1 or k != 1:
            raise AttributionError("a one-logit model explains its foreground (class 1) only: its background has no "
                                   "logit of its own")  # fmt: skip
        k, predicted = 0, output[0, 0] > 0
    elif not 0 <= k < classes:
        raise AttributionError(f"class {k} does not exist: this model has classes 0 to {classes - 1}")
    if target.kind == "class":
        return Objective(lambda z: model(z)[:, k], f"logit of {target.class_label}", float(output[0, k]))
    if not target.single_logit:
        predicted = output.argmax(dim=1)[0] == k  # H×W
    pixels = int(predicted.sum())
    if pixels == 0:
        raise AttributionError(
            f"the model predicts {target.class_label} at no pixel of this image, so it has no region to explain; "
            "choose a class that appears in the predicted mask"
        )
    weights = predicted.to(output.dtype)

    def region_logits(z: torch.Tensor) -> torch.Tensor:
        return (model(z)[:, k] * weights).sum(dim=(-2, -1))

    description = f"sum of {target.class_label} logits over its {pixels} predicted pixels"
    return Objective(region_logits, description, float((output[0, k] * weights).sum()), predicted.cpu().numpy())
