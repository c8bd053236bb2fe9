"""What an attribution explains: one scalar per image, built from a class index and the model's own prediction.

- classifier (output N×K): the logit of class k (pre-softmax, so the score does not saturate);
- segmentation (output N×K×H×W): the *class region* of k, the sum of class k's logits over the pixels the model
  predicts as k for the unperturbed input. The mask is fixed from that one forward pass and then held constant:
  the objective must be one differentiable function of the input for Integrated Gradients' completeness to hold,
  and Occlusion must compare the same pixels before and after a patch is covered. A class predicted nowhere has no
  region to explain and raises :class:`AttributionError`.
- restoration (output N×C×H×W, an image): the *error reduction* inside a region R,
  Σ_R (z − c)² − Σ_R (f(z) − c)² with c the clean picture: how much closer to the clean picture the model brings
  the input there. Without a clean picture (a photo that came noisy) it is the energy of the noise the model removes
  there, Σ_R (z − f(z))². R (a fixed H×W mask on the model grid) and c travel in the target.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from scse_viz.attribution.records import AttributionError

TargetKindName = Literal["class", "class_region", "error_reduction"]


@dataclass(frozen=True)
class AttributionTarget:
    """A class of a classifier (``kind="class"``) or a class region of a segmentation model (``"class_region"``)."""

    kind: TargetKindName  # names one of :data:`KINDS`
    class_index: int
    class_name: str | None = None
    # A model with one logit map for two classes (binary segmentation): the class's logit is output channel 0 and
    # its region is where that logit is positive. None: the class's logit is output channel ``class_index``.
    single_logit: bool = False
    # error_reduction: the region (H×W bool on the model grid) and the clean picture (1×C×H×W model input, or
    # None); ``content`` names them for equality and hashing, since arrays are neither.
    region: Any = field(default=None, compare=False, hash=False)
    clean: Any = field(default=None, compare=False, hash=False)
    content: str = ""

    @classmethod
    def for_task(cls, task: Any, class_index: int) -> AttributionTarget:
        """The target ``task`` (a :class:`scse_viz.tasks.Task`, e.g. a zoo family's ``task``) gives a class index:
        the same as ``task.attribution_target(class_index)``."""
        return task.attribution_target(class_index)

    def describe(self) -> dict[str, Any]:
        """The target as plain JSON-ready values: kind, class, name, and (for an error-reduction target) the
        content hash of its region and clean picture instead of the arrays themselves."""
        plain = {
            "kind": self.kind,
            "class_index": self.class_index,
            "class_name": self.class_name,
            "single_logit": self.single_logit,
        }
        return {**plain, "content": self.content} if self.content else plain

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


class TargetKind(ABC):
    """What one kind of target explains and how: the objective it builds from one forward pass, and how it scores
    any other output of the same input. Each kind is one small type (``AttributionTarget.kind`` names it), so the
    objective never branches on the kind's name."""

    name: ClassVar[str]

    @abstractmethod
    def objective(self, model: nn.Module, x: torch.Tensor, output: Any, target: AttributionTarget) -> Objective:
        """The objective of ``target`` on ``model`` at input ``x``, whose unperturbed output is ``output``."""

    def scorer(
        self, target: AttributionTarget, x: torch.Tensor, intact: torch.Tensor, base: Objective
    ) -> Callable[[torch.Tensor], float]:
        """The objective as a score of any model output on ``x`` (``base``: its objective on the ``intact`` output)."""
        return lambda output: float(build_objective(_Fixed(output), x, target).value)


class _ClassScores(TargetKind):
    """A target read from per-class logits: which output channel holds the class, checked against the output."""

    rank: ClassVar[int]  # the logits' dimensions this kind reads
    wanted: ClassVar[str]  # those logits, for people

    def channel(self, output: Any, target: AttributionTarget) -> tuple[int, torch.Tensor | None]:
        """The class's logit channel, and for a one-logit model the pixels where its logit is positive."""
        if not isinstance(output, torch.Tensor):
            raise AttributionError("the model must return one tensor of class scores")
        if output.dim() != self.rank:
            shape = "×".join(str(s) for s in output.shape)
            raise AttributionError(
                f"a {target.kind!r} target needs a model that returns {self.wanted}; this one returns {shape}"
            )
        k, classes = target.class_index, output.shape[1]
        if target.single_logit:
            if classes != 1 or k != 1:
                raise AttributionError(
                    "a one-logit model explains its foreground (class 1) only: its background has no logit of its own"
                )
            return 0, output[0, 0] > 0
        if not 0 <= k < classes:
            raise AttributionError(f"class {k} does not exist: this model has classes 0 to {classes - 1}")
        return k, None


class ClassLogit(_ClassScores):
    """A classifier's class: the logit of class k (pre-softmax, so the score does not saturate)."""

    name = "class"
    rank = 2
    wanted = "N×K class scores"

    def objective(self, model: nn.Module, x: torch.Tensor, output: Any, target: AttributionTarget) -> Objective:
        k, _ = self.channel(output, target)
        return Objective(lambda z: model(z)[:, k], f"logit of {target.class_label}", float(output[0, k]))


class ClassRegion(_ClassScores):
    """A segmentation class: the sum of class k's logits over the pixels predicted as k, a mask fixed from the
    unperturbed prediction."""

    name = "class_region"
    rank = 4
    wanted = "N×K×H×W per-pixel class scores"

    def objective(self, model: nn.Module, x: torch.Tensor, output: Any, target: AttributionTarget) -> Objective:
        k, predicted = self.channel(output, target)
        if predicted is None:
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

    def scorer(
        self, target: AttributionTarget, x: torch.Tensor, intact: torch.Tensor, base: Objective
    ) -> Callable[[torch.Tensor], float]:
        """The region stays the intact output's: what a knock-out changed is measured on the same pixels."""
        region = torch.from_numpy(np.asarray(base.region)).to(intact.dtype)
        k = 0 if target.single_logit else target.class_index
        return lambda output: float((output[0, k] * region).sum())


class ErrorReduction(TargetKind):
    """A restoration model's region: how much closer to the clean picture the model brings the input there."""

    name = "error_reduction"

    def objective(self, model: nn.Module, x: torch.Tensor, output: Any, target: AttributionTarget) -> Objective:
        return _error_reduction(model, x, output, target)


KINDS: dict[str, TargetKind] = {kind.name: kind for kind in (ClassLogit(), ClassRegion(), ErrorReduction())}
TARGET_KINDS: tuple[TargetKindName, ...] = tuple(KINDS)  # type: ignore[assignment]


def kind_of(target: AttributionTarget) -> TargetKind:
    """The kind ``target.kind`` names; :class:`AttributionError` for an unknown one."""
    kind = KINDS.get(target.kind)
    if kind is None:
        raise AttributionError(f"unknown target kind {target.kind!r}; use one of {', '.join(KINDS)}")
    return kind


def build_objective(model: nn.Module, x: torch.Tensor, target: AttributionTarget) -> Objective:
    """Run ``model(x)`` once (no grad) and return the objective for ``target``; typed errors for every misfit."""
    kind = kind_of(target)
    with torch.no_grad():
        output = model(x)
    return kind.objective(model, x, output, target)


def _error_reduction(model: nn.Module, x: torch.Tensor, output: Any, target: AttributionTarget) -> Objective:
    if not isinstance(output, torch.Tensor) or output.shape != x.shape:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise AttributionError(
            f"an error-reduction target needs a model whose output is an image of its input's "
            f"shape {tuple(x.shape)}; this one returns {shape}"
        )
    region = torch.as_tensor(np.asarray(target.region, dtype=bool)) if target.region is not None else None
    if region is None or region.shape != x.shape[-2:]:
        raise AttributionError("an error-reduction target needs a region on the model's grid")
    pixels = int(region.sum())
    if pixels == 0:
        raise AttributionError(
            f"the region {target.class_name or target.class_index} holds no pixel of this "
            "picture; choose another region (the whole picture always has some)"
        )
    weights = region.to(x.dtype)
    clean = None if target.clean is None else torch.as_tensor(target.clean, dtype=x.dtype)

    def reduction(z: torch.Tensor) -> torch.Tensor:
        restored = model(z)
        if clean is None:
            return ((z - restored) ** 2 * weights).sum(dim=(1, 2, 3))
        return (((z - clean) ** 2 - (restored - clean) ** 2) * weights).sum(dim=(1, 2, 3))

    what = (
        "squared error removed, Σ (noisy − clean)² − Σ (output − clean)²"
        if clean is not None
        else "energy of the removed noise, Σ (input − output)² (no clean picture)"
    )
    value = float(_value(output, x, clean, weights))
    return Objective(
        reduction, f"{what} over the {pixels} pixels of {target.class_name or 'the region'}", value, region.numpy()
    )


def _value(output: torch.Tensor, x: torch.Tensor, clean: torch.Tensor | None, weights: torch.Tensor) -> torch.Tensor:
    if clean is None:
        return ((x - output) ** 2 * weights).sum()
    return (((x - clean) ** 2 - (output - clean) ** 2) * weights).sum()


class _Fixed(nn.Module):
    """A stand-in model returning one fixed output, so an objective can score an output it did not compute."""

    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.output


def output_score(target: AttributionTarget, x: torch.Tensor, intact: torch.Tensor) -> Callable[[torch.Tensor], float]:
    """The objective of ``target`` as a score of any model output on input ``x``, with a class region fixed from
    the ``intact`` output (as :func:`build_objective` fixes it from the unperturbed prediction): what a knock-out
    changed is measured on the same pixels."""
    base = build_objective(_Fixed(intact), x, target)
    return kind_of(target).scorer(target, x, intact, base)
