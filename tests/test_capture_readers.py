"""Readers added for the SE family of timm (ReXNet's SE with a BatchNorm, listed not-readable modules), the capture
session's options, and the join's small type. Real timm modules with random weights; nothing downloaded."""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

import scse_viz  # noqa: F401  (torchvision shim before timm)
from scse_viz import CaptureSession, Join, Knockout, capture_attention, find_attention_blocks
from scse_viz.capture import BlockInfo, BlockRecord
from scse_viz.errors import CaptureError

from . import hand
from .layouts import Host


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.fail(f"This test needs timm: `pip install -r requirements-test.txt`. {error}", pytrace=False)


def _randomise_batchnorm(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(1 + 0.3 * torch.randn(m.num_features, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=g))
    return model


def _rexnet_gate_by_hand(se: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """ReXNet's SE in float64 from its weights: w = σ(W2·ReLU(BN(W1·GAP(x) + b1)) + b2), BN with running stats."""
    xd = x.double()
    s = xd.mean(dim=(2, 3))
    h = s @ se.fc1.weight.double().flatten(1).T + se.fc1.bias.double()
    bn = se.bn
    h = (h - bn.running_mean.double()) / torch.sqrt(bn.running_var.double() + bn.eps) * bn.weight.double()
    h = torch.relu(h + bn.bias.double())
    return torch.sigmoid(h @ se.fc2.weight.double().flatten(1).T + se.fc2.bias.double())


def test_rexnet_se_with_a_batchnorm_is_read_and_equals_its_own_output():
    rexnet = _require("timm.models.rexnet")
    torch.manual_seed(3)
    se = rexnet.SEWithNorm(16, rd_channels=4)
    assert isinstance(se.bn, nn.BatchNorm2d)  # the layout under test: a BatchNorm inside the bottleneck
    model = _randomise_batchnorm(Host(se, channels=16), seed=3).eval()
    (info,) = find_attention_blocks(model)
    assert info.readable and info.kind == "cse" and (info.channels, info.hidden) == (16, 4)
    assert "BatchNorm in the bottleneck" in info.layout

    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(4))
    seen = {}
    handle = se.register_forward_hook(lambda m, a, out: seen.update(x=a[0].detach().clone(), out=out.detach().clone()))
    try:
        with torch.no_grad():
            plain = model(x)
        result = capture_attention(model, x)
    finally:
        handle.remove()
    assert torch.equal(result.output, plain)
    record = result.record("block")
    assert record.readable and record.join is Join.SCALE
    # the captured gate times the block's input is exactly what the block returned
    rebuilt = seen["x"] * torch.from_numpy(record.channel_gate)[:, :, None, None]
    torch.testing.assert_close(rebuilt, seen["out"], atol=0, rtol=0)
    np.testing.assert_allclose(
        record.channel_gate, _rexnet_gate_by_hand(se, seen["x"]).detach().numpy(), atol=1e-6, rtol=0
    )


def test_every_se_module_of_a_real_rexnet_is_read():
    timm = _require("timm")
    squeeze_excite = _require("timm.layers.squeeze_excite")
    torch.manual_seed(5)
    model = _randomise_batchnorm(timm.create_model("rexnet_100", pretrained=False), seed=5).eval()
    expected = [n for n, m in model.named_modules() if isinstance(m, squeeze_excite.SEModule)]
    assert expected and all(isinstance(model.get_submodule(n).bn, nn.BatchNorm2d) for n in expected)
    assert [b.name for b in find_attention_blocks(model)] == expected
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        plain = model(x)
    result = capture_attention(model, x)
    assert torch.equal(result.output, plain) and len(result.shown()) == len(expected)


def test_a_selective_kernel_is_listed_as_not_readable_with_its_reason():
    timm = _require("timm")
    selective_kernel = _require("timm.layers.selective_kernel")
    torch.manual_seed(7)
    model = timm.create_model("skresnet18", pretrained=False).eval()
    expected = [n for n, m in model.named_modules() if isinstance(m, selective_kernel.SelectiveKernel)]
    assert expected
    blocks = find_attention_blocks(model)
    assert [b.name for b in blocks] == expected  # the module itself, not its attention part or its residual block
    for info in blocks:
        assert info.kind == "other" and not info.readable
        assert "SelectiveKernel" in info.reason and "softmax" in info.reason
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        plain = model(x)
    result = capture_attention(model, x)
    assert torch.equal(result.output, plain)
    assert not result.shown() and all(r.ran and r.reason == b.reason for r, b in zip(result.records, blocks))


class BasicBlockSE(nn.Module):
    """A residual block whose name ends like an SE module's, holding timm's readable ``SEModule``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.se = _require("timm.layers.squeeze_excite").SEModule(channels, rd_channels=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.se(self.conv(x))


def test_an_attention_like_module_with_a_readable_block_inside_is_not_listed_itself():
    model = Host(BasicBlockSE(16), channels=16).eval()
    assert [b.name for b in find_attention_blocks(model)] == ["block.se"]
    hollow = BasicBlockSE(16)
    hollow.se = nn.Identity()  # nothing readable inside any more: the block itself is listed, with its reason
    (info,) = find_attention_blocks(Host(hollow, channels=16))
    assert info.name == "block" and not info.readable and "BasicBlockSE" in info.reason


def test_a_session_keeps_block_inputs_and_takes_knockouts_per_call():
    timm = _require("timm")
    torch.manual_seed(8)
    model = _randomise_batchnorm(timm.create_model("mobilenetv3_small_050", pretrained=False), seed=8).eval()
    names = [b.name for b in find_attention_blocks(model)]
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    knockout = Knockout("cse", 0.5, blocks=(names[0],))
    with CaptureSession(model, keep_inputs=names[:2]) as session:
        intact = session.run(x)
        knocked = session.run(x, knockout=knockout)
        assert any(m._forward_hooks for m in model.modules())  # registered once, for the whole session
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())

    by_hand = hand.block_inputs(model, x, names[:2])  # this test's own pre-hooks, on a plain pass
    assert set(intact.inputs) == set(names[:2])
    for name in names[:2]:
        assert len(intact.inputs[name]) == len(by_hand[name]) == 1
        torch.testing.assert_close(intact.inputs[name][0], by_hand[name][0], atol=0, rtol=0)
    with torch.no_grad():
        assert torch.equal(intact.output, model(x))
    alone = capture_attention(model, x, knockout=knockout)
    assert torch.equal(knocked.output, alone.output) and not torch.equal(knocked.output, intact.output)
    assert knocked.record(names[0]).knocked_out == {"cse": 0.5} and intact.record(names[0]).knocked_out == {}
    assert capture_attention(model, x).inputs == {}  # nothing kept unless asked


def test_a_session_refuses_unknown_blocks_and_runs_outside_its_with_block():
    model = Host(nn.Sequential(), channels=4)
    with pytest.raises(CaptureError, match="no attention block named 'nope'"):
        CaptureSession(model, keep_inputs=["nope"])
    session = CaptureSession(model)
    with pytest.raises(CaptureError, match="before running it"):
        session.run(torch.zeros(1, 3, 4, 4))


def test_the_join_is_a_small_type_that_still_equals_its_old_string():
    assert Join.SUM == "sum" and Join("max") is Join.MAX and f"{Join.SEQUENTIAL}" == "sequential"
    assert [j for j in Join if j.has_gain] == [Join.SUM]  # only x·w + x·q is one gain w_c + q_ij per element
    assert Join.SCALE.gates == 1 and Join.MAX.gates == 2
    info = BlockInfo("b", "scse", "test", 4, 2, readable=True)
    assert BlockRecord(info=info, join="max").join is Join.MAX  # a plain string given by older code is converted
