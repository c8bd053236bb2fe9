"""Sanity check by model randomisation: known answers on planted blocks, and the cached model left untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import scse_viz  # noqa: F401
from scse_viz import sanity
from scse_viz.blocks import SpatialSE


class WeightBlindConv(nn.Conv2d):
    """A 1×1 conv C→1 by its shape, but its output ignores its weights: the channels' mean, scaled."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 4.0 * x.mean(dim=1, keepdim=True)


def planted(blind: bool) -> nn.Module:
    """An sSE block straight on an 8-channel input, then a small head; the gate's conv ignores its weights or not."""
    torch.manual_seed(1)
    block = SpatialSE(8)
    if blind:
        block.sSE[0] = WeightBlindConv(8, 1, kernel_size=1)
    with torch.no_grad():  # a 'trained' gate that reads channel 0 alone
        block.sSE[0].weight.zero_()
        block.sSE[0].weight[0, 0] = 3.0
        block.sSE[0].bias.zero_()
    return nn.Sequential(block, nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def noise_input() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(3).standard_normal((1, 8, 24, 24)).astype(np.float32))


def step_of(rows, mode, layer):
    (row,) = [r for r in rows if r["mode"] == mode and r["layer"] == layer]
    return row


@pytest.mark.parametrize("blind", [True, False])
def test_a_gate_that_ignores_its_weights_survives_and_one_that_uses_them_does_not(blind):
    model, x = planted(blind), noise_input()
    rows = sanity.cascading_randomization(model, x)
    assert [layer.name for layer in sanity.execution_order(model, x)] == ["0.sSE.0", "1"]
    # randomising the head, which runs after the block, cannot change the block's map: a known 1
    head = step_of(rows, "cascading", "1")
    assert head["sse_rho"] == pytest.approx(1.0) and head["sse_ssim"] == pytest.approx(1.0)
    assert head["reached"] is False and head["randomised"] == 1
    own = step_of(rows, "independent", "0.sSE.0")
    assert own["reached"] is True and own["randomised_layers"] == "0.sSE.0"
    everything = step_of(rows, "cascading", "0.sSE.0")
    assert everything["randomised_layers"] == "1, 0.sSE.0"
    if blind:  # the map is the channels' mean, whatever the weights: identical after randomisation
        assert own["sse_rho"] == pytest.approx(1.0) and own["sse_ssim"] == pytest.approx(1.0)
        assert everything["sse_rho"] == pytest.approx(1.0)
    else:  # the trained gate reads channel 0 alone, independent noise from the random mixture of all eight
        assert abs(own["sse_rho"]) < 0.5 and own["sse_ssim"] < 0.5
    (verdict,) = sanity.survival(rows)
    assert verdict["survives"] is blind


def test_the_cached_model_is_never_changed():
    model, x = planted(False), noise_input()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sanity.cascading_randomization(model, x)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())


def test_edge_rho_is_one_for_a_map_that_is_the_gradient_magnitude():
    y, xx = np.mgrid[0:32, 0:32]
    image = ((xx - 16) ** 2 + (y - 16) ** 2 < 64).astype(np.float64)  # a disc: edges on its rim only
    x = torch.from_numpy(image[None, None].astype(np.float32))
    edges = sanity.gradient_magnitude(x)
    assert edges[16, 16] == 0 and edges[16, 8] > 0  # centre flat, rim an edge
    assert sanity.edge_rho(edges, edges) == pytest.approx(1.0)
    assert sanity.edge_rho(-edges, edges) == pytest.approx(-1.0)


def test_unknown_mode_and_layer_are_refused():
    model, x = planted(False), noise_input()
    with pytest.raises(ValueError, match="unknown mode"):
        sanity.cascading_randomization(model, x, modes=("backwards",))
    with pytest.raises(ValueError, match="no layer"):
        sanity.cascading_randomization(model, x, layers=["nowhere"])


def test_the_batch_writes_the_check_of_the_first_inputs(tmp_path):
    from scse_viz import zoo
    from scse_viz.batch import main

    from .app_helpers import png_bytes

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(4)
    for name in ("a.png", "b.png"):
        (images / name).write_bytes(png_bytes(rng.random((28, 28))))
    out = tmp_path / "out"
    argv = [str(images), "--family", "fashion", "--variant", "cse", "--out", str(out), "--workers", "0", "--quiet"]
    assert main([*argv, "--sanity", "--sanity-images", "1"]) == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "sanity.parquet").to_pylist()
    model = zoo.load_model("fashion", "cse")
    weighted = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    blocks = {r["block"] for r in rows}
    assert {r["image"] for r in rows} == {"a.png"} and {r["model"] for r in rows} == {"cse"}
    assert len(rows) == 2 * (len(weighted) + 1) * len(blocks)  # both modes, the reference and one step per layer
    reference = [r for r in rows if r["step"] == 0]
    assert all(r["cse_rho"] == pytest.approx(1.0) and r["sse_rho"] is None for r in reference)
    last = max(r["step"] for r in rows)
    assert all(r["reached"] for r in rows if r["mode"] == "cascading" and r["step"] == last)
