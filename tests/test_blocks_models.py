"""Blocks follow the seed's formulas; the four model variants differ only in their attention blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scse_viz.blocks import ATTENTION_KINDS, SCSE, ChannelSE, SpatialSE, attention_parameter_count, make_attention
from scse_viz.models import ResidualClassifier, UNet2D

from . import hand


@pytest.mark.parametrize("channels,reduction", [(1, 16), (8, 16), (16, 16), (24, 4), (64, 8), (256, 16), (7, 2)])
def test_parameter_count_formula_matches_built_blocks(channels, reduction):
    for kind in ATTENTION_KINDS:
        built = sum(p.numel() for p in make_attention(kind, channels, reduction).parameters())
        assert attention_parameter_count(kind, channels, reduction) == built


def test_block_outputs_follow_the_seed_formulas():
    torch.manual_seed(0)
    x = torch.randn(2, 12, 5, 7)
    scse = SCSE(12, reduction=4)
    w1, w2 = scse.cSE[1], scse.cSE[3]
    w = torch.as_tensor(hand.channel_gate(x, w1.weight, w1.bias, w2.weight, w2.bias)).float()[:, :, None, None]
    q = torch.as_tensor(hand.spatial_gate(x, scse.sSE[0].weight, scse.sSE[0].bias)).float()[:, None]
    with torch.no_grad():
        torch.testing.assert_close(scse(x), x * w + x * q, atol=1e-6, rtol=1e-6)
        cse = ChannelSE(12, reduction=4)
        cse.cSE.load_state_dict(scse.cSE.state_dict())
        torch.testing.assert_close(cse(x), x * w, atol=1e-6, rtol=1e-6)
        sse = SpatialSE(12)
        sse.sSE.load_state_dict(scse.sSE.state_dict())
        torch.testing.assert_close(sse(x), x * q, atol=1e-6, rtol=1e-6)


def test_untrained_gate_with_zero_weights_is_one_half():
    block = SCSE(8, reduction=2)
    for p in block.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(1, 8, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)  # x·0.5 + x·0.5: the neutral point of the sum


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown attention kind"):
        make_attention("max", 8)


@pytest.mark.parametrize(
    "build",
    [
        lambda a: UNet2D(attention=a, base_channels=8, depth=3),
        lambda a: ResidualClassifier(attention=a, widths=(8, 16)),
    ],
)
def test_variants_differ_only_in_attention_blocks(build):
    baseline = build("none").state_dict()
    for kind in ("cse", "sse", "scse"):
        variant = build(kind).state_dict()
        extra = set(variant) - set(baseline)
        assert set(baseline) <= set(variant)
        assert extra and all(".attention." in key for key in extra)
        assert all(variant[k].shape == baseline[k].shape for k in baseline)


def test_unet_keeps_input_size_and_classifier_gives_logits():
    with torch.no_grad():
        assert UNet2D(num_classes=4, base_channels=4, depth=3)(torch.randn(2, 1, 40, 24)).shape == (2, 4, 40, 24)
        logits = ResidualClassifier(num_classes=10, widths=(8, 16))(torch.randn(3, 1, 28, 28))
    assert logits.shape == (3, 10) and np.isfinite(logits.numpy()).all()
