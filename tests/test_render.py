"""Rendering layer: geometry against torch, and what each figure actually draws (read back from the artists)."""

from __future__ import annotations

import ast
import io
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.colors import to_rgba
from PIL import Image

from scse_viz.geometry import upsample_map
from scse_viz.render import channel as channel_mod
from scse_viz.render import (
    channel_gate_comparison_figure,
    channel_gate_figure,
    channel_gate_table,
    class_colors,
    class_probability_figure,
    difference_map_figure,
    effective_gain_figure,
    figure_bytes,
    mask_overlay_figure,
    side_by_side_figure,
    spatial_grid_figure,
    spatial_overlay_figure,
)
from scse_viz.render import outputs as outputs_mod

RENDER_DIR = Path(__file__).resolve().parents[1] / "scse_viz" / "render"
RNG = np.random.default_rng(1234)


def torch_resize(m: np.ndarray, **kwargs) -> np.ndarray:
    t = torch.from_numpy(np.asarray(m, dtype=np.float64))[None, None]
    return F.interpolate(t, mode="bilinear", align_corners=False, **kwargs)[0, 0].numpy()


def overlay_image(fig):
    """The array drawn over the base image (images[0] is the image itself)."""
    return fig.axes[0].images[1]


# ---------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    ("in_size", "out_size"),
    [
        ((4, 4), (32, 32)),
        ((7, 5), (30, 41)),
        ((5, 6), (17, 23)),
        ((1, 1), (5, 5)),
        ((3, 9), (3, 9)),
        ((16, 12), (8, 5)),
    ],
)
def test_upsample_matches_torch_bilinear_align_corners_false(in_size, out_size):
    m = RNG.random(in_size)
    np.testing.assert_allclose(upsample_map(m, out_size), torch_resize(m, size=out_size), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("in_size", "stride", "out_size"), [((4, 5), (8, 4), (30, 18)), ((6, 6), (2, 2), (12, 12))])
def test_integer_stride_upsamples_by_the_factor_then_crops(in_size, stride, out_size):
    m = RNG.random(in_size)
    full = torch_resize(m, scale_factor=stride)
    np.testing.assert_allclose(upsample_map(m, out_size, stride), full[: out_size[0], : out_size[1]], atol=1e-6, rtol=0)


def test_integer_stride_pads_with_edge_values_when_the_input_is_larger():
    m = RNG.random((4, 4))
    up = upsample_map(m, (35, 33), (8.0, 8.0))
    full = torch_resize(m, scale_factor=(8, 8))
    assert up.shape == (35, 33)
    np.testing.assert_allclose(up[:32, :32], full, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(up[32:, :32], np.repeat(up[31:32, :32], 3, axis=0))
    np.testing.assert_array_equal(up[:, 32:], np.repeat(up[:, 31:32], 1, axis=1))


def test_fractional_stride_uses_the_integer_stride_the_sizes_imply():
    m = RNG.random((8, 8))
    # 30 px -> 8 cells: a padded stride-4 path (ceil(30 / 4) = 8); upsample ×4 to 32, then crop to 30
    expected = torch_resize(m, size=(32, 32))[:30, :30]
    np.testing.assert_allclose(upsample_map(m, (30, 30), (3.75, 3.75)), expected, atol=1e-6)
    # 70 px -> 8 cells: floored stride-8 pooling (70 // 8 = 8); upsample ×8 to 64, then pad with edge values to 70
    padded = np.pad(torch_resize(m, size=(64, 64)), ((0, 6), (0, 6)), mode="edge")
    np.testing.assert_allclose(upsample_map(m, (70, 70), (8.75, 8.75)), padded, atol=1e-6)


@pytest.mark.parametrize(
    ("map_size", "stride", "out_size", "spot"),
    [
        ((4, 4), (8, 8), (30, 30), (1, 2)),  # input not a multiple of the stride
        ((4, 4), (8, 8), (32, 32), (1, 2)),
        ((4, 4), (8, 8), (30, 30), (3, 3)),  # last feature pixel, partly cropped away
        ((5, 3), (4, 8), (19, 23), (2, 1)),  # different strides per axis
    ],
)
def test_planted_spot_lands_on_the_input_pixels_it_covers(map_size, stride, out_size, spot):
    m = np.zeros(map_size)
    m[spot] = 1.0
    up = upsample_map(m, out_size, stride)
    rows, cols = np.nonzero(up == up.max())
    (i, j), (sh, sw) = spot, stride
    assert rows.min() >= i * sh and rows.max() < (i + 1) * sh
    assert cols.min() >= j * sw and cols.max() < (j + 1) * sw


@pytest.mark.parametrize("bad", [np.zeros(4), np.zeros((2, 2, 2)), np.zeros((0, 3))])
def test_upsample_refuses_non_maps(bad):
    with pytest.raises(ValueError):
        upsample_map(bad, (8, 8))


# ---------------------------------------------------------------- spatial


def test_spatial_overlay_draws_exactly_the_map_it_is_given_pixel_aligned():
    image, q = RNG.random((30, 30)), RNG.random((4, 4))
    shown = upsample_map(q, (30, 30), (8, 8))  # on the image's pixels, as the page's picture blends it
    fig = spatial_overlay_figure(image, shown)
    im = overlay_image(fig)
    np.testing.assert_array_equal(np.asarray(im.get_array()), shown)
    assert im.get_interpolation() == "nearest" and im.origin == "upper"
    left, right, bottom, top = im.get_extent()
    h, w = im.get_array().shape
    for i, j in [(0, 0), (3, 17), (29, 29)]:
        x = left + (j + 0.5) * (right - left) / w
        y = top + (i + 0.5) * (bottom - top) / h  # origin upper: row 0 at the top
        assert (x, y) == pytest.approx((j, i))
    np.testing.assert_array_equal(np.asarray(fig.axes[0].images[0].get_array()), image)


def test_spatial_overlay_keeps_orientation_of_non_square_images():
    image, q = RNG.random((20, 30)), np.zeros((5, 3))
    q[0, 2] = 1.0
    arr = np.asarray(overlay_image(spatial_overlay_figure(image, upsample_map(q, (20, 30)))).get_array())
    assert arr.shape == (20, 30)
    r, c = np.unravel_index(np.argmax(arr), arr.shape)
    assert r < 4 and c >= 20  # top right stays top right


def test_spatial_overlay_colorbar_is_fixed_0_1_and_says_when_rescaled():
    image, q = RNG.random((16, 16)), 0.4 + 0.1 * RNG.random((16, 16))
    fig = spatial_overlay_figure(image, q)
    assert overlay_image(fig).get_clim() == (0.0, 1.0)
    assert fig.axes[1].get_ylabel() == "sSE gate q (0–1)"
    fig = spatial_overlay_figure(image, q, vmin=0.4, vmax=0.5)
    assert overlay_image(fig).get_clim() == (0.4, 0.5)
    assert "rescaled" in fig.axes[1].get_ylabel()


def test_spatial_overlay_refuses_images_outside_0_1():
    with pytest.raises(ValueError):
        spatial_overlay_figure(RNG.random((8, 8)) * 255.0, RNG.random((8, 8)))


def test_spatial_figures_refuse_a_map_that_is_not_on_the_images_pixels():
    for draw in (
        lambda m: spatial_overlay_figure(RNG.random((8, 8)), m),
        lambda m: effective_gain_figure(RNG.random((8, 8)), m, "channel 0"),
        lambda m: spatial_grid_figure(RNG.random((8, 8)), [("b", m, None)]),
    ):
        with pytest.raises(ValueError, match="not on the image's pixels"):
            draw(RNG.random((2, 2)))


@pytest.mark.parametrize("channel", [2, None])
def test_effective_gain_draws_the_gain_it_is_given_on_symmetric_limits(channel):
    image, w, q = RNG.random((24, 24)), RNG.random(5), RNG.random((3, 3))
    wc = w.mean() if channel is None else w[channel]
    gain = wc + upsample_map(q, (24, 24), (8, 8)) - 1.0
    which = "mean over 5 channels" if channel is None else "channel 2"
    fig = effective_gain_figure(image, gain, which)
    im = overlay_image(fig)
    np.testing.assert_array_equal(np.asarray(im.get_array()), gain)
    assert im.get_clim() == (-1.0, 1.0)
    assert im.get_cmap().name == "RdBu_r"
    title = fig.axes[0].get_title()
    assert "> 0 boosted" in title and "< 0 damped" in title
    assert ("mean over 5 channels" if channel is None else "channel 2") in fig.axes[1].get_ylabel()


def test_spatial_grid_draws_each_block_and_greys_out_missing_ones():
    image = RNG.random((32, 32))
    q1, q2 = RNG.random((4, 4)), RNG.random((8, 8))
    shown1, shown2 = upsample_map(q1, (32, 32), (8, 8)), upsample_map(q2, (32, 32), (4, 4))
    maps = [
        ("enc1 4×4", shown1, None),
        ("dec0", None, None),
        ("enc2 8×8", shown2, None),
        ("odd", None, "not readable: C maps"),
    ]
    fig = spatial_grid_figure(image, maps, ncols=3)
    cells = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_visible() for ax in cells] == [True, True, True, True, False, False]
    assert "enc1" in cells[0].get_title() and "4×4" in cells[0].get_title()
    assert "8×8" in cells[2].get_title()
    np.testing.assert_array_equal(np.asarray(cells[0].images[1].get_array()), shown1)
    np.testing.assert_array_equal(np.asarray(cells[2].images[1].get_array()), shown2)
    assert [t.get_text() for t in cells[1].texts] == ["did not run"] and not cells[1].images
    assert "not readable" in cells[3].texts[0].get_text()
    assert cells[0].images[1].get_clim() == (0.0, 1.0)


# ---------------------------------------------------------------- channel

HAND = np.array([0.5, 0.9, 0.1, 0.6, 0.45, 0.95])  # |w - 0.5| = 0, .4, .4, .1, .05, .45


@pytest.mark.parametrize(
    ("order", "top_k", "channels"),
    [
        ("sorted", None, [5, 1, 3, 0, 4, 2]),
        ("channel", None, [0, 1, 2, 3, 4, 5]),
        ("sorted", 3, [5, 1, 2]),
        ("channel", 3, [1, 2, 5]),
    ],
)
def test_channel_gate_table_order_and_top_k(order, top_k, channels):
    rows = channel_gate_table(HAND, order, top_k)
    assert [r["channel"] for r in rows] == channels
    assert [r["rank"] for r in rows] == list(range(1, len(channels) + 1))
    assert [r["value"] for r in rows] == [HAND[c] for c in channels]


@pytest.mark.parametrize("order", ["sorted", "channel"])
def test_channel_gate_bars_follow_the_table_and_label_original_channels(order):
    fig = channel_gate_figure(HAND, order=order, top_k=4)
    ax = fig.axes[0]
    rows = channel_gate_table(HAND, order, 4)
    bars = ax.containers[0].patches
    assert [b.get_height() for b in bars] == [r["value"] for r in rows]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(r["channel"]) for r in rows]
    assert "top 4 of 6 channels" in ax.get_title()


def test_channel_gate_highlights_strongest_boosts_and_suppressions():
    fig = channel_gate_figure(HAND, order="channel", highlight=2)
    faces = [b.get_facecolor() for b in fig.axes[0].containers[0].patches]
    expected = {
        5: channel_mod.BOOST_COLOR,
        1: channel_mod.BOOST_COLOR,
        2: channel_mod.SUPPRESS_COLOR,
        4: channel_mod.SUPPRESS_COLOR,
    }
    for c, face in enumerate(faces):
        assert face == pytest.approx(to_rgba(expected.get(c, channel_mod.BAR_COLOR)))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("boost" in t for t in legend) and any("suppression" in t for t in legend)


def test_channel_gate_axis_is_fixed_with_dashed_reference_at_one_half():
    ax = channel_gate_figure(np.full(4, 0.52)).axes[0]
    assert ax.get_ylim() == (0.0, 1.0)
    assert ax.get_ylabel() == "gate w_c (0–1)"
    refs = [ln for ln in ax.lines if list(ln.get_ydata()) == [0.5, 0.5] and ln.get_linestyle() == "--"]
    assert len(refs) == 1 and "0.5" in refs[0].get_label()


def test_channel_gate_comparison_shows_both_gates_and_their_difference():
    a, b = RNG.random(7), RNG.random(7)
    fig = channel_gate_comparison_figure(a, b, labels=("cat", "dog"))
    top, bottom = fig.axes
    assert [p.get_height() for p in top.containers[0].patches] == pytest.approx(a)
    assert [p.get_height() for p in top.containers[1].patches] == pytest.approx(b)
    assert [p.get_height() for p in bottom.containers[0].patches] == pytest.approx(b - a)
    assert any(list(ln.get_ydata()) == [0, 0] for ln in bottom.lines)
    assert any(list(ln.get_ydata()) == [0.5, 0.5] for ln in top.lines)
    assert [t.get_text() for t in top.get_legend().get_texts()][-2:] == ["cat", "dog"]
    with pytest.raises(ValueError):
        channel_gate_comparison_figure(a, b[:5])


# ---------------------------------------------------------------- outputs

NAMES = ["background", "liver", "kidney", "spleen"]


def test_mask_overlay_colours_classes_leaves_background_clear_and_lists_present_classes():
    image = RNG.random((10, 12))
    mask = np.zeros((10, 12), dtype=np.int64)
    mask[2:5, 3:7] = 1
    mask[7:, :2] = 3
    fig = mask_overlay_figure(image, mask, NAMES, alpha=0.4)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["liver", "spleen"]
    layer = np.asarray(ax.images[1].get_array())
    colors = class_colors(len(NAMES))
    assert np.all(layer[mask == 0, 3] == 0.0)
    np.testing.assert_allclose(layer[mask == 1, :3], np.broadcast_to(colors[1, :3], (12, 3)))
    np.testing.assert_allclose(layer[mask == 3, 3], 0.4)


@pytest.mark.parametrize("bad", [np.zeros((10, 12)), np.full((10, 12), 4), np.zeros((12, 10), dtype=int)])
def test_mask_overlay_refuses_bad_masks(bad):
    with pytest.raises(ValueError):
        mask_overlay_figure(RNG.random((10, 12)), bad, NAMES)


def test_class_probability_bars_descend_from_the_top_with_values_printed():
    probs = np.array([0.05, 0.4, 0.02, 0.3, 0.15, 0.08])
    names = ["a", "b", "c", "d", "e", "f"]
    ax = class_probability_figure(probs, names, top_k=4).axes[0]
    bars = sorted(ax.containers[0].patches, key=lambda p: p.get_y())
    assert ax.yaxis_inverted()  # smallest y is drawn on top
    assert [p.get_width() for p in bars] == [0.4, 0.3, 0.15, 0.08]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "d", "e", "f"]
    assert [t.get_text() for t in ax.texts] == ["0.400", "0.300", "0.150", "0.080"]
    with pytest.raises(ValueError):
        class_probability_figure(np.array([2.0, -1.0]), ["x", "y"])


def test_side_by_side_has_one_panel_per_model_and_one_shared_legend():
    image = RNG.random((8, 8))
    m1, m2 = np.zeros((8, 8), dtype=int), np.zeros((8, 8), dtype=int)
    m1[:2] = 2
    m2[5:] = 1
    fig = side_by_side_figure(image, [("unet", m1), ("unet+scse", m2)], NAMES)
    assert [ax.get_title() for ax in fig.axes] == ["unet", "unet+scse"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["liver", "kidney"]


def test_difference_map_highlights_exactly_the_disagreeing_pixels():
    image = RNG.random((6, 5))
    a = RNG.integers(0, 3, (6, 5))
    b = a.copy()
    b[1, 2] = (b[1, 2] + 1) % 3
    b[4, 0] = (b[4, 0] + 1) % 3
    fig = difference_map_figure(image, a, b, "two models")
    layer = np.asarray(fig.axes[0].images[1].get_array())
    np.testing.assert_array_equal(layer[..., 3] > 0, a != b)
    assert "2 of 30 pixels" in fig.axes[0].get_title()
    assert to_rgba(outputs_mod.DIFF_COLOR)[:3] == pytest.approx(tuple(layer[1, 2, :3]))


# ---------------------------------------------------------------- export and purity


def test_figure_bytes_png_decodes_at_the_figure_size():
    fig = spatial_overlay_figure(RNG.random((16, 16)), RNG.random((16, 16)))
    data = figure_bytes(fig, "png", dpi=50)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        w, h = fig.get_size_inches()
        assert img.size == (round(w * 50), round(h * 50))


def test_figure_bytes_svg_is_xml():
    data = figure_bytes(channel_gate_figure(HAND), "svg")
    root = ET.fromstring(data)
    assert root.tag.endswith("svg")
    with pytest.raises(ValueError):
        figure_bytes(channel_gate_figure(HAND), "jpg")


def test_figures_render_identically_from_several_threads():
    image, q = RNG.random((16, 16)), RNG.random((4, 4))

    def render(_: int) -> bytes:
        return figure_bytes(spatial_overlay_figure(image, upsample_map(q, (16, 16), (4, 4))), "png", dpi=40)

    expected = render(0)
    with ThreadPoolExecutor(4) as pool:
        assert all(out == expected for out in pool.map(render, range(8)))


def test_render_package_imports_no_torch_streamlit_or_pyplot():
    forbidden = {"torch", "streamlit", "matplotlib.pyplot", "pylab"}
    for path in RENDER_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (path.name, name)
