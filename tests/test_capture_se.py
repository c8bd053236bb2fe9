"""Capture reads the SE family as real libraries build it (timm, torchvision, MONAI), checked by hand from the weights.

Every model is built here with random weights (nothing downloaded). For each one: every SE-like module of the model
(counted by class, independently of capture) is found and read; every gate equals a recomputation by hand from the
block's weights and the input it received (taken by this test's own forward pre-hook) to 1e-6; the output with
capture equals the plain output bit for bit; and a knock-out equals the block recomputed by hand with the constant.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from threading import Barrier
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

import scse_viz  # noqa: F401  (torchvision shim before timm, torchvision, MONAI)
from scse_viz import Knockout, capture_attention, find_attention_blocks

from . import hand
from .layouts import Host


def _require(module: str, package: str) -> ModuleType:
    """Import a third-party module the test requirements install; fail (never skip) with the fix if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = error
    pytest.fail(f"This test needs {package}: `pip install -r requirements-test.txt`. {missing}", pytrace=False)


def _block_inputs(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """The input each named module received first in one plain eval forward pass (this test's own pre-hooks)."""
    return {name: calls[0] for name, calls in hand.block_inputs(model, x, names).items()}


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine weights, so eval mode and CBAM's spatial BN matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(1 + 0.2 * torch.randn(m.num_features, generator=g))
                    m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model


def _inner_activation(layer: nn.Module) -> str:
    return {nn.ReLU: "relu", nn.SiLU: "silu"}[type(layer)]


# Hand recomputations per layout: (block module, its input) -> (w N×C, q N×H×W or None), float64.
def _se_convs(fc1: str, act: str, fc2: str, gate: str) -> Callable:
    def by_hand(block: nn.Module, x: torch.Tensor):
        c1, c2 = getattr(block, fc1), getattr(block, fc2)
        activation = _inner_activation(getattr(block, act))
        return hand.se_gate(x, c1.weight, c1.bias, c2.weight, c2.bias, activation, gate), None

    return by_hand


def _ese(block: nn.Module, x: torch.Tensor):
    return hand.ese_gate(x, block.fc.weight, block.fc.bias, "hard sigmoid"), None


def _eca(block: nn.Module, x: torch.Tensor):
    assert block.conv.padding == ((block.conv.kernel_size[0] - 1) // 2,) and block.conv.bias is None
    return hand.eca_gate(x, block.conv.weight), None


def _cbam_spatial(block: nn.Module):
    conv, bn = block.spatial.conv.conv, block.spatial.conv.bn
    assert conv.bias is None and conv.padding == (3, 3) and isinstance(bn, nn.BatchNorm2d)
    return conv.weight, (bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps)


def _cbam(block: nn.Module, x: torch.Tensor):
    assert block.channel.fc1.bias is None and type(block.channel.act) is nn.ReLU
    return hand.cbam_gates(x, block.channel.fc1.weight, block.channel.fc2.weight, *_cbam_spatial(block))


def _monai(block: nn.Module, x: torch.Tensor):
    fc = [m for m in block.fc if isinstance(m, nn.Linear)]
    return hand.se_gate(x, fc[0].weight, fc[0].bias, fc[1].weight, fc[1].bias, "relu", "sigmoid"), None


@dataclass(frozen=True)
class Case:
    build: Callable[[], nn.Module]
    block_class: Callable[[], type]  # the library's SE class: its instances are the blocks capture must find
    by_hand: Callable
    kind: str = "cse"
    gate: str = "sigmoid"
    implementation: str = "timm"


def _timm(name: str, **kwargs) -> Callable[[], nn.Module]:
    return lambda: _require("timm", "timm").create_model(name, pretrained=False, **kwargs)


def _torchvision(name: str) -> Callable[[], nn.Module]:
    return lambda: getattr(_require("torchvision.models", "torchvision"), name)(weights=None)


def _monai_seresnet() -> nn.Module:
    nets, blocks = _require("monai.networks.nets", "monai"), _require("monai.networks.blocks", "monai")
    return nets.SENet(
        spatial_dims=2,
        in_channels=3,
        block=blocks.SEResNetBottleneck,
        layers=[1, 1, 1, 1],
        groups=1,
        reduction=16,
        inplanes=16,
        downsample_kernel_size=1,
        input_3x3=False,
        num_classes=5,
    )


def _cls(module: str, name: str) -> Callable[[], type]:
    return lambda: getattr(importlib.import_module(module), name)


CASES = {
    "timm seresnet18": Case(
        _timm("seresnet18"), _cls("timm.layers.squeeze_excite", "SEModule"), _se_convs("fc1", "act", "fc2", "sigmoid")
    ),
    "timm efficientnet_b0": Case(
        _timm("efficientnet_b0"),
        _cls("timm.models._efficientnet_blocks", "SqueezeExcite"),
        _se_convs("conv_reduce", "act1", "conv_expand", "sigmoid"),
    ),
    "timm mobilenetv3_small_100": Case(
        _timm("mobilenetv3_small_100"),
        _cls("timm.models._efficientnet_blocks", "SqueezeExcite"),
        _se_convs("conv_reduce", "act1", "conv_expand", "hard sigmoid"),
        gate="hard sigmoid",
    ),
    "timm resnet18 + CBAM": Case(
        _timm("resnet18", block_args={"attn_layer": "cbam"}), _cls("timm.layers.cbam", "CbamModule"), _cbam, kind="cbam"
    ),
    "timm resnet18 + ECA": Case(
        _timm("resnet18", block_args={"attn_layer": "eca"}), _cls("timm.layers.eca", "EcaModule"), _eca
    ),
    "timm ese_vovnet19b_dw": Case(
        _timm("ese_vovnet19b_dw"), _cls("timm.layers.squeeze_excite", "EffectiveSEModule"), _ese, gate="hard sigmoid"
    ),
    "torchvision efficientnet_b0": Case(
        _torchvision("efficientnet_b0"),
        _cls("torchvision.ops.misc", "SqueezeExcitation"),
        _se_convs("fc1", "activation", "fc2", "sigmoid"),
        implementation="torchvision",
    ),
    "torchvision mobilenet_v3_small": Case(
        _torchvision("mobilenet_v3_small"),
        _cls("torchvision.ops.misc", "SqueezeExcitation"),
        _se_convs("fc1", "activation", "fc2", "hard sigmoid"),
        gate="hard sigmoid",
        implementation="torchvision",
    ),
    "torchvision regnet_y_400mf": Case(
        _torchvision("regnet_y_400mf"),
        _cls("torchvision.ops.misc", "SqueezeExcitation"),
        _se_convs("fc1", "activation", "fc2", "sigmoid"),
        implementation="torchvision",
    ),
    "monai SEResNet": Case(
        _monai_seresnet, _cls("monai.networks.blocks", "ChannelSELayer"), _monai, implementation="monai"
    ),
}


@pytest.fixture(scope="module")
def built() -> dict[str, nn.Module]:
    models = {}
    for i, (label, case) in enumerate(CASES.items()):
        torch.manual_seed(i)
        models[label] = _randomise_batchnorm(case.build(), seed=i).eval()
    return models


@pytest.mark.parametrize("label", list(CASES))
def test_every_se_block_is_found_read_and_equals_the_hand_computation(label, built):
    case, model = CASES[label], built[label]
    expected = [n for n, m in model.named_modules() if isinstance(m, case.block_class())]
    assert expected, "the model has no block of the class under test"
    blocks = find_attention_blocks(model)
    assert [b.name for b in blocks] == expected  # every one, nothing else (CBAM's halves are not blocks of their own)
    assert all(b.readable and b.kind == case.kind and b.implementation == case.implementation for b in blocks)
    assert {b.gate_function for b in blocks} == {case.gate}

    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(100))
    with torch.no_grad():
        plain = model(x)
    result = capture_attention(model, x)
    assert torch.equal(result.output, plain)
    assert len(result.shown()) == len(result.records) == len(expected)  # each ran once, each was read and verified

    inputs = _block_inputs(model, x, expected)
    modules = dict(model.named_modules())
    for record in result.records:
        block_input = inputs[record.name]
        n, c, h, w = block_input.shape
        w_hand, q_hand = case.by_hand(modules[record.name], block_input)
        assert record.channel_gate.shape == (n, c) and record.channels == c
        np.testing.assert_allclose(record.channel_gate, w_hand, atol=1e-6, rtol=0)
        assert 0.0 <= record.channel_gate.min() and record.channel_gate.max() <= 1.0
        if case.kind == "cbam":
            assert record.join == "sequential" and record.spatial_gate.shape == (n, h, w)
            np.testing.assert_allclose(record.spatial_gate, q_hand, atol=1e-6, rtol=0)
        else:
            assert record.join == "scale" and record.spatial_gate is None
        assert record.feature_size == (h, w) and record.stride == (64 / h, 64 / w)


def _block_output_during(model: nn.Module, name: str, run: Callable[[], object]) -> tuple[torch.Tensor, object]:
    """What block ``name`` returned while ``run()`` ran (this test's hook, registered before capture's)."""
    seen = []
    handle = model.get_submodule(name).register_forward_hook(lambda m, a, out: seen.append(out.detach().clone()))
    try:
        value = run()
    finally:
        handle.remove()
    return seen[0], value


@pytest.mark.parametrize(
    "label",
    [
        "timm seresnet18",
        "timm mobilenetv3_small_100",
        "torchvision regnet_y_400mf",
        "timm resnet18 + ECA",
        "timm ese_vovnet19b_dw",
        "monai SEResNet",
    ],
)
def test_knocking_out_a_channel_gate_equals_x_times_the_constant(label, built):
    model = built[label]
    name = find_attention_blocks(model)[1].name
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(101))
    block_input = _block_inputs(model, x, [name])[name]
    out, result = _block_output_during(
        model, name, lambda: capture_attention(model, x, knockout=Knockout("cse", 0.3, blocks=(name,)))
    )
    torch.testing.assert_close(out, block_input * 0.3, atol=0, rtol=0)  # x·0.3, computed the same way: exact
    record = result.record(name)
    assert record.knocked_out == {"cse": 0.3} and np.all(record.channel_gate == np.float32(0.3))
    with torch.no_grad():
        assert not torch.equal(result.output, model(x))
    assert all(r.knocked_out == {} for r in result.records if r.name != name)


@pytest.mark.parametrize("branch", ["cse", "sse"])
def test_knocking_out_either_cbam_gate_equals_the_hand_computation(branch, built):
    model = built["timm resnet18 + CBAM"]
    name = find_attention_blocks(model)[2].name
    block = model.get_submodule(name)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(102))
    block_input = _block_inputs(model, x, [name])[name].double()
    out, result = _block_output_during(
        model, name, lambda: capture_attention(model, x, knockout=Knockout(branch, 0.5, blocks=(name,)))
    )
    w, _ = _cbam(block, block_input)
    if branch == "cse":  # channel gate 0.5: the spatial gate is then computed from x·0.5
        expected = block_input * 0.5 * hand.cbam_spatial_gate(block_input * 0.5, *_cbam_spatial(block))[:, None]
    else:
        expected = block_input * w[:, :, None, None] * 0.5
    np.testing.assert_allclose(out.double().numpy(), expected.numpy(), atol=1e-5, rtol=1e-5)
    record = result.record(name)
    assert record.knocked_out == {branch: 0.5} and record.join == "sequential"
    gate = record.channel_gate if branch == "cse" else record.spatial_gate
    assert np.all(gate == 0.5)


def test_eca_blocks_say_their_channel_count_comes_from_the_input(built):
    model = built["timm resnet18 + ECA"]
    infos = find_attention_blocks(model)
    assert all(i.channels is None and i.hidden is None and i.reduction is None for i in infos)
    assert all("read from the input at run time" in i.layout and "taps" in i.layout for i in infos)
    taps = {i.name: model.get_submodule(i.name).conv.weight.shape[-1] for i in infos}
    assert all(f"{taps[i.name]} taps" in i.layout for i in infos)
    result = capture_attention(model, torch.randn(1, 3, 64, 64))
    assert [r.channels for r in result.records] == [64, 64, 128, 128, 256, 256, 512, 512]


def test_cbam_and_ese_layouts_are_read_from_the_weights(built):
    cbam = find_attention_blocks(built["timm resnet18 + CBAM"])[0]
    assert (cbam.channels, cbam.hidden) == (64, 4) and "7×7 conv on 2 channel-pooled map" in cbam.layout
    ese = find_attention_blocks(built["timm ese_vovnet19b_dw"])[0]
    assert ese.hidden is None and "no bottleneck" in ese.layout and ese.gate_function == "hard sigmoid"


# Look-alikes: each computes something other than x·gate(...) from its layers, or its gate outside a gate layer.


class _SE(nn.Module):
    def __init__(self, channels: int = 8, gate: nn.Module | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // 2, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(channels // 2, channels, 1)
        if gate is not None:
            self.gate = gate

    def excite(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))


class FunctionalHardSigmoidSE(_SE):
    """No gate layer: the gate is a functional hard sigmoid, which is not the sigmoid capture can recompute."""

    def forward(self, x):
        return x * torch.nn.functional.hardsigmoid(self.excite(x))


class ResidualSE(_SE):
    """A real gate layer, but the output adds x back: x·w + x."""

    def forward(self, x):
        return x * self.gate(self.excite(x)) + x


class Sigmoid(nn.Module):
    """Named like a sigmoid, computes a clamp: not a gate layer (recognised by what it computes, not its name)."""

    def forward(self, x):
        return x.clamp(0, 1)


class Squash(nn.Module):
    """Named unlike a sigmoid, computes one: a gate layer."""

    def forward(self, x):
        return 1 / (1 + torch.exp(-x))


class GatedSE(_SE):
    def forward(self, x):
        return x * self.gate(self.excite(x))


class PerPixelESE(nn.Module):
    """ESE's layers (one C→C conv, hard sigmoid) applied to x itself: one weight per channel *and* pixel."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc(x))


def _capture_one(block: nn.Module):
    torch.manual_seed(9)
    model = Host(block, channels=8).eval()
    (info,) = find_attention_blocks(model)
    x = torch.randn(1, 3, 10, 10)
    with torch.no_grad():
        plain = model(x)
    result = capture_attention(model, x)
    assert torch.equal(result.output, plain)
    return info, result.record("block")


def test_lookalikes_are_reported_not_readable_with_the_reason():
    info, record = _capture_one(FunctionalHardSigmoidSE())
    assert info.kind == "cse" and not record.readable and record.channel_gate is None
    assert "could not be rebuilt" in record.reason and "not sigmoid of its last projection" in record.reason

    info, record = _capture_one(ResidualSE(gate=nn.Sigmoid()))
    assert info.readable and not record.readable  # the layers look right; the output says otherwise
    assert "adds its input back" in record.reason and record.channel_gate is None

    info, record = _capture_one(GatedSE(gate=Sigmoid()))
    assert "sigmoid (computed inside forward()" in info.gate_function  # the clamp is not taken for a gate layer
    assert not record.readable and "could not be rebuilt" in record.reason

    info, record = _capture_one(PerPixelESE())
    assert not record.readable and "one value per channel and pixel" in record.reason

    light = _require("timm.layers.cbam", "timm").LightCbamModule(8, rd_ratio=0.5)  # channel gate: F.sigmoid
    info, record = _capture_one(light)
    assert info.kind == "cbam" and not record.readable
    assert "channel gate layer did not run" in record.reason and "functional call" in record.reason


def test_a_gate_layer_is_recognised_by_what_it_computes():
    torch.manual_seed(11)
    model = Host(GatedSE(gate=Squash()), channels=8).eval()
    (info,) = find_attention_blocks(model)
    assert info.readable and info.gate_function == "sigmoid"
    x = torch.randn(2, 3, 10, 10)
    record = capture_attention(model, x).record("block")
    assert record.readable and record.join == "scale"
    block, block_input = model.block, _block_inputs(model, x, ["block"])["block"]
    expected = hand.se_gate(block_input, block.fc1.weight, block.fc1.bias, block.fc2.weight, block.fc2.bias)
    np.testing.assert_allclose(record.channel_gate, expected, atol=1e-6, rtol=0)
    capture_attention(model, x, knockout=Knockout("cse", 0.5))  # a gate layer: it can be knocked out


def test_monai_residual_se_layers_are_reported_not_readable():
    blocks = _require("monai.networks.blocks", "monai")
    torch.manual_seed(10)
    default = blocks.ResidualSELayer(spatial_dims=2, in_channels=8, r=2)  # excitation ends in ReLU, output x·y + x
    (info,) = find_attention_blocks(Host(default, channels=8))
    assert info.implementation == "monai" and not info.readable and "ends in ReLU" in info.reason
    _, record = _capture_one(default)
    assert not record.readable and record.channel_gate is None and "ends in ReLU" in record.reason

    sigmoid = blocks.ResidualSELayer(spatial_dims=2, in_channels=8, r=2, acti_type_2="sigmoid")
    info, record = _capture_one(sigmoid)
    assert info.readable and not record.readable and "adds its input back" in record.reason


@pytest.mark.parametrize("gate", ["Sigmoid", "HardSigmoid", "HardSigmoidMe", "nn.Hardsigmoid"])
def test_timm_se_module_reads_timm_s_own_gate_layers(gate):
    timm_layers = _require("timm.layers", "timm")
    me = importlib.import_module("timm.layers.activations_me")
    layer = {
        "Sigmoid": timm_layers.activations.Sigmoid,
        "HardSigmoid": timm_layers.activations.HardSigmoid,
        "HardSigmoidMe": me.HardSigmoidMe,
        "nn.Hardsigmoid": nn.Hardsigmoid,
    }[gate]
    function = "sigmoid" if gate == "Sigmoid" else "hard sigmoid"
    torch.manual_seed(12)
    se = timm_layers.squeeze_excite.SEModule(16, rd_ratio=0.25, gate_layer=layer)
    with torch.no_grad():
        se.fc2.bias.mul_(20)  # spread the gate over hard sigmoid's clamps at 0 and 1 as well as its slope
    model = Host(se, channels=16).eval()
    (info,) = find_attention_blocks(model)
    assert type(se.gate) is layer and info.readable and info.gate_function == function
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        plain = model(x)
    result = capture_attention(model, x)
    assert torch.equal(result.output, plain)
    record, block_input = result.record("block"), _block_inputs(model, x, ["block"])["block"]
    expected = hand.se_gate(block_input, se.fc1.weight, se.fc1.bias, se.fc2.weight, se.fc2.bias, "relu", function)
    np.testing.assert_allclose(record.channel_gate, expected, atol=1e-6, rtol=0)
    if function == "hard sigmoid":
        assert (record.channel_gate == 0).any() and (record.channel_gate == 1).any()  # [0, 1], both ends reached
        assert ((record.channel_gate > 0) & (record.channel_gate < 1)).any()


def test_concurrent_captures_of_a_shared_cbam_model_see_only_their_own_knockouts(built):
    model = built["timm resnet18 + CBAM"]
    inputs = [torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(200 + i)) for i in range(4)]
    alone = [capture_attention(model, x) for x in inputs]
    barrier = Barrier(4)

    def run(i: int):
        barrier.wait()
        return capture_attention(model, inputs[i], knockout=Knockout("sse", 1.0) if i % 2 else None)

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(run, range(4)))
    for i, (mine, reference) in enumerate(zip(together, alone)):
        assert len(mine.shown()) == 8
        if i % 2:
            assert all(np.all(r.spatial_gate == 1.0) and r.knocked_out == {"sse": 1.0} for r in mine.records)
            continue
        assert torch.equal(mine.output, reference.output)
        for a, b in zip(mine.records, reference.records):
            np.testing.assert_array_equal(a.channel_gate, b.channel_gate)
            np.testing.assert_array_equal(a.spatial_gate, b.spatial_gate)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
