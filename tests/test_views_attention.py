"""The Attention, Knock-out, Compare and Export tabs' views on a real brain run: every number and map checked
against the captured records, worked through by hand here (torch's own interpolation for the geometry), and the
export's figures against the tab's pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib import colormaps
from torch.nn import functional as F

import scse_viz  # noqa: F401
from scse_viz import explore, zoo
from scse_viz.capture import BlockInfo, BlockRecord
from scse_viz.datasets.brain import brain_slice
from scse_viz.views import Caption, Charts, Pictures, Tiles
from scse_viz.views import attention as views

from .test_explore import loaded, torch_to_source


@pytest.fixture(scope="module")
def run() -> explore.FamilyRun:
    models = {v: zoo.load_model("brain", v) for v in zoo.family("brain").variants}
    item = brain_slice("coronal", 120)  # 189×197: not square, so the padding's inverse is exercised
    return explore.run_family(zoo.family("brain"), models, explore.input_from_image(loaded(item.pixels)))


def on_picture(run: explore.FamilyRun, plane: np.ndarray) -> np.ndarray:
    """A map on a block's grid onto the displayed picture, written out with torch: bilinear by the block's stride
    onto the model input (the brain's feature maps divide it exactly), then the pad-and-resize undone."""
    grid = run.prepared.grid
    model_input = F.interpolate(torch.from_numpy(plane[None, None].astype(np.float64)), size=grid, mode="bilinear")
    return torch_to_source(model_input[0].numpy(), run.image.size)[0]


def blend(run: explore.FamilyRun, values: np.ndarray, cmap: str, alpha: float, vmin: float, vmax: float):
    """The tab's picture by hand: the colormap's colour blended over the gray picture, rounded to bytes."""
    base = run.image.gray().astype(np.float32)[..., None]
    colour = colormaps[cmap](np.clip((values - vmin) / (vmax - vmin), 0, 1))[..., :3].astype(np.float32)
    return np.round(np.clip((1 - alpha) * base + alpha * colour, 0, 1) * 255).astype(np.uint8)


def figure_map(make) -> np.ndarray:
    """The map an exported figure draws over the picture (images[0] is the picture itself)."""
    return np.asarray(make().axes[0].images[1].get_array())


def choice(run, **changes) -> views.AttentionChoice:
    record = next(r for r in run.outputs["scse"].shown() if r.stride[0] == 4)
    settings = {"variant": "scse", "block": record.label, "order": "sorted", "top_k": 0, "cmap": "magma", "alpha": 0.6}
    return views.AttentionChoice(**{**settings, **changes})


def test_the_gain_shown_is_w_plus_q_minus_1_of_the_captured_gates(run):
    for channel in (views.MEAN_OVER_CHANNELS, 3):
        chosen = choice(run, channel=channel)
        record = run.outputs["scse"].record(chosen.block)
        w, q = record.channel_gate[0].astype(np.float64), record.spatial_gate[0].astype(np.float64)
        wc = w.mean() if channel == views.MEAN_OVER_CHANNELS else w[channel]
        by_hand = on_picture(run, wc + q) - 1.0
        (picture, scale) = views.gain_sections(run, chosen)
        drawn = dict(views.export_figures(run, chosen))[f"effective gain — scSE {chosen.block}"]
        exported = figure_map(drawn)
        np.testing.assert_allclose(exported, by_hand, atol=1e-5)  # the geometry maps back in float32
        (caption, rgb), *_ = picture.items
        # the picture is the by-hand map's colours (rounding at .5), up to one colormap step where the float32 map
        # lies within its 1e-5 of a step's edge: the colours of by_hand nudged by ±1e-5 bound it
        nudged = [blend(run, by_hand + d, "RdBu_r", 0.6, -1, 1).astype(int) for d in (-1e-5, 0.0, 1e-5)]
        assert np.min([np.abs(rgb.astype(int) - n) for n in nudged], axis=0).max() <= 1
        # the export draws the tab's very map: blending the figure's array gives the tab's picture to the byte
        np.testing.assert_array_equal(rgb, blend(run, exported, "RdBu_r", 0.6, -1, 1))
        which = "the mean w" if channel == views.MEAN_OVER_CHANNELS else "3"
        assert caption == f"w_c + q_ij − 1 for {which} on [−1, 1]"
        assert ("mean over 64 channels" if channel == views.MEAN_OVER_CHANNELS else "channel 3") in (
            drawn().axes[1].get_ylabel()
        )
        assert (scale.vmin, scale.vmax) == (-1.0, 1.0)


def test_the_block_shows_its_gate_and_map_and_the_export_the_same(run):
    chosen = choice(run)
    record = run.outputs["scse"].record(chosen.block)
    by_hand = on_picture(run, record.spatial_gate[0].astype(np.float64))
    sections = views.block_sections(run, chosen)
    text, chart, pictures = sections[0], sections[1], sections[2]
    assert f"{record.channels} channels" in text.text and "joined by sum" in text.text
    assert isinstance(chart, Charts)
    bars = {row["channel"]: row["w"] for row in chart.specs[0]["data"]["values"]}
    assert bars == {c: pytest.approx(float(w)) for c, w in enumerate(record.channel_gate[0])}
    (caption, rgb), *_ = pictures.items
    assert f"min {by_hand.min():.3f}, max {by_hand.max():.3f}" in caption
    exported = figure_map(dict(views.export_figures(run, chosen))[f"sSE map — scSE {chosen.block}"])
    np.testing.assert_allclose(exported, by_hand, atol=1e-5)  # the geometry maps back in float32
    np.testing.assert_array_equal(rgb, blend(run, exported, "magma", 0.6, 0, 1))
    assert sections[-1].text == views.GAIN_INTRO  # scSE sums its branches: the gain follows


def test_every_map_tiles_are_the_exported_grid(run):
    chosen = choice(run, cmap="viridis", alpha=0.3)
    spatial = [r for r in run.outputs["scse"].shown() if r.spatial_gate is not None]
    heading, tiles, scale = views.every_map_sections(run, chosen)
    assert heading.text == "Every block's sSE map — scSE"
    assert isinstance(tiles, Tiles) and len(tiles.items) == len(spatial) and scale.cmap == "viridis"
    figure = dict(views.export_figures(run, chosen))["every sSE map — scSE"]()
    cells = [ax for ax in figure.axes if ax.images]
    for (caption, rgb), cell, record in zip(tiles.items, cells, spatial):
        assert caption == cell.get_title() == f"{record.label} (stride {record.stride[0]:g})"
        drawn = np.asarray(cell.images[1].get_array())
        np.testing.assert_allclose(
            drawn, on_picture(run, record.spatial_gate[0].astype(np.float64)), atol=1e-5
        )  # the geometry maps back in float32
        np.testing.assert_array_equal(rgb, blend(run, drawn, "viridis", 0.3, 0, 1))


def test_a_model_without_spatial_gates_offers_only_its_channel_figures(run):
    record = run.outputs["cse"].shown()[0]
    chosen = choice(run, variant="cse", block=record.label)
    titles = [title for title, _ in views.export_figures(run, chosen)]
    assert f"cSE gate — cSE {record.label}" in titles
    assert not [t for t in titles if "sSE" in t or "gain" in t]
    assert views.every_map_sections(run, chosen) == []
    assert views.gain_channels(record) == []
    assert views.knockout_branches(run.outputs["cse"]) == ["cse"]
    assert views.knockout_branches(run.outputs["sse"]) == ["sse"]
    assert views.attention_variants(run) == ["cse", "sse", "scse"]  # the baseline has no gates
    assert views.channel_gate_variants(run) == ["cse", "scse"]


def test_only_a_block_that_sums_its_branches_has_a_gain():
    info = BlockInfo("enc.attention", "scse", "test", 2, 1, True)
    gates = {"channel_gate": np.ones((1, 2), np.float32), "spatial_gate": np.ones((1, 2, 2), np.float32)}
    summed = BlockRecord(info=info, ran=True, join="sum", **gates)
    assert views.gain_channels(summed) == [views.MEAN_OVER_CHANNELS, 0, 1]
    for join in ("max", "sequential"):
        assert views.gain_channels(BlockRecord(info=info, ran=True, join=join, **gates)) == []


def test_a_knockout_of_a_second_call_replaces_that_module():
    info = BlockInfo("enc.attention", "sse", "test", 2, None, True)
    records = tuple(BlockRecord(info=info, call=c, ran=True, spatial_gate=np.ones((1, 2, 2))) for c in (0, 1))
    output = explore.ModelOutput("sse", "sSE", None, records)  # type: ignore[arg-type]
    assert views.knockout_scopes(output) == [views.ALL_BLOCKS, "enc.attention", "enc.attention (call 2)"]
    knockout = views.knockout_of(output, "sse", 0.0, "enc.attention (call 2)")
    assert (knockout.branch, knockout.value, knockout.blocks) == ("sse", 0.0, ("enc.attention",))
    assert views.knockout_of(output, "sse", 1.0, views.ALL_BLOCKS).blocks is None
    assert views.knockout_setting("sse", 0.0, "enc.attention") == "SSE gate = 0 in enc.attention"


def test_two_images_gates_compared_by_hand(run):
    models = {"scse": zoo.load_model("brain", "scse")}
    item = brain_slice("axial", 70)
    other = explore.run_family(zoo.family("brain"), models, explore.input_from_image(loaded(item.pixels, "b.png")))
    block = views.channel_gate_blocks(run.outputs["scse"])[2]
    comparison = views.compare_gates(run, "scse", block, other.outputs["scse"], "b.png")
    a = run.outputs["scse"].record(block).channel_gate[0].astype(np.float64)
    b = other.outputs["scse"].record(block).channel_gate[0].astype(np.float64)
    both, difference, caption = views.comparison_sections(comparison)
    rows = difference.specs[0]["data"]["values"]
    np.testing.assert_allclose([r["difference"] for r in rows], b - a, atol=1e-7)
    assert len(both.specs[0]["data"]["values"]) == 2 * a.size
    change = np.abs(b - a)
    assert isinstance(caption, Caption)
    assert caption.text == (
        f"mean |w(B) − w(A)| = {change.mean():.4f}, largest {change.max():.4f} (channel {int(change.argmax())})"
    )
    figure = dict(views.export_figures(run, choice(run), comparison))["two images' channel gates"]()
    assert figure.axes and comparison.pair == ("A: test.png", "B: b.png")


def test_export_settings_record_the_tabs_choices(run):
    chosen = choice(run, top_k=5)
    settings = views.export_settings(chosen, {"model": "scse"})
    assert settings == {
        "attention_model": "scse",
        "block": chosen.block,
        "order": "sorted",
        "top_k": 5,
        "colormap": "magma",
        "opacity": 0.6,
        "knockout": {"model": "scse"},
    }
    assert isinstance(views.gain_sections(run, chosen)[0], Pictures)
