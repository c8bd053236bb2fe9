"""2-D images (PNG, JPEG, TIFF, BMP, WebP, GIF): :func:`load_image` decodes one into a :class:`LoadedImage`."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from scse_viz.color import luma
from scse_viz.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    NonFiniteValuesError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from scse_viz.io.sniff import _DECODE_ERRORS, _IMAGE_TYPES, _empty, _looks_like, _read_only, _sniff_image

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MIN_SIDE = 8


# ITU-R 601-2 luma, the weights Pillow uses for mode "L".
@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded 2-D image, ready for display and for a model.

    ``pixels`` is float32, HxW for gray or HxWx3 for colour, read-only. Integer files are mapped from their own full
    scale to [0, 1] (8-bit / 255, 16-bit / 65535, 32-bit signed / (2**31 - 1)); float files (TIFF mode ``F``) keep
    their values as they are, which may lie outside [0, 1]. ``mode`` is the Pillow mode of the file as stored (or
    ``"nifti"`` for a slice of a volume), ``bit_depth`` the bits per channel of the values held in ``pixels``, and
    ``source_size`` the (H, W) of the image as first loaded, after EXIF orientation: it stays with resized copies
    (``dataclasses.replace``) so the app can still report the original size.
    """

    pixels: np.ndarray
    name: str
    mode: str
    bit_depth: int
    source_size: tuple[int, int]

    def __post_init__(self) -> None:
        pixels = self.pixels
        if pixels.dtype != np.float32 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
            raise ValueError(f"pixels must be float32 HxW or HxWx3, got {pixels.dtype} {pixels.shape}")

    def __repr__(self) -> str:
        return (
            f"LoadedImage(name={self.name!r}, shape={self.pixels.shape}, mode={self.mode!r}, "
            f"bit_depth={self.bit_depth}, source_size={self.source_size})"
        )

    @property
    def is_gray(self) -> bool:
        """Whether the pixels have a single channel."""
        return self.pixels.ndim == 2

    def to_gray(self) -> np.ndarray:
        """Return the image as HxW float32 luma (ITU-R 601-2 weights, as Pillow's "L"), for single-channel models."""
        if self.pixels.ndim == 2:
            return self.pixels
        return np.ascontiguousarray(luma(self.pixels), dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------------
# 2-D images


def load_image(
    data: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = DEFAULT_MIN_SIDE
) -> LoadedImage:
    """Decode an uploaded PNG, JPEG, TIFF, BMP, WebP or GIF image into a :class:`LoadedImage`.

    The type comes from the bytes, so a PNG named ``photo.jpg`` still loads. What the user gets:

    * EXIF orientation is applied (:func:`PIL.ImageOps.exif_transpose`), so pixels are arranged as an image viewer
      shows them; a broken EXIF block is ignored rather than refusing the image.
    * Gray files (modes 1, L, I;16*, I, F) give HxW; everything else gives HxWx3 RGB. Palette images become RGB,
      CMYK and YCbCr are converted by Pillow.
    * Transparency (RGBA, LA, palettes or gray/RGB with a transparent colour) is composited onto WHITE, not black:
      uploads with alpha are mostly scans, drawings and objects cut out on a white page, and black would invent
      dark edges the model never saw. Fully transparent pixels therefore read as 1.0.
    * Multi-frame files (animated GIF, multi-page TIFF) give their first frame.
    * 16-bit gray keeps 16-bit precision. Pillow reads 16-bit colour PNG/TIFF as 8-bit RGB, so those arrive with
      ``bit_depth`` 8.

    The size limits are checked from the header, before any pixel data is decoded, so a decompression bomb costs
    nothing. Pillow's own bomb guard (``Image.MAX_IMAGE_PIXELS``) is reported as :class:`ImageTooLargeError` too;
    a ``max_pixels`` above twice that limit therefore cannot be reached.

    Raises:
        EmptyFileError: ``data`` is empty.
        UnsupportedFormatError: the bytes are not one of the image types above, or use a colour mode we cannot convert.
        UnreadableFileError: the file is of a supported type but truncated or corrupt.
        ImageTooLargeError: more than ``max_pixels`` pixels.
        ImageTooSmallError: a side shorter than ``min_side`` pixels.
        NonFiniteValuesError: a float image holds NaN or infinite values.
    """
    if not data:
        raise _empty(name)
    fmt = _sniff_image(data)
    if fmt is None:
        raise UnsupportedFormatError(
            f'"{name}" is not an image the app can read{_looks_like(data)}. Upload a {_IMAGE_TYPES}.'
        )
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS. If our own limit is lower, that warning already means "too large";
        # if the caller raised max_pixels above it, our check after open() is the one that counts. (catch_warnings
        # is process-wide before Python 3.14; the worst a concurrent thread sees is this one filter, briefly.)
        bomb_action = "error" if limit is None or max_pixels <= limit else "ignore"
        warnings.simplefilter(bomb_action, Image.DecompressionBombWarning)
        try:
            return _decode_image(data, name, fmt, max_pixels=max_pixels, min_side=min_side)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageTooLargeError(
                f'"{name}" has far more pixels than the app accepts (at most {max_pixels:,}). '
                "Downscale it and upload it again."
            ) from error


def _decode_image(data: bytes, name: str, fmt: str, *, max_pixels: int, min_side: int) -> LoadedImage:
    label = {"WEBP": "WebP"}.get(fmt, fmt)
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except _DECODE_ERRORS as error:
        raise _unreadable(name, label, error) from error

    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f'"{name}" is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); the app accepts at most '
            f"{max_pixels / 1e6:g} megapixels. Downscale it and upload it again."
        )
    if min(width, height) < min_side:
        raise ImageTooSmallError(
            f'"{name}" is only {width}x{height} pixels; both sides must be at least {min_side} pixels. '
            "Upload a larger image."
        )

    mode = img.mode
    bits_hint = _tiff_bits(img) if fmt == "TIFF" else None
    try:
        img.load()  # LOAD_TRUNCATED_IMAGES stays False, so a cut-off file fails here instead of loading half gray
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise
    except _DECODE_ERRORS as error:
        raise _unreadable(name, label, error) from error
    try:
        oriented = ImageOps.exif_transpose(img) or img
    except _DECODE_ERRORS:
        oriented = img  # a damaged EXIF block should not cost the user their image; show it as stored
    pixels, bit_depth = _pixels_of(oriented, name, fmt, bits_hint)
    return LoadedImage(
        pixels=_read_only(pixels),
        name=name,
        mode=mode,
        bit_depth=bit_depth,
        source_size=(int(pixels.shape[0]), int(pixels.shape[1])),
    )


def _tiff_bits(img: Image.Image) -> tuple[int, bool] | None:
    """(BitsPerSample, signed) of a TIFF's first sample, read before transposing drops the tags."""
    tags = getattr(img, "tag_v2", None)
    if tags is None:
        return None
    bits = tags.get(258)
    fmt = tags.get(339)
    bits0 = bits[0] if isinstance(bits, tuple) and bits else bits
    fmt0 = fmt[0] if isinstance(fmt, tuple) and fmt else fmt
    if not isinstance(bits0, int):
        return None
    return bits0, fmt0 == 2


def _pixels_of(img: Image.Image, name: str, fmt: str, bits_hint: tuple[int, bool] | None) -> tuple[np.ndarray, int]:
    """Convert a loaded Pillow image to (float32 pixels, bit depth) following :func:`load_image`'s rules."""
    mode = img.mode
    try:
        if mode in ("P", "PA"):
            img = img.convert("RGBA" if img.has_transparency_data else "RGB")
        elif mode in ("L", "RGB") and "transparency" in img.info:
            img = img.convert("LA" if mode == "L" else "RGBA")
        elif mode == "La":
            img = img.convert("LA")
        elif mode == "RGBa":
            img = img.convert("RGBA")
        elif mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
            img = img.convert("RGB")  # CMYK, YCbCr, RGBX, HSV, ...
    except _DECODE_ERRORS as error:
        raise UnsupportedFormatError(
            f'"{name}" uses the "{mode}" colour mode, which the app cannot convert to RGB. '
            "Save it as an RGB or grayscale image and upload it again."
        ) from error

    mode = img.mode
    if mode == "1":
        return np.asarray(img, dtype=bool).astype(np.float32), 1
    if mode.startswith("I;16"):
        raw = np.asarray(img)
        scale = 32767.0 if raw.dtype.kind == "i" else 65535.0
        return raw.astype(np.float32) / np.float32(scale), 16
    if mode == "I":
        raw = np.asarray(img)
        if fmt == "PNG" or (bits_hint is not None and bits_hint[0] <= 16):
            return raw.astype(np.float32) / np.float32(65535.0), 16
        signed = bits_hint is None or bits_hint[1]
        scale = 2.0**31 - 1 if signed else 2.0**32 - 1
        return (raw.astype(np.float64) / scale).astype(np.float32), 32
    if mode == "F":
        pixels = np.array(img, dtype=np.float32)
        bad = pixels.size - int(np.count_nonzero(np.isfinite(pixels)))
        if bad:
            raise NonFiniteValuesError(
                f'"{name}" contains {bad:,} NaN or infinite pixel value{"s" if bad != 1 else ""} (out of '
                f"{pixels.size:,}). Replace them with numbers (for example 0) and upload it again."
            )
        return pixels, 32

    raw = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    if mode in ("L", "RGB"):
        return raw, 8
    # LA or RGBA: composite onto white.
    alpha = raw[..., -1:]
    color = raw[..., :-1] * alpha + (np.float32(1.0) - alpha)
    if mode == "LA":
        color = color[..., 0]
    return np.ascontiguousarray(color, dtype=np.float32), 8


def _unreadable(name: str, label: str, error: BaseException) -> UnreadableFileError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UnreadableFileError(
        f'"{name}" looks like a {label} image but cannot be decoded: it is probably truncated or corrupt '
        f"({detail}). Export or download it again and upload the new file."
    )
