"""The attribution methods the app offers, one small class each (as captum and torchcam organise theirs).

A method knows its id and label, which of the shared :class:`Settings` it reads (so changing the IG steps does not
make an Occlusion result look out of date), whether it gives one map per attention block (Grad-CAM on that block's
output) or one for the input, and how to run. The computations are the functions of
:mod:`scse_viz.attribution.methods`; the classes only say which to call with what.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from scse_viz.attribution.methods import integrated_gradients, layer_gradcam, occlusion
from scse_viz.attribution.records import METHOD_LABELS, AttributionError, AttributionResult
from scse_viz.attribution.targets import AttributionTarget
from scse_viz.progress import ProgressCallback


@dataclass(frozen=True)
class Settings:
    """The knobs of the methods (hashable: part of the key results are kept under)."""

    n_steps: int = 32  # IG path points
    nt_samples: int = 4  # NoiseTunnel: noisy copies of the input
    noise_level: float = 0.15  # NoiseTunnel: standard deviation as a fraction of the input's value range
    seed: int = 0  # NoiseTunnel: the noise generator's seed


class AttributionMethod(ABC):
    """One attribution method on one model, one input and one target."""

    id: ClassVar[str]
    label: ClassVar[str]
    per_block: ClassVar[bool] = False  # one map per attention block rather than one for the input

    def settings_used(self, settings: Settings) -> Settings:
        """Only the settings this method reads, the rest at their defaults."""
        return Settings()

    @abstractmethod
    def explain(
        self,
        model: nn.Module,
        x: torch.Tensor,
        target: AttributionTarget,
        *,
        baseline: torch.Tensor,
        settings: Settings,
        block: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> AttributionResult:
        """The map for ``target`` (``baseline``: the reference input; ``block``: for per-block methods)."""


class IntegratedGradientsMethod(AttributionMethod):
    id = "integrated_gradients"
    label = METHOD_LABELS["integrated_gradients"]

    def settings_used(self, settings: Settings) -> Settings:
        return Settings(n_steps=settings.n_steps)

    def explain(self, model, x, target, *, baseline, settings, block=None, progress=None) -> AttributionResult:
        return integrated_gradients(model, x, target, n_steps=settings.n_steps, baseline=baseline, progress=progress)


class SmoothGradMethod(AttributionMethod):
    id = "integrated_gradients_smoothgrad"
    label = METHOD_LABELS["integrated_gradients_smoothgrad"]

    def settings_used(self, settings: Settings) -> Settings:
        return settings

    def explain(self, model, x, target, *, baseline, settings, block=None, progress=None) -> AttributionResult:
        return integrated_gradients(
            model,
            x,
            target,
            n_steps=settings.n_steps,
            baseline=baseline,
            noise_tunnel=True,
            nt_samples=settings.nt_samples,
            noise_level=settings.noise_level,
            seed=settings.seed,
            progress=progress,
        )


class OcclusionMethod(AttributionMethod):
    id = "occlusion"
    label = METHOD_LABELS["occlusion"]

    def explain(self, model, x, target, *, baseline, settings, block=None, progress=None) -> AttributionResult:
        return occlusion(model, x, target, baseline=baseline, progress=progress)


class LayerGradCamMethod(AttributionMethod):
    id = "layer_gradcam"
    label = METHOD_LABELS["layer_gradcam"]
    per_block = True

    def explain(self, model, x, target, *, baseline, settings, block=None, progress=None) -> AttributionResult:
        if block is None:
            raise AttributionError("LayerGradCam explains one attention block's output: name the block")
        return layer_gradcam(model, x, target, block, progress=progress)


METHODS: dict[str, AttributionMethod] = {
    m.id: m for m in (IntegratedGradientsMethod(), SmoothGradMethod(), OcclusionMethod(), LayerGradCamMethod())
}


def method(key: str) -> AttributionMethod:
    """The method called ``key``; ValueError naming the choices otherwise."""
    if key not in METHODS:
        raise ValueError(f"unknown method {key!r}; choose one of {tuple(METHODS)}")
    return METHODS[key]
