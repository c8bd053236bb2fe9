"""The header of one DICOM file: only the elements the app needs are ever decoded (see the privacy note in
:mod:`scse_viz.io.dicom`), read defensively (a malformed value is treated as missing, never shown)."""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scse_viz.errors import UnreadableFileError, UnsupportedFormatError
from scse_viz.io.sniff import _DECODE_ERRORS

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

EXPORT_HINT = (
    "Export the images uncompressed (Explicit VR Little Endian) from your viewer or PACS, or convert them to NIfTI "
    "(for example with dcm2niix), and upload that."
)

# Siemens keeps the number of slices tiled into a mosaic in a private element of its "SIEMENS MR HEADER" block.
_SIEMENS_CREATOR_TAG = 0x00190010
_MOSAIC_COUNT_TAG = 0x0019100A
_SIEMENS_CREATOR = "SIEMENS MR HEADER"
# ... and, in its private "SIEMENS CSA HEADER" block of group 0029, the CSA image header: a binary table that
# nibabel's ``nibabel.nicom.csareader`` parses, holding NumberOfImagesInMosaic and SliceNormalVector (the direction
# in which the tiles run). The block may sit in any of the first private slots; the image header is element 0x10 of
# it, (0029,xx10). Only these slots are decoded.
_CSA_SLOTS = (0x10, 0x11, 0x12)
_CSA_TAGS = [0x00290000 | slot for slot in _CSA_SLOTS] + [0x00290000 | (slot << 8) | 0x10 for slot in _CSA_SLOTS]

# The only elements ever decoded from a file's main dataset (see the package docstring).
_TAGS: list[Any] = [
    "PixelData",
    "FloatPixelData",
    "DoubleFloatPixelData",
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "NumberOfFrames",
    "ExtendedOffsetTable",
    "ExtendedOffsetTableLengths",
    "RescaleSlope",
    "RescaleIntercept",
    "ModalityLUTSequence",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "VOILUTSequence",
    "ImageType",
    _SIEMENS_CREATOR_TAG,
    _MOSAIC_COUNT_TAG,
    *_CSA_TAGS,
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "InstanceNumber",
    "SeriesInstanceUID",
]
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

# Where an enhanced multi-frame file keeps, per frame or shared, what a classic file has at the top level.
_FUNCTIONAL_GROUP = {
    "PixelSpacing": "PixelMeasuresSequence",
    "SliceThickness": "PixelMeasuresSequence",
    "SpacingBetweenSlices": "PixelMeasuresSequence",
    "ImageOrientationPatient": "PlaneOrientationSequence",
    "ImagePositionPatient": "PlanePositionSequence",
    "RescaleSlope": "PixelValueTransformationSequence",
    "RescaleIntercept": "PixelValueTransformationSequence",
    "WindowCenter": "FrameVOILUTSequence",
    "WindowWidth": "FrameVOILUTSequence",
    "VOILUTFunction": "FrameVOILUTSequence",
}


def _dicom_errors() -> tuple[type[BaseException], ...]:
    """What pydicom raises on malformed files and pixel data (broad on purpose, like ``_DECODE_ERRORS``)."""
    from pydicom.errors import BytesLengthException, InvalidDicomError

    return (*_DECODE_ERRORS, AttributeError, NotImplementedError, RuntimeError, InvalidDicomError, BytesLengthException)


@dataclass(frozen=True)
class _Image:
    """One parsed DICOM file with pixel data: the few header values needed, and the dataset for decoding.

    ``frames``, ``rows`` and ``columns`` describe the images the file holds; for a Siemens mosaic (``mosaic`` > 0
    tiles per side, in one stored frame of ``mosaic·rows × mosaic·columns`` pixels) that is its slices, and
    ``mosaic_normal`` the CSA header's SliceNormalVector (LPS) where it has one: the direction the tiles run in."""

    ds: Dataset
    frames: int
    rows: int
    columns: int
    samples: int
    bits_stored: int
    photometric: str
    series: str
    instance: int | None
    mosaic: int = 0
    mosaic_normal: np.ndarray | None = None


def _read(data: bytes, *, what: str) -> _Image | None:
    """Parse one DICOM file's header (only :data:`_TAGS`); None if it holds no pixel data.

    ``what`` names the file in messages: the upload, or "a file inside" a ZIP.
    """
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's complaints about odd values are not for the app user
            ds = pydicom.dcmread(io.BytesIO(data), specific_tags=_TAGS)
            if not any(keyword in ds for keyword in _PIXEL_KEYWORDS):
                return None
            rows, columns = int(ds.Rows), int(ds.Columns)
            frames = int(ds.get("NumberOfFrames") or 1)
            samples = int(ds.get("SamplesPerPixel") or 1)
            bits_stored = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)
            photometric = str(ds.get("PhotometricInterpretation") or "MONOCHROME2").strip().upper()
            series = str(ds.get("SeriesInstanceUID") or "")
            instance = _int_or_none(ds.get("InstanceNumber"))
            mosaic = "MOSAIC" in [str(value).strip().upper() for value in _values(ds.get("ImageType"))]
            csa = _csa_image_header(ds) if mosaic else {}
            slices = (_csa_mosaic_count(csa) or _mosaic_count(ds)) if mosaic else None
    except _dicom_errors() as error:
        raise UnreadableFileError(
            f"{_capital(what)} looks like a DICOM file but its header cannot be read: it is probably truncated or "
            "corrupt. Export it again and upload the new file."
        ) from error
    if rows <= 0 or columns <= 0 or frames <= 0:
        raise UnreadableFileError(
            f"{_capital(what)} is a DICOM file whose header describes no pixels. Export it again and upload the new "
            "file."
        )
    image = _Image(ds, frames, rows, columns, samples, bits_stored, photometric, series, instance)
    return _split_mosaic(image, slices, _csa_slice_normal(csa), what) if mosaic else image


def _csa_image_header(ds: Dataset) -> dict[str, Any]:
    """The Siemens CSA image header, (0029,xx10) under "SIEMENS CSA HEADER", as ``nibabel.nicom.csareader`` parses
    it (its ``tags`` mapping); empty when the file has none or it cannot be parsed (then the standard elements
    alone place the mosaic, as nibabel also falls back to them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel.nicom warns on import that its DICOM readers are experimental
        from nibabel.nicom import csareader

        try:
            header = csareader.get_csa_header(ds, "image")
        except (csareader.CSAError, AssertionError, LookupError, TypeError, struct.error, *_dicom_errors()):
            return {}
    return header.get("tags", {}) if isinstance(header, dict) else {}


def _csa_items(tags: dict[str, Any], name: str) -> list[Any]:
    tag = tags.get(name)
    return list(tag.get("items") or []) if isinstance(tag, dict) else []


def _csa_mosaic_count(tags: dict[str, Any]) -> int | None:
    """NumberOfImagesInMosaic from the CSA image header, nibabel's source for it; None if missing or not positive."""
    items = _csa_items(tags, "NumberOfImagesInMosaic")
    count = _int_or_none(items[0]) if items else None
    return count if count is not None and count > 0 else None


def _csa_slice_normal(tags: dict[str, Any]) -> np.ndarray | None:
    """SliceNormalVector from the CSA image header as a unit vector (LPS), or None if missing or degenerate."""
    normal = _floats(_csa_items(tags, "SliceNormalVector"), 3)
    if normal is None or np.linalg.norm(normal) < 1e-6:
        return None
    return normal / np.linalg.norm(normal)


def _mosaic_count(ds: Dataset) -> int | None:
    """Number Of Images In Mosaic, (0019,100A) under the "SIEMENS MR HEADER" creator; None if absent or broken."""
    creator = ds.get(_SIEMENS_CREATOR_TAG)
    element = ds.get(_MOSAIC_COUNT_TAG)
    if creator is None or element is None or str(creator.value).strip() != _SIEMENS_CREATOR:
        return None
    value = element.value
    if isinstance(value, bytes):  # read as UN (implicit VR without the private dictionary): a little-endian US
        value = struct.unpack("<H", value[:2])[0] if len(value) >= 2 else None
    return _int_or_none(value)


def _split_mosaic(image: _Image, slices: int | None, normal: np.ndarray | None, what: str) -> _Image:
    """A Siemens mosaic as the slices it tiles: ``slices`` tiles of (rows/g × columns/g) pixels in a g×g grid,
    g = ceil(sqrt(slices)), filled row by row (the layout nibabel and dcm2niix read); ``normal`` is the CSA header's
    slice direction, kept for the geometry."""
    if slices is None or slices < 1:
        raise UnsupportedFormatError(
            f"{_capital(what)} is a Siemens mosaic (several slices tiled into one image), but its header does not "
            "say how many slices it holds (neither its CSA header's NumberOfImagesInMosaic nor the private element "
            "(0019,100A) Number Of Images In Mosaic), so it cannot be split into them. Convert the series to NIfTI (for example with dcm2niix) and upload that."
        )
    grid = math.ceil(math.sqrt(slices))
    if image.frames != 1 or image.samples != 1 or image.rows % grid or image.columns % grid:
        raise UnsupportedFormatError(
            f"{_capital(what)} is a Siemens mosaic whose header does not describe a grid of {slices} equal tiles, so "
            "it cannot be split into its slices. Convert the series to NIfTI (for example with dcm2niix) and upload "
            "that."
        )
    return _Image(
        image.ds,
        slices,
        image.rows // grid,
        image.columns // grid,
        image.samples,
        image.bits_stored,
        image.photometric,
        image.series,
        image.instance,
        mosaic=grid,
        mosaic_normal=normal,
    )


def _lookup(ds: Dataset, keyword: str, frame: int, *, top_level: bool = True) -> Any:
    """A value from the frame's functional group, the shared functional group, or (if ``top_level``) the top level,
    in that order."""
    group = _FUNCTIONAL_GROUP.get(keyword)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if group is not None:
                per_frame = ds.get("PerFrameFunctionalGroupsSequence")
                shared = ds.get("SharedFunctionalGroupsSequence")
                sources = ([per_frame[frame]] if per_frame and frame < len(per_frame) else []) + (
                    [shared[0]] if shared else []
                )
                for item in sources:
                    inner = item.get(group)
                    if inner and keyword in inner[0]:
                        return inner[0].get(keyword)
            return ds.get(keyword) if top_level else None
    except _dicom_errors():
        return None


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _floats(value: Any, count: int) -> np.ndarray | None:
    """Exactly ``count`` finite floats, or None."""
    items = _values(value)
    if len(items) != count:
        return None
    try:
        numbers = np.array([float(item) for item in items], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return numbers if np.all(np.isfinite(numbers)) else None


def _float_or_none(value: Any) -> float | None:
    """The first value of a (possibly multi-valued) number, or None."""
    items = _values(value)
    if not items:
        return None
    try:
        number = float(items[0])
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _int_or_none(value: Any) -> int | None:
    number = _float_or_none(value)
    return int(number) if number is not None else None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
