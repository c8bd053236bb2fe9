"""The Teach walk-through on SE blocks of real third-party networks (random weights): every SE module is offered,
and each step equals a hand computation from the block's weights, with the block's own activation and gate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scse_viz  # noqa: F401  (torchvision shim before timm and torchvision)
from scse_viz import teaching as T

from . import hand


def _torchvision(name: str):
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


def _timm(name: str):
    import timm

    torch.manual_seed(0)
    return timm.create_model(name, pretrained=False).eval()


CASES = [  # (builder, name, SE class name, activation, gate)
    (_torchvision, "mobilenet_v3_small", "SqueezeExcitation", "ReLU", "hard sigmoid"),
    (_torchvision, "efficientnet_b0", "SqueezeExcitation", "SiLU", "sigmoid"),
    (_timm, "seresnet18", "SEModule", "ReLU", "sigmoid"),
]


@pytest.mark.parametrize("build, name, se_class, activation, gate", CASES, ids=[c[1] for c in CASES])
def test_every_se_block_is_walked_through_as_the_model_computes_it(build, name, se_class, activation, gate):
    model = build(name)
    se_modules = [n for n, m in model.named_modules() if type(m).__name__ == se_class]
    assert [b.name for b in T.teaching_blocks(model)] == se_modules
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    block_name = se_modules[len(se_modules) // 2]
    walked = T.walk_through_model(model, x, block_name)
    wt = walked.walk
    assert (wt.kind, wt.activation, wt.gate) == ("cse", activation, gate)
    assert walked.differences["w"] <= 1e-6  # against capture in the same forward pass
    feature = hand.block_inputs(model, x, [block_name])[block_name][0]
    block = model.get_submodule(block_name)
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    first, second = convs if convs[0].in_channels == convs[1].out_channels else convs[::-1]
    expected = hand.se_gate(
        feature, first.weight, first.bias, second.weight, second.bias, activation=activation.lower(), gate=gate
    )
    np.testing.assert_allclose(wt.w, expected[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(wt.squeeze, feature[0].double().mean(dim=(1, 2)).numpy(), atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(wt.cse_out, block(feature)[0].numpy(), rtol=1e-5, atol=1e-5)
    hidden, excitation = T.channel_formulas(wt)
    assert activation in hidden and ("hard sigmoid" in excitation) == (gate == "hard sigmoid")


def test_our_blocks_keep_their_formulas():
    from scse_viz.blocks import SCSE

    torch.manual_seed(0)
    wt = T.walk_through(SCSE(8, 2).eval(), torch.randn(8, 5, 5))
    assert (wt.activation, wt.gate) == ("ReLU", "sigmoid")
    assert T.channel_formulas(wt) == (T.STEP_FORMULAS["hidden"], T.STEP_FORMULAS["excitation"])
