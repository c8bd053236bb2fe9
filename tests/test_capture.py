"""Capture must report exactly what the model computed, for our blocks and for other implementations' layouts."""

from __future__ import annotations

import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

import scse_viz
from scse_viz import CaptureResult, Knockout, capture_attention, find_attention_blocks
from scse_viz.errors import CaptureError
from scse_viz.models import ResidualClassifier, UNet2D

from . import hand
from .layouts import (
    AuthorsChannelSE,
    AuthorsChannelSpatialSE,
    AuthorsSpatialSE,
    EarlySmpSCSE,
    FunctionalSigmoidSCSE,
    Host,
    ResidualGatedSCSE,
)


def _require(module: str, package: str) -> ModuleType:
    """Import a third-party module the README's test command installs; fail (never skip) with the fix if missing:
    a suite that skips these would pass without having read a real third-party block."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = error  # failed outside the handler, so the report is the message, not a chained traceback
    pytest.fail(
        f"This test needs {package}: install the test requirements with `pip install -r requirements-test.txt` "
        f"(the test command in the README does). {missing}",
        pytrace=False,
    )


def _seed_weights(block: nn.Module):
    """(W1, b1, W2, b2) and (v, b) of a seed-layout block (children cSE / sSE as Sequentials)."""
    convs = [m for m in block.cSE if isinstance(m, nn.Conv2d)]
    return (convs[0].weight, convs[0].bias, convs[1].weight, convs[1].bias), (block.sSE[0].weight, block.sSE[0].bias)


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give BatchNorm non-trivial running statistics so eval mode differs visibly from train mode."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


@pytest.fixture(scope="module")
def unet() -> UNet2D:
    torch.manual_seed(0)
    return _randomise_batchnorm(UNet2D(attention="scse", base_channels=8, depth=3, reduction=4)).eval()


def test_gates_equal_hand_computation_in_every_unet_block(unet):
    x = torch.randn(2, 1, 48, 40)
    result = capture_attention(unet, x)
    names = [r.name for r in result.records]
    inputs = hand.block_inputs(unet, x, names)
    modules = dict(unet.named_modules())
    assert len(result.shown()) == 7
    for record in result.records:
        (w1, b1, w2, b2), (v, b) = _seed_weights(modules[record.name])
        block_input = inputs[record.name][0]
        np.testing.assert_allclose(record.channel_gate, hand.channel_gate(block_input, w1, b1, w2, b2), atol=1e-6)
        np.testing.assert_allclose(record.spatial_gate, hand.spatial_gate(block_input, v, b), atol=1e-6)
        assert record.feature_size == tuple(block_input.shape[-2:])
        assert record.stride == (48 / block_input.shape[-2], 40 / block_input.shape[-1])
        assert record.join == "sum"
        assert record.info.channels == block_input.shape[1]


def test_capture_leaves_the_output_bit_identical():
    torch.manual_seed(1)
    for model, x in (
        (_randomise_batchnorm(UNet2D(attention="scse", base_channels=8, depth=3)).eval(), torch.randn(1, 1, 64, 64)),
        (_randomise_batchnorm(ResidualClassifier(attention="scse", widths=(8, 16))).eval(), torch.randn(3, 1, 28, 28)),
    ):
        with torch.no_grad():
            plain = model(x)
        assert torch.equal(capture_attention(model, x).output, plain)


def test_gates_survive_in_place_operations_after_the_block():
    # ResidualClassifier adds the shortcut in place onto the attention output: recorded copies must not change.
    torch.manual_seed(2)
    model = ResidualClassifier(attention="sse", widths=(8, 16), blocks_per_stage=1).eval()
    x = torch.randn(2, 1, 28, 28)
    result = capture_attention(model, x)
    inputs = hand.block_inputs(model, x, [r.name for r in result.records])
    modules = dict(model.named_modules())
    for record in result.records:
        conv = modules[record.name].sSE[0]
        expected = hand.spatial_gate(inputs[record.name][0], conv.weight, conv.bias)
        np.testing.assert_allclose(record.spatial_gate, expected, atol=1e-6)
        assert record.channel_gate is None and record.kind == "sse"


def test_reduction_and_channels_are_read_from_weights():
    model = Host(scse_viz.blocks.SCSE(24, reduction=6), channels=24)
    (info,) = find_attention_blocks(model)
    assert (info.channels, info.hidden, info.reduction) == (24, 4, 6.0)
    (tiny,) = find_attention_blocks(Host(scse_viz.blocks.ChannelSE(3, reduction=16), channels=3))
    assert tiny.hidden == 1  # max(C // r, 1)


def test_knockout_equals_recomputing_the_block_with_the_constant(unet):
    x = torch.randn(1, 1, 32, 32)
    target = "encoders.1.attention"
    block = dict(unet.named_modules())[target]
    (_, _, _, _), (v, b) = _seed_weights(block)

    def by_hand(module, args, output):
        x_in = args[0]
        q = hand.spatial_gate(x_in, v, b).float().unsqueeze(1)
        return x_in * 0.5 + x_in * q

    handle = block.register_forward_hook(by_hand)
    try:
        with torch.no_grad():
            expected = unet(x)
    finally:
        handle.remove()
    result = capture_attention(unet, x, knockout=Knockout("cse", 0.5, blocks=(target,)))
    torch.testing.assert_close(result.output, expected, atol=1e-5, rtol=1e-5)
    record = result.record(target)
    assert record.knocked_out == {"cse": 0.5}
    assert np.all(record.channel_gate == 0.5)
    with torch.no_grad():
        assert not torch.allclose(result.output, unet(x))  # the knock-out did change the output
    assert result.record("encoders.0.attention").knocked_out == {}


def test_knockout_of_every_spatial_branch_removes_it_from_the_sum(unet):
    x = torch.randn(1, 1, 32, 32)
    modules = dict(unet.named_modules())
    names = [info.name for info in find_attention_blocks(unet)]

    def cse_only(module, args, output):
        (w1, b1, w2, b2), _ = _seed_weights(module)
        x_in = args[0]
        return x_in * hand.channel_gate(x_in, w1, b1, w2, b2).float()[:, :, None, None]

    handles = [modules[n].register_forward_hook(cse_only) for n in names]
    try:
        with torch.no_grad():
            expected = unet(x)
    finally:
        for h in handles:
            h.remove()
    result = capture_attention(unet, x, knockout=Knockout("sse", 0.0))
    torch.testing.assert_close(result.output, expected, atol=1e-5, rtol=1e-5)
    assert all(r.knocked_out == {"sse": 0.0} for r in result.records)


def test_knockout_is_refused_for_unknown_blocks_and_functional_gates(unet):
    with pytest.raises(CaptureError, match="no attention block named"):
        capture_attention(unet, torch.randn(1, 1, 16, 16), knockout=Knockout("cse", blocks=("nope",)))
    with pytest.raises(CaptureError, match="cannot be knocked out"):
        capture_attention(Host(FunctionalSigmoidSCSE(8)), torch.randn(1, 3, 8, 8), knockout=Knockout("sse"))


def test_eight_threads_on_one_shared_model_each_get_their_own_gates(unet):
    inputs = [torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    alone = [capture_attention(unet, x) for x in inputs]
    barrier = threading.Barrier(8)

    def run(i: int) -> CaptureResult:
        barrier.wait()
        # odd threads knock out a branch: their hooks must not touch the even threads' passes
        knockout = Knockout("cse", 0.0) if i % 2 else None
        return capture_attention(unet, inputs[i], knockout=knockout)

    for _ in range(3):
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(run, range(8)))
        for i, (mine, reference) in enumerate(zip(together, alone)):
            if i % 2:
                assert all(np.all(r.channel_gate == 0.0) for r in mine.shown())
                continue
            assert torch.equal(mine.output, reference.output)
            for a, b in zip(mine.records, reference.records):
                assert a.call == b.call == 0
                np.testing.assert_array_equal(a.channel_gate, b.channel_gate)
                np.testing.assert_array_equal(a.spatial_gate, b.spatial_gate)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in unet.modules())


def test_hooks_are_removed_when_the_forward_pass_raises(unet):
    with pytest.raises(RuntimeError):
        capture_attention(unet, torch.randn(1, 3, 32, 32))  # wrong channel count
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in unet.modules())


def test_capture_uses_eval_mode_and_restores_training_mode():
    torch.manual_seed(3)
    model = _randomise_batchnorm(UNet2D(attention="scse", base_channels=8, depth=2))
    x = torch.randn(2, 1, 16, 16)
    model.eval()
    with torch.no_grad():
        eval_output = model(x)
    model.train()
    result = capture_attention(model, x)
    assert torch.equal(result.output, eval_output)
    assert model.training and all(m.training for m in model.modules())


def test_segmentation_models_pytorch_unet_is_discovered_and_captured():
    smp = _require("segmentation_models_pytorch", "segmentation-models-pytorch")
    torch.manual_seed(4)
    model = smp.Unet("resnet18", encoder_weights=None, decoder_attention_type="scse", classes=3).eval()
    blocks = find_attention_blocks(model)
    assert len(blocks) == 10 and {b.implementation for b in blocks} == {"segmentation_models_pytorch"}
    assert all(b.kind == "scse" and b.readable for b in blocks)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        plain = model(x)
    result = capture_attention(model, x)
    assert torch.equal(result.output, plain)
    not_run = [r for r in result.records if not r.ran]
    assert [r.name for r in not_run] == ["decoder.blocks.4.attention1.attention"]  # no skip there: never called
    assert not_run[0].channel_gate is None and "did not run" in not_run[0].reason
    modules = dict(model.named_modules())
    inputs = hand.block_inputs(model, x, [r.name for r in result.shown()])
    for record in result.shown():
        (w1, b1, w2, b2), (v, b) = _seed_weights(modules[record.name])
        np.testing.assert_allclose(
            record.channel_gate, hand.channel_gate(inputs[record.name][0], w1, b1, w2, b2), atol=1e-6
        )
        np.testing.assert_allclose(record.spatial_gate, hand.spatial_gate(inputs[record.name][0], v, b), atol=1e-6)


def test_authors_layout_is_captured_with_the_max_join():
    torch.manual_seed(5)
    model = Host(AuthorsChannelSpatialSE(8), channels=8).eval()
    (info,) = find_attention_blocks(model)
    assert (info.name, info.kind, info.hidden) == ("block", "scse", 4)
    assert "authors" in info.implementation
    x = torch.randn(2, 3, 12, 12)
    result = capture_attention(model, x)
    record = result.record("block")
    assert record.join == "max"
    block_input = hand.block_inputs(model, x, ["block"])["block"][0]
    cse, sse = model.block.cSE, model.block.sSE
    expected_w = hand.channel_gate(block_input, cse.fc1.weight, cse.fc1.bias, cse.fc2.weight, cse.fc2.bias)
    np.testing.assert_allclose(record.channel_gate, expected_w, atol=1e-6)
    np.testing.assert_allclose(
        record.spatial_gate, hand.spatial_gate(block_input, sse.conv.weight, sse.conv.bias), atol=1e-6
    )
    assert record.channel_gate.shape == (2, 8) and record.spatial_gate.shape == (2, 12, 12)


def test_authors_single_branch_layers_are_cse_and_sse_blocks():
    model = nn.Sequential(nn.Conv2d(3, 8, 1), AuthorsChannelSE(8), AuthorsSpatialSE(8))
    kinds = [(b.name, b.kind) for b in find_attention_blocks(model)]
    assert kinds == [("1", "cse"), ("2", "sse")]
    result = capture_attention(model, torch.randn(1, 3, 6, 6))
    assert [r.join for r in result.records] == ["scale", "scale"]


def test_monai_channel_se_layer_is_captured():
    monai_blocks = _require("monai.networks.blocks", "monai")
    torch.manual_seed(6)
    layer = monai_blocks.ChannelSELayer(spatial_dims=2, in_channels=8, r=2)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), layer).eval()
    (info,) = find_attention_blocks(model)
    assert (info.kind, info.implementation, info.hidden) == ("cse", "monai", 4)
    x = torch.randn(2, 3, 10, 10)
    record = capture_attention(model, x).record("1")
    with torch.no_grad():
        feature = model[0](x)
    fc = [m for m in layer.fc if isinstance(m, nn.Linear)]
    np.testing.assert_allclose(
        record.channel_gate, hand.channel_gate(feature, fc[0].weight, fc[0].bias, fc[1].weight, fc[1].bias), atol=1e-6
    )
    assert record.join == "scale"


def test_functional_sigmoid_gates_are_recomputed_and_verified():
    torch.manual_seed(7)
    model = Host(FunctionalSigmoidSCSE(8), channels=8).eval()
    (info,) = find_attention_blocks(model)
    assert info.kind == "scse" and info.readable
    x = torch.randn(1, 3, 9, 9)
    record = capture_attention(model, x).record("block")
    assert record.readable and record.join == "sum"
    feature = hand.block_inputs(model, x, ["block"])["block"][0]
    conv = model.block.spatial_first
    np.testing.assert_allclose(record.spatial_gate, hand.spatial_gate(feature, conv.weight, conv.bias), atol=1e-6)


def test_lookalikes_are_reported_not_readable():
    early = find_attention_blocks(Host(EarlySmpSCSE(8), channels=8))
    assert len(early) == 1 and not early[0].readable and "one map per channel" in early[0].reason
    result = capture_attention(Host(EarlySmpSCSE(8), channels=8), torch.randn(1, 3, 8, 8))
    assert result.shown() == [] and result.records[0].spatial_gate is None

    residual = Host(ResidualGatedSCSE(8), channels=8)
    assert find_attention_blocks(residual)[0].readable  # looks right from the outside ...
    record = capture_attention(residual, torch.randn(1, 3, 8, 8)).records[0]
    assert not record.readable and "could not be rebuilt" in record.reason  # ... but its output says otherwise
    assert record.channel_gate is None and record.spatial_gate is None


def test_sigmoid_heads_and_plain_models_are_not_blocks():
    head = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Conv2d(8, 1, 1), nn.Sigmoid())
    assert find_attention_blocks(head) == []
    assert find_attention_blocks(nn.Sequential(nn.Conv2d(8, 1, 1), nn.Sigmoid())) == []
    assert find_attention_blocks(UNet2D(attention="none", base_channels=4, depth=2)) == []


def test_a_reused_block_gets_one_record_per_call_and_an_unused_one_did_not_run():
    torch.manual_seed(8)
    model = Host(scse_viz.blocks.SCSE(8, reduction=2), channels=8, repeat=2, spare=scse_viz.blocks.SpatialSE(8))
    x = torch.randn(1, 3, 8, 8)
    result = capture_attention(model, x)
    calls = [r for r in result.records if r.name == "block"]
    assert [r.call for r in calls] == [0, 1] and calls[1].label == "block (call 2)"
    assert not np.array_equal(calls[0].spatial_gate, calls[1].spatial_gate)  # second call saw the first's output
    seen = hand.block_inputs(model, x, ["block"])["block"]
    (_w1, _b1, _w2, _b2), (v, b) = _seed_weights(model.block)
    for record, block_input in zip(calls, seen):
        np.testing.assert_allclose(record.spatial_gate, hand.spatial_gate(block_input, v, b), atol=1e-6)
    spare = result.record("spare")
    assert not spare.ran and spare.spatial_gate is None


def test_no_values_leak_from_an_earlier_pass(unet):
    first = capture_attention(unet, torch.zeros(1, 1, 32, 32))
    second = capture_attention(unet, torch.ones(1, 1, 32, 32))
    assert not np.array_equal(first.records[0].spatial_gate, second.records[0].spatial_gate)
    assert all(r.call == 0 for r in second.records)


def test_capture_refuses_a_non_image_input(unet):
    with pytest.raises(CaptureError):
        capture_attention(unet, torch.randn(32, 32))
