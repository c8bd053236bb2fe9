"""The Teach page under Streamlit's AppTest: real models, numbers checked against what the test computes itself.

Model mode: the gate w and the squeeze means shown equal capture's record and the mean of the feature map a plain
forward pass feeds the block; the sSE weights shown are the block's state_dict. Toy mode: planted maps (all 0.5,
zero-mean checkerboard) give known numbers, and a brightness factor of 2 scales a squeeze mean exactly (a factor of
2 commutes with every float rounding). Cost: the table equals the library's and its parameter column the built
blocks' parameter count. Widget-only changes run no model (a global forward hook counts whole-network passes).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import scse_viz
from scse_viz import capture_attention, find_attention_blocks, samples, zoo
from scse_viz import teaching as T
from scse_viz.blocks import make_attention
from scse_viz.io import load_any
from scse_viz.ui.state import FAMILY

from .app_helpers import chart_rows, counting_forwards, nodes, page, png_bytes, ran

pytestmark = pytest.mark.slow
PAGE = "3_Teach.py"
TOY = "Toy feature map"


def teach(family: str = "fashion"):
    return ran(page(PAGE, **{FAMILY: family}))


def by_label(widgets, label: str):
    matches = [w for w in widgets if w.label == label]
    assert len(matches) == 1, f"{len(matches)} widgets labelled {label!r}"
    return matches[0]


def table_with(at, column: str):
    """The one dataframe shown with ``column`` (as pandas)."""
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(frames) == 1, f"{len(frames)} tables with a column {column!r}"
    return frames[0]


def first_sample_tensor(family: str) -> torch.Tensor:
    sample = samples.list_samples(family)[0]
    pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
    return zoo.family(family).prepare(pixels).tensor


def expected(family: str, variant: str, block: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(feature map entering ``block`` from a plain forward pass, capture's w, the block's state_dict) on sample 0."""
    model = zoo.load_model(family, variant)
    x = first_sample_tensor(family)
    seen = []
    handle = model.get_submodule(block).register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    record = next(r for r in capture_attention(model, x).records if r.info.name == block)
    state = {k: v.numpy() for k, v in model.get_submodule(block).state_dict().items()}
    return seen[0][0].double().numpy(), record.channel_gate[0], state


def assert_gates_shown(at, x: np.ndarray, gate: np.ndarray) -> None:
    table = table_with(at, T.COL_GATE)
    assert table[T.COL_CHANNEL].tolist() == list(range(gate.size))
    np.testing.assert_allclose(table[T.COL_GATE], gate, rtol=0, atol=1e-6)  # capture's w; walk-through float32
    np.testing.assert_allclose(table[T.COL_SQUEEZE], x.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    chart = next(c for c in nodes(at, "vega_lite_chart") if "w" in chart_rows(c)[0])
    shown = {row["channel"]: row["w"] for row in chart_rows(chart)}
    np.testing.assert_allclose([shown[c] for c in range(gate.size)], gate, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------------------ model mode
def test_model_mode_shows_the_numbers_capture_records_for_the_chosen_block():
    at = teach("fashion")
    block = "stages.3.attention"
    at.selectbox(key="teach-block-fashion").set_value(block)
    ran(at)
    x, gate, state = expected("fashion", "scse", block)
    assert_gates_shown(at, x, gate)
    v = table_with(at, T.COL_SSE_WEIGHT)
    np.testing.assert_array_equal(v[T.COL_SSE_WEIGHT][:-1].to_numpy(np.float32), state["sSE.0.weight"].ravel())
    assert v[T.COL_SSE_WEIGHT].iloc[-1] == pytest.approx(float(state["sSE.0.bias"][0]), abs=0)
    hidden = table_with(at, T.COL_HIDDEN)  # ReLU(W1·s + b1) from the state_dict, in float64
    w1, b1 = state["cSE.1.weight"][:, :, 0, 0], state["cSE.1.bias"]
    np.testing.assert_allclose(hidden[T.COL_HIDDEN], np.maximum(w1 @ x.mean(axis=(1, 2)) + b1, 0), atol=1e-5)
    # the gaps to capture the page reports: w's is the table's gate against capture's (to the 2 digits shown), and
    # q's is within the walk-through's tolerance; an sSE map by hand from the state_dict matches capture too
    message = next(s.value for s in at.success if "Largest difference from the gates capture recorded" in s.value)
    gaps = {k: float(v) for k, v in re.findall(r"\b([wq]): ([0-9.e+-]+)", message)}
    assert set(gaps) == {"w", "q"}, message
    table_gap = float(np.abs(table_with(at, T.COL_GATE)[T.COL_GATE].to_numpy() - gate).max())
    assert gaps["w"] == pytest.approx(table_gap, rel=0.051, abs=1e-12), message
    assert 0 <= gaps["q"] <= T.GATE_TOLERANCE
    q = 1 / (1 + np.exp(-(np.tensordot(state["sSE.0.weight"].ravel(), x, axes=1) + state["sSE.0.bias"][0])))
    model = zoo.load_model("fashion", "scse")
    record = next(r for r in capture_attention(model, first_sample_tensor("fashion")).records if r.info.name == block)
    np.testing.assert_allclose(record.spatial_gate[0], q, rtol=0, atol=1e-5)
    # an sSE model has no channel gate to show and nothing to join
    at.selectbox(key="teach-variant").set_value("sse")
    ran(at)
    assert not [d for d in at.dataframe if T.COL_GATE in d.value.columns]
    assert any("Joining needs both branches" in i.value for i in at.info)


def test_brain_default_block_and_widget_changes_run_no_model_again():
    at = teach("brain")
    first = T.teaching_blocks(zoo.load_model("brain", "scse"))[0].name
    assert at.selectbox(key="teach-block-brain").value == first
    x, gate, _ = expected("brain", "scse", first)
    assert_gates_shown(at, x, gate)
    with counting_forwards() as counts:
        at.multiselect[0].set_value([0, 15])
        ran(at)
        by_label(at.selectbox, "Channel").set_value(3)
        ran(at)
        at.number_input(key="cost-c").set_value(128)
        ran(at)
        by_label(at.radio, "Model").set_value("scse")  # the per-class statistics
        ran(at)
        at.radio(key="teach-mode").set_value(TOY)
        ran(at)
        at.radio(key="teach-mode").set_value("A block of a trained model")
        ran(at)
        assert counts["forwards"] == 0
        block = at.selectbox(key="teach-block-brain")
        block.set_value(block.options[-1])
        ran(at)
        assert counts["forwards"] == 1  # a new block is one forward pass ...
        at.selectbox(key="teach-block-brain").set_value(block.options[0])
        ran(at)
        assert counts["forwards"] == 1  # ... and an earlier one is kept


def test_a_bad_upload_shows_one_message_and_keeps_the_walk_through():
    at = teach("fashion")
    before = table_with(at, T.COL_GATE)[T.COL_GATE].tolist()
    by_label(at.sidebar.radio, "Input").set_value("Upload your own")
    ran(at)
    at.sidebar.file_uploader[0].set_value(("broken.png", png_bytes(np.ones((30, 30)))[:40], "image/png"))
    ran(at)
    assert len(at.sidebar.error) == 1 and len(at.error) == 1  # the sidebar's message, nothing else
    assert table_with(at, T.COL_GATE)[T.COL_GATE].tolist() == before


# ------------------------------------------------------------------------------------------------------ toy mode
def toy(preset: str):
    return ran(page(PAGE, **{FAMILY: "fashion", "teach-mode": TOY, "toy-preset": preset}))


def test_toy_brightness_scales_that_channels_squeeze_by_exactly_the_factor():
    at = toy("random")
    before = table_with(at, T.COL_SQUEEZE)[T.COL_SQUEEZE].to_numpy()
    at.slider(key="toy-bright-2").set_value(2.0)
    ran(at)
    after = table_with(at, T.COL_SQUEEZE)[T.COL_SQUEEZE].to_numpy()
    assert after[2] == 2.0 * before[2]
    np.testing.assert_array_equal(np.delete(after, 2), np.delete(before, 2))


def test_toy_planted_maps_give_known_numbers():
    at = toy("all equal")  # every value 0.5, so s_c = 0.5 × brightness_c
    at.slider(key="toy-bright-4").set_value(0.3)
    ran(at)
    squeeze = table_with(at, T.COL_SQUEEZE)[T.COL_SQUEEZE].to_numpy()
    np.testing.assert_allclose(squeeze, [0.5, 0.5, 0.5, 0.5, 0.15, 0.5], rtol=1e-6)
    at.selectbox(key="toy-preset").set_value("checkerboard")  # ±a_c: every mean is 0, so h = 0 and w = σ(0)
    ran(at)
    table = table_with(at, T.COL_GATE)
    np.testing.assert_allclose(table[T.COL_SQUEEZE], 0.0, atol=1e-7)
    np.testing.assert_allclose(table[T.COL_GATE], 0.5, atol=1e-7)
    weights = table_with(at, "b1")  # the toy block's W1, shown: multiples of 0.1
    w1 = weights.drop(columns=[T.COL_UNIT, "b1"]).to_numpy()
    np.testing.assert_allclose(w1 * 10, np.round(w1 * 10), atol=1e-5)


# ------------------------------------------------------------------------------------------------------ sections
def test_cost_table_equals_the_library_and_the_built_blocks():
    at = teach("fashion")
    for key, value in zip(("cost-c", "cost-h", "cost-w", "cost-r"), (48, 20, 30, 8)):
        at.number_input(key=key).set_value(value)
    ran(at)
    shown = table_with(at, T.COST_NOT_COUNTED)
    rows = T.cost_table(48, 20, 30, 8)
    assert shown[T.COST_MODULE].tolist() == [r[T.COST_MODULE] for r in rows]
    for column in (T.COST_PARAMS, T.COST_MACS, T.COST_PARAMS_VS_UNET, T.COST_MACS_VS_CONV):
        np.testing.assert_array_equal(shown[column][:3].to_numpy(float), [r[column] for r in rows[:3]])
    built = [sum(p.numel() for p in make_attention(kind, 48, 8).parameters()) for kind in ("cse", "sse", "scse")]
    assert shown[T.COST_PARAMS][:3].tolist() == built
    # the button copies the shape of the block walked through (fashion scSE, first block, on sample 0)
    next(b for b in at.button if b.label.startswith("Use the block walked through")).click()
    ran(at)
    model = zoo.load_model("fashion", "scse")
    info = find_attention_blocks(model)[0]
    record = capture_attention(model, first_sample_tensor("fashion")).records[0]
    shape = (info.channels, *record.feature_size, info.channels // info.hidden)
    assert tuple(at.number_input(key=k).value for k in ("cost-c", "cost-h", "cost-w", "cost-r")) == shape


def test_per_class_section_shows_an_early_a_middle_and_the_last_block():
    at = teach("brain")  # the statistics are the classifier family's, whatever family is chosen
    names = [info.name for info in find_attention_blocks(zoo.load_model("fashion", "cse"))]
    assert names == [f"stages.{i}.attention" for i in range(6)]
    stats = np.load(zoo.family("fashion").excitation_file)
    for variant in ("cse", "scse"):
        by_label(at.radio, "Model").set_value(variant)
        ran(at)
        table = table_with(at, T.COL_SPREAD)
        assert table[T.COL_DEPTH].tolist() == ["early", "middle", "late"]
        # of six blocks: the first, the lower of the two middle ones, the last
        assert table[T.COL_BLOCK].tolist() == ["stages.0.attention", "stages.2.attention", "stages.5.attention"]
        for block, spread in zip(table[T.COL_BLOCK], table[T.COL_SPREAD]):
            means = stats[f"{variant}/{block}/mean"][stats["count"] > 0]
            assert spread == pytest.approx(means.astype(np.float64).std(axis=0).mean(), rel=1e-12)
    assert any(T.PER_CLASS_EXPLANATION in m.value for m in at.markdown)


# ------------------------------------------------------------------------------------------------------ helpers
def test_join_table_reads_each_join_of_one_channel_against_the_sum():
    x = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3) - 4.0
    w, q = np.array([0.5, 0.25], np.float32), np.full((2, 3), 0.5, np.float32)
    rows = T.join_table(T.join_alternatives(x, w, q), channel=1)
    by_join = {r[T.COL_JOIN]: r for r in rows}
    ours = x[1] * 0.25 + x[1] * 0.5  # channel 1 holds 2..7; our blocks join by the sum x·w + x·q
    # the one row marked as our models' join holds the numbers of the sum (worked out by hand) and is 0 from ours
    (marked,) = [r for r in rows if r[T.COL_JOIN_ROLE] == T.ROLE_OURS]
    assert (marked[T.COL_JOIN_MIN], marked[T.COL_JOIN_MAX], marked[T.COL_JOIN_FROM_OURS]) == (1.5, 5.25, 0.0)
    assert len(rows) == 4 and all(r[T.COL_JOIN_ROLE] == T.ROLE_ALTERNATIVE for r in rows if r is not marked)
    assert (by_join[T.JOIN_SUM][T.COL_JOIN_MIN], by_join[T.JOIN_SUM][T.COL_JOIN_MAX]) == (1.5, 5.25)
    assert by_join[T.JOIN_SUM][T.COL_JOIN_MEAN] == pytest.approx(ours.mean())
    assert by_join[T.JOIN_MAX][T.COL_JOIN_FROM_OURS] == pytest.approx(np.abs(x[1] * 0.5 - ours).max())
    assert by_join[T.JOIN_PRODUCT][T.COL_JOIN_MAX] == pytest.approx(7 * 0.25 * 7 * 0.5)
    with pytest.raises(ValueError):
        T.join_table(T.join_alternatives(x, w, q), channel=2)


def test_depth_table_lists_each_depth_with_its_block_and_spread():
    rng = np.random.default_rng(3)
    stats = [
        scse_viz.excitation.ClassExcitation(
            f"b{i}", rng.uniform(0, 1, (3, 4 + i)), np.zeros((3, 4 + i)), np.array([5, 0, 7])
        )
        for i in range(5)
    ]
    rows = T.depth_table(T.depth_blocks(stats))
    assert [(r[T.COL_DEPTH], r[T.COL_BLOCK], r[T.COL_CHANNELS]) for r in rows] == [
        ("early", "b0", 4),
        ("middle", "b2", 6),
        ("late", "b4", 8),
    ]
    assert rows[1][T.COL_SPREAD] == pytest.approx(stats[2].mean[[0, 2]].std(axis=0).mean())  # class 1 has no images
