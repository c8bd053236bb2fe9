"""Preprocessing, checked with planted signals: a mark comes back where it was planted (brain geometry), hot pixels do
not squash the tissue contrast, a light-background photo of a garment becomes a dataset-like 28×28, and a dataset
image comes through unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from scse_viz import zoo
from scse_viz.preprocess import BRAIN_SIZE, brain_preprocess, fashion_preprocess, normalise_intensity


def centroid(image: np.ndarray) -> np.ndarray:
    """Intensity-weighted centre (row, column) in pixel-centre coordinates."""
    rows, cols = np.indices(image.shape)
    weights = np.asarray(image, dtype=np.float64)
    return np.array([(rows * weights).sum(), (cols * weights).sum()]) / weights.sum()


# ---------------------------------------------------------------------------------------------------------- brain


@pytest.mark.parametrize(
    "shape, mark",
    [((37, 54), (3, 5)), ((53, 37), (3, 5)), ((301, 219), (20, 30))],  # leftovers 17 (odd), 16, 82
    ids=["wide-upsampled", "tall-upsampled", "tall-downsampled"],
)
def test_brain_mark_lands_where_planted_and_comes_back(shape, mark) -> None:
    image = np.zeros(shape, dtype=np.float32)
    r, c = mark
    image[r - 1 : r + 2, c - 1 : c + 2] = 1.0  # a 3×3 mark near the top-left corner
    prepared = zoo.family("brain").prepare(image)
    assert prepared.pixels.shape == (BRAIN_SIZE, BRAIN_SIZE)
    # By hand: centred on a square of the longer side (odd leftover after), then scaled by 160 / side.
    side = max(shape)
    top, left = (side - shape[0]) // 2, (side - shape[1]) // 2
    scale = BRAIN_SIZE / side
    expected = np.array([(r + top + 0.5) * scale - 0.5, (c + left + 0.5) * scale - 0.5])
    np.testing.assert_allclose(centroid(prepared.pixels), expected, atol=0.1)
    back = prepared.geometry.to_source(prepared.pixels)
    assert back.shape == shape
    assert np.unravel_index(np.argmax(back), shape) == mark
    np.testing.assert_allclose(centroid(back), mark, atol=0.25)


def test_brain_round_trip_keeps_a_smooth_picture() -> None:
    rows, cols = np.mgrid[0:37, 0:53]
    image = (0.5 + 0.4 * np.sin(rows / 6.0) * np.cos(cols / 9.0)).astype(np.float32)
    _, geometry = brain_preprocess(image)
    back = geometry.to_source(geometry.to_model(image))
    inner = (slice(2, -2), slice(2, -2))  # the edges blend with the zero padding
    assert np.abs(back[inner] - image[inner]).max() < 0.02


def tissue_phantom() -> tuple[np.ndarray, np.ndarray]:
    """An 80×64 'scan': background 0 around a 60×50 block of tissue whose 50 columns run evenly from 100 to 300
    (arbitrary scanner units). Its median is 200 and its 99.5th percentile 300 (the top column holds 2 % of it)."""
    image = np.zeros((80, 64), dtype=np.float32)
    tissue = np.zeros(image.shape, dtype=bool)
    tissue[10:70, 7:57] = True
    image[10:70, 7:57] = 100.0 + 200.0 * np.arange(50) / 49.0
    return image, tissue


def test_intensity_normalisation_ignores_hot_pixels() -> None:
    clean, tissue = tissue_phantom()
    hot = clean.copy()
    spots = np.argwhere(tissue)[::600][:5]  # 5 of 3,000 tissue pixels, below 0.5 %
    hot[tuple(spots.T)] = 50_000.0
    normalised = normalise_intensity(hot)
    # Background 0 -> 0; the tissue keeps its own contrast: its brightest end reaches about 1 (min/max scaling would
    # put all of it below 300 / 50,000 = 0.006), and it matches the scan without hot pixels.
    assert normalised[~tissue].max() == 0.0
    assert np.all(normalised[tuple(spots.T)] == 1.0)
    others = tissue.copy()
    others[tuple(spots.T)] = False
    assert np.percentile(normalised[others], 99) > 0.98
    assert np.median(normalised[others]) == pytest.approx(200.0 / 300.0, abs=0.01)
    assert np.abs(normalised[others] - normalise_intensity(clean)[others]).max() < 0.01


def test_intensity_normalisation_removes_a_background_offset() -> None:
    clean, tissue = tissue_phantom()
    offset = clean + 40.0  # a scanner that stores its background as 40
    np.testing.assert_allclose(normalise_intensity(offset)[~tissue], 0.0)
    assert np.median(normalise_intensity(offset)[tissue]) == pytest.approx((240.0 - 40.0) / (340.0 - 40.0), abs=0.01)


# -------------------------------------------------------------------------------------------------------- fashion


def dataset_like_trousers() -> np.ndarray:
    """A Fashion-MNIST-like item: light on black, touching the top and bottom edge, centred left-right (uint8)."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[0:4, 8:20] = 230  # waistband: columns 8..19, 12 wide, (28 - 12) / 2 = 8 on each side
    image[4:28, 8:13] = 200  # left leg
    image[4:28, 15:20] = 185  # right leg
    image[1, 9] = 255  # every dataset item has a maximum of 254 or 255
    image[10:20, 9] = 160  # a seam: some texture
    return image


def light_background_photo(garment: np.ndarray, seed: int = 0) -> np.ndarray:
    """The garment as a product photo: 6× larger, dark navy on an off-white, unevenly lit backdrop, off-centre,
    with sensor noise, as uint8 RGB (240×300)."""
    coverage = np.asarray(Image.fromarray(garment).resize((168, 168), Image.LANCZOS), dtype=np.float64) / 255.0
    alpha = np.zeros((240, 300))
    alpha[20:188, 90:258] = np.clip(coverage, 0.0, 1.0)
    backdrop, navy = np.array([0.93, 0.92, 0.88]), np.array([0.12, 0.15, 0.35])
    photo = backdrop * (1.0 - alpha[..., None]) + navy * alpha[..., None]
    photo *= (1.0 - 0.08 * np.linspace(0.0, 1.0, 300))[None, :, None]  # light falls off to the right
    photo += np.random.default_rng(seed).normal(0.0, 0.02, photo.shape)
    return np.round(np.clip(photo, 0.0, 1.0) * 255).astype(np.uint8)


def test_dataset_image_comes_through_unchanged() -> None:
    garment = dataset_like_trousers()
    np.testing.assert_allclose(fashion_preprocess(garment), garment / 255.0, atol=1e-6)


def test_light_background_photo_becomes_a_dark_background_centred_garment() -> None:
    garment = dataset_like_trousers()
    photo = light_background_photo(garment)
    assert np.median(photo[0]) > 200  # really a light background
    pixels = zoo.family("fashion").prepare(photo).pixels
    assert pixels.shape == (28, 28)
    ring = np.concatenate([pixels[:2].ravel(), pixels[-2:].ravel(), pixels[:, :2].ravel(), pixels[:, -2:].ravel()])
    assert np.median(ring) < 0.02 and pixels[:, :4].max() < 0.1 and pixels[:, -4:].max() < 0.1  # black sides
    np.testing.assert_allclose(centroid(pixels), centroid(garment), atol=0.75)  # centred like the original
    rows_with_garment = np.flatnonzero(pixels.max(axis=1) > 0.3)
    assert rows_with_garment[0] <= 1 and rows_with_garment[-1] >= 26  # fills the frame along its longer side
    assert np.corrcoef(pixels.ravel(), garment.ravel())[0, 1] > 0.93


def test_cut_out_photo_with_transparency_reads_as_a_light_background() -> None:
    garment = dataset_like_trousers()
    photo = light_background_photo(garment)
    rgba = np.dstack([photo, np.where(photo.mean(axis=2) > 200, 0, 255).astype(np.uint8)])  # backdrop cut away
    pixels = fashion_preprocess(rgba)
    assert np.median(pixels[:, :3]) < 0.02
    assert np.corrcoef(pixels.ravel(), garment.ravel())[0, 1] > 0.9
