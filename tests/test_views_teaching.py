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


# ------------------------------------------------------------------------------------------------ the model's block
def test_the_model_intro_states_the_blocks_shape_stride_and_bottleneck_as_the_model_has_them():
    """The sentence on a trained block against the model read here: the feature map a forward pre-hook sees, the
    stride from the input's side, C′ from the block's first 1×1 convolution; the gaps against max |w − w| and
    max |q − q| of the walk and capture's record, taken with numpy; the picture is the input's pixels as grey RGB."""
    import re

    import torch

    from scse_viz import samples, zoo
    from scse_viz.io import load_any
    from scse_viz.views import Note, Tiles

    family, block = zoo.family("fashion"), "stages.3.attention"
    model = zoo.load_model("fashion", "scse")
    sample = samples.list_samples("fashion")[0]
    pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
    x = family.prepare(pixels).tensor
    seen = []
    handle = model.get_submodule(block).register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    _, channels, height, width = seen[0]
    first = next(m for m in model.get_submodule(block).modules() if isinstance(m, torch.nn.Conv2d))
    hidden = first.out_channels
    walked = teaching.walk_through_model(model, x, block)

    (columns,) = views.model_intro(walked, pixels, "scSE", block, "a coat.png")
    (picture,), (sentence, checked) = columns.parts
    assert columns.widths == (1, 3)
    assert isinstance(picture, Tiles) and picture.width == views.SEEN_WIDTH
    ((caption, rgb),) = picture.items
    assert caption == "what the model sees"
    np.testing.assert_array_equal(rgb, np.repeat(np.asarray(pixels, np.float32)[..., None], 3, axis=2))
    stride = x.shape[-1] / width
    assert sentence.text == (
        f"**scSE model · {block}** on *a coat.png*. x is the feature map the network feeds this block: "
        f"**{channels} channels of {height}×{width}** (stride {stride:g}); its cSE bottleneck has "
        f"C′ = {hidden} units (r = {channels // hidden})."
    )
    assert views.model_shape(walked) == (channels, height, width, channels // hidden)
    assert isinstance(checked, Note) and checked.level == "success"
    gaps = {k: float(v) for k, v in re.findall(r"\b([wq]): ([0-9.e+-]+)", checked.text)}
    record = walked.record
    w_gap = np.abs(walked.walk.w.astype(np.float64) - record.channel_gate[0]).max()
    q_gap = np.abs(walked.walk.q.astype(np.float64) - record.spatial_gate[0]).max()
    assert gaps == pytest.approx({"w": w_gap, "q": q_gap}, rel=0.051, abs=1e-12)  # printed with 2 digits
    assert f"at most {teaching.GATE_TOLERANCE:g} is accepted" in checked.text


def test_a_block_without_a_cse_bottleneck_has_no_r_and_no_bottleneck_sentence():
    import torch

    from scse_viz import zoo

    model = zoo.load_model("fashion", "sse")
    x = torch.from_numpy(np.random.default_rng(1).random((1, 1, 28, 28)).astype(np.float32))
    walked = teaching.walk_through_model(model, x, "stages.0.attention")
    assert views.model_shape(walked)[3] is None
    (columns,) = views.model_intro(walked, x[0, 0].numpy(), "sSE", "stages.0.attention", "noise")
    assert "bottleneck" not in columns.parts[1][0].text


# ------------------------------------------------------------------------------------------------------ per class
CLASS_LABELS = np.array([0, 0, 0, 1, 1, 3, 3, 3, 3])  # class 2 has no image: its row is NaN and left out


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Per-class statistics of the classifier's cSE model on nine noise images with planted labels, written in the
    shipped file's layout from class means taken here with numpy over capture's gates; and those means per block."""
    import torch

    from scse_viz import capture_attention, zoo

    family = zoo.family("fashion")
    model = zoo.load_model("fashion", "cse")
    pictures = np.random.default_rng(7).random((len(CLASS_LABELS), 28, 28)).astype(np.float32)
    x = torch.cat([family.prepare(p).tensor for p in pictures])
    gates = {r.label: r.channel_gate.astype(np.float64) for r in capture_attention(model, x).shown()}
    names = ("a", "b", "c", "d")
    means = {
        block: np.stack(
            [
                g[CLASS_LABELS == k].mean(axis=0) if (CLASS_LABELS == k).any() else np.full(g.shape[1], np.nan)
                for k in range(len(names))
            ]
        )
        for block, g in gates.items()
    }
    arrays = {"class_names": np.asarray(names), "count": np.bincount(CLASS_LABELS, minlength=len(names))}
    arrays["cse/blocks"] = np.asarray(list(gates))
    for block, mean in means.items():
        arrays[f"cse/{block}/mean"] = mean.astype(np.float32)
        arrays[f"cse/{block}/std"] = np.zeros_like(mean, np.float32)
    path = tmp_path_factory.mktemp("excitation") / "excitation.npz"
    np.savez(path, **arrays)
    return family, path, means, names


def test_the_per_class_section_shows_the_class_means_at_three_depths(measured):
    """Table and figure against the class means taken with numpy: the first, the lower middle and the last block,
    each block's spread the std across the classes with images averaged over channels, one line per such class."""
    from dataclasses import dataclass
    from pathlib import Path

    from scse_viz.family import Family

    base, path, means, names = measured

    @dataclass(frozen=True, eq=False)
    class Measured(Family):
        statistics: Path | None = None

        @property
        def excitation_file(self) -> Path | None:
            return self.statistics

    family = Measured(**{f: getattr(base, f) for f in Family.__dataclass_fields__}, statistics=path)
    assert views.class_variants(family) == ["cse"]
    blocks = list(means)
    chosen = [blocks[0], blocks[(len(blocks) - 1) // 2], blocks[-1]]
    sections = views.class_sections(views.class_statistics(family, "cse"), ("measured", "cse"))
    text, table, plot = sections
    assert text.text == f"**What to look for.** {teaching.PER_CLASS_EXPLANATION}"
    assert [r[teaching.COL_DEPTH] for r in table.rows] == ["early", "middle", "late"]
    assert [r[teaching.COL_BLOCK] for r in table.rows] == chosen
    present = [k for k in range(len(names)) if (CLASS_LABELS == k).any()]
    for row, block in zip(table.rows, chosen):
        assert row[teaching.COL_CHANNELS] == means[block].shape[1]
        stored = means[block][present].astype(np.float32).astype(np.float64)  # the file holds float32 means
        assert row[teaching.COL_SPREAD] == pytest.approx(stored.std(axis=0).mean(), rel=1e-9)
    assert plot.key == ("teach", "measured", "cse", "per-class") and plot.caption == views.PER_CLASS_CAPTION
    figure = plot.make()
    for axes, block in zip(figure.axes, chosen):
        assert block in axes.get_title()
        lines = {line.get_label(): line.get_ydata() for line in axes.lines if line.get_label() in names}
        assert sorted(lines) == [names[k] for k in present]
        for k in present:
            np.testing.assert_allclose(lines[names[k]], means[block][k], atol=1e-6)


def test_the_per_class_intro_names_the_family_or_says_none_ships():
    from scse_viz import zoo
    from scse_viz.views import Note

    shipped = views.class_families()
    assert shipped == [f for f in zoo.list_families() if (f.folder / "excitation.npz").is_file()] and shipped
    (intro,) = views.class_intro(shipped[0])
    assert isinstance(intro, Text) and intro.text.startswith(f"{shipped[0].title}: the channel gate w averaged")
    (missing,) = views.class_intro(None)
    assert isinstance(missing, Note) and missing.level == "warning" and missing.text == views.NO_CLASS_STATISTICS
