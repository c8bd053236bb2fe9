"""DICOM display and slices beyond rescale and window: VOI LUT sequences, the VOI LUT Function, Modality LUT
sequences and Siemens mosaics.

The files are pydicom's and nibabel's own test files (``pydicom.data.get_testdata_file``; nibabel's Siemens DWI
mosaic) with elements added here, or written here with pydicom. Every expected value is worked out in the test from
what was planted (the LUT's entries, the window, the tiles), and checked against pydicom's ``apply_modality_lut`` /
``apply_voi_lut`` or nibabel's ``MosaicWrapper`` reading the same bytes, never copied from the loader's output.
"""

from __future__ import annotations

import gzip
import io
import re
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from scse_viz.errors import UnsupportedFormatError
from scse_viz.io import LoadedImage, Volume, load_any
from tests.test_dicom import dicom_bytes, linear_window

NIBABEL_MOSAIC = Path(nib.__file__).parent / "nicom" / "tests" / "data" / "siemens_dwi_1000.dcm.gz"


def _lut_item(descriptor_vr: str, entries: int, first: int, bits: int, table: np.ndarray) -> Dataset:
    item = Dataset()
    item.add_new(0x00283002, descriptor_vr, [entries, first, bits])  # LUT Descriptor
    item.add_new(0x00283006, "US", [int(v) for v in table])  # LUT Data
    return item


def _saved(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------------------
# VOI LUT Sequence and VOI LUT Function


def test_voi_lut_sequence_is_applied_as_pydicom_says_and_preferred_to_the_window() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))  # stored 128..2191, rescale 1 / -1024: -896..1167 HU
    entries, first = 400, -160  # a soft-tissue LUT over -160..239 HU, a gamma curve, not a straight window
    table = np.round(65535 * np.sqrt(np.arange(entries) / (entries - 1))).astype(np.uint16)
    ds.VOILUTSequence = [_lut_item("SS", entries, first, 16, table)]
    ds.WindowCenter, ds.WindowWidth = 1000.0, 10.0  # a window too: the LUT wins (pydicom's prefer_lut)
    data = _saved(ds)

    image = load_any(data, "ct.dcm")
    assert isinstance(image, LoadedImage)
    stored = ds.pixel_array.astype(np.int64)
    by_hand = table[np.clip(stored * 1 - 1024 - first, 0, entries - 1)] / 65535.0
    assert 0.05 < by_hand.mean() < 0.95 and np.unique(by_hand).size > 100  # the LUT really shapes the picture
    np.testing.assert_allclose(image.pixels, by_hand, atol=1e-6)

    again = pydicom.dcmread(io.BytesIO(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns that a VOI LUT on rescaled (float) values may be inexact
        shown = apply_voi_lut(apply_modality_lut(again.pixel_array, again), again)
    np.testing.assert_allclose(image.pixels, shown / 65535.0, atol=1e-6)


def test_voi_lut_output_runs_from_its_lowest_to_its_highest_entry() -> None:
    """A 16-bit LUT whose entries only reach 4095 (12-bit data in a 16-bit LUT, common in the wild) still spans
    black to white: the LUT's own range is the display's."""
    stored = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 1000
    table = np.linspace(4095, 0, 1000).round().astype(np.uint16)  # falling: high stored values dark
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(stored)))
    ds.VOILUTSequence = [_lut_item("US", 1000, 0, 16, table)]
    pixels = load_any(_saved(ds), "lut.dcm").pixels
    np.testing.assert_allclose(pixels, table[stored] / 4095.0, atol=1e-6)
    assert pixels[0, 0] == 1.0 and pixels.min() == 0.0


@pytest.mark.parametrize("function", ["SIGMOID", "LINEAR_EXACT", "LINEAR"])
def test_window_goes_through_the_files_voi_lut_function(function: str) -> None:
    stored = (np.arange(32 * 32).reshape(32, 32) % 1000).astype(np.uint16)
    center, width = 500.0, 200.0
    data = dicom_bytes(stored, WindowCenter=center, WindowWidth=width, VOILUTFunction=function)
    x = stored.astype(np.float64)
    if function == "SIGMOID":  # PS3.3 C.11.2.1.3.1
        expected = 1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    elif function == "LINEAR_EXACT":  # PS3.3 C.11.2.1.3.2
        expected = np.clip((x - (center - width / 2)) / width, 0.0, 1.0)
    else:  # PS3.3 C.11.2.1.2.1: centre − 0.5, width − 1
        expected = linear_window(x, center, width)
    pixels = load_any(data, "w.dcm").pixels
    np.testing.assert_allclose(pixels, expected, atol=1e-6)
    if function != "LINEAR":  # and not the default (LINEAR) for this file: the function is read
        assert np.abs(pixels - linear_window(x, center, width)).max() > 1e-3


# Center 40, width 400 (a soft-tissue CT window): LINEAR's edges are -160 (at or below: black) and 239 (above:
# white); LINEAR_EXACT's are -160 and 240. Values at, and one either side of, each edge, and the centre.
_EDGES = np.array([-161, -160, -159, -158, 39, 40, 41, 238, 239, 240, 241], dtype=np.int16)


@pytest.mark.parametrize("named", [None, "LINEAR", "NOT_A_FUNCTION"])
def test_a_window_without_a_voi_lut_function_is_linear_as_the_standard_says(named: str | None) -> None:
    """PS3.3 C.11.2.1.2: with no VOI LUT Function (or LINEAR) a window is LINEAR, not LINEAR_EXACT; an unknown
    function is read as the default too. pydicom's ``apply_voi_lut`` assumes the same for a missing function."""
    stored = np.resize(_EDGES, (8, 11))
    elements = {"WindowCenter": 40.0, "WindowWidth": 400.0}
    if named is not None:
        elements["VOILUTFunction"] = named
    data = dicom_bytes(stored, signed=True, **elements)
    pixels = load_any(data, "ct.dcm").pixels[0].astype(np.float64)

    x = _EDGES.astype(np.float64)
    by_hand = np.empty_like(x)  # PS3.3 C.11.2.1.2.1 term by term, y_min 0 and y_max 1
    for k, value in enumerate(x):
        if value <= 40 - 0.5 - (400 - 1) / 2:
            by_hand[k] = 0.0
        elif value > 40 - 0.5 + (400 - 1) / 2:
            by_hand[k] = 1.0
        else:
            by_hand[k] = (value - (40 - 0.5)) / (400 - 1) + 0.5
    np.testing.assert_allclose(pixels, by_hand, atol=1e-6)
    exact = np.clip((x - (40 - 400 / 2)) / 400, 0.0, 1.0)  # LINEAR_EXACT, the old default
    assert pixels[list(_EDGES).index(239)] == 1.0 and exact[list(_EDGES).index(239)] == pytest.approx(0.9975)
    assert np.abs(pixels - exact).max() >= 0.0025 - 1e-9  # a quarter percent apart at 239: told apart

    if named is None:  # pydicom reads the same file the same way
        ds = pydicom.dcmread(io.BytesIO(data))
        values = ds.pixel_array.astype(np.float64)  # decoded as signed before the output range is set below
        ds.BitsStored, ds.PixelRepresentation = 16, 0  # output 0 … 65535, as the loader asks for
        shown = apply_voi_lut(values, ds)[0] / 65535.0
        np.testing.assert_allclose(pixels, shown, atol=1e-6)


def test_a_window_narrower_than_one_falls_back_to_linear_exact() -> None:
    """LINEAR needs a width of at least 1 (pydicom refuses less); a float image's narrower window is still shown,
    through LINEAR_EXACT written out by hand (PS3.3 C.11.2.1.3.2), rather than dropped for percentile scaling."""
    stored = np.resize(np.array([0, 39, 40, 41, 100], dtype=np.uint16), (8, 10))
    data = dicom_bytes(stored, RescaleSlope=0.01, RescaleIntercept=0.0, WindowCenter=0.4, WindowWidth=0.02)
    x = stored.astype(np.float64) * 0.01  # 0, 0.39, 0.40, 0.41, 1.0
    by_hand = np.clip((x - (0.4 - 0.02 / 2)) / 0.02, 0.0, 1.0)  # 0, 0, 0.5, 1, 1
    np.testing.assert_allclose(load_any(data, "pet.dcm").pixels, by_hand, atol=1e-5)


# --------------------------------------------------------------------------------------------------------------------
# Modality LUT Sequence


def test_modality_lut_sequence_replaces_the_rescale() -> None:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))  # stored 127..2145
    table = np.round(1000 * np.sqrt(np.arange(4096))).astype(np.uint16)  # a curve no slope/intercept gives
    ds.ModalityLUTSequence = [_lut_item("US", 4096, 0, 16, table)]
    ds.RescaleSlope, ds.RescaleIntercept = 3.0, 7.0  # pydicom applies the LUT when both are present
    ds.WindowCenter, ds.WindowWidth = 30000.0, 40000.0  # a window in the LUT's output units
    data = _saved(ds)

    modality = table[ds.pixel_array.astype(np.int64)].astype(np.float64)
    expected = linear_window(modality, 30000.0, 40000.0)
    assert 0.1 < expected.mean() < 0.9
    np.testing.assert_allclose(load_any(data, "mr.dcm").pixels, expected, atol=1e-6)
    again = pydicom.dcmread(io.BytesIO(data))
    np.testing.assert_array_equal(apply_modality_lut(again.pixel_array, again), modality)  # pydicom agrees


def test_modality_lut_sequence_gives_a_volumes_values() -> None:
    frames = np.stack([np.full((10, 12), 10 * k, np.uint16) for k in range(4)])
    table = (np.arange(64, dtype=np.uint16) ** 2) % 3001  # 0, 100, 400, 900 at the planted values
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(frames)))
    ds.ModalityLUTSequence = [_lut_item("US", 64, 0, 16, table)]
    volume = load_any(_saved(ds), "cine.dcm")
    assert isinstance(volume, Volume)
    np.testing.assert_array_equal(np.unique(volume.data), [0.0, 100.0, 400.0, 900.0])


# --------------------------------------------------------------------------------------------------------------------
# Siemens mosaics


def _mosaic(tiles: list[np.ndarray], grid: int, count: int | None, **elements) -> bytes:
    """One stored image tiling ``tiles`` row by row in a grid×grid mosaic, tagged as Siemens writes it."""
    rows, columns = tiles[0].shape
    picture = np.zeros((grid * rows, grid * columns), np.uint16)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, grid)
        picture[r * rows : (r + 1) * rows, c * columns : (c + 1) * columns] = tile
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(picture, **elements)))
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND", "MOSAIC"]
    if count is not None:
        ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0A, "US", count)
    return _saved(ds)


def test_mosaic_is_split_into_its_slices() -> None:
    tiles = [np.full((8, 10), 100 * (k + 1), np.uint16) for k in range(5)]  # 5 slices: a 3×3 grid, 4 tiles empty
    volume = load_any(_mosaic(tiles, 3, 5), "epi.dcm")
    assert isinstance(volume, Volume)
    assert volume.data.shape == (10, 8, 5)  # (column, row, slice); no geometry: frames as stored along the slices
    for k in range(5):
        np.testing.assert_array_equal(volume.data[:, :, k], 100 * (k + 1))


def test_mosaic_without_its_slice_count_is_refused_with_one_message() -> None:
    tiles = [np.full((8, 10), 100 * (k + 1), np.uint16) for k in range(5)]
    with pytest.raises(UnsupportedFormatError, match=r"Siemens mosaic .*\(0019,100A\) Number Of Images In Mosaic"):
        load_any(_mosaic(tiles, 3, None), "epi.dcm")
    with pytest.raises(UnsupportedFormatError, match="grid of 10 equal tiles"):  # 10 slices: 4×4 tiles of 24×30
        load_any(_mosaic(tiles, 3, 10), "epi.dcm")


# nibabel ships the mosaic with its pixel data zeroed; these 48 tiles are planted in its place. Tile k holds
# 80·k + (row + 2·column) mod 80 (under 4096: the file stores 12 bits), so each tile and its in-plane orientation
# can be told apart.
_ROWS, _COLUMNS = np.mgrid[0:128, 0:128]
_PLANTED_TILES = np.stack([80 * k + (_ROWS + 2 * _COLUMNS) % 80 for k in range(48)]).astype(np.uint16)


def _real_mosaic(*, flip_csa_normal: bool = False, without_0019_count: bool = False) -> bytes:
    """nibabel's Siemens DWI mosaic, its real header with :data:`_PLANTED_TILES` as pixels (7×7 tiles, row by row),
    and optionally edited: the CSA image header's SliceNormalVector negated in place (each item "0.xxxxxxxx"
    rewritten as "-0.xxxxxxx", the same length, so the binary CSA table stays valid), or the (0019,100A) Number Of
    Images In Mosaic removed so that only the CSA header gives the slice count."""
    ds = pydicom.dcmread(io.BytesIO(gzip.decompress(NIBABEL_MOSAIC.read_bytes())))
    picture = np.zeros((7, 7, 128, 128), np.uint16)
    picture.reshape(49, 128, 128)[:48] = _PLANTED_TILES
    ds.PixelData = picture.swapaxes(1, 2).reshape(896, 896).astype("<u2").tobytes()
    if flip_csa_normal:
        table = ds[0x00291010].value
        start = table.index(b"SliceNormalVector\x00")
        end = start + 64 + 20 + 3 * (16 + 12)  # name, five int fields, three items of 16 + 11 (padded to 12) bytes
        flipped = re.sub(rb"(\d\.\d{7})\d\x00", lambda item: b"-" + item[1] + b"\x00", table[start:end])
        assert len(flipped) == end - start and flipped.count(b"-") == 3
        ds[0x00291010].value = table[:start] + flipped + table[end:]
    if without_0019_count:
        del ds[0x0019100A]
    return _saved(ds)


def _nibabels_reading(raw: bytes) -> tuple[nib.Nifti1Image, np.ndarray]:
    """nibabel's MosaicWrapper on these bytes, as a RAS+ canonical image like ours, and its slice normal (LPS)."""
    from nibabel.nicom import dicomwrappers

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel calls its DICOM readers experimental
        wrapper = dicomwrappers.wrapper_from_data(pydicom.dcmread(io.BytesIO(raw)))
        assert isinstance(wrapper, dicomwrappers.MosaicWrapper)
        # nibabel: voxel axes (row, column, slice) and an LPS affine; ours: RAS+ canonical
        reference = nib.as_closest_canonical(
            nib.Nifti1Image(wrapper.get_data().astype(np.float32), np.diag([-1.0, -1.0, 1.0, 1.0]) @ wrapper.affine)
        )
    return reference, np.asarray(wrapper.slice_normal)


def _csa_slice_normal(raw: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nibabel.nicom import csareader

        header = csareader.get_csa_header(pydicom.dcmread(io.BytesIO(raw)))
    return np.asarray(csareader.get_slice_normal(header), dtype=np.float64)


def _tile_steps(volume: Volume) -> np.ndarray:
    """Where each planted tile landed in ``volume``: the RAS step from tile k to tile k + 1 (one row per step),
    each tile found by its pixel sum (80·k·128² apart)."""
    sums = _PLANTED_TILES.astype(np.float64).sum(axis=(1, 2))
    planes = volume.data.astype(np.float64).sum(axis=(0, 1))  # the slice axis is the last one for this axial scan
    where = np.array([int(np.argmin(np.abs(planes - total))) for total in sums])
    np.testing.assert_array_equal(planes[where], sums)
    centres = np.stack([volume.affine @ np.array([0.0, 0.0, float(j), 1.0]) for j in where])[:, :3]
    return np.diff(centres, axis=0)


@pytest.mark.parametrize("edit", ["as shipped", "CSA normal flipped", "count only in the CSA header"])
def test_real_siemens_mosaic_matches_nibabels_reading(edit: str) -> None:
    """nibabel's own Siemens DWI mosaic (48 slices of 128×128 in 896×896, tiles planted), against nibabel's
    MosaicWrapper, which
    reads the CSA header's slice normal and slice count: same voxels, same RAS+ affine. The tiles run along the CSA
    header's SliceNormalVector, 3 mm (Spacing Between Slices) apart; with that vector negated in the header (a
    mosaic stored in the opposite slice order) the volume's slices come out in reverse, as nibabel reads them."""
    raw = _real_mosaic(flip_csa_normal=edit == "CSA normal flipped", without_0019_count=edit.startswith("count"))
    volume = load_any(raw, "dwi.dcm")
    assert isinstance(volume, Volume)
    reference, nibabels_normal = _nibabels_reading(raw)
    assert volume.data.shape == reference.shape == (128, 128, 48)
    np.testing.assert_array_equal(volume.data, np.asarray(reference.dataobj))
    np.testing.assert_allclose(volume.affine, reference.affine, atol=1e-3)

    # The slice direction, from the CSA header read here: each tile 3 mm further along SliceNormalVector (in RAS).
    csa_normal = _csa_slice_normal(raw)
    np.testing.assert_allclose(nibabels_normal, csa_normal, atol=1e-6)
    along = np.diag([-1.0, -1.0, 1.0]) @ csa_normal * 3.0
    np.testing.assert_allclose(_tile_steps(volume), np.tile(along, (47, 1)), atol=1e-3)
    shipped = _tile_steps(load_any(_real_mosaic(), "dwi.dcm"))
    if edit == "CSA normal flipped":  # the same tiles, in the opposite direction: the order is reversed
        assert csa_normal[2] < -0.99 and np.allclose(_tile_steps(volume), -shipped, atol=1e-3)
    else:
        assert csa_normal[2] > 0.99


def test_a_broken_csa_header_leaves_the_standard_elements_to_place_the_mosaic() -> None:
    """A CSA image header cut short (a damaged or half-anonymised file) cannot be parsed: the mosaic is still split
    by (0019,100A) and its slices run along the orientation's cross product, here the shipped CSA normal's way."""
    ds = pydicom.dcmread(io.BytesIO(_real_mosaic()))
    ds[0x00291010].value = ds[0x00291010].value[:100]
    volume = load_any(_saved(ds), "dwi.dcm")
    assert isinstance(volume, Volume)
    orientation = np.asarray(ds.ImageOrientationPatient, dtype=np.float64)
    cross = np.cross(orientation[:3], orientation[3:])
    np.testing.assert_allclose(
        _tile_steps(volume), np.tile(np.diag([-1.0, -1.0, 1.0]) @ cross * 3.0, (47, 1)), atol=1e-3
    )
