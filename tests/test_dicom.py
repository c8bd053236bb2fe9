"""DICOM input: files written here with pydicom itself, read back through ``load_any`` / ``load_dicom``.

Every expected value is worked out in the test from what was planted in the file (slope, window, spacing, per-slice
constants), never copied from the loader's output.
"""

from __future__ import annotations

import io
import zipfile

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from scse_viz.errors import (
    ImageTooLargeError,
    InputError,
    UnreadableFileError,
    UnsupportedCompressionError,
    UnsupportedFormatError,
)
from scse_viz.io import LoadedImage, Volume, load_any, load_dicom, volume_slice

PATIENT = "Secretname^Planted"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
PATIENT_ID = "PID-777-SECRET"

# --------------------------------------------------------------------------------------------------------------------
# Writing DICOM files


def dicom_bytes(
    pixels: np.ndarray,
    *,
    syntax: str = ExplicitVRLittleEndian,
    photometric: str = "MONOCHROME2",
    signed: bool = False,
    encapsulated: bytes | None = None,
    **elements,
) -> bytes:
    """A CT-like DICOM file holding ``pixels`` (rows x cols, or frames x rows x cols; uint16/int16, or uint8 RGB
    rows x cols x 3), with a planted patient name and ID and any further ``elements`` by keyword."""
    pixels = np.asarray(pixels)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = PATIENT
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = "19010101"
    ds.StudyDate = "20240102"
    ds.Modality = "CT"
    colour = photometric in ("RGB", "YBR_FULL")
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = pixels.shape[:2]
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
    else:
        ds.Rows, ds.Columns = pixels.shape[-2:]
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        if pixels.ndim == 3:
            ds.NumberOfFrames = pixels.shape[0]
    ds.PixelRepresentation = 1 if signed else 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    if encapsulated is not None:
        ds.PixelData = encapsulate([encapsulated])
    elif colour:
        ds.PixelData = pixels.astype(np.uint8).tobytes()
    else:
        ds.PixelData = pixels.astype("<i2" if signed else "<u2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """The VOI LUT Function LINEAR onto [0, 1], written out from PS3.3 C.11.2.1.2.1 (the default when a file names
    no function): below or at c − 0.5 − (w − 1)/2 black, above c − 0.5 + (w − 1)/2 white, else
    (x − (c − 0.5)) / (w − 1) + 0.5."""
    x = np.asarray(x, dtype=np.float64)
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    inside = (x - (center - 0.5)) / (width - 1) + 0.5
    return np.where(x <= low, 0.0, np.where(x > high, 1.0, inside))


def ramp(rows: int = 12, cols: int = 16, start: int = 0) -> np.ndarray:
    return (start + np.arange(rows * cols)).reshape(rows, cols).astype(np.uint16)


AXIAL = [1, 0, 0, 0, 1, 0]


def series_slice(value: int, z: float, instance: int, *, rows: int = 10, cols: int = 12, **elements) -> bytes:
    """One axial slice, constant ``value``, at height ``z`` (mm), with pixel spacing 0.7 (rows) x 0.9 (columns)."""
    base = {
        "ImageOrientationPatient": AXIAL,
        "ImagePositionPatient": [-50.0, -40.0, z],
        "PixelSpacing": [0.7, 0.9],
        "SliceThickness": 99.0,  # deliberately wrong: the spacing must come from the positions
        "InstanceNumber": instance,
        "SeriesInstanceUID": "1.2.3.4.5",
    }
    base.update(elements)
    return dicom_bytes(np.full((rows, cols), value, np.uint16), **base)


# --------------------------------------------------------------------------------------------------------------------
# Sniffing and 2-D images


def test_single_frame_file_is_a_2d_image_named_after_the_upload() -> None:
    data = dicom_bytes(ramp())
    assert data[128:132] == b"DICM"
    image = load_any(data, "chest.dcm")
    assert isinstance(image, LoadedImage)
    assert (image.name, image.mode, image.pixels.dtype, image.pixels.shape) == (
        "chest.dcm",
        "dicom",
        np.float32,
        (12, 16),
    )
    assert image.source_size == (12, 16)
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0
    assert not image.pixels.flags.writeable
    # Without a window the ramp is scaled robustly: monotone along the raster order, top-left darkest.
    assert np.all(np.diff(image.pixels.ravel()) >= 0)
    assert image.pixels[0, 0] == 0.0 and image.pixels[-1, -1] == 1.0


def test_file_without_extension_still_loads() -> None:
    assert isinstance(load_any(dicom_bytes(ramp()), "IM000001"), LoadedImage)


def test_rescale_slope_and_intercept_applied() -> None:
    stored = ramp(start=300)  # 300..491, i.e. -274..203.5 HU after the rescale below
    slope, intercept = 2.5, -1024.0
    center, width = 0.0, 400.0  # a window in rescaled (Hounsfield) units
    data = dicom_bytes(stored, RescaleSlope=slope, RescaleIntercept=intercept, WindowCenter=center, WindowWidth=width)
    hounsfield = stored.astype(np.float64) * slope + intercept
    expected = linear_window(hounsfield, center, width)  # no VOI LUT Function: the standard's LINEAR
    assert 0.0 < expected.mean() < 1.0  # the window really cuts through these values
    np.testing.assert_allclose(load_any(data, "ct.dcm").pixels, expected, atol=1e-6)


def test_window_maps_centre_minus_one_half_to_one_half() -> None:
    """LINEAR (no VOI LUT Function given) puts the middle of the window at c − 0.5 and divides by w − 1."""
    stored = np.full((10, 10), 100, np.uint16)
    stored[2, 3] = 1099  # 1099 * 0.5 - 50 = 499.5: the centre minus a half, where LINEAR gives one half
    stored[3, 3] = 1100  # 500: the centre itself, half a step above
    stored[4, 4] = 1110  # 505
    stored[6, 6] = 9000  # far above the window
    # Multi-valued window: the first pair is the default.
    data = dicom_bytes(
        stored, RescaleSlope=0.5, RescaleIntercept=-50.0, WindowCenter=[500.0, 40.0], WindowWidth=[80.0, 400.0]
    )
    pixels = load_any(data, "w.dcm").pixels
    assert pixels[2, 3] == pytest.approx(0.5, abs=1e-6)
    assert pixels[3, 3] == pytest.approx(0.5 + 0.5 / 79, abs=1e-6)
    assert pixels[4, 4] == pytest.approx(0.5 + 5.5 / 79, abs=1e-6)
    assert pixels[6, 6] == 1.0
    assert pixels[0, 0] == 0.0  # 100 * 0.5 - 50 = 0, far below 500 - 40


def test_monochrome1_is_inverted() -> None:
    stored = np.zeros((10, 10), np.uint16)
    stored[:, 5:] = 1000
    centre_value = 250  # LINEAR window 500/1000 maps 250 to (250 - 499.5) / 999 + 0.5 before the inversion
    stored[0, 0] = centre_value
    window = {"WindowCenter": 500.0, "WindowWidth": 1000.0}
    mono2 = load_any(dicom_bytes(stored, **window), "m2.dcm").pixels
    mono1 = load_any(dicom_bytes(stored, photometric="MONOCHROME1", **window), "m1.dcm").pixels
    assert mono2[0, 9] == 1.0 and mono2[0, 1] == 0.0
    assert mono1[0, 9] == 0.0 and mono1[0, 1] == 1.0  # high stored values are dark in MONOCHROME1
    assert mono1[0, 0] == pytest.approx(1.0 - ((250 - 499.5) / 999 + 0.5), abs=1e-6)
    np.testing.assert_allclose(mono1, 1.0 - mono2, atol=1e-6)


def test_monochrome1_without_window_is_inverted() -> None:
    stored = ramp()
    mono2 = load_any(dicom_bytes(stored), "m2.dcm").pixels
    mono1 = load_any(dicom_bytes(stored, photometric="MONOCHROME1"), "m1.dcm").pixels
    assert mono1[0, 0] == 1.0 and mono1[-1, -1] == 0.0
    np.testing.assert_allclose(mono1, 1.0 - mono2, atol=1e-6)


def test_signed_pixels_with_window() -> None:
    stored = np.full((8, 8), -1000, np.int16)
    stored[0, 0] = 40
    pixels = load_any(dicom_bytes(stored, signed=True, WindowCenter=40.0, WindowWidth=400.0), "s.dcm").pixels
    assert pixels[0, 0] == pytest.approx((40 - 39.5) / 399 + 0.5, abs=1e-6)  # LINEAR: c − 0.5, w − 1
    assert pixels[1, 1] == 0.0


def test_rgb_stays_colour() -> None:
    rgb = np.zeros((8, 10, 3), np.uint8)
    rgb[..., 0] = 255
    rgb[:, 5:, 1] = 51  # 51 / 255 = 0.2
    image = load_any(dicom_bytes(rgb, photometric="RGB"), "photo.dcm")
    assert image.pixels.shape == (8, 10, 3)
    np.testing.assert_allclose(image.pixels[0, 0], [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(image.pixels[0, 9], [1.0, 0.2, 0.0], atol=1e-6)


def test_ybr_full_is_converted_to_rgb() -> None:
    # Pure gray in YCbCr is (Y, 128, 128); ITU-R BT.601 full range makes it (Y, Y, Y) in RGB.
    ybr = np.zeros((8, 8, 3), np.uint8)
    ybr[..., 0] = 200
    ybr[..., 1:] = 128
    pixels = load_any(dicom_bytes(ybr, photometric="YBR_FULL"), "ybr.dcm").pixels
    assert pixels.shape == (8, 8, 3)
    np.testing.assert_allclose(pixels, 200 / 255, atol=2 / 255)


def test_2d_size_limits_apply() -> None:
    with pytest.raises(ImageTooLargeError):
        load_any(dicom_bytes(ramp(12, 16)), "big.dcm", max_pixels=12 * 16 - 1)
    with pytest.raises(InputError, match="at least 8"):
        load_any(dicom_bytes(ramp(4, 16)), "thin.dcm")


# --------------------------------------------------------------------------------------------------------------------
# Volumes


def test_multi_frame_file_is_a_volume_of_the_right_shape() -> None:
    frames, rows, cols = 5, 10, 12
    stack = np.stack([np.full((rows, cols), 10 * (k + 1), np.uint16) for k in range(frames)])
    data = dicom_bytes(stack, PixelSpacing=[0.5, 0.8], SpacingBetweenSlices=3.0, RescaleSlope=2.0, RescaleIntercept=1.0)
    volume = load_any(data, "cine.dcm")
    assert isinstance(volume, Volume)
    assert volume.name == "cine.dcm"
    assert volume.shape == (cols, rows, frames)  # voxel axes: column, row, frame
    np.testing.assert_allclose(volume.zooms, (0.8, 0.5, 3.0))
    # Frames keep their order along the slice axis, rescaled: 2 * 10 (k + 1) + 1.
    for k in range(frames):
        np.testing.assert_allclose(volume.data[:, :, k], 20 * (k + 1) + 1)


def test_classic_multi_frame_with_one_position_keeps_stored_order() -> None:
    """One top-level position (the first frame's) and a Spacing Between Slices: frames stay in stored order, step
    along the normal, and frame 0 sits at the planted position."""
    stack = np.stack([np.full((8, 10), 30 - 10 * k, np.uint16) for k in range(3)])
    data = dicom_bytes(
        stack,
        ImageOrientationPatient=AXIAL,
        ImagePositionPatient=[0.0, 0.0, 12.0],
        PixelSpacing=[1.0, 1.0],
        SpacingBetweenSlices=2.0,
    )
    volume = load_any(data, "nm.dcm")
    for k in range(3):
        assert np.all(volume.data[:, :, k] == 30 - 10 * k), k
    assert volume.zooms[2] == pytest.approx(2.0)
    np.testing.assert_allclose((volume.affine @ [0, 0, 2, 1])[2], 12.0 + 2 * 2.0)


def item(**elements) -> Dataset:
    ds = Dataset()
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    return ds


def test_enhanced_multi_frame_uses_its_functional_groups() -> None:
    """Geometry and rescale kept per frame (enhanced CT/MR): frames stored at shuffled heights are sorted by their
    own positions, each rescaled by its own slope, and spaced by those positions."""
    heights = [6.0, 0.0, 9.0, 3.0]  # stored order; sorted: 0, 3, 6, 9
    slopes = [1.0, 2.0, 3.0, 4.0]
    stack = np.stack([np.full((8, 10), 10 * (k + 1), np.uint16) for k in range(4)])
    shared = item(
        PixelMeasuresSequence=[item(PixelSpacing=[0.6, 0.4], SliceThickness=50.0)],
        PlaneOrientationSequence=[item(ImageOrientationPatient=AXIAL)],
    )
    per_frame = [
        item(
            PlanePositionSequence=[item(ImagePositionPatient=[0.0, 0.0, z])],
            PixelValueTransformationSequence=[item(RescaleSlope=m, RescaleIntercept=-5.0)],
        )
        for z, m in zip(heights, slopes, strict=True)
    ]
    data = dicom_bytes(stack, SharedFunctionalGroupsSequence=[shared], PerFrameFunctionalGroupsSequence=per_frame)
    volume = load_any(data, "enhanced.dcm")
    assert volume.shape == (10, 8, 4)
    np.testing.assert_allclose(volume.zooms, (0.4, 0.6, 3.0))
    order = np.argsort(heights)
    for k, stored in enumerate(order):
        assert np.all(volume.data[:, :, k] == 10 * (stored + 1) * slopes[stored] - 5.0), k


def test_multi_frame_without_geometry_shows_frames_as_stored_in_the_axial_view() -> None:
    stack = np.stack([ramp(10, 12, start=100 * k) for k in range(3)])
    volume = load_any(dicom_bytes(stack), "us.dcm")
    for k in range(3):
        np.testing.assert_array_equal(volume_slice(volume, "axial", k), stack[k].astype(np.float32))


def zipped_series(order: list[int]) -> tuple[bytes, list[float]]:
    """Five axial slices 2.5 mm apart, slice k holding the value 100 + k, zipped in the given (shuffled) order; the
    instance numbers are planted in the reverse order, so only the positions give the right one."""
    heights = [-20.0 + 2.5 * k for k in range(5)]
    members = {f"dir/IM{n:04d}": series_slice(100 + k, heights[k], instance=5 - k) for n, k in enumerate(order)}
    members["README.txt"] = b"exported by a viewer\n"
    members["dir/"] = b""
    return zip_bytes(members), heights


def test_shuffled_zip_series_is_sorted_by_position() -> None:
    data, heights = zipped_series([3, 0, 4, 1, 2])
    volume = load_any(data, "series.zip")
    assert isinstance(volume, Volume)
    assert volume.name == "series.zip · series of 5 slices"
    assert volume.shape == (12, 10, 5)
    assert nib.aff2axcodes(volume.affine) == ("R", "A", "S")
    # Axial slice k (inferior to superior in RAS+) must be the slice planted at the k-th lowest height.
    for k in range(5):
        assert np.all(volume.data[:, :, k] == 100 + k), k
    # The origin of slice 0 lies at the lowest planted height.
    np.testing.assert_allclose((volume.affine @ [0, 0, 0, 1])[2], min(heights))


def test_series_affine_spacing_is_pixel_spacing_and_slice_step() -> None:
    data, _ = zipped_series([4, 2, 0, 1, 3])
    volume = load_any(data, "series.zip")
    spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    np.testing.assert_allclose(spacing, (0.9, 0.7, 2.5))  # column spacing, row spacing, step between positions
    np.testing.assert_allclose(volume.zooms, (0.9, 0.7, 2.5))


def test_axial_series_in_lps_becomes_ras() -> None:
    """A standard axial slice: columns run to the patient's left (+x in LPS), rows to posterior (+y). RAS+ flips
    both, so the voxel stored at row 0, column 0 (the patient's right-anterior corner) ends up at the highest x
    index (right is +x in RAS) and the highest y index (anterior is +y)."""
    members = {}
    for k in range(3):
        pixels = np.zeros((10, 12), np.uint16)
        pixels[0, 0] = 1000
        members[f"s{k}"] = dicom_bytes(
            pixels,
            ImageOrientationPatient=AXIAL,
            ImagePositionPatient=[0, 0, 3.0 * k],
            PixelSpacing=[1, 1],
            SeriesInstanceUID="1.2.3",
        )
    volume = load_any(zip_bytes(members), "lps.zip")
    marker = np.argwhere(volume.data[:, :, 0] == 1000)
    np.testing.assert_array_equal(marker, [[11, 9]])
    world = volume.affine @ [11, 9, 0, 1]
    np.testing.assert_allclose(world[:3], [0.0, 0.0, 0.0])  # LPS (0, 0, 0) is RAS (0, 0, 0): the first voxel


def test_monochrome1_series_is_inverted_across_the_whole_volume() -> None:
    """Slices of constant 100 + k: inverted within the volume's range (100..104) they hold 204 - (100 + k), so the
    brightest stored slice is the darkest (flipping each slice within its own range would change nothing)."""
    members = {
        f"m{k}": series_slice(100 + k, 2.5 * k, k + 1, PhotometricInterpretation="MONOCHROME1") for k in range(5)
    }
    volume = load_any(zip_bytes(members), "mono1.zip")
    for k in range(5):
        assert np.all(volume.data[:, :, k] == 204 - (100 + k)), k


def test_series_falls_back_to_instance_number_without_positions() -> None:
    members = {}
    for n, k in enumerate([2, 0, 1]):
        members[f"f{n}"] = dicom_bytes(
            np.full((8, 8), 10 + k, np.uint16), InstanceNumber=k + 1, SeriesInstanceUID="9.9", SliceThickness=4.0
        )
    volume = load_any(zip_bytes(members), "noloc.zip")
    for k in range(3):
        assert np.all(volume.data[:, :, k] == 10 + k)
    assert volume.zooms[2] == pytest.approx(4.0)


def test_largest_series_is_chosen_and_named() -> None:
    members = {f"a{k}": series_slice(50, 2.0 * k, k + 1, SeriesInstanceUID="1.1") for k in range(3)}
    members.update({f"b{k}": series_slice(7, 2.0 * k, k + 1, SeriesInstanceUID="2.2") for k in range(2)})
    volume = load_any(zip_bytes(members), "study.zip")
    assert volume.shape[2] == 3
    assert np.all(volume.data == 50)
    assert volume.name == "study.zip · series of 3 slices (the largest of 2 series)"


def test_series_with_mixed_sizes_is_refused() -> None:
    members = {"a": series_slice(1, 0.0, 1), "b": series_slice(1, 2.0, 2, rows=14), "c": series_slice(1, 4.0, 3)}
    with pytest.raises(UnsupportedFormatError, match="not all the same size") as caught:
        load_any(zip_bytes(members), "mixed.zip")
    assert "mixed.zip" in str(caught.value)


def test_series_with_several_images_at_one_position_is_refused() -> None:
    members = {f"e{k}": series_slice(k, 0.0 if k < 2 else 5.0, k + 1) for k in range(3)}
    with pytest.raises(UnsupportedFormatError, match="different positions"):
        load_any(zip_bytes(members), "echoes.zip")


def test_zip_with_one_image_is_that_image() -> None:
    image = load_any(zip_bytes({"only.dcm": dicom_bytes(ramp())}), "one.zip")
    assert isinstance(image, LoadedImage)
    assert image.name == "one.zip · 1 image"


def test_volume_voxel_limit_checked() -> None:
    data, _ = zipped_series([0, 1, 2, 3, 4])
    with pytest.raises(ImageTooLargeError, match="voxels"):
        load_any(data, "series.zip", max_voxels=5 * 10 * 12 - 1)


# --------------------------------------------------------------------------------------------------------------------
# ZIPs that are not DICOM series, and zip bombs


def test_zip_without_dicom_keeps_the_old_refusal() -> None:
    data = zip_bytes({"word/document.xml": b"<w:document/>", "notes.txt": b"hello"})
    with pytest.raises(UnsupportedFormatError) as caught:
        load_any(data, "report.docx")
    message = str(caught.value)
    assert message.startswith(
        '"report.docx" is not a file the app can read (it looks like a ZIP archive or an Office document).'
    )
    assert "PNG, JPEG, TIFF" in message


def test_corrupt_zip_is_unreadable() -> None:
    data, _ = zipped_series([0, 1, 2, 3, 4])
    with pytest.raises(UnreadableFileError):
        load_any(data[: len(data) // 2], "cut.zip")


def test_zip_with_too_many_members_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from scse_viz.io import dicom

    monkeypatch.setattr(dicom, "MAX_ZIP_MEMBERS", 3)
    data, _ = zipped_series([0, 1, 2, 3, 4])  # 5 slices and a README: 6 files, the directory entry not counted
    with pytest.raises(ImageTooLargeError, match="6 files"):
        load_any(data, "many.zip")


def test_zip_bomb_refused_before_inflating() -> None:
    # 2 GiB of zeros would be needed to build this honestly; instead write a small member and patch its declared
    # size in both headers, which is what a bomb's directory says. The cap must answer before anything is inflated.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.dcm", b"\0" * 1000)
    raw = bytearray(buffer.getvalue())
    size = (3 << 30).to_bytes(4, "little")
    local = raw.index(b"PK\x03\x04")
    raw[local + 22 : local + 26] = size
    central = raw.index(b"PK\x01\x02")
    raw[central + 24 : central + 28] = size
    with pytest.raises(ImageTooLargeError, match="GiB"):
        load_any(bytes(raw), "bomb.zip")


def test_deflated_dicom_loads_and_a_deflate_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = np.zeros((64, 64), np.uint16)
    stored[5, 7] = 1000
    deflated = dicom_bytes(stored, syntax="1.2.840.10008.1.2.1.99", WindowCenter=500.0, WindowWidth=1000.0)
    assert len(deflated) < stored.nbytes // 4  # really deflated: zeros compress well
    pixels = load_any(deflated, "deflated.dcm").pixels
    assert pixels[5, 7] == 1.0 and pixels.sum() == 1.0
    from scse_viz.io import dicom

    monkeypatch.setattr(dicom, "MAX_UNCOMPRESSED_BYTES", stored.nbytes // 2)
    with pytest.raises(ImageTooLargeError, match="GiB"):
        load_any(deflated, "bomb.dcm")


def test_dicom_file_without_pixels_is_refused() -> None:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # a structured report
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.PatientName = PATIENT
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    with pytest.raises(UnsupportedFormatError, match="without an image") as caught:
        load_any(buffer.getvalue(), "report.dcm")
    assert "Secretname" not in str(caught.value)


def test_truncated_dicom_is_unreadable() -> None:
    data = dicom_bytes(ramp(64, 64))
    with pytest.raises(UnreadableFileError):
        load_any(data[: len(data) - 2000], "cut.dcm")


# --------------------------------------------------------------------------------------------------------------------
# Compressed transfer syntaxes


NO_DECODER = [
    ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless Image Compression"),
    ("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Image Compression (Lossless Only)"),
    ("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile / Main Level"),
]


@pytest.mark.parametrize(("uid", "title"), NO_DECODER)
def test_syntax_without_a_decoder_gives_a_typed_error_naming_it(uid: str, title: str) -> None:
    try:
        if get_decoder(uid).is_available:
            pytest.skip(f"a decoder for {title} is installed here")
    except NotImplementedError:
        pass  # pydicom has no decoder at all for it: exactly the case under test
    data = dicom_bytes(ramp(), syntax=uid, encapsulated=b"\xff\xd8 not really compressed \xff\xd9" * 4)
    with pytest.raises(UnsupportedCompressionError) as caught:
        load_any(data, "compressed.dcm")
    message = str(caught.value)
    assert f"{title} ({uid})" in message
    assert "uncompressed" in message and "NIfTI" in message
    assert isinstance(caught.value, UnsupportedFormatError)


def test_jpeg2000_that_cannot_be_decoded_names_the_syntax() -> None:
    """JPEG 2000 with bytes that are not a codestream: whether or not a decoder is installed, the typed error names
    the syntax and says what to do."""
    data = dicom_bytes(ramp(), syntax=JPEG2000_LOSSLESS, encapsulated=b"\x00\x01 not a codestream " * 8)
    expected = UnreadableFileError if get_decoder(JPEG2000_LOSSLESS).is_available else UnsupportedCompressionError
    with pytest.raises(expected) as caught:
        load_any(data, "j2k.dcm")
    message = str(caught.value)
    assert "JPEG 2000 Image Compression (Lossless Only) (1.2.840.10008.1.2.4.90)" in message
    assert "uncompressed" in message and "NIfTI" in message


# --------------------------------------------------------------------------------------------------------------------
# Privacy


def test_patient_data_never_in_names_or_messages() -> None:
    secrets = ("Secretname", "Planted", PATIENT_ID, "19010101", "20240102")
    results = [
        load_any(dicom_bytes(ramp()), "a.dcm"),
        load_any(dicom_bytes(np.stack([ramp()] * 3)), "b.dcm"),
        load_any(zipped_series([2, 0, 1, 4, 3])[0], "c.zip"),
    ]
    texts = [r.name for r in results] + [repr(r) for r in results]
    failing = [
        lambda: load_any(dicom_bytes(ramp(), syntax="1.2.840.10008.1.2.4.80", encapsulated=b"\0" * 64), "d.dcm"),
        lambda: load_any(dicom_bytes(ramp(), syntax=JPEG2000_LOSSLESS, encapsulated=b"\0" * 64), "e.dcm"),
        lambda: load_any(dicom_bytes(ramp(64, 64))[:-2000], "f.dcm"),
        lambda: load_any(dicom_bytes(ramp(4, 16)), "g.dcm"),
        lambda: load_any(zip_bytes({"a": series_slice(1, 0.0, 1), "b": series_slice(1, 2.0, 2, rows=14)}), "h.zip"),
        lambda: load_any(zip_bytes({f"{PATIENT}_{k}.dcm": series_slice(1, 0.0, k) for k in range(2)}), "i.zip"),
    ]
    for fail in failing:
        with pytest.raises(InputError) as caught:
            fail()
        texts.append(str(caught.value))
    assert len(texts) == 12
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)


def test_patient_name_is_never_parsed() -> None:
    """Only the listed elements are decoded: the dataset the loader keeps has no patient module at all."""
    from scse_viz.io import dicom

    image = dicom._read(dicom_bytes(ramp()), what='"a.dcm"')
    assert image is not None
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "StudyDate", "Modality"):
        assert keyword not in image.ds
    assert "Rows" in image.ds


def test_load_dicom_refuses_other_bytes_like_load_any() -> None:
    with pytest.raises(UnsupportedFormatError, match="not a file the app can read"):
        load_dicom(b"just text\n" * 30, "notes.dcm")


def test_a_header_declaring_many_frames_is_read_once_per_file(monkeypatch):
    """Found by the fuzzer: a classic multi-frame file declaring 60,000 frames of 1×1 pixels was looked up frame by
    frame (7 s) before its missing pixel data was refused. A classic file's frames share one orientation and
    position, so they are looked up once; the refusal stays typed."""
    import io as _io
    import zipfile

    import pydicom

    from scse_viz.errors import ScseVizError
    from scse_viz.io import dicom as dicom_module
    from scse_viz.io import load_any
    from tests.fuzzing import MR_SMALL

    dataset = pydicom.dcmread(MR_SMALL)
    dataset.Rows, dataset.Columns, dataset.NumberOfFrames = 1, 1, 60_000
    buffer = _io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    archive = _io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("series/0.dcm", buffer.getvalue())
    calls = []
    original = dicom_module._orientation
    monkeypatch.setattr(dicom_module, "_orientation", lambda ds, frame: calls.append(frame) or original(ds, frame))
    with pytest.raises(ScseVizError):
        load_any(archive.getvalue(), "series.zip")
    assert len(calls) <= 2, len(calls)  # the first file's orientation, and its frames' once
