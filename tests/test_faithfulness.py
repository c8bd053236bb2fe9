"""Faithfulness of attention: deletion and insertion on a toy model whose right answer is known, and channel
knock-out effects equal to a recomputation that does not use capture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import scse_viz  # noqa: F401
from scse_viz.blocks import SCSE
from scse_viz.faithfulness import channel_effects, perturbation_curves, random_ranking


def test_deletion_and_insertion_of_the_true_region_have_the_known_areas():
    h = w = 20
    region = np.zeros((h, w), bool)
    region[:10, :10] = True  # a quarter of the pixels carries the whole objective
    weights = torch.from_numpy(region.astype(np.float32))

    def objective(z: torch.Tensor) -> torch.Tensor:
        return (z[:, 0] * weights).sum(dim=(1, 2))

    x, baseline = torch.ones(1, 1, h, w), torch.zeros(1, 1, h, w)
    deletion, insertion = perturbation_curves(objective, x, region.astype(float), baseline, steps=20)
    # deleting the region's pixels first: 1 − f/0.25 until f = 0.25, then 0 -> area 0.25 / 2; insertion mirrors it
    assert deletion.auc == pytest.approx(0.125) and insertion.auc == pytest.approx(0.875)
    assert deletion.values[0] == 1.0 and deletion.values[5] == 0.0 and insertion.values[5] == 1.0
    shuffled, _ = perturbation_curves(objective, x, random_ranking((h, w), 3), baseline, steps=20)
    assert 0.35 < shuffled.auc < 0.65  # a random order removes the region's pixels at the average rate
    reverse, _ = perturbation_curves(objective, x, (~region).astype(float), baseline, steps=20)
    assert reverse.auc == pytest.approx(1 - 0.125)  # the worst order: the region last


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.attention = SCSE(8, reduction=2)
        self.head = nn.Conv2d(8, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.attention(self.stem(x)))


def test_channel_knockout_effects_equal_a_recomputation_without_capture():
    model, x = Net().eval(), torch.randn(1, 3, 12, 12)

    def score(out: torch.Tensor) -> float:
        return float(out.mean())

    effects = channel_effects(model, x, "attention", score, k=2)
    with torch.no_grad():
        base = score(model(x))
        for c in range(8):

            def zero_channel(module, args, output, c=c):
                output = output.clone()
                output[:, c] = 0.0
                return output

            handle = model.attention.cSE.register_forward_hook(zero_channel)
            try:
                expected = base - score(model(x))
            finally:
                handle.remove()
            assert effects.drops[c] == pytest.approx(expected, abs=1e-6)
        w = torch.sigmoid(model.attention.cSE[:4](model.stem(x))).flatten()
    np.testing.assert_allclose(effects.weights, w.numpy(), atol=1e-6)
    from scipy.stats import spearmanr

    assert effects.rho == pytest.approx(spearmanr(effects.weights, effects.drops).statistic)
