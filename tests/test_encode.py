"""The bytes the app sends for a picture: colours within the stated bound, and one encoding per distinct picture."""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from scse_viz.render import encode, raster


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=int)


def _map_edges(side: int = 96) -> np.ndarray:
    """Saturated colormap colours in stripes 3 px wide: the worst case for chroma subsampling (sharp colour edges)."""
    values = (np.arange(side)[None, :] // 3 % 2).repeat(side, axis=0).astype(float)
    return raster.overlay(np.full((side, side), 0.5), values, "RdBu_r", 1.0, 0.0, 1.0)


def test_the_sent_colours_stay_within_the_stated_bound_where_streamlits_default_does_not():
    rgb = _map_edges()
    sent = encode.encode_picture(rgb)
    assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(sent.data))) == 0  # 4:4:4: no chroma subsampling
    assert np.abs(_decoded(sent.data) - rgb.astype(int)).max() <= encode.JPEG_MAX_ERROR
    default = io.BytesIO()
    Image.fromarray(rgb).save(default, format="JPEG", quality=100)  # what st.image does with an RGB array
    assert np.abs(_decoded(default.getvalue()) - rgb.astype(int)).max() > 5 * encode.JPEG_MAX_ERROR  # 40 measured


def test_a_small_picture_is_enlarged_pixel_by_pixel_and_floats_are_read_as_unit_range():
    rgb = np.zeros((28, 28, 3), dtype=np.float32)
    rgb[10:14, 5:9] = (1.0, 1.0, 1.0)
    sent = encode.shown_picture(rgb)
    assert (sent.height, sent.width) == (224, 224)  # 8 × 28: the shorter side reaches 224
    decoded = _decoded(sent.data)
    assert sent.format == "PNG" and Image.open(io.BytesIO(sent.data)).format == "PNG"  # enlarged: sent exact
    expected = np.zeros((224, 224, 3), dtype=int)
    expected[80:112, 40:72] = 255  # the 4×4 block, 8 times larger
    assert np.array_equal(decoded, expected)


def test_the_format_is_picked_per_picture_png_for_enlarged_maps_jpeg_for_the_rest():
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)  # at least 224 px: shown as it is
    sent = encode.shown_picture(photo)
    assert (sent.format, Image.open(io.BytesIO(sent.data)).format) == ("JPEG", "JPEG")
    assert np.abs(_decoded(sent.data) - photo.astype(int)).max() <= encode.JPEG_MAX_ERROR
    smooth = np.repeat(np.linspace(0, 1, 160)[None, :, None], 160, axis=0).repeat(3, axis=2)
    as_map = raster.overlay(np.full((160, 160), 0.5), smooth[..., 0], "viridis", 1.0, 0.0, 1.0)  # a map at 160 px
    png, jpeg = encode.shown_picture(as_map), encode.shown_picture(as_map, allow_png=False)
    assert (png.format, jpeg.format) == ("PNG", "JPEG") and (png.width, png.height) == (jpeg.width, jpeg.height)
    assert np.array_equal(_decoded(png.data), np.repeat(np.repeat(as_map, 2, axis=0), 2, axis=1).astype(int))
    assert len(png.data) < len(jpeg.data)  # the reason for the choice: the repeated pixels cost PNG little


def test_one_encoding_per_distinct_picture_even_when_one_pixel_of_a_large_one_differs():
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (1200, 1000, 3), dtype=np.uint8)  # 3.6 M values: a sampled hash could miss a pixel
    second = first.copy()
    second[600, 500] = 255 - first[600, 500]
    a, again, b = encode.shown_picture(first), encode.shown_picture(first.copy()), encode.shown_picture(second)
    assert again is a  # the same pixels: encoded once in this process
    assert b is not a and b.data != a.data
    changed = np.abs(_decoded(b.data)[600, 500] - _decoded(a.data)[600, 500]).max()
    assert changed > 50  # the other picture's bytes show the changed pixel


def test_the_cache_stays_within_its_byte_budget(monkeypatch):
    monkeypatch.setattr(encode, "CACHE_BYTES", 1_000_000)
    monkeypatch.setattr(encode, "_CACHE", OrderedDict())
    monkeypatch.setattr(encode, "_cached_bytes", 0)
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(8)]  # 150-300 KB each as JPEG
    sizes = [len(encode.shown_picture(p).data) for p in pictures]
    assert 0 < encode._cached_bytes <= 1_000_000 < sum(sizes)
    assert sum(len(p.data) for p in encode._CACHE.values()) == encode._cached_bytes
    kept = list(encode._CACHE.values())
    assert kept[-1].data == encode.encode_picture(pictures[-1]).data  # the most recent is kept, the oldest dropped
    assert encode.encode_picture(pictures[0]).data not in {p.data for p in kept}


def _as_streamlit_sends(data: bytes, width: int | str, output_format: str) -> bytes:
    """Streamlit's own last step before serving a picture (private functions of 1.67): the format it settles on for
    ``output_format``, then it shrinks a picture wider than its width (or than 1460 px) and re-saves it as JPEG with
    4:2:0 subsampling, or re-saves one whose format is not the one settled on."""
    from streamlit.elements.lib.image_utils import _ensure_image_size_and_format, _validate_image_format_string
    from streamlit.elements.lib.layout_utils import LayoutConfig

    settled = _validate_image_format_string(data, output_format)
    return _ensure_image_size_and_format(data, LayoutConfig(width=width), settled)


def test_streamlit_sends_the_apps_bytes_unchanged_for_tiles_wide_pictures_and_strips():
    rng = np.random.default_rng(2)
    cases = [
        (rng.integers(0, 256, (189, 233, 3), dtype=np.uint8), 180),  # a brain map as a 180 px tile
        (rng.integers(0, 256, (28, 28, 3), dtype=np.uint8), 180),  # a fashion map as a tile: 6 × 28 = 168
        (rng.integers(0, 256, (200, 1024, 3), dtype=np.uint8), "content"),  # enlarged ×2 would be 2048 wide
        (rng.integers(0, 256, (1, 3000, 3), dtype=np.uint8), "content"),  # a strip: Streamlit made it 0 px tall
    ]
    for rgb, width in cases:
        sent = encode.shown_picture(rgb, width) if isinstance(width, int) else encode.shown_picture(rgb)
        limit = width if isinstance(width, int) else 1460
        assert 1 <= sent.height and sent.width <= limit
        assert _as_streamlit_sends(sent.data, width, sent.format) == sent.data  # not shrunk, not re-saved
        if sent.format == "JPEG":
            assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(sent.data))) == 0
    small = encode.shown_picture(cases[1][0], 180)
    assert (small.width, small.height) == (168, 168)  # enlarged by a whole factor that fits the tile
    assert small.format == "PNG"
    assert _as_streamlit_sends(small.data, 180, "auto") != small.data  # left to guess, Streamlit re-saves the PNG


def test_a_picture_that_is_not_a_picture_is_refused():
    for bad in (np.full((4, 4, 3), np.nan), np.full((4, 4, 3), 1.5), np.zeros((4, 4)), np.zeros((4, 4, 3), np.int64)):
        with pytest.raises(ValueError):
            encode.encode_picture(bad)
