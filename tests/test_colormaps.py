"""Every colour scale the app draws maps with is readable by everyone, and every colour bar says the truth.

Checked in CAM02-UCS (colorspacious, the colour space viridis was designed in) and under simulated protan, deutan
and tritan vision (Machado et al. 2009, full severity), not by looking at names: a sequential scale's lightness
rises steadily from one end to the other for every viewer; the diverging scale is white-centred and symmetric in
lightness, and its two signs stay apart for every viewer. The checks are shown to fail on ``jet``.
"""

from __future__ import annotations

import numpy as np
import pytest
from colorspacious import cspace_convert
from matplotlib import colormaps as mpl_colormaps

import scse_viz  # noqa: F401
from scse_viz.render import colormaps
from scse_viz.render.attribution import ATTRIBUTION_CMAP
from scse_viz.render.colorbars import colorbar
from scse_viz.render.raster import colorize
from scse_viz.render.restoration import NOISE_CMAP, SIGMA_CMAP
from scse_viz.render.spatial import GAIN_CMAP, SSE_CMAP
from scse_viz.render.teaching import FEATURE_CMAP, SIGNED_CMAP
from scse_viz.ui.pictures import COLORMAPS
from scse_viz.ui.volume3d import GATE_CMAP

VISIONS = ("typical", "protanomaly", "deuteranomaly", "tritanomaly")
SAMPLES = np.linspace(0.0, 1.0, 65)


def _seen(cmap: str, vision: str) -> np.ndarray:
    """J'a'b' (CAM02-UCS) of the scale's colours at SAMPLES as a viewer with ``vision`` sees them."""
    rgb = mpl_colormaps[cmap](SAMPLES)[:, :3]
    if vision != "typical":
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}, "sRGB1"), 0, 1)
    return cspace_convert(rgb, "sRGB1", "CAM02-UCS")


def _sequential_readable(cmap: str) -> bool:
    """Lightness strictly rises for every viewer, and the colour steps are even for a typical one (CV < 0.1)."""
    steps = np.linalg.norm(np.diff(_seen(cmap, "typical"), axis=0), axis=1)
    even = steps.std() / steps.mean() < 0.1
    return bool(even and all(np.all(np.diff(_seen(cmap, v)[:, 0]) > 0) for v in VISIONS))


def _diverging_readable(cmap: str) -> bool:
    """Lightness peaks in the middle and is the same at ±v (within 5 J'); for every viewer it rises to the middle
    and falls after it, and +v and −v differ by at least 10 ΔE (CAM02-UCS) wherever |v| ≥ 0.2."""
    typical = _seen(cmap, "typical")[:, 0]
    middle = len(SAMPLES) // 2
    if np.argmax(typical) != middle or np.abs(typical - typical[::-1]).max() > 5:
        return False
    for vision in VISIONS:
        seen = _seen(cmap, vision)
        lightness = seen[:, 0]
        if not (np.all(np.diff(lightness[: middle + 1]) > 0) and np.all(np.diff(lightness[middle:]) < 0)):
            return False
        far = np.abs(SAMPLES - 0.5) >= 0.1  # |v| ≥ 0.2 of the half-range
        if np.linalg.norm(seen - seen[::-1], axis=1)[far].min() < 10:
            return False
    return True


@pytest.mark.parametrize("cmap", COLORMAPS)
def test_every_offered_colormap_is_uniform_and_readable_in_colour_blind_vision(cmap: str):
    assert _sequential_readable(cmap)


def test_every_scale_the_app_draws_is_one_that_passes():
    sequential = {SSE_CMAP, FEATURE_CMAP, SIGMA_CMAP, GATE_CMAP, colormaps.GATE, colormaps.LEVEL, colormaps.NOISE_LEVEL}
    diverging = {GAIN_CMAP, SIGNED_CMAP, NOISE_CMAP, ATTRIBUTION_CMAP, colormaps.DIVERGING}
    assert all(_sequential_readable(c) for c in sequential), sequential
    assert len(diverging) == 1 and _diverging_readable(diverging.pop())
    assert COLORMAPS[0] == SSE_CMAP  # the default of the pages' choice is the scale of the downloads


def test_the_checks_reject_jet_and_a_rainbow():
    """The checks can fail: jet's lightness goes up and down, and a rainbow is no diverging scale."""
    assert not _sequential_readable("jet")
    assert not _sequential_readable("gray")  # monotone, but its steps are uneven in CAM02-UCS
    assert not _diverging_readable("jet")
    assert not _diverging_readable("bwr")  # white-centred too, but its halves are not equally light for all viewers
    assert not _diverging_readable("turbo")
    assert "jet" not in COLORMAPS


@pytest.mark.parametrize("cmap, vmin, vmax", [("magma", 0.0, 1.0), ("RdBu_r", -0.37, 0.37), ("viridis", 0.0, 50.0)])
def test_a_colour_bar_shows_each_value_in_the_colour_the_maps_give_it(cmap: str, vmin: float, vmax: float):
    bar = colorbar(cmap, vmin, vmax, "what the colours mean")
    row = bar.picture[(bar.top + bar.bottom) // 2].astype(np.float64)
    inner = np.arange(bar.left + 3, bar.right - 3)  # away from the frame's lines
    values = vmin + (inner + 0.5 - bar.left) / (bar.right - bar.left) * (vmax - vmin)
    expected = colorize(values, cmap, vmin, vmax) * 255
    assert np.abs(row[inner] - expected).max() <= 12  # resampling the ramp onto the axes' pixels: a step of it
    assert bar.ticks[0] == vmin and bar.ticks[-1] == vmax and len(bar.ticks) == 5
    if vmin < 0 < vmax:
        assert 0.0 in bar.ticks  # a symmetric scale shows where 0 is
    assert np.array_equal(colorbar(cmap, vmin, vmax, "what the colours mean").picture, bar.picture)


def test_a_long_label_wraps_instead_of_running_off_the_picture():
    label = "attribution to “T-shirt/top”: red raises it, white leaves it, blue lowers it (clipped at ±L) " * 2
    short, long = colorbar("RdBu_r", -1, 1, "short"), colorbar("RdBu_r", -1, 1, label)
    assert long.picture.shape[1] == short.picture.shape[1] and long.picture.shape[0] > short.picture.shape[0]
    under = long.picture[long.bottom + 25 :]  # the label's rows, below the ticks' numbers
    ink = np.where((under < 128).all(axis=2).any(axis=0))[0]
    assert ink.min() > 2 and ink.max() < long.picture.shape[1] - 3  # no text touches the picture's edges


@pytest.mark.parametrize(
    "cmap", sorted({colormaps.LEVEL, NOISE_CMAP, SIGMA_CMAP, SSE_CMAP, GAIN_CMAP, *COLORMAPS, "viridis", "RdBu_r"})
)
def test_colorize_gives_matplotlibs_own_colours_bit_for_bit(cmap: str) -> None:
    """The table lookup against matplotlib's own call on the clipped values: every edge of the 256 bins (k/256 and a
    hair either side), both ends, values outside the limits, NaN and random values; as float32 and as bytes."""
    from scse_viz.render.raster import _to_uint8, colorize_uint8

    n = mpl_colormaps[cmap].N
    edges = np.arange(n + 1) / n
    values = np.concatenate(
        [edges, np.nextafter(edges, -1.0), np.nextafter(edges, 2.0), [-0.5, 1.5, np.nan, -np.inf, np.inf, -0.0]]
    )
    values = np.concatenate([values, np.random.default_rng(0).uniform(-0.1, 1.1, 5000)])
    for vmin, vmax in ((0.0, 1.0), (-0.3, 0.3)):
        raw = vmin + values * (vmax - vmin)
        clipped = np.clip((raw - vmin) / (vmax - vmin), 0.0, 1.0)
        expected = mpl_colormaps[cmap](clipped)[..., :3].astype(np.float32)
        got = colorize(raw, cmap, vmin, vmax)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=True), np.argwhere(got != expected)[:5]
        assert np.array_equal(colorize_uint8(raw, cmap, vmin, vmax), _to_uint8(expected))
    # Planted failure: a table read one bin off (the old way with values a bin higher) differs.
    assert not np.array_equal(colorize(edges[:-1] + 1.0 / n, cmap, 0.0, 1.0), colorize(edges[:-1], cmap, 0.0, 1.0))
