"""The Teach page's sections on the toy block: every number shown worked out here from the block's own weights
(float64 numpy, not the walk-through's code), and the figures read back from their artists."""

from __future__ import annotations

import numpy as np
import pytest

import scse_viz  # noqa: F401
from scse_viz import teaching
from scse_viz.blocks import make_attention
from scse_viz.views import Caption, Charts, Columns, Fold, Formula, Heading, Notice, Plot, Table, Text
from scse_viz.views import teaching as views

KEY = ("toy", "random", 6)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def by_hand(block, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every step of the scSE block from its state_dict, in float64."""
    state = {k: v.double().numpy() for k, v in block.state_dict().items()}
    squeeze = x.mean(axis=(1, 2))
    hidden_pre = state["cSE.1.weight"][:, :, 0, 0] @ squeeze + state["cSE.1.bias"]
    w = sigmoid(state["cSE.3.weight"][:, :, 0, 0] @ np.maximum(hidden_pre, 0) + state["cSE.3.bias"])
    q = sigmoid(np.tensordot(state["sSE.0.weight"][0, :, 0, 0], x, axes=1) + state["sSE.0.bias"][0])
    return {"squeeze": squeeze, "hidden_pre": hidden_pre, "w": w, "q": q}


@pytest.fixture(scope="module")
def toy():
    block = teaching.toy_block(6, 2)
    x = teaching.toy_feature_map("random", 6, 8, 0, (1.0, 0.5, 1.0, 2.0, 1.0, 1.0))
    return teaching.walk_through(block, x), by_hand(block, x.astype(np.float64))


def flatten(sections):
    """Sections inside columns and folds too, in page order."""
    for section in sections:
        if isinstance(section, Columns):
            for part in section.parts:
                yield from flatten(part)
        elif isinstance(section, Fold):
            yield from flatten(section.sections)
        else:
            yield section


def table_with(sections, column: str) -> list[dict]:
    (table,) = [s for s in flatten(sections) if isinstance(s, Table) and s.rows and column in s.rows[0]]
    return list(table.rows)


def test_the_walk_shows_the_numbers_of_the_blocks_weights(toy):
    steps, expected = toy
    sections = views.walk_sections(steps, KEY, [3, 0])
    gates = table_with(sections, teaching.COL_GATE)
    np.testing.assert_allclose([r[teaching.COL_GATE] for r in gates], expected["w"], atol=1e-6)
    np.testing.assert_allclose([r[teaching.COL_SQUEEZE] for r in gates], expected["squeeze"], atol=1e-6)
    hidden = table_with(sections, teaching.COL_HIDDEN)
    np.testing.assert_allclose([r[teaching.COL_HIDDEN_PRE] for r in hidden], expected["hidden_pre"], atol=1e-6)
    np.testing.assert_allclose(
        [r[teaching.COL_HIDDEN] for r in hidden], np.maximum(expected["hidden_pre"], 0), atol=1e-6
    )
    active = int((expected["hidden_pre"] > 0).sum())
    assert any(isinstance(s, Caption) and f"{active} of 3 pass on" in s.text for s in flatten(sections))
    chart = next(s for s in flatten(sections) if isinstance(s, Charts)).specs[0]
    bars = {row["channel"]: row["w"] for row in chart["data"]["values"]}
    np.testing.assert_allclose([bars[c] for c in range(6)], expected["w"], atol=1e-6)
    q = expected["q"]
    text = next(s.text for s in flatten(sections) if isinstance(s, Text) and s.text.startswith("q lies between"))
    assert f"**{q.min():.3f}** and **{q.max():.3f}** on this 8×8 map" in text
    headings = [s.text for s in sections if isinstance(s, Heading) and s.level == 2]
    assert headings == [
        "cSE: squeeze the space, excite the channels",
        "sSE: squeeze the channels, excite the pixels",
        "scSE: both recalibrations, summed",
    ]
    assert sum(isinstance(s, Formula) for s in sections) == 8  # squeeze, 2 excitations, 3 scalings, sSE, gain


def test_the_gain_plot_draws_w_plus_q_of_the_picked_channels(toy):
    steps, expected = toy
    plots = {s.key: s for s in flatten(views.walk_sections(steps, KEY, [3, 0])) if isinstance(s, Plot)}
    gain = plots[("teach", *KEY, "gain", 0, 3)]  # picked channels in channel order
    figure = gain.make()
    for axes, channel in zip(figure.axes, (0, 3)):
        assert axes.get_title() == f"channel {channel}"
        drawn = np.asarray(axes.images[0].get_array())
        np.testing.assert_allclose(drawn, expected["w"][channel] + expected["q"], atol=1e-6)
    assert ("teach", *KEY, "cse-scale", 0, 3) in plots and ("teach", *KEY, "scse", 0, 3) in plots


def test_no_channel_picked_asks_for_one_instead_of_the_before_and_after(toy):
    steps, _ = toy
    sections = list(flatten(views.walk_sections(steps, KEY, [])))
    assert [s.text for s in sections if isinstance(s, Notice)] == [views.PICK_A_CHANNEL] * 3
    assert not [s for s in sections if isinstance(s, Plot) and "gain" in s.key]
    unfolded = views.walk_sections(steps, KEY, [], weights_open=True)
    folds = [s for s in flatten_top(unfolded) if isinstance(s, Fold)]
    assert len(folds) == 3 and all(f.expanded for f in folds)


def flatten_top(sections):
    for section in sections:
        yield section
        if isinstance(section, Columns):
            for part in section.parts:
                yield from flatten_top(part)


def test_a_block_without_a_channel_gate_has_no_cse_steps_and_nothing_to_join():
    block = make_attention("sse", 6, 2)
    x = teaching.toy_feature_map("random", 6, 8, 0, (1.0,) * 6)
    steps = teaching.walk_through(block, x)
    sections = views.walk_sections(steps, KEY, [1])
    assert [s.text for s in sections if isinstance(s, Heading) and s.level == 2] == [
        "sSE: squeeze the channels, excite the pixels"
    ]
    assert not views.has_joins(steps)
    (notice,) = views.join_intro(steps)
    assert isinstance(notice, Notice) and "needs both branches" in notice.text


def test_each_join_of_the_chosen_channel_is_drawn(toy):
    steps, expected = toy
    x = steps.x.astype(np.float64)
    joins = teaching.join_alternatives(steps.x, steps.w, steps.q)
    plot, table = views.join_sections(joins, 2, KEY)
    assert plot.key == ("teach", *KEY, "joins", 2) and len(table.rows) == 4
    panels = {axes.get_title(): np.asarray(axes.images[0].get_array()) for axes in plot.make().axes if axes.images}
    ours = next(array for title, array in panels.items() if "sum" in title)
    np.testing.assert_allclose(ours, x[2] * expected["w"][2] + x[2] * expected["q"], atol=1e-5)
    intro = views.join_intro(steps)
    assert sum(isinstance(s, Columns) for s in intro) == 2


def test_cost_sections_show_the_table_with_its_formats_and_the_models_share():
    rows = teaching.cost_table(48, 20, 30, 8)
    table, notes, share = views.cost_sections(rows, (1_234, 98_765))
    assert list(table.rows) == rows and dict(table.columns)[teaching.COST_PARAMS].format == "localized"
    assert dict(table.columns)[teaching.COST_MACS_VS_CONV].format == "%.2f %%"
    assert notes.text == teaching.COST_NOTES
    assert "**1,234 of 98,765 parameters (1.25 %)**" in share.text  # 1234 / 98765 = 1.2494 %
    assert len(views.cost_sections(rows, None)) == 2
