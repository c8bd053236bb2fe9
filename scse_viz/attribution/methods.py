"""captum attributions for one image: Integrated Gradients (optionally through a NoiseTunnel), LayerGradCam on an
attention block, and Occlusion, each returning a plain :class:`AttributionResult`.

Every method runs on a private eval-mode copy of the model (see ``private``), so the caller's (shared, cached) model
gets no hooks, no gradients and no mode change. Work is batched so that it runs in seconds on a small CPU: IG
evaluates ``internal_batch_size`` path points per forward/backward pass, Occlusion ``perturbations_per_eval`` covered
copies per forward pass. ``"auto"`` picks a batch from the input size (see ``benchmarks/attribution_speed.py``, which
measured why: at 256×256 one batch of all 32 IG steps spends its time moving gigabytes of activations, and chunks
of 2-4 path points were 2.0-2.4× faster on 2 CPU cores; with the channels-last private copy, 2.3-2.95× against
captum's defaults).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerGradCam, NoiseTunnel, Occlusion
from torch import nn

from scse_viz.attribution.private import (
    EvaluationCounter,
    baseline_tensor,
    checked_input,
    private_model,
)
from scse_viz.attribution.records import METHOD_LABELS, AttributionError, AttributionResult
from scse_viz.attribution.targets import AttributionTarget, build_objective
from scse_viz.capture import find_attention_blocks
from scse_viz.geometry import upsample_map
from scse_viz.progress import ProgressCallback

Auto = Literal["auto"]
IG_PIXELS_PER_CHUNK = 2**18  # path points per IG forward/backward chunk: 4 at 256×256, 10 at 160×160, all at 28×28
OCCLUSION_PIXELS_PER_EVAL = 2**18  # covered copies per Occlusion forward pass (forward only, no graph kept)
OCCLUSION_WINDOWS_PER_AXIS = 8  # "auto" window: about 1/8 of the side, stride half a window (about 15×15 windows)


def _positive(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise AttributionError(f"{name} must be a positive whole number, got {value!r}")


def _auto_batch(name: str, setting: object, pixels_per_batch: int, image_pixels: int, most: int) -> int:
    """``setting`` itself, checked, or for "auto" as many images as ``pixels_per_batch`` holds (1 to ``most``)."""
    if setting == "auto":
        return max(1, min(most, pixels_per_batch // image_pixels))
    _positive(**{name: setting})
    return setting  # type: ignore[return-value]


def _channel_sum(attribution: torch.Tensor) -> np.ndarray:
    """1×C×H×W -> H×W float32, summed over input channels with the sign kept (captum's visualisation does this)."""
    return attribution[0].detach().sum(dim=0).float().cpu().numpy()


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target: AttributionTarget,
    *,
    n_steps: int = 32,
    internal_batch_size: int | None | Auto = "auto",
    baseline: float | torch.Tensor = 0.0,
    noise_tunnel: bool = False,
    nt_samples: int = 8,
    nt_samples_batch_size: int | None = None,
    noise_level: float = 0.15,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> AttributionResult:
    """Integrated Gradients of ``target`` from ``baseline`` to ``x`` (Gauss-Legendre, ``n_steps`` points).

    ``internal_batch_size``: path points per forward/backward pass; None is captum's default (all ``n_steps`` in
    one pass), "auto" a chunk sized to the input. With ``noise_tunnel`` the map is SmoothGrad's mean over
    ``nt_samples`` noisy copies of x (Gaussian, standard deviation ``noise_level`` × the input's value range, drawn
    from a generator seeded with ``seed`` and restored afterwards), ``nt_samples_batch_size`` copies at a time.
    The baseline is in the model's input space: pass the tensor of a black image where 0 is not black.
    """
    _positive(n_steps=n_steps, nt_samples=nt_samples)
    if nt_samples_batch_size is not None:
        _positive(nt_samples_batch_size=nt_samples_batch_size)
    if not noise_level > 0:
        raise AttributionError(f"noise_level must be positive, got {noise_level!r}")
    net, x = private_model(model), checked_input(x)
    objective = build_objective(net, x, target)
    base = baseline_tensor(x, baseline)
    batch = (
        None
        if internal_batch_size is None
        else _auto_batch(
            "internal_batch_size", internal_batch_size, IG_PIXELS_PER_CHUNK, x.shape[-2] * x.shape[-1], n_steps
        )
    )
    method = "integrated_gradients_smoothgrad" if noise_tunnel else "integrated_gradients"
    samples = nt_samples if noise_tunnel else 1
    # each (noisy) sample: n_steps path points + 2 for captum's delta; + 1 for F(baseline) below
    counter = EvaluationCounter(objective.forward, samples * (n_steps + 2) + 1, METHOD_LABELS[method], progress)
    settings: dict = {"n_steps": n_steps, "method": "gausslegendre", "internal_batch_size": batch}
    ig = IntegratedGradients(counter)
    with torch.enable_grad():
        if noise_tunnel:
            nt_batch = nt_samples_batch_size or min(nt_samples, batch or nt_samples)
            stdev = noise_level * float(x.max() - x.min()) or noise_level
            settings |= {
                "nt_type": "smoothgrad",
                "nt_samples": nt_samples,
                "nt_samples_batch_size": nt_batch,
                "stdev": stdev,
                "seed": seed,
            }
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                attribution, delta = NoiseTunnel(ig).attribute(
                    x,
                    nt_type="smoothgrad",
                    nt_samples=nt_samples,
                    nt_samples_batch_size=nt_batch,
                    stdevs=stdev,
                    baselines=base,
                    n_steps=n_steps,
                    internal_batch_size=batch,
                    return_convergence_delta=True,
                )
        else:
            attribution, delta = ig.attribute(
                x, baselines=base, n_steps=n_steps, internal_batch_size=batch, return_convergence_delta=True
            )
    with torch.no_grad():
        difference = objective.value - float(counter(base)[0])
    counter.finish()
    return AttributionResult(
        method=method,
        target=objective.description,
        attribution=_channel_sum(attribution),
        settings=settings | {"baseline": "tensor" if isinstance(baseline, torch.Tensor) else float(baseline)},
        evaluations=counter.done,
        convergence_delta=float(delta.float().mean()),  # NoiseTunnel: mean over the noisy samples
        output_difference=None if noise_tunnel else difference,
    )


def attention_block(model: nn.Module, block: str) -> nn.Module:
    """The attention block named ``block`` (a name ``find_attention_blocks`` reports) or AttributionError."""
    names = [info.name for info in find_attention_blocks(model)]
    if not names:
        raise AttributionError("this model has no attention blocks, so there is no block to run GradCAM on")
    if block not in names:
        raise AttributionError(f"there is no attention block named {block!r}; choose one of: {', '.join(names)}")
    return model.get_submodule(block)


def layer_gradcam(
    model: nn.Module,
    x: torch.Tensor,
    target: AttributionTarget,
    block: str,
    *,
    relu: bool = True,
    progress: ProgressCallback | None = None,
) -> AttributionResult:
    """Grad-CAM on the output of attention block ``block``, upsampled to the input with the block's own geometry.

    The block's map (Σ_c mean(∂target/∂A_c)·A_c, then ReLU as in Selvaraju et al. unless ``relu=False``) lies at
    the block's stride s; ``upsample_map`` puts feature pixel i over input pixels [i·s, (i+1)·s), exactly as the
    sSE maps are drawn, so the two line up.
    """
    net, x = private_model(model), checked_input(x)
    layer = attention_block(net, block)
    objective = build_objective(net, x, target)
    counter = EvaluationCounter(objective.forward, 1, METHOD_LABELS["layer_gradcam"], progress)
    calls: list[int] = []
    handle = layer.register_forward_hook(lambda module, args, output: calls.append(1))
    try:
        with torch.enable_grad():
            cam = LayerGradCam(counter, layer).attribute(x, relu_attributions=relu)
    except AssertionError as error:  # captum's "Forward hook did not obtain any outputs"
        raise AttributionError(f"block {block!r} did not run in this model's forward pass") from error
    finally:
        handle.remove()
    if len(calls) != 1:
        raise AttributionError(f"block {block!r} ran {len(calls)} times in one pass; GradCAM needs exactly one call")
    counter.finish()
    feature = cam[0, 0].detach().float().cpu().numpy()
    size = (x.shape[-2], x.shape[-1])
    stride = (size[0] / feature.shape[0], size[1] / feature.shape[1])
    return AttributionResult(
        method="layer_gradcam",
        target=objective.description,
        attribution=upsample_map(feature, size, stride=stride).astype(np.float32),
        settings={"relu": relu, "feature_size": feature.shape, "stride": stride},
        evaluations=counter.done,
        block=block,
    )


def _axis_window(size: int) -> tuple[int, int]:
    """(window, stride) near size/8 and half a window, such that the windows cover every pixel exactly to the edge.

    captum averages each pixel over the windows that cover it; a pixel no window covers would get 0/0.
    """
    goal = max(1, round(size / OCCLUSION_WINDOWS_PER_AXIS))
    for tolerance in range(size):  # widen the search around the goal until a window fits the edge
        fitting = [
            (stride, -abs(window - goal), window)
            for window in range(max(1, goal - tolerance), min(size, goal + tolerance) + 1)
            for stride in range(max(1, -(-window // 4)), max(1, window // 2) + 1)
            if (size - window) % stride == 0
        ]
        if fitting:
            stride, _, window = max(fitting)  # the largest stride (fewest windows), then the window nearest the goal
            return window, stride
    return size, 1


def occlusion_geometry(height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The "auto" Occlusion window and stride (per axis) for an input of height × width."""
    (wh, sh), (ww, sw) = _axis_window(height), _axis_window(width)
    return (wh, ww), (sh, sw)


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise AttributionError(f"{name} must be one whole number or a (height, width) pair, got {value!r}")
    _positive(**{f"{name} height": pair[0], f"{name} width": pair[1]})
    return pair  # type: ignore[return-value]


def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target: AttributionTarget,
    *,
    window: int | tuple[int, int] | None = None,
    stride: int | tuple[int, int] | None = None,
    baseline: float | torch.Tensor = 0.0,
    perturbations_per_eval: int | Auto = "auto",
    progress: ProgressCallback | None = None,
) -> AttributionResult:
    """Occlusion: slide a ``window`` (over all input channels) by ``stride``, replace it by ``baseline``, and give
    each pixel the mean drop of the target over the windows that cover it.

    Without ``window``/``stride`` they are chosen for the input size (``occlusion_geometry``). The windows must
    reach the last row and column exactly; otherwise those pixels would never be covered.
    """
    net, x = private_model(model), checked_input(x)
    height, width = x.shape[-2], x.shape[-1]
    auto_window, auto_stride = occlusion_geometry(height, width)
    windows = _pair(window, "window") if window is not None else auto_window
    strides = _pair(stride, "stride") if stride is not None else auto_stride
    for axis, size, w, s in (("height", height, windows[0], strides[0]), ("width", width, windows[1], strides[1])):
        if w > size or (size - w) % s:
            raise AttributionError(
                f"an occlusion window of {w} moved by {s} does not end exactly at the input's {axis} of {size}, so "
                f"the last pixels would never be covered; choose a window and stride with ({size} - window) "
                "divisible by the stride"
            )
    count = math.prod((size - w) // s + 1 for size, w, s in zip((height, width), windows, strides))
    per_eval = _auto_batch(
        "perturbations_per_eval", perturbations_per_eval, OCCLUSION_PIXELS_PER_EVAL, height * width, count
    )
    objective = build_objective(net, x, target)
    counter = EvaluationCounter(objective.forward, count + 1, METHOD_LABELS["occlusion"], progress)
    channels = x.shape[1]
    attribution = Occlusion(counter).attribute(
        x,
        sliding_window_shapes=(channels, *windows),
        strides=(channels, *strides),
        baselines=baseline_tensor(x, baseline),
        perturbations_per_eval=per_eval,
    )
    counter.finish()
    return AttributionResult(
        method="occlusion",
        target=objective.description,
        attribution=_channel_sum(attribution),
        settings={
            "window": windows,
            "stride": strides,
            "windows": count,
            "perturbations_per_eval": per_eval,
            "baseline": "tensor" if isinstance(baseline, torch.Tensor) else float(baseline),
        },
        evaluations=counter.done,
    )
