"""Run attributions on a private copy of a shared model, on a checked input, counting evaluations for progress.

Why a private copy rather than a lock: the app caches one model per variant and serves every session from it.
captum's LayerGradCam registers a forward hook on the chosen layer that *replaces* the layer's output and stores it;
on a shared model, any other thread's forward pass during that time (a capture, another attribution) would run the
hook too and overwrite what GradCAM stored. A lock would have to be taken by every forward pass in the app, capture
included; a ``copy.deepcopy`` (a few milliseconds for our models, small beside seconds of attribution) makes the
question disappear: hooks, gradients and eval mode all live on the copy, and the shared model is never written to.

The copy and the input are also put in channels-last memory layout: oneDNN's convolutions then run the many forward
and backward passes of an attribution about 25 % faster on a CPU (``benchmarks/attribution_speed.py``). The
numbers are the same up to float rounding (the scSE U-Net's logits differ by about 1e-6; an IG map's sum by about
1e-6 of itself, though a single pixel's gradient can move by up to about 1 % of the map's maximum where rounding
moves a ReLU or max-pool boundary).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch
from torch import nn

from scse_viz.attribution.records import AttributionError
from scse_viz.progress import ProgressCallback

_COPY_ATTEMPTS = 5


def private_model(model: nn.Module) -> nn.Module:
    """An eval-mode deep copy of ``model`` whose parameters need no gradient (only the input's are computed).

    A capture in another thread adds and removes hooks on the shared model while we copy; if a hook dictionary
    changes during the copy, Python raises RuntimeError and we copy again. A capture hook that the copy does pick up
    does nothing on the copy: it acts only inside its own capture's context.
    """
    for attempt in range(_COPY_ATTEMPTS):
        try:
            clone = copy.deepcopy(model)
            break
        except RuntimeError:  # "dictionary changed size during iteration"
            if attempt == _COPY_ATTEMPTS - 1:
                raise
            time.sleep(0.001)
    clone.eval()
    clone.requires_grad_(False)
    return clone.to(memory_format=torch.channels_last)


def checked_input(x: torch.Tensor) -> torch.Tensor:
    """A detached float copy of one image 1×C×H×W; captum then never touches the caller's tensor."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise AttributionError(f"attribution explains one image: the input must be 1×C×H×W, got {shape}")
    if not torch.isfinite(x).all():
        raise AttributionError("the input holds NaN or infinite values")
    return x.detach().float().clone(memory_format=torch.channels_last)


def baseline_tensor(x: torch.Tensor, baseline: float | torch.Tensor) -> torch.Tensor:
    """The reference input (the "absence" of signal) as a tensor shaped like ``x``."""
    if isinstance(baseline, torch.Tensor):
        if baseline.shape != x.shape:
            raise AttributionError(
                f"the baseline must have the input's shape {tuple(x.shape)}, got {tuple(baseline.shape)}"
            )
        return baseline.detach().to(x.dtype).clone()
    return torch.full_like(x, float(baseline))


class EvaluationCounter:
    """Wraps an objective; counts the rows it evaluates and reports the fraction done before each call.

    Reporting *before* a call means the fraction is what has finished (forward and backward of earlier chunks).
    """

    def __init__(
        self, forward: Callable[[torch.Tensor], torch.Tensor], total: int, label: str, progress: ProgressCallback | None
    ) -> None:
        self.forward = forward
        self.total = max(total, 1)
        self.label = label
        self.progress = progress
        self.done = 0

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        self.report()
        self.done += int(z.shape[0])
        return self.forward(z)

    def report(self) -> None:
        if self.progress is not None:
            fraction = min(self.done / self.total, 1.0)
            self.progress(fraction, f"{self.label}: {self.done} of {self.total} model evaluations")

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(1.0, f"{self.label}: done ({self.done} model evaluations)")
