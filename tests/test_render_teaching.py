"""The teaching figures: what each one draws, read back from its artists (data, limits, titles, axes)."""

from __future__ import annotations

import numpy as np
import pytest

from scse_viz.render import (
    channel_maps_figure,
    class_excitation_figure,
    figure_bytes,
    gain_figure,
    join_comparison_figure,
    sse_map_figure,
    value_map_figure,
    vector_figure,
)
from scse_viz.render import teaching as teaching_mod

RNG = np.random.default_rng(7)


def _dashed_levels(ax) -> list[float]:
    return [float(line.get_ydata()[0]) for line in ax.lines if line.get_linestyle() == "--"]


def test_vector_figure_draws_one_bar_per_value_with_its_number_and_the_reference():
    values = np.array([0.2, -0.4, 1.3, 0.0, 0.7])
    fig = vector_figure(values, title="squeeze s", reference=0.5, reference_label="σ(0)")
    (ax,) = fig.axes
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, values)
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in values]
    assert _dashed_levels(ax) == [0.5]
    lo, hi = ax.get_ylim()
    assert lo < -0.4 and hi > 1.3 and ax.get_title() == "squeeze s"
    colours = {tuple(np.round(p.get_facecolor(), 3)) for p in ax.patches}
    assert len(colours) == 2  # positive and negative bars differ


def test_vector_figure_stays_readable_for_a_256_channel_block():
    values = RNG.uniform(0, 2, 256)
    fig = vector_figure(values, title="squeeze s")
    (ax,) = fig.axes
    assert len(ax.patches) == 256 and not ax.texts  # no 256 overlapping numbers
    assert fig.get_figwidth() <= teaching_mod.MAX_WIDTH
    assert len(ax.get_xticks()) <= teaching_mod.LABELLED_BARS
    with pytest.raises(ValueError):
        vector_figure(values, title="x", labels=["a"])


def test_channel_maps_share_one_scale_and_show_the_chosen_channels():
    x = RNG.uniform(0.0, 1.0, (6, 5, 5))
    scaled = x * 0.3
    fig = channel_maps_figure([("x", x), ("x·w", scaled)], [1, 4])
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 4 and len(fig.axes) == 5  # 2 rows × 2 channels + one colorbar
    np.testing.assert_array_equal(maps[0].images[0].get_array(), x[1])
    np.testing.assert_array_equal(maps[3].images[0].get_array(), scaled[4])
    shown = np.concatenate([x[[1, 4]], scaled[[1, 4]]])  # every cell on one scale spanning both rows
    assert {im.get_clim() for ax in maps for im in ax.images} == {(float(shown.min()), float(shown.max()))}
    assert [ax.get_title() for ax in maps[:2]] == ["channel 1", "channel 4"]
    with pytest.raises(ValueError):
        channel_maps_figure([("x", x)], [6])


def test_signed_maps_get_a_symmetric_diverging_scale():
    m = np.array([[-2.0, 0.5], [1.0, 0.0]])
    fig = value_map_figure(m, title="sSE logits", label="logit")
    im = fig.axes[0].images[0]
    assert im.get_clim() == (-2.0, 2.0) and im.get_cmap().name == teaching_mod.SIGNED_CMAP
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(f"{v:.2f}" for v in m.ravel())


def test_sse_map_is_on_the_gate_range_with_every_value_printed():
    q = RNG.uniform(0.1, 0.9, (8, 8))
    fig = sse_map_figure(q)
    im = fig.axes[0].images[0]
    assert im.get_clim() == (0.0, 1.0)
    np.testing.assert_array_equal(im.get_array(), q)
    assert len(fig.axes[0].texts) == 64 and fig.axes[0].get_title() == "sSE gate q"
    assert not sse_map_figure(RNG.uniform(0, 1, (20, 20))).axes[0].texts  # too many cells to print


def test_gain_figure_is_centred_on_one_over_the_fixed_range_zero_to_two():
    gain = RNG.uniform(0.2, 1.8, (4, 3, 3))
    fig = gain_figure(gain, [0, 2])
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 2
    assert all(ax.images[0].get_clim() == teaching_mod.GAIN_RANGE for ax in maps)
    np.testing.assert_array_equal(maps[1].images[0].get_array(), gain[2])
    assert "boosted" in fig._suptitle.get_text()


def test_join_comparison_labels_ours_and_the_alternatives():
    joins = {name: RNG.normal(size=(3, 4, 4)) for name in ("sum", "max", "product")}
    fig = join_comparison_figure(joins, channel=2, ours="sum")
    maps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in maps] == ["sum\n(our models)", "max\n(alternative)", "product\n(alternative)"]
    for ax, m in zip(maps, joins.values()):
        np.testing.assert_array_equal(ax.images[0].get_array(), m[2])
    assert len({ax.images[0].get_clim() for ax in maps}) == 1


def test_class_excitation_figure_draws_one_line_per_class_on_the_gate_axis():
    names = [f"class {k}" for k in range(10)]
    panels = [("early", RNG.uniform(0.3, 0.7, (10, 16))), ("late", RNG.uniform(0.2, 0.9, (10, 64)))]
    panels[1][1][3] = np.nan  # a class without images: skipped, not drawn as a broken line
    fig = class_excitation_figure(panels, names, title="per class")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["early", "late"]
    for ax, (_, means), classes in zip(axes, panels, (10, 9)):
        lines = [line for line in ax.lines if line.get_linestyle() != "--"]
        assert len(lines) == classes
        assert ax.get_ylim() == (0.0, 1.0) and _dashed_levels(ax) == [0.5]
        assert ax.get_xlim() == (-0.5, means.shape[1] - 0.5)
        np.testing.assert_array_equal(lines[0].get_ydata(), means[0])
        assert len({line.get_color() for line in lines}) == classes
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == names
    assert figure_bytes(fig)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="10 classes"):
        class_excitation_figure([("bad", np.zeros((3, 4)))], names)
