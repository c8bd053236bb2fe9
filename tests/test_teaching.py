"""The teaching numbers: every step against numpy from the weights, against capture in the real zoo models, costs
against built blocks and hand-counted multiply-adds, joins against their formulas, and the toy presets' claims.

Tolerances. The walk-through computes in float32 and the references here in float64. A float32 sum of n terms is off
by at most about n·u·Σ|terms| (u = 6e-8) and in practice by √n·u·Σ|terms|; with n ≤ 256 that is ≤ 1e-6 of the
terms' magnitude, so ``TOL = 1e-5`` relative to that magnitude leaves a 10× margin, while a wrong weight, bias,
index or transpose changes a value by 1e-2 or more.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from scse_viz import capture_attention, find_attention_blocks, zoo
from scse_viz import teaching as T
from scse_viz.blocks import SCSE, make_attention
from scse_viz.errors import UnsupportedBlockError
from scse_viz.excitation import ClassExcitation
from scse_viz.models.unet import conv_block

TOL = 1e-5
EXCITATION = zoo.family("fashion").excitation_file  # the shipped per-class statistics (the classifier family)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def reference(block: nn.Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every step of the seed's formulas in float64 numpy, from the block's state_dict alone."""
    sd = {k: v.detach().double().numpy() for k, v in block.state_dict().items()}
    x = x.astype(np.float64)
    c = x.shape[0]
    out: dict[str, np.ndarray] = {}
    if "cSE.1.weight" in sd:
        w1, b1 = sd["cSE.1.weight"][:, :, 0, 0], sd["cSE.1.bias"]
        w2, b2 = sd["cSE.3.weight"][:, :, 0, 0], sd["cSE.3.bias"]
        s = x.reshape(c, -1).sum(axis=1) / (x.shape[1] * x.shape[2])
        pre = np.array([sum(w1[k, j] * s[j] for j in range(c)) + b1[k] for k in range(w1.shape[0])])
        h = np.where(pre > 0, pre, 0.0)
        z = np.array([sum(w2[j, k] * h[k] for k in range(w1.shape[0])) + b2[j] for j in range(c)])
        w = sigmoid(z)
        out |= {
            "squeeze": s,
            "hidden_pre": pre,
            "hidden": h,
            "excitation_logits": z,
            "w": w,
            "cse_out": x * w[:, None, None],
            "_pre_scale": np.abs(w1) @ np.abs(s) + np.abs(b1),
            "_z_scale": np.abs(w2) @ h + np.abs(b2),
        }
    if "sSE.0.weight" in sd:
        v, b = sd["sSE.0.weight"][0, :, 0, 0], sd["sSE.0.bias"][0]
        logits = np.einsum("c,chw->hw", v, x) + b
        q = sigmoid(logits)
        out |= {
            "sse_logits": logits,
            "q": q,
            "sse_out": x * q[None],
            "_logit_scale": np.einsum("c,chw->hw", np.abs(v), np.abs(x)) + abs(b),
        }
    if "w" in out and "q" in out:
        out["scse_out"] = out["cse_out"] + out["sse_out"]
        out["gain"] = out["w"][:, None, None] + out["q"][None]
    return out


def assert_steps_equal_reference(block: nn.Module, wt: T.WalkThrough) -> None:
    ref = reference(block, wt.x)
    x_scale = max(1.0, float(np.abs(wt.x).max()))
    scales = {  # the magnitude of the terms each value is summed from (gates and gains lie in (0, 2): scale 1)
        "squeeze": x_scale,
        "hidden_pre": ref.get("_pre_scale"),
        "hidden": ref.get("_pre_scale"),
        "excitation_logits": ref.get("_z_scale"),
        "w": 1.0,
        "cse_out": x_scale,
        "sse_logits": ref.get("_logit_scale"),
        "q": 1.0,
        "sse_out": x_scale,
        "scse_out": x_scale,
        "gain": 1.0,
    }
    for step, scale in scales.items():
        actual = getattr(wt, step)
        if step not in ref:
            assert actual is None, step
            continue
        np.testing.assert_allclose(actual, ref[step], rtol=TOL, atol=TOL * float(np.max(scale)), err_msg=step)


def random_block(kind: str, channels: int = 16, reduction: int = 4, seed: int = 0) -> nn.Module:
    """A block with every weight and bias random (PyTorch's default init leaves biases small but non-zero)."""
    torch.manual_seed(seed)
    block = make_attention(kind, channels, reduction).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0.0, 0.6)
    return block


# ------------------------------------------------------------------------------------------------ walk-through


@pytest.mark.parametrize("kind", ["cse", "sse", "scse"])
def test_every_step_equals_numpy_from_the_state_dict(kind):
    block = random_block(kind)
    x = torch.randn(16, 6, 5, generator=torch.Generator().manual_seed(1)) + 0.3
    wt = T.walk_through(block, x)
    assert wt.kind == kind
    assert_steps_equal_reference(block, wt)
    if wt.hidden_pre is not None:  # the ReLU is exercised: some units are cut to 0, some pass
        assert (wt.hidden_pre < 0).any() and (wt.hidden_pre > 0).any()
    assert wt.output.dtype == np.float32
    for gate in (wt.w, wt.q):
        if gate is not None:
            assert np.all((gate > 0) & (gate < 1))
    if wt.gain is not None:
        assert np.all((wt.gain > 0) & (wt.gain < 2))
        np.testing.assert_allclose(wt.scse_out, wt.gain * wt.x, rtol=1e-5, atol=1e-6)


def test_toy_block_steps_equal_numpy():
    block = T.toy_block(6)
    wt = T.walk_through(block, T.toy_feature_map("random", 6))
    assert_steps_equal_reference(block, wt)
    assert wt.hidden_channels == 3 and wt.w1.shape == (3, 6) and wt.w2.shape == (6, 3)


def test_walk_through_refuses_a_block_that_joins_by_max():
    class MaxJoin(SCSE):  # our layout, but the authors' join: the recomputed sum must not be shown for it
        def forward(self, x):
            return torch.maximum(x * self.cSE(x), x * self.sSE(x))

    block = MaxJoin(8, 2).eval()
    x = torch.randn(8, 4, 4)
    T.walk_through(SCSE(8, 2).eval(), x)  # the same maths summed is accepted
    with pytest.raises(UnsupportedBlockError, match="differs"):
        T.walk_through(block, x)


def test_walk_through_refuses_wrong_shapes_and_foreign_blocks():
    block = SCSE(8, 2).eval()
    with pytest.raises(UnsupportedBlockError, match="8 channels"):
        T.walk_through(block, torch.zeros(4, 3, 3))
    with pytest.raises(UnsupportedBlockError, match="one image"):
        T.walk_through(block, torch.zeros(2, 8, 3, 3))
    with pytest.raises(UnsupportedBlockError, match="neither"):
        T.walk_through(nn.Conv2d(8, 8, 1), torch.zeros(8, 3, 3))
    foreign = SCSE(8, 2)
    foreign.cSE[2] = nn.GELU()
    assert not T.can_walk_through(foreign) and T.can_walk_through(block)
    with pytest.raises(UnsupportedBlockError, match="cSE branch"):
        T.walk_through(foreign, torch.zeros(8, 3, 3))


def test_pick_channels_takes_the_highest_and_lowest_gates_with_ties_to_the_lower_index():
    wt = T.WalkThrough(
        kind="cse", x=np.zeros((6, 2, 2), np.float32), w=np.array([0.5, 0.9, 0.1, 0.9, 0.1, 0.5], np.float32)
    )
    assert T.pick_channels(wt, 4) == [1, 2, 3, 4]
    assert T.pick_channels(wt, 3) == [1, 2, 3]  # ⌈3/2⌉ = 2 highest (1 and 3), 1 lowest (2 before 4)
    x = np.zeros((5, 2, 2), np.float32)
    x[[0, 3]] = -2.0
    x[4] = 1.0
    assert T.pick_channels(T.WalkThrough(kind="sse", x=x), 2) == [0, 3]  # largest mean |x|, sign ignored
    assert T.pick_channels(T.WalkThrough(kind="sse", x=x), 9) == [0, 1, 2, 3, 4]


def test_tables_hold_the_walk_through_numbers():
    wt = T.walk_through(T.toy_block(4), T.toy_feature_map("random", 4))
    rows = T.excitation_table(wt)
    assert [r[T.COL_GATE] for r in rows] == pytest.approx(wt.w.tolist())
    assert [r[T.COL_SQUEEZE] for r in rows] == pytest.approx(wt.squeeze.tolist())
    assert [r[T.COL_HIDDEN] for r in T.hidden_table(wt)] == pytest.approx(wt.hidden.tolist())
    tables = T.weight_tables(wt)
    w1_rows = next(rows for name, rows in tables.items() if name.startswith("W1"))
    np.testing.assert_array_equal([[r[f"c{c}"] for c in range(4)] for r in w1_rows], wt.w1)
    v_rows = next(rows for name, rows in tables.items() if name.startswith("sSE"))
    assert len({type(r[T.COL_CHANNEL]) for r in v_rows}) == 1  # one column type, or Arrow refuses the table


# ------------------------------------------------------------------------------- inside the real zoo models


def fashion_input() -> torch.Tensor:
    """A light shirt-like shape on black, through the family's own preprocessing."""
    yy, xx = np.mgrid[0:60, 0:60]
    image = ((abs(xx - 30) < 14) & (yy > 12) & (yy < 55)) | ((abs(xx - 30) < 26) & (yy > 12) & (yy < 26))
    image = image * (0.7 + 0.3 * np.sin(xx / 3.0) ** 2)
    return zoo.family("fashion").prepare(image.astype(np.float32)).tensor


@pytest.fixture(scope="module")
def brain_input() -> torch.Tensor:
    from scse_viz.datasets.brain import brain_slice

    return zoo.family("brain").prepare(brain_slice("axial", 95).pixels).tensor  # a real MNI152 slice, 160×160


def _independent_block_input(family: str, model: nn.Module, x: torch.Tensor) -> tuple[str, torch.Tensor]:
    """The feature map entering the second (fashion) or first (brain) block, computed layer by layer by hand."""
    with torch.no_grad():
        if family == "fashion":
            previous = model.stages[0](model.stem(x))
            block = model.stages[1]
            return "stages.1.attention", block.bn2(block.conv2(block.relu(block.bn1(block.conv1(previous)))))
        return "encoders.0.attention", model.encoders[0].conv(x)


@pytest.mark.parametrize(
    "family,variant", [("fashion", "cse"), ("fashion", "scse"), ("brain", "sse"), ("brain", "scse")]
)
def test_walk_through_equals_capture_inside_the_real_models(family, variant, request):
    model = zoo.load_model(family, variant)
    x = fashion_input() if family == "fashion" else request.getfixturevalue("brain_input")
    walks = T.walk_through_blocks(model, x)
    names = [info.name for info in find_attention_blocks(model)]
    assert list(walks) == names and len(names) >= 6  # every block of the network is walked through
    captured = capture_attention(model, x)  # an independent pass without the teaching hook
    for name, mw in walks.items():
        record = captured.record(name)
        assert mw.walk.kind == variant
        if variant != "sse":
            np.testing.assert_allclose(mw.walk.w, record.channel_gate[0], rtol=0, atol=1e-5, err_msg=name)
        if variant != "cse":
            np.testing.assert_allclose(mw.walk.q, record.spatial_gate[0], rtol=0, atol=1e-5, err_msg=name)
        assert mw.walk.x.shape[1:] == record.feature_size
    assert torch.equal(walks[names[0]].output, captured.output)  # the hook changed nothing downstream
    name, expected = _independent_block_input(family, model, x)
    np.testing.assert_array_equal(walks[name].walk.x, expected[0].numpy())
    block = model.get_submodule(name)
    assert_steps_equal_reference(block, walks[name].walk)
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())


def test_block_input_is_the_feature_map_the_network_feeds_the_block():
    model = zoo.load_model("fashion", "sse")
    x = fashion_input()
    name, expected = _independent_block_input("fashion", model, x)
    np.testing.assert_array_equal(T.block_input(model, x, name).numpy(), expected.numpy())
    with pytest.raises(UnsupportedBlockError, match="no block"):
        T.block_input(model, x, "stages.1")
    with pytest.raises(UnsupportedBlockError, match="ran 1 time"):
        T.block_input(model, x, name, call=1)
    with pytest.raises(UnsupportedBlockError, match="one image"):
        T.walk_through_model(model, torch.cat([x, x]), name)


def test_the_input_hook_is_removed_when_the_forward_pass_raises():
    model = zoo.load_model("fashion", "scse")
    with pytest.raises(RuntimeError):
        T.block_input(model, torch.zeros(1, 3, 28, 28), "stages.0.attention")  # 3 channels into a 1-channel stem
    assert all(not m._forward_pre_hooks and not m._forward_hooks for m in model.modules())


def test_sessions_sharing_one_model_each_get_their_own_block_input():
    model = zoo.load_model("fashion", "scse")
    inputs = [fashion_input() * (1.0 + k) for k in range(4)]
    expected = [_independent_block_input("fashion", model, x)[1] for x in inputs]
    barrier, failures = threading.Barrier(4), []

    def session(k: int) -> None:
        barrier.wait()
        try:
            for _ in range(3):
                _, seen = T.capture_with_inputs(model, inputs[k], ["stages.1.attention"])
                mw = T.walk_through_model(model, inputs[k], "stages.1.attention")
                if len(seen["stages.1.attention"]) != 1 or not torch.equal(seen["stages.1.attention"][0], expected[k]):
                    failures.append((k, "another session's feature map was recorded"))
                if not np.array_equal(mw.walk.x, expected[k][0].numpy()):
                    failures.append((k, "walked through another session's feature map"))
        except Exception as error:  # noqa: BLE001 - a thread's exception would otherwise only be a warning
            failures.append((k, repr(error)))

    threads = [threading.Thread(target=session, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ------------------------------------------------------------------------------------------------------- cost


@pytest.mark.parametrize("channels,reduction", [(1, 16), (3, 16), (8, 2), (16, 16), (17, 4), (64, 8), (100, 32)])
def test_parameter_counts_equal_those_of_built_blocks(channels, reduction):
    rows = {r[T.COST_MODULE]: r for r in T.cost_table(channels, 5, 7, reduction)}
    for row, kind in ((T.ROW_CSE, "cse"), (T.ROW_SSE, "sse"), (T.ROW_SCSE, "scse")):
        built = make_attention(kind, channels, reduction)
        assert rows[row][T.COST_PARAMS] == sum(p.numel() for p in built.parameters()), (row, channels, reduction)
    conv = nn.Conv2d(channels, channels, 3, padding=1)
    assert rows[T.ROW_CONV][T.COST_PARAMS] == sum(p.numel() for p in conv.parameters())
    unit = conv_block(channels, channels)
    assert rows[T.ROW_UNET][T.COST_PARAMS] == sum(p.numel() for p in unit.parameters())


def test_overhead_percentages_worked_out_by_hand():
    """C = 16, r = 16, 8×8: the overhead columns against numbers counted on paper (SCSE.md's formulas)."""
    rows = {r[T.COST_MODULE]: r for r in T.cost_table(16, 8, 8, 16)}
    # cSE: W1 16×1 + b1 1 + W2 1×16 + b2 16 = 49 (2·C²/r + C/r + C); sSE: v 16 + b 1 = 17; scSE: 66.
    # One 3×3 conv 16→16 with bias: 9·256 + 16 = 2320; the U-Net unit: 2·9·256 + 2 BatchNorms·2·16 = 4672.
    assert [rows[r][T.COST_PARAMS] for r in (T.ROW_CSE, T.ROW_SSE, T.ROW_SCSE)] == [49, 17, 66]
    assert rows[T.ROW_SCSE][T.COST_PARAMS_VS_CONV] == pytest.approx(2.844828, rel=1e-6)  # 6600 / 2320
    assert rows[T.ROW_SCSE][T.COST_PARAMS_VS_UNET] == pytest.approx(1.412671, rel=1e-6)  # 6600 / 4672: "about 1.5 %"
    # multiply-adds on 8×8 (C·H·W = 1024): cSE = GAP 1024 + W1 and W2 2·16·1 + x·w 1024 = 2080; sSE = the 1×1 conv
    # 1024 + x·q 1024 = 2048. The conv: 9·256·64 = 147456 MACs, so scSE's 4128 are 2.799479 % of it.
    assert [rows[r][T.COST_MACS] for r in (T.ROW_CSE, T.ROW_SSE, T.ROW_SCSE)] == [2080, 2048, 4128]
    assert rows[T.ROW_SCSE][T.COST_MACS_VS_CONV] == pytest.approx(2.799479, rel=1e-6)


class Counter:
    """Plain-Python arithmetic that counts its multiplications (a multiply-add is one multiplication)."""

    def __init__(self) -> None:
        self.macs = 0

    def mul(self, a: float, b: float) -> float:
        self.macs += 1
        return a * b


def _count_scse(block: SCSE, x: np.ndarray, kind: str, n: Counter) -> np.ndarray:
    """The block computed element by element, counting multiplications the way COST_NOTES says."""
    sd = {k: v.double().numpy() for k, v in block.state_dict().items()}
    c, h, w = x.shape
    gate_w = np.zeros(c)
    if kind in ("cse", "scse"):
        s = [sum(n.mul(float(x[j, i, k]), 1.0 / (h * w)) for i in range(h) for k in range(w)) for j in range(c)]
        w1, b1, w2, b2 = sd["cSE.1.weight"], sd["cSE.1.bias"], sd["cSE.3.weight"], sd["cSE.3.bias"]
        hid = [max(0.0, sum(n.mul(w1[u, j, 0, 0], s[j]) for j in range(c)) + b1[u]) for u in range(len(b1))]
        gate_w = sigmoid(
            np.array([sum(n.mul(w2[j, u, 0, 0], hid[u]) for u in range(len(b1))) + b2[j] for j in range(c)])
        )
    out = np.zeros_like(x, dtype=np.float64)
    for j in range(c):
        for i in range(h):
            for k in range(w):
                if kind in ("cse", "scse"):
                    out[j, i, k] += n.mul(float(x[j, i, k]), gate_w[j])
    if kind in ("sse", "scse"):
        v, b = sd["sSE.0.weight"][0, :, 0, 0], sd["sSE.0.bias"][0]
        q = [[sigmoid(sum(n.mul(v[j], float(x[j, i, k])) for j in range(c)) + b) for k in range(w)] for i in range(h)]
        for j in range(c):
            for i in range(h):
                for k in range(w):
                    out[j, i, k] += n.mul(float(x[j, i, k]), q[i][k])
    return out


@pytest.mark.parametrize("kind", ["cse", "sse", "scse"])
def test_multiply_adds_equal_a_count_of_the_multiplications_done(kind):
    c, h, w, r = 5, 3, 4, 2
    block = random_block(kind, c, r, seed=3)
    x = np.random.default_rng(0).normal(size=(c, h, w)).astype(np.float32)
    counter = Counter()
    counted = _count_scse(block, x, kind, counter)
    with torch.no_grad():
        np.testing.assert_allclose(counted, block(torch.from_numpy(x)[None])[0].numpy(), rtol=1e-5, atol=1e-6)
    assert T.attention_macs(kind, c, h, w, r) == counter.macs
    row = {"cse": T.ROW_CSE, "sse": T.ROW_SSE, "scse": T.ROW_SCSE}[kind]
    assert next(r_[T.COST_MACS] for r_ in T.cost_table(c, h, w, r) if r_[T.COST_MODULE] == row) == counter.macs


def test_host_multiply_adds_equal_torchs_flop_counter():
    c, h, w = 3, 4, 5
    rows = {r[T.COST_MODULE]: r for r in T.cost_table(c, h, w, 2)}
    for row, host, extra in (
        (T.ROW_CONV, nn.Conv2d(c, c, 3, padding=1), 0),
        (T.ROW_UNET, conv_block(c, c).eval(), 2 * c * h * w),
    ):  # + two BatchNorms x·γ' + β'
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            host(torch.zeros(1, c, h, w))
        assert rows[row][T.COST_MACS] == counter.get_total_flops() // 2 + extra  # a FLOP count is 2 per MAC


def test_cost_table_refuses_nonsense():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError):
            T.cost_table(bad, 8, 8, 16)


@pytest.mark.parametrize("family", ["fashion", "brain"])
def test_attention_share_is_what_the_baseline_lacks(family):
    inside, total = T.attention_share(zoo.family(family).build("scse"))
    baseline = sum(p.numel() for p in zoo.family(family).build("none").parameters())
    assert inside > 0 and total - inside == baseline


# ------------------------------------------------------------------------------------------------------ joins


def test_joins_equal_their_formulas():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    w, q = rng.uniform(size=3).astype(np.float32), rng.uniform(size=(4, 5)).astype(np.float32)
    conv = T.default_concat_conv(3, seed=2)
    joins = T.join_alternatives(x, w, q, conv)
    assert len(joins) == 4  # the journal's four: max-out, addition, multiplication, concatenation
    for c in range(3):
        for i in range(4):
            for j in range(5):
                a, b = float(x[c, i, j]) * float(w[c]), float(x[c, i, j]) * float(q[i, j])
                assert joins[T.JOIN_SUM][c, i, j] == pytest.approx(a + b, rel=1e-6, abs=1e-7)
                assert joins[T.JOIN_MAX][c, i, j] == pytest.approx(max(a, b), rel=1e-6, abs=1e-7)
                assert joins[T.JOIN_PRODUCT][c, i, j] == pytest.approx(a * b, rel=1e-6, abs=1e-7)
    stacked = torch.from_numpy(np.concatenate([x * w[:, None, None], x * q[None]]))[None]
    with torch.no_grad():
        np.testing.assert_allclose(joins[T.JOIN_CONCAT], conv(stacked)[0].numpy(), rtol=1e-5, atol=1e-6)


def test_concatenation_with_identity_halves_is_the_sum_and_the_sum_is_the_models_output():
    block = T.toy_block(5)
    wt = T.walk_through(block, T.toy_feature_map("bright spot", 5))
    identity = nn.Conv2d(10, 5, 1)
    with torch.no_grad():
        identity.weight.copy_(torch.cat([torch.eye(5), torch.eye(5)], 1)[:, :, None, None])
        identity.bias.zero_()
    joins = T.join_alternatives(wt.x, wt.w, wt.q, identity)
    np.testing.assert_allclose(joins[T.JOIN_CONCAT], joins[T.JOIN_SUM], rtol=1e-6, atol=1e-6)
    with torch.no_grad():  # the join the page calls ours is what our scSE block itself returns
        np.testing.assert_allclose(
            joins[T.OUR_JOIN], block(torch.from_numpy(wt.x)[None])[0].numpy(), rtol=1e-6, atol=1e-6
        )
    default = T.default_concat_conv(5).weight[:, :, 0, 0]
    assert not torch.allclose(default, torch.cat([torch.eye(5), torch.eye(5)], 1))  # it does mix channels
    with pytest.raises(ValueError, match="10 → 5"):
        T.join_alternatives(wt.x, wt.w, wt.q, nn.Conv2d(10, 4, 1))


# --------------------------------------------------------------------------------------- toy presets and block


TOY_SHAPES = [(c, s, seed) for c in (4, 6, 8) for s in (4, 8) for seed in (0, 1, 2)]


def _walk(preset: str, channels: int, size: int, seed: int, **kwargs) -> T.WalkThrough:
    return T.walk_through(T.toy_block(channels, seed=seed), T.toy_feature_map(preset, channels, size, seed, **kwargs))


def _gate_as_brightened(preset: str, c: int, s: int, seed: int, channel: int, factors: np.ndarray) -> np.ndarray:
    """w[channel] of the toy block while that channel's brightness slider moves through ``factors``."""
    gates = []
    for factor in factors:
        brightness = np.ones(c)
        brightness[channel] = factor
        gates.append(_walk(preset, c, s, seed, brightness=brightness).w[channel])
    return np.array(gates)


def test_random_preset_has_channel_means_near_one_half():
    for c, s, seed in TOY_SHAPES:
        x = T.toy_feature_map("random", c, s, seed)
        assert x.min() >= 0 and x.max() < 1
        if s == 8:
            assert np.all(np.abs(x.mean(axis=(1, 2)) - 0.5) < 0.15)


def test_one_bright_channel_has_the_largest_mean_and_its_gate_never_falls_as_it_brightens():
    for c, s, seed in TOY_SHAPES:
        bright = T.bright_channel(c)
        x = T.toy_feature_map("one bright channel", c, s, seed)
        assert bright == {4: 2, 6: 3, 8: 4}[c]  # "Channel C//2 is bright", worked out for each C
        assert x[bright].min() >= 0.8 and x[bright].max() < 1.0
        others = np.delete(x, bright, axis=0)
        assert others.min() >= 0 and others.max() < 0.2
        assert int(np.argmax(_walk("one bright channel", c, s, seed).squeeze)) == bright
        gates = _gate_as_brightened("one bright channel", c, s, seed, bright, np.linspace(0.0, 3.0, 13))
        assert np.all(np.diff(gates) >= -1e-7), (c, s, seed, gates)


def test_toy_gate_of_any_channel_never_falls_as_its_positive_mean_rises():
    for c, s, seed in TOY_SHAPES:
        for channel in range(c):
            gates = _gate_as_brightened("random", c, s, seed, channel, np.linspace(0.0, 4.0, 9))
            assert np.all(np.diff(gates) >= -1e-7), (c, s, seed, channel)


def test_bright_spot_is_where_q_is_highest_and_barely_moves_the_means():
    for c, s, seed in TOY_SHAPES:
        x = T.toy_feature_map("bright spot", c, s, seed)
        rows, cols = T.bright_spot(s)
        spot = np.zeros((s, s), bool)
        spot[rows, cols] = True
        assert spot.sum() == 4 and (rows.start, cols.start) == {4: (1, 1), 8: (2, 2)}[s]  # size//4, by hand
        base = x - spot[None].astype(np.float32)
        assert base.min() >= 0 and base.max() < 0.1  # a dim map plus exactly +1 on the spot in every channel
        np.testing.assert_allclose(x.mean(axis=(1, 2)) - base.mean(axis=(1, 2)), 4 / s**2, rtol=1e-5)
        q = _walk("bright spot", c, s, seed).q
        assert q[spot].min() > q[~spot].max(), (c, s, seed)


def test_edge_gives_two_levels_of_q_and_a_gate_that_cannot_see_where_the_edge_is():
    for c, s, seed in TOY_SHAPES:
        wt = _walk("edge", c, s, seed)
        assert np.all(wt.q[:, : s // 2] == 0.5) and np.unique(wt.q[:, s // 2 :]).size == 1
        assert wt.q[0, -1] > 0.5
        np.testing.assert_array_equal(wt.squeeze, np.full(c, 0.5, np.float32))
        mirrored = T.walk_through(T.toy_block(c, seed=seed), wt.x[:, :, ::-1].copy())
        np.testing.assert_array_equal(mirrored.w, wt.w)


def test_checkerboard_means_are_zero_so_every_gate_is_one_half():
    for c, s, seed in TOY_SHAPES:
        wt = _walk("checkerboard", c, s, seed)
        contrast = np.abs(wt.x).max(axis=(1, 2))
        np.testing.assert_allclose(contrast, np.arange(1, c + 1) / c, rtol=1e-6)
        np.testing.assert_allclose(wt.squeeze, 0.0, atol=1e-7)
        np.testing.assert_allclose(wt.w, 0.5, atol=1e-7)


def test_all_equal_gives_one_constant_q():
    for c, s, seed in TOY_SHAPES:
        wt = _walk("all equal", c, s, seed)
        assert np.unique(wt.q).size == 1 and np.all(wt.squeeze == 0.5)


def test_toy_block_weights_are_as_its_docstring_says():
    for c in (1, 2, 3, 4, 6, 8):
        for r in (1, 2, 4, 16):
            for seed in (0, 1):
                block = T.toy_block(c, r, seed)
                sd = {k: v.double().numpy() for k, v in block.state_dict().items()}
                w1, w2, v = sd["cSE.1.weight"][:, :, 0, 0], sd["cSE.3.weight"][:, :, 0, 0], sd["sSE.0.weight"].ravel()
                assert w1.shape == (max(c // r, 1), c)
                np.testing.assert_array_equal(w2, w1.T)
                for weights in (w1, v):
                    np.testing.assert_allclose(weights * 10, np.round(weights * 10), atol=1e-5)
                assert all(np.all(sd[k] == 0) for k in ("cSE.1.bias", "cSE.3.bias", "sSE.0.bias"))
                positive = v[:-1] if c >= 3 else v
                assert positive.min() >= 0.2 - 1e-6 and positive.max() <= 1.0 + 1e-6
                if c >= 3:
                    assert v[-1] == -positive.min()
                assert v.sum() > 0
                uniform = T.walk_through(block, np.full((c, 4, 4), 0.7, np.float32))
                assert np.all(uniform.q > 0.5)
                zero = T.walk_through(block, np.zeros((c, 4, 4), np.float32))
                assert np.all(zero.q == 0.5) and np.all(zero.w == 0.5)
    a, b = T.toy_block(6, 2, 0).state_dict(), T.toy_block(6, 2, 0).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["cSE.1.weight"], T.toy_block(6, 2, 1).state_dict()["cSE.1.weight"])


def test_toy_feature_map_refuses_bad_settings():
    with pytest.raises(ValueError, match="preset"):
        T.toy_feature_map("stripes")
    for channels, size in ((0, 8), (4, 3), (4, 7), (4, 34)):
        with pytest.raises(ValueError):
            T.toy_feature_map("random", channels, size)
    with pytest.raises(ValueError, match="brightness"):
        T.toy_feature_map("random", 4, brightness=[1.0, 2.0])
    # every preset the page offers has its claim tested above: a new or renamed one fails here until it has a test
    assert set(T.PRESETS) == {"random", "one bright channel", "bright spot", "edge", "checkerboard", "all equal"}


def test_toy_walk_through_agrees_with_capture():
    block = T.toy_block(6)
    wt = T.walk_through(block, T.toy_feature_map("bright spot", 6))
    differences = T.capture_difference(block, wt)
    # float32 gates in (0, 1) from sums of 6 terms, recomputed in another order: a few ulps (6e-8) at most
    assert set(differences) == {"w", "q"} and max(differences.values()) <= 1e-6


# ------------------------------------------------------------------------------------------ per-class excitation


def test_depths_are_the_first_middle_and_last_blocks_of_the_network():
    stats, names = T.class_excitation(EXCITATION, "cse")
    blocks = [info.name for info in find_attention_blocks(zoo.load_model("fashion", "cse"))]
    assert blocks == [f"stages.{i}.attention" for i in range(6)]
    # six blocks: the first, the lower of the two in the middle (stages.2 of 0..5), the last
    assert {d: s.block for d, s in stats.items()} == {
        "early": "stages.0.attention",
        "middle": "stages.2.attention",
        "late": "stages.5.attention",
    }
    assert len(names) == 10 and names[0] == "T-shirt/top"
    assert T.class_excitation_variants(EXCITATION) == ["cse", "scse"]
    with pytest.raises(ValueError, match="sse"):
        T.class_excitation(EXCITATION, "sse")


def test_depth_blocks_with_fewer_than_three_blocks_lists_each_block_once():
    def stat(name: str) -> ClassExcitation:
        return ClassExcitation(name, np.zeros((2, 3)), np.zeros((2, 3)), np.ones(2))

    assert list(T.depth_blocks([stat("a")])) == ["early"]
    assert {d: s.block for d, s in T.depth_blocks([stat("a"), stat("b")]).items()} == {"early": "a", "late": "b"}
    with pytest.raises(ValueError):
        T.depth_blocks([])


def test_class_spread_is_the_std_across_classes_read_straight_from_the_npz():
    stats, _ = T.class_excitation(EXCITATION, "scse")
    with np.load(EXCITATION) as data:
        for stat in stats.values():
            means = data[f"scse/{stat.block}/mean"].astype(np.float64)  # K×C
            k = means.shape[0]
            expected = np.sqrt(((means - means.sum(axis=0) / k) ** 2).sum(axis=0) / k)
            np.testing.assert_allclose(T.class_spread(stat), expected, rtol=1e-9, atol=1e-12)
            assert T.class_specificity(stat) == pytest.approx(expected.mean())
    titles = [title for title, _ in T.class_excitation_panels(stats)]
    assert [t.split(":")[0] for t in titles] == list(T.DEPTHS) and all("spread" in t for t in titles)


def test_shipped_statistics_show_what_the_explanation_asks_to_look_for():
    """Late blocks more class-specific than early ones, as SE-Net Fig. 6 found (a property of the shipped models)."""
    for variant in ("cse", "scse"):
        stats, _ = T.class_excitation(EXCITATION, variant)
        assert T.class_specificity(stats["late"]) > 10 * T.class_specificity(stats["early"])
        for stat in stats.values():
            assert np.all((stat.mean > 0) & (stat.mean < 1))
