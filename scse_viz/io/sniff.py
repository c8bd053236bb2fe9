"""Tell what an upload is from its first bytes, and the pieces the image and volume loaders share.

The type of a file is always decided from its content (magic bytes), never from its name: browsers and users get
extensions wrong.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from scse_viz.errors import EmptyFileError, UnsupportedFormatError

_IMAGE_TYPES = "PNG, JPEG, TIFF, BMP, WebP or GIF image"
_VOLUME_TYPES = "NIfTI volume (.nii or .nii.gz)"
_DICOM_TYPES = "DICOM file (one file, or a .zip of a series)"

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


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _empty(name: str) -> EmptyFileError:
    return EmptyFileError(f'"{name}" is 0 bytes long: it may not have finished uploading. Try uploading it again.')


# --------------------------------------------------------------------------------------------------------------------
# Sniffing file types from their bytes

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_DICOM_MAGIC_OFFSET = 128  # a DICOM file (PS3.10) is a 128-byte preamble, then "DICM", then the file meta group
_NIFTI1_HEADER_SIZE = 348
_NIFTI2_HEADER_SIZE = 540
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


def _is_dicom(data: bytes) -> bool:
    """Whether ``data`` is a DICOM file: ``DICM`` right after the 128-byte preamble, as PS3.10 requires."""
    return data[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == b"DICM"


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


def _unsupported_upload(data: bytes, name: str) -> UnsupportedFormatError:
    """The refusal for bytes of no type the app reads, naming what they seem to be and every type it does read."""
    return UnsupportedFormatError(
        f'"{name}" is not a file the app can read{_looks_like(data)}. Upload a {_IMAGE_TYPES}, a {_VOLUME_TYPES}, '
        f"or a {_DICOM_TYPES}."
    )


def _looks_like(data: bytes) -> str:
    """Name a few common wrong uploads, so the message can say what the file seems to be."""
    if data.startswith(b"%PDF"):
        return " (it looks like a PDF document)"
    if data.startswith(_ZIP_MAGIC):
        return " (it looks like a ZIP archive or an Office document)"
    if _is_dicom(data):
        return " (it looks like a DICOM file)"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis"):
        return " (it looks like a HEIC/AVIF photo: export it as JPEG or PNG)"
    if data.startswith((b"\x00\x00\x00\x0cjP  ", b"\xffO\xffQ")):
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
