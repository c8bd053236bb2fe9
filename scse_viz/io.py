"""Turn the bytes of an uploaded file into arrays the rest of the app can trust.

This is the core layer's only door to the outside world, so it is strict: every way a user's file can be wrong ends
in one of the typed :mod:`scse_viz.errors` exceptions with a message for that user, never in a Pillow, nibabel or
zlib traceback. It needs numpy, Pillow and nibabel only (no Streamlit, no torch), so it can be tested and reused on
its own.

Two kinds of input are read:

* 2-D images (PNG, JPEG, TIFF, BMP, WebP, GIF) with :func:`load_image`, giving a :class:`LoadedImage`;
* NIfTI-1/NIfTI-2 volumes (``.nii``, ``.nii.gz``) with :func:`load_volume`, giving a :class:`Volume` from which
  :func:`volume_slice` cuts 2-D slices and :func:`image_from_slice` makes a displayable :class:`LoadedImage`.

:func:`load_any` picks between the two from the file's first bytes, so the app has a single entry point. The type of
a file is always decided from its content (magic bytes), never from its name: browsers and users get extensions wrong.
"""

from __future__ import annotations

import gzip
import io
import operator
import struct
import warnings
import zlib
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nibabel.spatialimages import HeaderDataError
from PIL import Image, ImageOps

from scse_viz.errors import (
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    NonFiniteValuesError,
    SliceIndexError,
    UnreadableFileError,
    UnsupportedFormatError,
    VolumeIndexRequiredError,
)

__all__ = [
    "ORIENTATIONS",
    "LoadedImage",
    "Volume",
    "image_from_slice",
    "load_any",
    "load_image",
    "load_volume",
    "slice_count",
    "volume_slice",
]

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MIN_SIDE = 8
DEFAULT_MAX_VOXELS = 200_000_000

ORIENTATIONS = ("sagittal", "coronal", "axial")

_IMAGE_TYPES = "PNG, JPEG, TIFF, BMP, WebP or GIF image"
_VOLUME_TYPES = "NIfTI volume (.nii or .nii.gz)"

# ITU-R 601-2 luma, the weights Pillow uses for mode "L".
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# What Pillow and its plugins raise on malformed data. Broad on purpose: a corrupt upload must become
# UnreadableFileError, whatever corner of a decoder it trips over.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
)


# --------------------------------------------------------------------------------------------------------------------
# Data classes


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
        return np.ascontiguousarray(self.pixels @ _LUMA, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D scalar volume in RAS+ canonical orientation.

    ``data`` is float32 XxYxZ, read-only, reoriented by :func:`nibabel.as_closest_canonical` so that array axis 0
    runs from the patient's left to right, axis 1 from posterior to anterior and axis 2 from inferior to superior
    (as closely as the acquisition allows: oblique scans are only permuted and flipped, never resampled).
    ``affine`` maps voxel indices of ``data`` to world (scanner/MNI) millimetres; ``zooms`` are the voxel sizes in
    millimetres along the three axes of ``data``.
    """

    data: np.ndarray
    affine: np.ndarray
    name: str
    zooms: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.data.dtype != np.float32 or self.data.ndim != 3:
            raise ValueError(f"data must be float32 with 3 dimensions, got {self.data.dtype} {self.data.shape}")
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {self.affine.shape}")

    def __repr__(self) -> str:
        return f"Volume(name={self.name!r}, shape={self.data.shape}, zooms={self.zooms})"

    @property
    def shape(self) -> tuple[int, int, int]:
        """The (X, Y, Z) voxel counts of ``data``."""
        return self.data.shape  # type: ignore[return-value]


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# --------------------------------------------------------------------------------------------------------------------
# Sniffing file types from their bytes

_GZIP_MAGIC = b"\x1f\x8b"
_NIFTI1_HEADER_SIZE = 348
_NIFTI2_HEADER_SIZE = 540
_GZIP_TRAILING_LIMIT = 1 << 20
_BMP_DIB_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def _sniff_image(data: bytes) -> str | None:
    """Return the Pillow format name of a supported image from its magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    # "BM" alone would claim any text starting with those letters; also require a known DIB header size.
    if data[:2] == b"BM" and len(data) >= 18 and struct.unpack("<I", data[14:18])[0] in _BMP_DIB_HEADER_SIZES:
        return "BMP"
    return None


def _nifti_kind(head: bytes) -> str | None:
    """Return ``"n+1"``, ``"ni1"``, ``"n+2"`` or ``"ni2"`` if ``head`` starts a NIfTI header, else None.

    NIfTI-1 keeps its magic at byte 344 of a 348-byte header, NIfTI-2 at byte 4 of a 540-byte header; ``sizeof_hdr``
    (first 4 bytes, either byte order) must agree, as nibabel requires.
    """
    if len(head) < 8:
        return None
    sizes = {struct.unpack("<i", head[:4])[0], struct.unpack(">i", head[:4])[0]}
    if _NIFTI2_HEADER_SIZE in sizes and head[4:8] in (b"n+2\x00", b"ni2\x00"):
        return head[4:7].decode("ascii")
    if _NIFTI1_HEADER_SIZE in sizes and len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
        return head[344:347].decode("ascii")
    return None


def _looks_like(data: bytes) -> str:
    """Name a few common wrong uploads, so the message can say what the file seems to be."""
    if data.startswith(b"%PDF"):
        return " (it looks like a PDF document)"
    if data.startswith(b"PK\x03\x04"):
        return " (it looks like a ZIP archive or an Office document)"
    if data[128:132] == b"DICM":
        return " (it looks like a DICOM file: convert it to NIfTI first, for example with dcm2niix)"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis"):
        return " (it looks like a HEIC/AVIF photo: export it as JPEG or PNG)"
    if data.startswith(b"\x00\x00\x00\x0cjP  ") or data.startswith(b"\xff\x4f\xff\x51"):
        return " (it looks like a JPEG 2000 image: export it as PNG or TIFF)"
    if data.startswith(b"8BPS"):
        return " (it looks like a Photoshop document: export it as PNG or TIFF)"
    if data.startswith(_GZIP_MAGIC) or _nifti_kind(data[:_NIFTI2_HEADER_SIZE]) is not None:
        return " (it looks like a NIfTI volume, not a 2-D image)"
    head = data[:1024]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return " (it looks like a text file)"
    return ""


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


def _empty(name: str) -> EmptyFileError:
    return EmptyFileError(f'"{name}" is 0 bytes long: it may not have finished uploading. Try uploading it again.')


def _unreadable(name: str, label: str, error: BaseException) -> UnreadableFileError:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UnreadableFileError(
        f'"{name}" looks like a {label} image but cannot be decoded: it is probably truncated or corrupt '
        f"({detail}). Export or download it again and upload the new file."
    )


# --------------------------------------------------------------------------------------------------------------------
# NIfTI volumes


def load_volume(
    data: bytes, name: str, *, volume_index: int | None = None, max_voxels: int = DEFAULT_MAX_VOXELS
) -> Volume:
    """Decode an uploaded NIfTI-1 or NIfTI-2 file (``.nii``, or gzip-compressed ``.nii.gz``) into a :class:`Volume`.

    Compression is recognised by the gzip magic bytes, not the name. The result is reoriented to RAS+ with
    :func:`nibabel.as_closest_canonical` so that :func:`volume_slice` means the same thing for every scanner's
    storage order (see :class:`Volume`). Scaling (``scl_slope``/``scl_inter``) is applied.

    Dimensions: a 3-D file is used as is; a 2-D file (one slice) becomes XxYx1; trailing dimensions of size 1 beyond
    the third are dropped, so XxYxZx1 is 3-D. A 4-D file (e.g. an fMRI series) needs ``volume_index`` to say which
    3-D volume to use; for a 3-D file, ``volume_index`` may be None or 0. ``max_voxels`` applies to all voxels stored
    in the file (a ``.nii.gz`` has to be decompressed whole), and is checked from the header before that happens.

    Raises:
        EmptyFileError: ``data`` is empty.
        UnsupportedFormatError: not NIfTI (including a gzip file that holds something else), a header-only
            ``.hdr``/``.img`` pair, complex or RGB voxels, or more than 4 dimensions.
        UnreadableFileError: a truncated or corrupt file, or one whose orientation (affine) is broken.
        ImageTooLargeError: more than ``max_voxels`` voxels.
        VolumeIndexRequiredError: a 4-D file without ``volume_index``, or an index out of range.
        NonFiniteValuesError: the chosen volume holds NaN or infinite voxels.
    """
    if not data:
        raise _empty(name)
    if data.startswith(_GZIP_MAGIC):
        raw = _gunzip_nifti(data, name, volume_index=volume_index, max_voxels=max_voxels)
    else:
        raw = data
    kind = _nifti_kind(raw[:_NIFTI2_HEADER_SIZE])
    if kind is None:
        raise UnsupportedFormatError(
            f'"{name}" is not a NIfTI volume{_looks_like(raw)}. Upload a {_VOLUME_TYPES} or a {_IMAGE_TYPES}.'
        )
    header = _parse_header(raw, kind, name)
    needed, shape = _check_header(header, kind, name, volume_index=volume_index, max_voxels=max_voxels)
    if len(raw) < needed:
        raise UnreadableFileError(
            f'"{name}" is cut short: its header promises {needed:,} bytes but the file holds only {len(raw):,}. '
            "It may not have finished uploading or downloading; try again with the complete file."
        )

    image_class = nib.Nifti1Image if kind == "n+1" else nib.Nifti2Image
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nibabel's header-repair chatter is not for the app user
            img = image_class.from_bytes(raw)
            index = _data_index(img.shape, shape, volume_index)
            values = np.asarray(img.dataobj[index])
            affine = np.asarray(img.affine, dtype=np.float64)
    except (HeaderDataError, *_DECODE_ERRORS) as error:
        raise UnreadableFileError(
            f'"{name}" looks like a NIfTI volume but cannot be read: it is probably corrupt ({error}). '
            "Export it again and upload the new file."
        ) from error

    spatial = shape[:3] + (1,) * (3 - min(len(shape), 3))
    with np.errstate(over="ignore", invalid="ignore"):
        volume = values.reshape(spatial).astype(np.float32)
    bad = volume.size - int(np.count_nonzero(np.isfinite(volume)))
    if bad:
        raise NonFiniteValuesError(
            f'"{name}" has {bad:,} voxel{"s" if bad != 1 else ""} that are NaN or infinite (out of {volume.size:,}). '
            "Replace them with numbers (for example 0, e.g. with fslmaths -nan) and upload it again."
        )
    return _canonical(volume, affine, name)


def _gunzip_nifti(data: bytes, name: str, *, volume_index: int | None, max_voxels: int) -> bytes:
    """Decompress a ``.nii.gz``, reading the header first so a gzip bomb is refused before it is inflated."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            head = stream.read(_NIFTI2_HEADER_SIZE)
            kind = _nifti_kind(head)
            if kind is None:
                raise UnsupportedFormatError(
                    f'"{name}" is a gzip-compressed file, but what it holds is not a NIfTI volume. '
                    f"Upload a {_VOLUME_TYPES} or a {_IMAGE_TYPES}."
                )
            header = _parse_header(head, kind, name)
            needed, _ = _check_header(header, kind, name, volume_index=volume_index, max_voxels=max_voxels)
            rest = stream.read(max(0, needed - len(head)))
            # Read on to the end (nothing more, for a well-formed file) so gzip checks its CRC and length trailer:
            # that is what catches a cut-off or bit-flipped download. Refuse to inflate more than 1 MiB of junk.
            stream.read(_GZIP_TRAILING_LIMIT)
    except (OSError, EOFError, zlib.error) as error:
        raise UnreadableFileError(
            f'"{name}" is a gzip-compressed file that cannot be decompressed: it is probably truncated or corrupt '
            f"({error}). It may not have finished uploading; try again with the complete file."
        ) from error
    return head + rest


def _parse_header(raw: bytes, kind: str, name: str) -> nib.Nifti1Header:
    if kind in ("ni1", "ni2"):
        raise UnsupportedFormatError(
            f'"{name}" is the header half of a NIfTI .hdr/.img pair; its voxels live in a separate .img file. '
            "Convert the pair to a single .nii or .nii.gz file (for example with nibabel or fslchfiletype) and "
            "upload that."
        )
    header_class, size = (nib.Nifti1Header, _NIFTI1_HEADER_SIZE) if kind == "n+1" else (nib.Nifti2Header, 540)
    if len(raw) < size:
        raise UnreadableFileError(f'"{name}" is cut short inside its NIfTI header. Upload the complete file.')
    try:
        return header_class(raw[:size], check=False)
    except (HeaderDataError, *_DECODE_ERRORS) as error:
        raise UnreadableFileError(f'"{name}" has a corrupt NIfTI header ({error}). Export it again.') from error


def _check_header(
    header: nib.Nifti1Header, kind: str, name: str, *, volume_index: int | None, max_voxels: int
) -> tuple[int, tuple[int, ...]]:
    """Validate what the header promises; return (bytes needed to hold the data, effective shape)."""
    try:
        shape = tuple(int(d) for d in header.get_data_shape())
        dtype = header.get_data_dtype()
        offset = int(header.get_data_offset())
    except (HeaderDataError, *_DECODE_ERRORS) as error:
        raise UnreadableFileError(f'"{name}" has a corrupt NIfTI header ({error}). Export it again.') from error
    if not shape or any(d <= 0 for d in shape):
        raise UnreadableFileError(
            f'"{name}" has a NIfTI header that describes no voxels (dimensions {shape}). Export it again.'
        )
    if dtype.fields is not None or dtype.kind not in "iuf":
        what = "complex numbers" if dtype.kind == "c" else "colour (RGB) voxels" if dtype.fields else f"{dtype}"
        raise UnsupportedFormatError(
            f'"{name}" stores {what}; the app reads scalar (gray-value) volumes only. Convert it to a scalar image.'
        )
    effective = _effective_shape(shape)
    if len(effective) == 1:
        raise UnsupportedFormatError(f'"{name}" is a single row of voxels, not an image. Upload a 2-D or 3-D volume.')
    if len(effective) > 4:
        raise UnsupportedFormatError(
            f'"{name}" has {len(effective)} dimensions {effective}; the app reads 3-D volumes and 4-D series only.'
        )
    voxels = int(np.prod(shape, dtype=object))
    if voxels > max_voxels:
        raise ImageTooLargeError(
            f'"{name}" holds {voxels:,} voxels; the app accepts at most {max_voxels:,}. Crop or downsample it, or '
            "upload a single 3-D volume instead of a whole series."
        )
    _check_volume_index(effective, name, volume_index)
    minimum_offset = _NIFTI1_HEADER_SIZE + 4 if kind == "n+1" else _NIFTI2_HEADER_SIZE + 4
    return max(offset, minimum_offset) + voxels * dtype.itemsize, effective


def _effective_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Drop trailing size-1 dimensions beyond the third: XxYxZx1 is a 3-D volume."""
    shape = tuple(shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def _check_volume_index(effective: tuple[int, ...], name: str, volume_index: int | None) -> None:
    count = effective[3] if len(effective) == 4 else 1
    if volume_index is None:
        if count > 1:
            raise VolumeIndexRequiredError(
                f'"{name}" is a 4-D file holding {count} volumes (for example a time series). Choose which one to '
                f"show: a volume index from 0 to {count - 1}."
            )
        return
    try:
        index = operator.index(volume_index)
    except TypeError as error:
        raise VolumeIndexRequiredError(
            f"The volume index must be a whole number from 0 to {count - 1}, not {volume_index!r}."
        ) from error
    if not 0 <= index < count:
        what = f"holds {count} volumes" if count > 1 else "holds a single 3-D volume"
        raise VolumeIndexRequiredError(
            f'Volume {index} does not exist: "{name}" {what}, numbered 0 to {count - 1}. Choose an index in that range.'
        )


def _data_index(full_shape: tuple[int, ...], effective: tuple[int, ...], volume_index: int | None) -> tuple:
    """Index into the file's data that yields the wanted 3-D (or 2-D) block without reading other volumes."""
    spatial = min(len(effective), 3)
    index: list[slice | int] = [slice(None)] * spatial
    if len(effective) == 4:
        index.append(operator.index(volume_index))  # type: ignore[arg-type]
    index += [0] * (len(full_shape) - len(index))
    return tuple(index)


def _canonical(volume: np.ndarray, affine: np.ndarray, name: str) -> Volume:
    """Reorient to RAS+ with nibabel, so the slicing conventions in :func:`volume_slice` hold for every file."""
    broken = UnreadableFileError(
        f'"{name}" has broken orientation information (its affine cannot be inverted), so its left/right and '
        "up/down cannot be worked out. Fix the header (for example with fslreorient2std) and upload it again."
    )
    if not np.all(np.isfinite(affine)):
        raise broken
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            canonical = nib.as_closest_canonical(nib.Nifti1Image(volume, affine))
            data = np.ascontiguousarray(np.asanyarray(canonical.dataobj), dtype=np.float32)
            zooms = tuple(float(z) for z in canonical.header.get_zooms()[:3])
            canonical_affine = np.array(canonical.affine, dtype=np.float64)
    except (HeaderDataError, ValueError, np.linalg.LinAlgError) as error:
        raise broken from error
    return Volume(data=_read_only(data), affine=_read_only(canonical_affine), name=name, zooms=zooms)


# --------------------------------------------------------------------------------------------------------------------
# Slicing volumes


def _axis_of(orientation: str) -> int:
    key = orientation.strip().lower() if isinstance(orientation, str) else orientation
    if key not in ORIENTATIONS:
        raise SliceIndexError(f'"{orientation}" is not a slice orientation; choose one of {", ".join(ORIENTATIONS)}.')
    return ORIENTATIONS.index(key)


def slice_count(volume: Volume, orientation: str) -> int:
    """Number of slices along ``orientation``: sagittal = X, coronal = Y, axial = Z of the RAS+ ``volume.data``."""
    return int(volume.data.shape[_axis_of(orientation)])


def volume_slice(volume: Volume, orientation: str, index: int) -> np.ndarray:
    """Cut one 2-D float32 slice out of a RAS+ volume, oriented the way neuroimaging viewers show it.

    Convention (the one nilearn's plots use; "neurological": the patient's left is on the screen's left):

    * ``"sagittal"``, ``index`` along X (left → right): rows run superior (top) → inferior, columns posterior →
      anterior (the nose points right). Shape ZxY. It is ``np.rot90(data[index, :, :])``.
    * ``"coronal"``, ``index`` along Y (posterior → anterior): rows superior (top) → inferior, columns the patient's
      left → right. Shape ZxX. It is ``np.rot90(data[:, index, :])``.
    * ``"axial"``, ``index`` along Z (inferior → superior): rows anterior (top) → posterior, columns the patient's
      left → right. Shape YxX. It is ``np.rot90(data[:, :, index])``.

    ``np.rot90`` turns (a, b) into (b reversed, a): the second voxel axis becomes the rows, top = its high end, and
    the first becomes the columns, left = its low end. Indices count from 0; negative indices are refused rather than
    wrapping around. Raises :class:`SliceIndexError` for an unknown orientation or an index outside the volume.
    """
    axis = _axis_of(orientation)
    count = volume.data.shape[axis]
    try:
        position = operator.index(index)
    except TypeError as error:
        raise SliceIndexError(f"The slice number must be a whole number, not {index!r}.") from error
    if not 0 <= position < count:
        raise SliceIndexError(
            f"Slice {position} does not exist: the {ORIENTATIONS[axis]} direction has {count} slices, numbered 0 to "
            f"{count - 1}."
        )
    plane = np.take(volume.data, position, axis=axis)
    return np.ascontiguousarray(np.rot90(plane), dtype=np.float32)


def image_from_slice(slice2d: np.ndarray, name: str) -> LoadedImage:
    """Rescale a volume slice to [0, 1] for display and model input, robust to outliers.

    Volumes carry arbitrary units (scanner counts, T1 values, z-scores), and a few hot voxels would squash a min/max
    scaling, so the window is the 0.5th to 99.5th percentile of the slice's nonzero voxels (the background of a
    skull-stripped or masked scan is 0 and would otherwise drag the low end down); all voxels are used if none is
    nonzero. Values outside the window are clipped. If that window is empty (for example a binary mask whose nonzero
    voxels share one value) the slice's min and max are used instead; only a truly constant slice gives all zeros.
    The result has ``mode="nifti"`` and ``bit_depth=32``.
    """
    values = np.asarray(slice2d, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"image_from_slice needs a 2-D slice, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise NonFiniteValuesError(f'The slice of "{name}" holds NaN or infinite values and cannot be displayed.')
    nonzero = values[values != 0]
    low, high = np.percentile(nonzero if nonzero.size else values, [0.5, 99.5])
    if high <= low:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        pixels = np.zeros(values.shape, dtype=np.float32)
    else:
        pixels = np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)
    return LoadedImage(
        pixels=_read_only(pixels),
        name=name,
        mode="nifti",
        bit_depth=32,
        source_size=(int(values.shape[0]), int(values.shape[1])),
    )


# --------------------------------------------------------------------------------------------------------------------
# One entry point


def load_any(
    data: bytes,
    name: str,
    *,
    volume_index: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> LoadedImage | Volume:
    """Load an upload as a :class:`Volume` (NIfTI, plain or gzip-compressed) or else a :class:`LoadedImage`.

    The choice is made from the magic bytes (gzip ``1f 8b``; NIfTI-1 ``n+1``/``ni1`` at byte 344; NIfTI-2
    ``n+2``/``ni2`` at byte 4), never from the file name. Keyword arguments go to :func:`load_volume` or
    :func:`load_image`, whichever applies. Raises what those raise; bytes of neither kind give
    :class:`UnsupportedFormatError` listing every type the app reads.
    """
    if not data:
        raise _empty(name)
    if data.startswith(_GZIP_MAGIC) or _nifti_kind(data[:_NIFTI2_HEADER_SIZE]) is not None:
        return load_volume(data, name, volume_index=volume_index, max_voxels=max_voxels)
    if _sniff_image(data) is not None:
        return load_image(data, name, max_pixels=max_pixels, min_side=min_side)
    raise UnsupportedFormatError(
        f'"{name}" is not a file the app can read{_looks_like(data)}. Upload a {_IMAGE_TYPES}, or a {_VOLUME_TYPES}.'
    )
