"""Tests for scse_viz.io: real files built in memory with Pillow, nibabel and numpy; no mocks."""

from __future__ import annotations

import gzip
import importlib.resources
import io
import struct
import warnings
import zlib

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from scse_viz.errors import (
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    InputError,
    NonFiniteValuesError,
    SliceIndexError,
    UnreadableFileError,
    UnsupportedFormatError,
    VolumeIndexRequiredError,
)
from scse_viz.io import (
    LoadedImage,
    Volume,
    image_from_slice,
    load_any,
    load_image,
    load_volume,
    slice_count,
    volume_slice,
)

# --------------------------------------------------------------------------------------------------------------------
# Helpers


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def noise_gray(h: int = 16, w: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


def noise_rgb(h: int = 16, w: int = 24, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def smooth_gray(h: int = 32, w: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (40 + 3 * xx + 2 * yy).astype(np.uint8)


def smooth_rgb(h: int = 32, w: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([30 + 4 * xx, 200 - 3 * yy, 60 + 2 * xx + yy], axis=-1).astype(np.uint8)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims widthxheight 1-bit gray pixels but whose IDAT is far too short to decode."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )


def nifti_bytes(
    array: np.ndarray, affine: np.ndarray | None = None, *, gz: bool = False, nifti2: bool = False
) -> bytes:
    image_class = nib.Nifti2Image if nifti2 else nib.Nifti1Image
    raw = image_class(array, np.eye(4) if affine is None else affine).to_bytes()
    return gzip.compress(raw) if gz else raw


LOSSLESS = {"PNG": {}, "TIFF": {}, "BMP": {}, "WEBP": {"lossless": True, "quality": 100}}


# --------------------------------------------------------------------------------------------------------------------
# Images: round trips


@pytest.mark.parametrize("fmt", list(LOSSLESS))
def test_lossless_gray_round_trip(fmt: str) -> None:
    gray = noise_gray()
    loaded = load_image(encode(Image.fromarray(gray), fmt, **LOSSLESS[fmt]), f"gray.{fmt.lower()}")
    expected = gray.astype(np.float32) / 255
    assert loaded.pixels.dtype == np.float32
    assert loaded.bit_depth == 8
    assert loaded.source_size == gray.shape
    if fmt == "WEBP":  # WebP has no gray mode: Pillow stores it as RGB with three equal channels
        assert loaded.pixels.shape == (*gray.shape, 3)
        np.testing.assert_allclose(loaded.to_gray(), expected, atol=1e-6)
    else:
        assert loaded.mode == "L"
        np.testing.assert_array_equal(loaded.pixels, expected)


@pytest.mark.parametrize("fmt", list(LOSSLESS))
def test_lossless_rgb_round_trip(fmt: str) -> None:
    rgb = noise_rgb()
    loaded = load_image(encode(Image.fromarray(rgb), fmt, **LOSSLESS[fmt]), f"rgb.{fmt.lower()}")
    assert loaded.mode == "RGB"
    assert loaded.bit_depth == 8
    np.testing.assert_array_equal(loaded.pixels, rgb.astype(np.float32) / 255)


def test_jpeg_gray_round_trip_within_tolerance() -> None:
    gray = smooth_gray()
    loaded = load_image(encode(Image.fromarray(gray), "JPEG", quality=95), "gray.jpg")
    assert loaded.mode == "L"
    assert loaded.pixels.shape == gray.shape
    error = np.abs(loaded.pixels - gray / 255)
    assert error.mean() < 1.5 / 255
    assert error.max() < 6 / 255


def test_jpeg_rgb_round_trip_within_tolerance() -> None:
    rgb = smooth_rgb()
    loaded = load_image(encode(Image.fromarray(rgb), "JPEG", quality=95, subsampling=0), "rgb.jpg")
    assert loaded.mode == "RGB"
    assert loaded.pixels.shape == rgb.shape
    error = np.abs(loaded.pixels - rgb / 255)
    assert error.mean() < 1.5 / 255
    assert error.max() < 8 / 255


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16_bit_gray_keeps_16_bit_precision(fmt: str) -> None:
    values = np.tile(np.array([0, 1000, 1001, 65535], dtype=np.uint16), (8, 2))
    loaded = load_image(encode(Image.fromarray(values), fmt), f"deep.{fmt.lower()}")
    assert loaded.bit_depth == 16
    assert loaded.pixels.shape == values.shape
    assert loaded.pixels[0, 1] == np.float32(1000) / np.float32(65535)
    assert loaded.pixels[0, 1] != loaded.pixels[0, 2]  # 8-bit would merge 1000 and 1001
    np.testing.assert_array_equal(np.rint(loaded.pixels * 65535).astype(np.uint16), values)
    assert loaded.pixels[0, 3] == 1.0


def test_16_bit_big_endian_tiff() -> None:
    values = np.tile(np.array([7, 1000, 40000, 65535], dtype=np.uint16), (8, 2))
    img = Image.frombytes("I;16B", (values.shape[1], values.shape[0]), values.astype(">u2").tobytes())
    loaded = load_image(encode(img, "TIFF"), "be.tif")
    assert loaded.mode == "I;16B"
    np.testing.assert_array_equal(np.rint(loaded.pixels * 65535).astype(np.uint16), values)


def test_32_bit_integer_tiff_uses_signed_full_scale() -> None:
    values = np.tile(np.array([-5, 0, 2**30, 2**31 - 1], dtype=np.int32), (8, 2))
    loaded = load_image(encode(Image.fromarray(values), "TIFF"), "int32.tif")
    assert (loaded.mode, loaded.bit_depth) == ("I", 32)
    np.testing.assert_allclose(loaded.pixels[0, :4], [-5 / (2**31 - 1), 0, 0.5, 1.0], rtol=1e-6)


def test_float_tiff_keeps_values() -> None:
    values = np.tile(np.array([0.25, -1.0, 3.5, 1e-3], dtype=np.float32), (8, 2))
    loaded = load_image(encode(Image.fromarray(values), "TIFF"), "float.tif")
    assert (loaded.mode, loaded.bit_depth) == ("F", 32)
    np.testing.assert_array_equal(loaded.pixels, values)


def test_bilevel_png() -> None:
    board = (np.indices((10, 12)).sum(axis=0) % 2).astype(bool)
    loaded = load_image(encode(Image.fromarray(board), "PNG"), "board.png")
    assert (loaded.mode, loaded.bit_depth) == ("1", 1)
    np.testing.assert_array_equal(loaded.pixels, board.astype(np.float32))


def test_palette_png_becomes_rgb() -> None:
    indices = np.zeros((10, 10), dtype=np.uint8)
    indices[:, 5:] = 1
    indices[5:, :] = 2
    img = Image.frombytes("P", (10, 10), indices.tobytes())
    img.putpalette([255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * (253 * 3))
    loaded = load_image(encode(img, "PNG"), "palette.png")
    assert loaded.mode == "P"
    assert loaded.pixels.shape == (10, 10, 3)
    np.testing.assert_array_equal(loaded.pixels[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(loaded.pixels[0, 9], [0, 1, 0])
    np.testing.assert_array_equal(loaded.pixels[9, 0], np.array([10, 20, 30], dtype=np.float32) / 255)


def test_palette_png_transparency_composited_onto_white() -> None:
    indices = np.ones((10, 10), dtype=np.uint8)
    indices[0, 0] = 0
    img = Image.frombytes("P", (10, 10), indices.tobytes())
    img.putpalette([0, 0, 0, 50, 100, 150] + [0] * (254 * 3))
    loaded = load_image(encode(img, "PNG", transparency=0), "transparent-palette.png")
    np.testing.assert_array_equal(loaded.pixels[0, 0], [1, 1, 1])  # black but fully transparent -> white
    np.testing.assert_array_equal(loaded.pixels[5, 5], np.array([50, 100, 150], dtype=np.float32) / 255)


def test_rgba_png_composited_onto_white() -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[...] = (200, 100, 50, 255)
    rgba[0, 0] = (10, 20, 30, 0)  # fully transparent
    rgba[0, 1] = (0, 0, 0, 128)  # half transparent black
    loaded = load_image(encode(Image.fromarray(rgba), "PNG"), "rgba.png")
    assert loaded.mode == "RGBA"
    assert loaded.pixels.shape == (10, 10, 3)
    np.testing.assert_array_equal(loaded.pixels[0, 0], [1, 1, 1])
    np.testing.assert_allclose(loaded.pixels[0, 1], [1 - 128 / 255] * 3, atol=1e-6)
    np.testing.assert_array_equal(loaded.pixels[5, 5], np.array([200, 100, 50], dtype=np.float32) / 255)


def test_gray_alpha_png_composited_onto_white() -> None:
    la = np.zeros((10, 10, 2), dtype=np.uint8)
    la[..., 0] = 60
    la[..., 1] = 255
    la[0, 0] = (0, 0)
    loaded = load_image(encode(Image.frombytes("LA", (10, 10), la.tobytes()), "PNG"), "la.png")
    assert loaded.mode == "LA"
    assert loaded.pixels.shape == (10, 10)
    assert loaded.pixels[0, 0] == 1.0
    assert loaded.pixels[5, 5] == np.float32(60) / np.float32(255)


def test_gray_png_with_transparent_colour_key() -> None:
    gray = np.full((10, 10), 30, dtype=np.uint8)
    gray[0, 0] = 100
    loaded = load_image(encode(Image.fromarray(gray), "PNG", transparency=100), "key.png")
    assert loaded.pixels[0, 0] == 1.0
    assert loaded.pixels[1, 1] == np.float32(30) / np.float32(255)


def test_cmyk_tiff_converts_to_rgb() -> None:
    cmyk = np.zeros((10, 10, 4), dtype=np.uint8)
    cmyk[:, :5] = (255, 0, 0, 0)  # cyan
    cmyk[:, 5:] = (0, 0, 0, 255)  # black
    loaded = load_image(encode(Image.frombytes("CMYK", (10, 10), cmyk.tobytes()), "TIFF"), "cmyk.tif")
    assert loaded.mode == "CMYK"
    assert loaded.pixels.shape == (10, 10, 3)
    np.testing.assert_array_equal(loaded.pixels[0, 0], [0, 1, 1])
    np.testing.assert_array_equal(loaded.pixels[0, 9], [0, 0, 0])


def test_cmyk_jpeg_converts_to_rgb() -> None:
    cmyk = np.zeros((16, 16, 4), dtype=np.uint8)
    cmyk[...] = (0, 255, 255, 0)  # red
    loaded = load_image(encode(Image.frombytes("CMYK", (16, 16), cmyk.tobytes()), "JPEG", quality=95), "cmyk.jpg")
    assert loaded.mode == "CMYK"
    np.testing.assert_allclose(loaded.pixels[8, 8], [1, 0, 0], atol=4 / 255)


def test_multi_frame_gif_uses_first_frame() -> None:
    first = Image.fromarray(np.full((10, 10, 3), (255, 0, 0), dtype=np.uint8))
    second = Image.fromarray(np.full((10, 10, 3), (0, 0, 255), dtype=np.uint8))
    data = encode(first, "GIF", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    loaded = load_image(data, "anim.gif")
    np.testing.assert_array_equal(loaded.pixels[5, 5], [1, 0, 0])


def test_multi_page_tiff_uses_first_page() -> None:
    first = Image.fromarray(np.full((10, 10), 10, dtype=np.uint8))
    second = Image.fromarray(np.full((10, 10), 250, dtype=np.uint8))
    loaded = load_image(encode(first, "TIFF", save_all=True, append_images=[second]), "pages.tif")
    np.testing.assert_array_equal(loaded.pixels, np.full((10, 10), np.float32(10) / np.float32(255)))


# EXIF orientation: a 20-wide, 10-high stored image with a marker at stored (row 1, column 2).
@pytest.mark.parametrize(
    ("orientation", "shape", "marker"),
    [
        (1, (10, 20), (1, 2)),  # as stored
        (3, (10, 20), (8, 17)),  # rotate 180
        (6, (20, 10), (2, 8)),  # rotate 90 clockwise: (r, c) -> (c, H - 1 - r)
        (8, (20, 10), (17, 1)),  # rotate 90 counter-clockwise: (r, c) -> (W - 1 - c, r)
    ],
)
def test_exif_orientation_png(orientation: int, shape: tuple[int, int], marker: tuple[int, int]) -> None:
    stored = np.zeros((10, 20), dtype=np.uint8)
    stored[1, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    loaded = load_image(encode(Image.fromarray(stored), "PNG", exif=exif), "rotated.png")
    assert loaded.pixels.shape == shape
    assert loaded.source_size == shape
    assert np.argwhere(loaded.pixels == 1.0).tolist() == [list(marker)]


def test_exif_orientation_jpeg() -> None:
    stored = np.zeros((20, 40), dtype=np.uint8)
    stored[:8, :8] = 255  # block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif), "phone.jpg")
    assert loaded.pixels.shape == (40, 20)
    assert loaded.pixels[:8, 12:].mean() > 0.9  # a viewer shows it at the top-right
    assert loaded.pixels[:8, :8].mean() < 0.1
    assert loaded.pixels[32:, :8].mean() < 0.1


def test_exif_orientation_16_bit_png_keeps_precision() -> None:
    stored = np.zeros((10, 20), dtype=np.uint16)
    stored[1, 2] = 1001
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = load_image(encode(Image.fromarray(stored), "PNG", exif=exif), "deep-rotated.png")
    assert loaded.bit_depth == 16
    assert loaded.pixels.shape == (20, 10)
    assert loaded.pixels[2, 8] == np.float32(1001) / np.float32(65535)


def test_16_bit_colour_png_arrives_as_8_bit() -> None:
    """Documents a Pillow limit: 16-bit RGB PNGs are decoded to 8 bits per channel, and bit_depth says so."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rgb = np.zeros((8, 8, 3), dtype=">u2")
    rgb[...] = (1000, 0x8000, 65535)
    scanlines = b"".join(b"\x00" + row.tobytes() for row in rgb)
    ihdr = struct.pack(">IIBBBBB", 8, 8, 16, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(scanlines)) + chunk(b"IEND", b"")
    loaded = load_image(png, "deep-colour.png")
    assert (loaded.mode, loaded.bit_depth) == ("RGB", 8)
    np.testing.assert_array_equal(loaded.pixels[0, 0], np.array([1000 >> 8, 0x80, 255], dtype=np.float32) / 255)


def test_load_any_passes_image_limits_on() -> None:
    data = encode(Image.fromarray(noise_gray(16, 16)), "PNG")
    with pytest.raises(ImageTooLargeError):
        load_any(data, "g.png", max_pixels=100)
    with pytest.raises(ImageTooSmallError):
        load_any(data, "g.png", min_side=17)


@pytest.mark.parametrize(("fmt", "wrong_name"), [("PNG", "photo.jpg"), ("JPEG", "scan.png"), ("TIFF", "x.nii.gz")])
def test_type_comes_from_bytes_not_extension(fmt: str, wrong_name: str) -> None:
    gray = smooth_gray()
    loaded = load_any(encode(Image.fromarray(gray), fmt), wrong_name)
    assert isinstance(loaded, LoadedImage)
    assert loaded.name == wrong_name
    np.testing.assert_allclose(loaded.pixels, gray / 255, atol=6 / 255)


def test_loaded_image_is_read_only_and_to_gray_uses_601_weights() -> None:
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    loaded = load_image(encode(Image.fromarray(rgb), "PNG"), "red.png")
    assert not loaded.pixels.flags.writeable
    gray = loaded.to_gray()
    assert gray.shape == (8, 8)
    assert gray.dtype == np.float32
    np.testing.assert_allclose(gray, 0.299, rtol=1e-6)
    gray_image = load_image(encode(Image.fromarray(noise_gray()), "PNG"), "g.png")
    assert gray_image.to_gray() is gray_image.pixels


# --------------------------------------------------------------------------------------------------------------------
# Images: bad input


@pytest.mark.parametrize("loader", [load_image, load_volume, load_any])
def test_zero_bytes(loader) -> None:
    with pytest.raises(EmptyFileError, match="0 bytes"):
        loader(b"", "empty.png")


def test_random_bytes_are_unsupported() -> None:
    data = bytes(np.random.default_rng(42).integers(0, 256, 4096, dtype=np.uint8))
    for loader in (load_image, load_any, load_volume):
        with pytest.raises(UnsupportedFormatError, match="PNG, JPEG, TIFF"):
            loader(data, "noise.png")


def test_pdf_is_unsupported_and_named() -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
    with pytest.raises(UnsupportedFormatError, match="PDF"):
        load_image(pdf, "paper.png")
    with pytest.raises(UnsupportedFormatError, match="PDF"):
        load_any(pdf, "paper.pdf")


def test_text_file_is_unsupported_and_named() -> None:
    with pytest.raises(UnsupportedFormatError, match="text file"):
        load_any(b"BMW is not a bitmap, just text that starts with BM.\n", "notes.bmp")


def test_nifti_given_to_load_image_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match="NIfTI"):
        load_image(nifti_bytes(np.zeros((8, 8, 8), np.float32)), "brain.nii")


@pytest.mark.parametrize(
    ("fmt", "kw"),
    [("PNG", {}), ("JPEG", {"quality": 90}), ("TIFF", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("GIF", {})],
)
def test_truncated_image_is_unreadable(fmt: str, kw: dict) -> None:
    data = encode(Image.fromarray(noise_rgb(64, 64)), fmt, **kw)
    with pytest.raises(UnreadableFileError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2], f"cut.{fmt.lower()}")


def test_png_cut_inside_header_is_unreadable() -> None:
    data = encode(Image.fromarray(noise_gray()), "PNG")
    with pytest.raises(UnreadableFileError):
        load_image(data[:20], "stub.png")


def test_corrupt_png_data_is_unreadable() -> None:
    data = bytearray(encode(Image.fromarray(noise_rgb(64, 64)), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 200] = bytes(range(190))
    with pytest.raises(UnreadableFileError):
        load_image(bytes(data), "garbled.png")


def test_too_many_pixels_refused_before_decoding() -> None:
    # The IDAT could never fill 7000x7000: reaching ImageTooLargeError (not UnreadableFileError) proves the size
    # check comes before decoding.
    with pytest.raises(ImageTooLargeError, match="megapixels"):
        load_image(png_header_only(7000, 7000), "big.png")
    with pytest.raises(UnreadableFileError):
        load_image(png_header_only(7000, 7000), "big.png", max_pixels=50_000_000)


@pytest.mark.parametrize(("side", "max_pixels"), [(10_000, 40_000_000), (100_000, 40_000_000), (20_000, 10**9)])
def test_pillow_bomb_guard_maps_to_image_too_large(side: int, max_pixels: int) -> None:
    # 10k² trips Pillow's DecompressionBombWarning, 100k² and 20k² its DecompressionBombError.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageTooLargeError):
            load_image(png_header_only(side, side), "bomb.png", max_pixels=max_pixels)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_max_pixels_boundary_on_a_real_image() -> None:
    data = encode(Image.fromarray(noise_gray(16, 16)), "PNG")
    assert load_image(data, "ok.png", max_pixels=256).pixels.shape == (16, 16)
    with pytest.raises(ImageTooLargeError):
        load_image(data, "big.png", max_pixels=255)


@pytest.mark.parametrize("size", [(4, 4), (100, 4), (4, 100)])
def test_too_small(size: tuple[int, int]) -> None:
    with pytest.raises(ImageTooSmallError, match="at least 8"):
        load_image(encode(Image.new("L", size), "PNG"), "tiny.png")


def test_min_side_boundary() -> None:
    assert load_image(encode(Image.new("L", (8, 8)), "PNG"), "eight.png").pixels.shape == (8, 8)
    assert load_image(encode(Image.new("L", (4, 4)), "PNG"), "four.png", min_side=4).pixels.shape == (4, 4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_tiff_with_non_finite_values(bad: float) -> None:
    values = np.ones((10, 10), dtype=np.float32)
    values[3, 4] = bad
    with pytest.raises(NonFiniteValuesError, match="1 NaN or infinite"):
        load_image(encode(Image.fromarray(values), "TIFF"), "nan.tif")


def test_every_bad_upload_ends_in_an_input_error() -> None:
    """One real bad file per way of being wrong, through the app's single door (``load_any``, or the slice picker):
    each is caught as an InputError, the one type the pages catch for a user's mistake, and is the typed error."""
    nan_tiff = np.ones((10, 10), dtype=np.float32)
    nan_tiff[0, 0] = np.nan
    four_d = nifti_bytes(np.zeros((4, 5, 6, 3), np.float32))
    cases = [
        (EmptyFileError, lambda: load_any(b"", "empty.png")),
        (UnsupportedFormatError, lambda: load_any(b"just text\n" * 20, "notes.png")),
        (UnreadableFileError, lambda: load_any(encode(Image.fromarray(noise_rgb(64, 64)), "PNG")[:400], "cut.png")),
        (ImageTooLargeError, lambda: load_any(png_header_only(7000, 7000), "big.png")),
        (ImageTooSmallError, lambda: load_any(encode(Image.new("L", (4, 4)), "PNG"), "tiny.png")),
        (NonFiniteValuesError, lambda: load_any(encode(Image.fromarray(nan_tiff), "TIFF"), "nan.tif")),
        (VolumeIndexRequiredError, lambda: load_any(four_d, "bold.nii")),
        (
            SliceIndexError,
            lambda: volume_slice(load_any(nifti_bytes(np.zeros((4, 4, 4), np.float32)), "v.nii"), "axial", 4),
        ),
    ]
    for expected, upload in cases:
        with pytest.raises(InputError) as caught:
            upload()
        assert type(caught.value) is expected, (expected.__name__, repr(caught.value))


# --------------------------------------------------------------------------------------------------------------------
# NIfTI volumes


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("nifti2", [False, True])
def test_nifti_loads_plain_and_gzipped(gz: bool, nifti2: bool) -> None:
    array = np.random.default_rng(3).random((5, 6, 7)).astype(np.float32)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    volume = load_volume(nifti_bytes(array, affine, gz=gz, nifti2=nifti2), "scan.nii.gz" if gz else "scan.nii")
    assert isinstance(volume, Volume)
    assert volume.data.dtype == np.float32
    np.testing.assert_array_equal(volume.data, array)
    np.testing.assert_array_equal(volume.affine, affine)
    assert volume.zooms == (2.0, 3.0, 4.0)
    assert not volume.data.flags.writeable


def test_nifti_type_comes_from_bytes_not_extension() -> None:
    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    assert isinstance(load_any(nifti_bytes(array, gz=True), "upload.bin"), Volume)
    assert isinstance(load_any(nifti_bytes(array, gz=True), "scan.nii"), Volume)
    assert isinstance(load_any(nifti_bytes(array), "scan.nii.gz"), Volume)
    assert isinstance(load_any(nifti_bytes(array, nifti2=True), "scan.png"), Volume)


def test_big_endian_nifti() -> None:
    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    data = nib.Nifti1Image(array, np.eye(4), header=nib.Nifti1Header(endianness=">")).to_bytes()
    assert data[:4] == struct.pack(">i", 348)
    np.testing.assert_array_equal(load_volume(data, "be.nii").data, array)


def test_scaling_slope_and_intercept_applied() -> None:
    image = nib.Nifti1Image(np.arange(60, dtype=np.int16).reshape(3, 4, 5), np.eye(4))
    image.header.set_slope_inter(2.0, 1.0)
    volume = load_volume(image.to_bytes(), "scaled.nii")
    np.testing.assert_array_equal(volume.data, 2 * np.arange(60, dtype=np.float32).reshape(3, 4, 5) + 1)


def test_lps_volume_reoriented_to_ras() -> None:
    shape = (4, 6, 8)
    affine = np.array([[-2.0, 0, 0, 30], [0, -2.0, 0, 40], [0, 0, 3.0, -50], [0, 0, 0, 1]])
    stored = np.zeros(shape, dtype=np.float32)
    stored[0, 1, 5] = 9.0
    volume = load_volume(nifti_bytes(stored, affine), "lps.nii")
    assert nib.aff2axcodes(volume.affine) == ("R", "A", "S")
    assert volume.data.shape == shape
    # Axes 0 and 1 are flipped: stored (0, 1, 5) -> canonical (3, 4, 5), at the same world position.
    assert np.argwhere(volume.data == 9.0).tolist() == [[3, 4, 5]]
    np.testing.assert_allclose(volume.affine @ [3, 4, 5, 1], affine @ [0, 1, 5, 1])
    assert volume.zooms == (2.0, 2.0, 3.0)
    # Sagittal at x=3: ZxY, row = Z-1-z, column = y.   Coronal at y=4: ZxX.   Axial at z=5: YxX, row = Y-1-y.
    assert np.argwhere(volume_slice(volume, "sagittal", 3) == 9.0).tolist() == [[2, 4]]
    assert np.argwhere(volume_slice(volume, "coronal", 4) == 9.0).tolist() == [[2, 3]]
    assert np.argwhere(volume_slice(volume, "axial", 5) == 9.0).tolist() == [[1, 3]]


def test_marker_in_right_anterior_superior_corner_shows_top_right() -> None:
    """A voxel at the patient's right-anterior-superior corner appears top-right in every view (neurological, nose
    to the right in sagittal), whatever the storage order."""
    shape = (4, 6, 8)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    stored = np.zeros(shape, dtype=np.float32)
    stored[0, 0, 7] = 1.0  # LPS storage: x index 0 is the right-most, y index 0 the most anterior, z 7 the top
    volume = load_volume(nifti_bytes(stored, lps, gz=True), "lps.nii.gz")
    (x, y, z) = np.argwhere(volume.data == 1.0)[0]
    # the anatomy, not the library's list: a sagittal slice is one x (left-right), coronal one y, axial one z
    for orientation, index in zip(("sagittal", "coronal", "axial"), (x, y, z), strict=True):
        plane = volume_slice(volume, orientation, int(index))
        assert np.argwhere(plane == 1.0).tolist() == [[0, plane.shape[1] - 1]], orientation


def test_permuted_axes_volume_reoriented() -> None:
    # Stored axis 0 runs inferior->superior, axis 1 left->right, axis 2 posterior->anterior.
    affine = np.array([[0.0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    stored = np.random.default_rng(5).random((8, 4, 6)).astype(np.float32)
    volume = load_volume(nifti_bytes(stored, affine), "sagittal-acquired.nii")
    assert nib.aff2axcodes(volume.affine) == ("R", "A", "S")
    np.testing.assert_array_equal(volume.data, np.transpose(stored, (1, 2, 0)))


def test_slice_shapes_and_counts() -> None:
    volume = load_volume(nifti_bytes(np.zeros((4, 6, 8), np.float32)), "box.nii")
    expected = {"sagittal": ((8, 6), 4), "coronal": ((8, 4), 6), "axial": ((6, 4), 8)}
    for orientation, (shape, count) in expected.items():
        assert slice_count(volume, orientation) == count
        plane = volume_slice(volume, orientation, count - 1)
        assert plane.shape == shape
        assert plane.dtype == np.float32
    assert volume_slice(volume, "Axial", np.int64(0)).shape == (6, 4)


@pytest.mark.parametrize(("orientation", "index"), [("transverse", 0), ("axial", -1), ("axial", 8), ("sagittal", 1.5)])
def test_bad_slice_requests(orientation: str, index) -> None:
    volume = load_volume(nifti_bytes(np.zeros((4, 6, 8), np.float32)), "box.nii")
    with pytest.raises(SliceIndexError):
        volume_slice(volume, orientation, index)


def test_slice_count_bad_orientation() -> None:
    volume = load_volume(nifti_bytes(np.zeros((4, 6, 8), np.float32)), "box.nii")
    with pytest.raises(SliceIndexError, match="sagittal, coronal, axial"):
        slice_count(volume, "oblique")


def test_4d_needs_a_volume_index() -> None:
    series = np.random.default_rng(7).random((4, 5, 6, 3)).astype(np.float32)
    data = nifti_bytes(series, gz=True)
    with pytest.raises(VolumeIndexRequiredError, match="3 volumes"):
        load_volume(data, "bold.nii.gz")
    for bad in (3, -1):
        with pytest.raises(VolumeIndexRequiredError, match="0 to 2"):
            load_volume(data, "bold.nii.gz", volume_index=bad)
    np.testing.assert_array_equal(load_volume(data, "bold.nii.gz", volume_index=1).data, series[..., 1])
    np.testing.assert_array_equal(load_any(data, "bold.nii.gz", volume_index=np.int64(2)).data, series[..., 2])


def test_4d_with_one_volume_is_3d() -> None:
    array = np.random.default_rng(8).random((4, 5, 6, 1)).astype(np.float32)
    volume = load_volume(nifti_bytes(array), "single.nii")
    np.testing.assert_array_equal(volume.data, array[..., 0])
    assert load_volume(nifti_bytes(array), "single.nii", volume_index=0).data.shape == (4, 5, 6)
    with pytest.raises(VolumeIndexRequiredError):
        load_volume(nifti_bytes(array), "single.nii", volume_index=1)


def test_2d_nifti_is_one_slice() -> None:
    array = np.arange(20, dtype=np.float32).reshape(4, 5)
    volume = load_volume(nifti_bytes(array), "slice.nii")
    assert volume.data.shape == (4, 5, 1)
    np.testing.assert_array_equal(volume.data[..., 0], array)
    assert slice_count(volume, "axial") == 1


def test_5d_nifti_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match="5 dimensions"):
        load_volume(nifti_bytes(np.zeros((4, 4, 4, 2, 3), np.float32)), "vectors.nii")
    assert load_volume(nifti_bytes(np.ones((4, 4, 4, 1, 1), np.float32)), "padded.nii").data.shape == (4, 4, 4)


def test_complex_nifti_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match="complex"):
        load_volume(nifti_bytes(np.zeros((4, 4, 4), np.complex64)), "phase.nii")


def test_nifti_with_nan_voxels() -> None:
    array = np.ones((4, 5, 6), dtype=np.float32)
    array[0, 0, 0] = np.nan
    array[1, 1, 1] = np.inf
    with pytest.raises(NonFiniteValuesError, match="2 voxels"):
        load_volume(nifti_bytes(array, gz=True), "nan.nii.gz")


def test_truncated_nii_gz_is_unreadable() -> None:
    data = nifti_bytes(np.random.default_rng(9).random((16, 16, 16)).astype(np.float32), gz=True)
    for cut in (len(data) // 2, len(data) - 4, 30):
        with pytest.raises(UnreadableFileError):
            load_volume(data[:cut], "cut.nii.gz")


def test_truncated_nii_data_is_unreadable() -> None:
    data = nifti_bytes(np.random.default_rng(9).random((16, 16, 16)).astype(np.float32))
    with pytest.raises(UnreadableFileError, match="cut short"):
        load_volume(data[: len(data) - 100], "cut.nii")


def test_gzip_that_is_not_nifti() -> None:
    with pytest.raises(UnsupportedFormatError, match="gzip"):
        load_volume(gzip.compress(b"just some text, compressed\n" * 40), "notes.nii.gz")
    with pytest.raises(UnsupportedFormatError, match="gzip"):
        load_any(gzip.compress(encode(Image.fromarray(noise_gray()), "PNG")), "image.png.gz")


def test_nifti_pair_header_unsupported() -> None:
    pair = nib.Nifti1Pair(np.zeros((4, 4, 4), np.float32), np.eye(4))
    with pytest.raises(UnsupportedFormatError, match=r"\.hdr/\.img pair"):
        load_any(pair.header.binaryblock, "brain.hdr")


def test_max_voxels_checked_before_decompressing() -> None:
    data = nifti_bytes(np.zeros((10, 10, 10), np.float32), gz=True)
    assert load_volume(data, "ok.nii.gz", max_voxels=1000).data.shape == (10, 10, 10)
    with pytest.raises(ImageTooLargeError, match="1,000 voxels"):
        load_volume(data, "big.nii.gz", max_voxels=999)
    # Only the header survives the cut, yet the size check answers first.
    with pytest.raises(ImageTooLargeError):
        load_volume(data[:200], "big.nii.gz", max_voxels=999)


@pytest.mark.parametrize("srow_y", [[np.nan, 1, 0, 0], [0, 0, 0, 0]])
def test_broken_affine_is_unreadable(srow_y: list[float]) -> None:
    # Written header-first: nibabel's image writer would replace a broken sform with a sane one.
    header = nib.Nifti1Header()
    header.set_data_shape((4, 4, 4))
    header.set_data_dtype(np.float32)
    header["srow_x"], header["srow_y"], header["srow_z"] = [1, 0, 0, 0], srow_y, [0, 0, 1, 0]
    header["sform_code"], header["qform_code"] = 1, 0
    data = header.binaryblock + b"\0" * 4 + np.zeros(64, np.float32).tobytes()
    with pytest.raises(UnreadableFileError, match="orientation"):
        load_volume(data, "broken.nii")


# --------------------------------------------------------------------------------------------------------------------
# image_from_slice


def test_image_from_slice_uses_nonzero_percentiles() -> None:
    plane = np.zeros((10, 10))
    plane.flat[:50] = np.arange(1, 51)  # 50 nonzero values 1..50 beside 50 zeros
    low, high = 1 + 0.005 * 49, 1 + 0.995 * 49  # numpy's linear percentiles of 1..50, worked out by hand
    image = image_from_slice(plane, "slice")
    assert isinstance(image, LoadedImage)
    assert (image.mode, image.pixels.dtype, image.source_size) == ("nifti", np.float32, (10, 10))
    assert image.pixels.flat[0] == 0.0  # value 1 lies below the window
    np.testing.assert_allclose(image.pixels.flat[1], (2 - low) / (high - low), rtol=1e-6)
    np.testing.assert_allclose(image.pixels.flat[24], (25 - low) / (high - low), rtol=1e-6)
    assert image.pixels.flat[49] == 1.0
    assert np.all(image.pixels.flat[50:] == 0.0)


def test_image_from_slice_clips_outliers() -> None:
    plane = np.linspace(1.0, 2.0, 800).reshape(20, 40)
    plane[0, 0] = 1e6  # one hot voxel
    pixels = image_from_slice(plane, "hot").pixels
    assert pixels[0, 0] == 1.0
    assert abs(pixels.flat[400] - 0.5) < 0.02  # value ~1.5: mid-window; min/max scaling would give ~1.5e-6


@pytest.mark.parametrize("value", [0.0, 7.0, -3.0])
def test_image_from_constant_slice_is_zeros(value: float) -> None:
    pixels = image_from_slice(np.full((6, 9), value, dtype=np.float32), "flat").pixels
    assert pixels.shape == (6, 9)
    assert np.all(pixels == 0.0)


def test_image_from_binary_mask_slice() -> None:
    mask = np.zeros((10, 10), dtype=np.float32)
    mask[0, 0] = 5.0
    pixels = image_from_slice(mask, "mask").pixels
    assert pixels[0, 0] == 1.0
    assert pixels.sum() == 1.0


# --------------------------------------------------------------------------------------------------------------------
# A real volume: the MNI152 template shipped inside nilearn


@pytest.fixture(scope="module")
def mni() -> Volume:
    resource = importlib.resources.files("nilearn") / "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    return load_any(resource.read_bytes(), "mni152.nii.gz")


def test_mni_template_loads(mni: Volume) -> None:
    assert isinstance(mni, Volume)
    assert mni.data.shape == (197, 233, 189)
    assert nib.aff2axcodes(mni.affine) == ("R", "A", "S")
    np.testing.assert_allclose(mni.zooms, (1.0, 1.0, 1.0))
    assert (slice_count(mni, "sagittal"), slice_count(mni, "coronal"), slice_count(mni, "axial")) == (197, 233, 189)


def test_mni_axial_middle_slice_brighter_inside_head(mni: Volume) -> None:
    plane = volume_slice(mni, "axial", slice_count(mni, "axial") // 2)
    assert plane.shape == (233, 197)
    h, w = plane.shape
    centre = plane[h // 2 - 20 : h // 2 + 20, w // 2 - 20 : w // 2 + 20].mean()
    corners = np.mean(
        [plane[:15, :15].mean(), plane[:15, -15:].mean(), plane[-15:, :15].mean(), plane[-15:, -15:].mean()]
    )
    assert centre > 5 * corners + 1e-3
    image = image_from_slice(plane, "mni axial")
    assert image.pixels.min() >= 0.0
    assert image.pixels.max() == 1.0


def test_mni_sagittal_superior_up_and_nose_right(mni: Volume) -> None:
    """Mid-sagittal slice: the template ends above the vertex but runs down through the brainstem to its lowest
    slice, so the top rows are empty and the bottom rows are not; the cerebellum sits low at the back, so in the lower
    band the posterior (left) half is brighter than the anterior (right) half, which lies under the frontal lobe."""
    plane = volume_slice(mni, "sagittal", slice_count(mni, "sagittal") // 2)
    assert plane.shape == (189, 233)
    h, w = plane.shape
    assert plane[-20:].mean() > 5 * plane[:20].mean() + 1e-3
    lower = plane[int(h * 0.7) : int(h * 0.85)]
    assert lower[:, : w // 2].mean() > 2 * lower[:, w // 2 :].mean()
