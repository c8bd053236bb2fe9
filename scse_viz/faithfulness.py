"""Is the attention faithful? Two tests of what the gates claim, on one input and one model.

- **Spatial** (deletion and insertion; as torchcam and pytorch-grad-cam score attribution maps): rank the input's
  pixels by a block's sSE map q (upsampled onto the model input), then replace the top-ranked share of pixels by the
  baseline (deletion) or put them into the baseline (insertion), and follow the task's objective (the attribution
  target: a class logit, a class region's logits, the error removed). Curves are normalised so the baseline gives
  0 and the unchanged input 1; their areas (AUC over the share 0 … 1) are compared with the same curves for a
  random order and for |Integrated Gradients|. A faithful map has a low deletion AUC and a high insertion AUC.
- **Channel**: knock out one channel's cSE gate at a time (w_c = 0, through capture's knock-out) and measure how
  much the objective drops; Spearman's ρ between w and those drops says whether a high weight means an important
  channel. Also the drop when the top-k and the bottom-k channels by w are knocked out together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from scse_viz.capture import Knockout, capture_attention
from scse_viz.metrics import spearman

Objective = Callable[[torch.Tensor], torch.Tensor]  # N×C×H×W -> N


@dataclass(frozen=True)
class Curve:
    """Normalised objective after perturbing the first ``fractions`` of the ranked pixels, and its area."""

    fractions: np.ndarray
    values: np.ndarray
    auc: float


def _auc(fractions: np.ndarray, values: np.ndarray) -> float:
    return float(np.sum((values[1:] + values[:-1]) * np.diff(fractions)) / 2.0)


@torch.no_grad()
def perturbation_curves(
    objective: Objective, x: torch.Tensor, ranking: np.ndarray, baseline: torch.Tensor, steps: int = 20
) -> tuple[Curve, Curve]:
    """Deletion and insertion curves of ``objective`` for pixels ranked by ``ranking`` (H×W, highest first; ties
    in pixel order), ``steps`` + 1 shares from 0 to 1, computed in one batch each."""
    h, w = x.shape[-2:]
    if ranking.shape != (h, w):
        raise ValueError(f"ranking {ranking.shape} is not on the model input's grid {(h, w)}")
    order = np.argsort(-np.asarray(ranking, dtype=np.float64).ravel(), kind="stable")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    masks = np.zeros((steps + 1, h * w), dtype=np.float32)
    for i, f in enumerate(fractions):
        masks[i, order[: int(round(f * h * w))]] = 1.0
    keep = torch.from_numpy(masks.reshape(steps + 1, 1, h, w)).to(x.dtype)
    full, empty = float(objective(x)[0]), float(objective(baseline)[0])
    scale = full - empty if abs(full - empty) > 1e-12 else 1.0
    deleted = objective(x * (1 - keep) + baseline * keep).double().numpy()
    inserted = objective(baseline * (1 - keep) + x * keep).double().numpy()
    deletion, insertion = (deleted - empty) / scale, (inserted - empty) / scale
    return (
        Curve(fractions, deletion, _auc(fractions, deletion)),
        Curve(fractions, insertion, _auc(fractions, insertion)),
    )


def random_ranking(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape)


@dataclass(frozen=True)
class ChannelEffects:
    """Per channel: its gate w_c and the objective's drop when w_c alone is set to 0; their rank correlation; and
    the drops when the ``k`` highest or lowest channels by w are knocked out together."""

    weights: np.ndarray
    drops: np.ndarray
    rho: float
    k: int
    top_k_drop: float
    bottom_k_drop: float


@torch.no_grad()
def channel_effects(
    model: torch.nn.Module,
    x: torch.Tensor,
    block: str,
    score: Callable[[torch.Tensor], float],
    k: int = 3,
    channels: Sequence[int] | None = None,
) -> ChannelEffects:
    """Knock out each channel's cSE gate of ``block`` (capture's knock-out, value 0) and measure ``score`` of the
    model's output (a float from the output tensor) against the intact output's."""
    intact = capture_attention(model, x)
    record = next(r for r in intact.records if r.name == block and r.channel_gate is not None)
    weights = record.channel_gate[0]
    base = score(intact.output)
    chosen = range(len(weights)) if channels is None else channels

    def drop(knocked: Sequence[int]) -> float:
        out = capture_attention(model, x, knockout=Knockout("cse", 0.0, (block,), tuple(knocked))).output
        return base - score(out)

    drops = np.array([drop([c]) for c in chosen])
    ranked = np.argsort(-weights, kind="stable")
    k = max(1, min(k, len(weights)))
    return ChannelEffects(
        weights[list(chosen)],
        drops,
        spearman(weights[list(chosen)], drops),
        k,
        drop(ranked[:k].tolist()),
        drop(ranked[-k:].tolist()),
    )


@torch.no_grad()
def integrated_gradients_ranking(
    objective: Objective, x: torch.Tensor, baseline: torch.Tensor, steps: int = 16
) -> np.ndarray:
    """|Integrated Gradients| summed over the input channels (H×W), captum's implementation."""
    from captum.attr import IntegratedGradients

    with torch.enable_grad():
        attribution = IntegratedGradients(objective).attribute(x, baselines=baseline, n_steps=steps)
    return attribution.detach().abs().sum(dim=1)[0].numpy()
