"""DICOM input: :func:`load_dicom` turns one DICOM file, or a ZIP of a series, into what the app already handles.

Nearly every scanner writes DICOM, so people upload it as it comes off the PACS. The result is never a new kind of
object: a single-frame file becomes a 2-D :class:`~scse_viz.io.images.LoadedImage`, a multi-frame file or a zipped
series a RAS+ :class:`~scse_viz.io.volumes.Volume` built through the same nibabel path as a NIfTI upload, so slicing
and orientation mean the same thing whatever the upload was.

**Privacy.** DICOM headers carry the patient's name, IDs, birth date, and study dates. None of it is shown, logged
or exported: the files are parsed with ``pydicom.dcmread(..., specific_tags=...)`` so that only these elements are
ever decoded, and nothing else of the header even reaches a Python object:

* the pixel data and its description: Pixel Data (or Float / Double Float Pixel Data), Rows, Columns, Samples per
  Pixel, Photometric Interpretation, Planar Configuration, Bits Allocated, Bits Stored, High Bit, Pixel
  Representation, Number of Frames, and the Extended Offset Table (with its lengths) of encapsulated data;
* Rescale Slope and Rescale Intercept (stored values to modality units, e.g. Hounsfield units);
* Window Center and Window Width (the default display window of a 2-D image);
* geometry: Image Orientation (Patient), Image Position (Patient), Pixel Spacing, Slice Thickness, Spacing Between
  Slices, and the Shared / Per-frame Functional Groups Sequences where enhanced multi-frame files keep the same
  geometry, rescale and window values per frame;
* Instance Number (slice order when positions are missing);
* Series Instance UID, only to group the files of a ZIP into series;
* the file meta group pydicom always reads, of which only the Transfer Syntax UID is used.

The ``name`` of every result is the uploaded file's name (``"<zip name> · series of N slices"`` for a series), never
a header value, and error messages quote no header value except the transfer syntax, which people need in order to
export the file differently. Names of the files inside a ZIP are not quoted either: exporters often name them after
the patient.

**Pixel values.** Rescale Slope and Intercept are applied. MONOCHROME1 (where low values are bright, common for
X-ray) is inverted so that high values are bright, as in MONOCHROME2. RGB stays colour for a 2-D image; YBR
(YCbCr) data is converted to RGB with :func:`pydicom.pixels.convert_color_space` unless the decoder already did.
Volumes are scalar, so a colour multi-frame file (an ultrasound cine, say) becomes its luma.

**Compression.** Pixel data is decoded by whichever of pydicom's decoders is installed (natively: uncompressed,
deflated and RLE; with Pillow: baseline JPEG and JPEG 2000). A transfer syntax without a decoder gives
:class:`~scse_viz.errors.UnsupportedCompressionError`, naming the syntax and asking for an uncompressed or NIfTI
export; no decoder plugin is pulled in for it.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scse_viz.color import luma
from scse_viz.errors import (
    ImageTooLargeError,
    ImageTooSmallError,
    NonFiniteValuesError,
    UnreadableFileError,
    UnsupportedCompressionError,
    UnsupportedFormatError,
)
from scse_viz.io.images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, LoadedImage
from scse_viz.io.slices import image_from_slice
from scse_viz.io.sniff import (
    _DECODE_ERRORS,
    _DICOM_MAGIC_OFFSET,
    _ZIP_MAGIC,
    _empty,
    _is_dicom,
    _read_only,
    _unsupported_upload,
)
from scse_viz.io.volumes import DEFAULT_MAX_VOXELS, Volume, _canonical

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# A ZIP is unpacked in memory only (nothing is written to disk, so member paths such as "../x" mean nothing), and
# these caps are checked from the central directory before anything is inflated: a zip bomb costs nothing.
MAX_ZIP_MEMBERS = 2000
MAX_UNCOMPRESSED_BYTES = 1 << 30

_EXPORT_HINT = (
    "Export the images uncompressed (Explicit VR Little Endian) from your viewer or PACS, or convert them to NIfTI "
    "(for example with dcm2niix), and upload that."
)

# The only elements ever decoded from a file's main dataset (see the module docstring).
_TAGS = [
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
    "WindowCenter",
    "WindowWidth",
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
}

_DEFLATED = "1.2.840.10008.1.2.1.99"
_RGB_LIKE = ("RGB", "YBR_ICT", "YBR_RCT")  # JPEG 2000 decoders undo the ICT/RCT colour transform themselves
_YBR_CONVERTIBLE = ("YBR_FULL", "YBR_FULL_422")
_POSITION_TOLERANCE_MM = 1e-3
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _dicom_errors() -> tuple[type[BaseException], ...]:
    """What pydicom raises on malformed files and pixel data (broad on purpose, like ``_DECODE_ERRORS``)."""
    from pydicom.errors import BytesLengthException, InvalidDicomError

    return (*_DECODE_ERRORS, AttributeError, NotImplementedError, RuntimeError, InvalidDicomError, BytesLengthException)


# --------------------------------------------------------------------------------------------------------------------
# Entry point


def is_dicom_upload(data: bytes) -> bool:
    """Whether :func:`load_dicom` should be tried: a DICOM file (``DICM`` at byte 128) or any ZIP archive.

    A ZIP may still hold no DICOM at all (an Office document is a ZIP too); :func:`load_dicom` then gives the app's
    usual refusal for a file it cannot read.
    """
    return _is_dicom(data) or data.startswith(_ZIP_MAGIC)


def load_dicom(
    data: bytes,
    name: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
    max_voxels: int = DEFAULT_MAX_VOXELS,
) -> LoadedImage | Volume:
    """Load a DICOM file, or a ZIP holding a DICOM series, as a :class:`LoadedImage` or a :class:`Volume`.

    * A single-frame file gives a 2-D :class:`LoadedImage` (``mode="dicom"``) in [0, 1]: gray images through the
      file's own Window Center/Width (the first pair if there are several; [center − width/2, center + width/2] maps
      to [0, 1], clipped), or, without one, the robust percentile scaling of :func:`image_from_slice`; RGB images
      through their full scale (``2**BitsStored − 1``). ``max_pixels`` and ``min_side`` apply as for
      :func:`load_image`.
    * A multi-frame file (Number of Frames > 1) gives a :class:`Volume` of its frames.
    * A ZIP gives a :class:`Volume` of its series, sorted by Image Position (Patient) projected on the slice normal
      (the cross product of the two Image Orientation (Patient) directions), or by Instance Number where positions
      are missing. If the ZIP holds several series, the one with most slices is used and the name says so
      (``"scan.zip · series of 120 slices (the largest of 3 series)"``). A ZIP holding a single image gives what
      that file alone would give.

    Volumes are built as nibabel does from DICOM: voxel axes (column, row, slice), spacing from Pixel Spacing (row,
    column) and from the sorted slice positions (their median step; else Spacing Between Slices, Slice Thickness or
    1 mm), the affine from orientation, position and spacing converted from DICOM's LPS to RAS (x and y negated),
    and then the same :func:`nibabel.as_closest_canonical` step as a NIfTI upload. A volume with no orientation in
    its header is laid out so that the axial view shows each frame as stored. ``max_voxels`` applies to the whole
    volume and is checked from the headers before any pixel data is decoded.

    Raises:
        EmptyFileError: ``data`` is empty.
        UnsupportedFormatError: neither a DICOM file nor a ZIP holding one (the app's usual refusal), a DICOM file
            without an image (a report, a DICOMDIR), a password-protected ZIP, a colour encoding other than
            gray/RGB/YBR, a series whose images differ in size or orientation, or several images at one position.
        UnsupportedCompressionError: pixel data compressed with a transfer syntax no installed decoder reads.
        UnreadableFileError: a truncated or corrupt file or ZIP.
        ImageTooLargeError: more pixels or voxels than allowed, too many files in the ZIP, or too many bytes
            once unpacked.
        ImageTooSmallError: a 2-D image with a side shorter than ``min_side``.
        NonFiniteValuesError: float pixel data holding NaN or infinite values.
    """
    if not data:
        raise _empty(name)
    if _is_dicom(data):
        _check_inflated_size(data, name, MAX_UNCOMPRESSED_BYTES)
        image = _read(data, what=f'"{name}"')
        if image is None:
            raise UnsupportedFormatError(
                f'"{name}" is a DICOM file without an image in it (it may be a report, a presentation state or a '
                "DICOMDIR index). Upload the DICOM files of the images themselves."
            )
        if image.frames == 1:
            return _image_2d(image, name, max_pixels=max_pixels, min_side=min_side)
        return _volume([image], name, what=f'"{name}"', max_voxels=max_voxels)
    if data.startswith(_ZIP_MAGIC):
        return _load_zip(data, name, max_pixels=max_pixels, min_side=min_side, max_voxels=max_voxels)
    raise _unsupported_upload(data, name)


# --------------------------------------------------------------------------------------------------------------------
# Reading one file


@dataclass(frozen=True)
class _Image:
    """One parsed DICOM file with pixel data: the few header values needed, and the dataset for decoding."""

    ds: Dataset
    frames: int
    rows: int
    columns: int
    samples: int
    bits_stored: int
    photometric: str
    series: str
    instance: int | None


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
    return _Image(ds, frames, rows, columns, samples, bits_stored, photometric, series, instance)


def _check_inflated_size(data: bytes, name: str, limit: int) -> int:
    """Bytes a Deflated Explicit VR Little Endian file inflates to (0 for any other transfer syntax).

    pydicom inflates such a file whole, unbounded, before parsing it; inflating it here first with a bound means a
    deflate bomb is refused after ``limit`` bytes instead of filling the memory.
    """
    meta_end = _meta_end(data)
    if _DEFLATED.encode("ascii") not in data[_DICOM_MAGIC_OFFSET:meta_end]:
        return 0
    try:
        inflated = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data[meta_end:], limit + 1)
    except zlib.error as error:
        raise UnreadableFileError(
            f'"{name}" is a deflate-compressed DICOM file that cannot be decompressed: it is probably truncated or '
            "corrupt. Export it again and upload the new file."
        ) from error
    if len(inflated) > limit:
        raise ImageTooLargeError(
            f'"{name}" unpacks to more than the {MAX_UNCOMPRESSED_BYTES / 2**30:g} GiB the app accepts. Upload '
            "fewer or smaller images."
        )
    return len(inflated)


def _meta_end(data: bytes) -> int:
    """Offset of the first byte after the file meta group, from its group length (first element, explicit VR)."""
    start = _DICOM_MAGIC_OFFSET + 4
    head = data[start : start + 12]
    if len(head) == 12 and head[:4] == b"\x02\x00\x00\x00" and head[4:6] == b"UL":
        return start + 12 + struct.unpack("<I", head[8:12])[0]
    return min(len(data), start + 4096)  # no group length: the meta group is short, search a generous head


# --------------------------------------------------------------------------------------------------------------------
# A ZIP of a series


def _load_zip(data: bytes, name: str, *, max_pixels: int, min_side: int, max_voxels: int) -> LoadedImage | Volume:
    members = _dicom_members(data, name)
    if not members:
        raise _unsupported_upload(data, name)
    images: list[_Image] = []
    for number, member in enumerate(members, start=1):
        image = _read(member, what=f'file {number} of the {len(members)} DICOM files inside "{name}"')
        if image is not None:
            images.append(image)
    if not images:
        raise UnsupportedFormatError(
            f'"{name}" holds DICOM files, but none of them holds an image (they may be reports or a DICOMDIR index). '
            "Zip the image files of the series and upload that."
        )

    groups: dict[str, list[_Image]] = {}
    for position, image in enumerate(images):
        # A multi-frame file is a series of its own; single-frame files group by their series.
        key = f"multi-frame {position}" if image.frames > 1 else f"series {image.series}"
        groups.setdefault(key, []).append(image)
    ordered = list(groups.values())
    largest = max(range(len(ordered)), key=lambda i: sum(image.frames for image in ordered[i]))
    chosen = ordered[largest]
    count = sum(image.frames for image in chosen)
    if count == 1:  # every file is a single image of its own series: show the first, as if uploaded alone
        note = f" (the first of {len(ordered)} single images)" if len(ordered) > 1 else ""
        return dataclasses.replace(
            _image_2d(chosen[0], name, max_pixels=max_pixels, min_side=min_side), name=f"{name} · 1 image{note}"
        )
    note = f" (the largest of {len(ordered)} series)" if len(ordered) > 1 else ""
    what = f'the series of {count} slices in "{name}"'
    if len(ordered) > 1:
        what = f'series {largest + 1} of {len(ordered)} in "{name}" (its {count} slices)'
    return _volume(chosen, f"{name} · series of {count} slices{note}", what=what, max_voxels=max_voxels)


def _dicom_members(data: bytes, name: str) -> list[bytes]:
    """The bytes of every DICOM member of a ZIP, in archive order; unpacked in memory, within the caps."""
    broken = UnreadableFileError(
        f'"{name}" looks like a ZIP archive but cannot be unpacked: it is probably truncated or corrupt. Zip the '
        "files again and upload the new archive."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, *_DECODE_ERRORS) as error:
        raise broken from error
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > MAX_ZIP_MEMBERS:
            raise ImageTooLargeError(
                f'"{name}" holds {len(entries):,} files; the app reads at most {MAX_ZIP_MEMBERS:,} from one ZIP. '
                "Zip a single series and upload that."
            )
        # zipfile never inflates a member past the size its directory entry states, so this sum is a real bound.
        total = sum(info.file_size for info in entries)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise ImageTooLargeError(
                f'"{name}" unpacks to {total / 2**30:.1f} GiB; the app accepts at most '
                f"{MAX_UNCOMPRESSED_BYTES / 2**30:g} GiB. Zip a single series and upload that."
            )
        if any(info.flag_bits & 0x1 for info in entries):
            raise UnsupportedFormatError(
                f'"{name}" is a password-protected ZIP archive, which the app cannot open. Zip the files again '
                "without a password and upload that."
            )
        members: list[bytes] = []
        inflated = 0
        for info in entries:
            try:
                with archive.open(info) as stream:
                    head = stream.read(_DICOM_MAGIC_OFFSET + 4)
                    if not _is_dicom(head):
                        continue  # a README, a bundled viewer, macOS "._" forks: not DICOM
                    member = head + stream.read(max(0, info.file_size - len(head)))
            except (zipfile.BadZipFile, NotImplementedError, *_DECODE_ERRORS) as error:
                raise broken from error
            inflated += _check_inflated_size(member, name, MAX_UNCOMPRESSED_BYTES - total - inflated)
            members.append(member)
    return members


# --------------------------------------------------------------------------------------------------------------------
# Pixels


def _decode(image: _Image, what: str) -> np.ndarray:
    """Decode all frames as float32, (frames, rows, columns) or (frames, rows, columns, 3) RGB, rescale not applied."""
    from pydicom.pixels import convert_color_space, get_decoder
    from pydicom.uid import UID

    try:
        syntax = UID(str(image.ds.file_meta.TransferSyntaxUID))
    except AttributeError as error:
        raise UnreadableFileError(
            f"{_capital(what)} is a DICOM file without a transfer syntax in its header, so its pixels cannot be "
            f"decoded. {_EXPORT_HINT}"
        ) from error
    known = syntax.is_valid and syntax.name != str(syntax)
    label = f"{syntax.name} ({syntax})" if known else f"transfer syntax {syntax}"
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        raise UnsupportedCompressionError(
            f"{_capital(what)} stores its pixels compressed as {label}, which the app cannot decode. {_EXPORT_HINT}"
        )
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            array, meta = decoder.as_array(image.ds, raw=True)
            photometric = str(meta.get("photometric_interpretation", image.photometric)).strip().upper()
            if image.samples == 3 and photometric in _YBR_CONVERTIBLE:
                array = convert_color_space(array, photometric, "RGB", per_frame=True)
                photometric = "RGB"
    except _dicom_errors() as error:
        if decoder.is_native:
            raise UnreadableFileError(
                f"{_capital(what)} is a DICOM file whose pixel data cannot be read: it is probably truncated or "
                "corrupt. Export it again and upload the new file."
            ) from error
        raise UnreadableFileError(
            f"{_capital(what)} stores its pixels compressed as {label}, but they cannot be decoded: the file may be "
            f"corrupt, or use a variant of that compression the app's decoders do not handle. {_EXPORT_HINT}"
        ) from error
    if image.samples == 3 and photometric not in _RGB_LIKE:
        raise UnsupportedFormatError(
            f"{_capital(what)} uses a colour encoding the app does not read (it reads grayscale, RGB and YBR). "
            f"{_EXPORT_HINT}"
        )
    if image.samples not in (1, 3) or (image.samples == 1 and photometric not in ("MONOCHROME1", "MONOCHROME2")):
        raise UnsupportedFormatError(
            f"{_capital(what)} uses a colour encoding the app does not read (for example a colour palette); it reads "
            f"grayscale, RGB and YBR. {_EXPORT_HINT}"
        )
    values = np.asarray(array, dtype=np.float32)  # exact for stored integers up to 2**24; volumes can be large
    expected = (image.frames, image.rows, image.columns) + ((3,) if image.samples == 3 else ())
    if values.size != int(np.prod(expected)):
        raise UnreadableFileError(
            f"{_capital(what)} holds fewer or more pixels than its header describes: it is probably corrupt. "
            "Export it again and upload the new file."
        )
    values = values.reshape(expected)
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise NonFiniteValuesError(
            f"{_capital(what)} has {bad:,} pixel value{'s' if bad != 1 else ''} that are NaN or infinite (out of "
            f"{values.size:,}). Replace them with numbers (for example 0) and upload it again."
        )
    return values


def _rescaled(values: np.ndarray, image: _Image) -> np.ndarray:
    """Apply Rescale Slope/Intercept frame by frame (enhanced files may give them per frame); gray data only."""
    if image.samples != 1:
        return values
    out = np.empty_like(values)
    for frame in range(image.frames):
        slope = _float_or_none(_lookup(image.ds, "RescaleSlope", frame))
        intercept = _float_or_none(_lookup(image.ds, "RescaleIntercept", frame))
        slope = 1.0 if slope is None or slope == 0.0 else slope  # a slope of 0 would erase the image: a broken header
        out[frame] = values[frame] * slope + (intercept or 0.0)
    return out


def _image_2d(image: _Image, name: str, *, max_pixels: int, min_side: int) -> LoadedImage:
    """A single-frame file as a 2-D image in [0, 1] (see :func:`load_dicom`)."""
    height, width = image.rows, image.columns
    if height * width > max_pixels:
        raise ImageTooLargeError(
            f'"{name}" has more pixels than the app accepts (at most {max_pixels / 1e6:g} megapixels). Export a '
            "downscaled image and upload that."
        )
    if min(height, width) < min_side:
        raise ImageTooSmallError(
            f'"{name}" is too small: both sides of the image must be at least {min_side} pixels. Upload a larger image.'
        )
    what = f'"{name}"'
    values = _rescaled(_decode(image, what).astype(np.float64), image)[0]
    if image.samples == 3:
        pixels = np.clip(values / float(2**image.bits_stored - 1), 0.0, 1.0)
    else:
        center = _float_or_none(_lookup(image.ds, "WindowCenter", 0))
        width_ = _float_or_none(_lookup(image.ds, "WindowWidth", 0))
        if center is not None and width_ is not None and width_ > 0:
            pixels = np.clip((values - (center - width_ / 2.0)) / width_, 0.0, 1.0)
        else:
            pixels = np.asarray(image_from_slice(values, name).pixels, dtype=np.float64)
        if image.photometric == "MONOCHROME1":
            pixels = 1.0 - pixels
    pixels32 = np.ascontiguousarray(pixels, dtype=np.float32)
    return LoadedImage(
        pixels=_read_only(pixels32),
        name=name,
        mode="dicom",
        bit_depth=image.bits_stored,
        source_size=(height, width),
    )


# --------------------------------------------------------------------------------------------------------------------
# Volumes


@dataclass(frozen=True)
class _Plane:
    """One 2-D plane of a volume: which file and frame it is, and where it lies."""

    image: int
    frame: int
    position: np.ndarray | None
    instance: int | None


def _volume(images: Sequence[_Image], name: str, *, what: str, max_voxels: int) -> Volume:
    """Stack the frames of ``images`` (one multi-frame file, or a single-frame series) into a RAS+ Volume."""
    first = images[0]
    if any((image.rows, image.columns) != (first.rows, first.columns) for image in images):
        raise UnsupportedFormatError(
            f"The images of {what} are not all the same size, so they do not stack into a volume. Zip only the "
            "images of one series (one scan) and upload that."
        )
    voxels = sum(image.frames for image in images) * first.rows * first.columns
    if voxels > max_voxels:
        raise ImageTooLargeError(
            f"{_capital(what)} holds more voxels than the app accepts (at most {max_voxels:,}). Export fewer slices "
            "or a downsampled series."
        )

    orientation = _orientation(images[0].ds, 0)
    planes: list[_Plane] = []
    for index, image in enumerate(images):
        # Only an enhanced file's per-frame functional groups place each frame; otherwise every frame of a file has
        # the same orientation and position lookup, read once (a header declaring 60,000 frames of 1×1 pixels took
        # 7 s to refuse when each frame was looked up on its own).
        per_frame = "PerFrameFunctionalGroupsSequence" in image.ds
        looked_up: tuple[np.ndarray | None, np.ndarray | None] | None = None
        for frame in range(image.frames):
            if per_frame or looked_up is None:
                own = _orientation(image.ds, frame)
                if orientation is not None and own is not None and not np.allclose(own, orientation, atol=1e-3):
                    raise UnsupportedFormatError(
                        f"The images of {what} lie in different orientations, so they do not stack into a volume. "
                        "Zip only the images of one series (one scan) and upload that."
                    )
                if own is None:
                    orientation = None
                # A classic multi-frame file has one top-level position, that of its first frame: only the
                # functional groups of an enhanced file place each frame.
                position = _floats(_lookup(image.ds, "ImagePositionPatient", frame, top_level=image.frames == 1), 3)
                looked_up = (own, position)
            planes.append(_Plane(index, frame, looked_up[1], image.instance if image.frames == 1 else None))

    normal = None if orientation is None else np.cross(orientation[0], orientation[1])
    planes, step = _sort(planes, normal, what)
    spacing = _pixel_spacing(first.ds)
    if step is None:
        step = _slice_spacing(first.ds)

    # Decode one file at a time straight into its planes, so memory holds the volume and one file, not two volumes.
    stack = np.empty((len(planes), first.rows, first.columns), dtype=np.float32)
    where = {(plane.image, plane.frame): k for k, plane in enumerate(planes)}
    for index, image in enumerate(images):
        values = _rescaled(_decode(image, what), image)
        if values.ndim == 4:  # colour frames: volumes are scalar
            values = luma(values)
        stack[[where[index, frame] for frame in range(image.frames)]] = values
        del values
    inverted = [k for k, plane in enumerate(planes) if images[plane.image].photometric == "MONOCHROME1"]
    if inverted:
        _invert_planes(stack, inverted)

    # Voxel axes (column, row, slice): nibabel's and dcm2niix's reading of a DICOM series (a view; the canonical
    # step below makes the one contiguous copy).
    data = stack.transpose(2, 1, 0)
    row_spacing, column_spacing = spacing
    if orientation is None:
        # No geometry: lay the volume out so that the axial view (rot90 of a RAS+ slice) shows each frame as stored.
        ras = np.diag([column_spacing, -row_spacing, step, 1.0])
    else:
        row_direction, column_direction = orientation
        lps = np.eye(4)
        lps[:3, 0] = row_direction * column_spacing  # moving along a row = to the next column
        lps[:3, 1] = column_direction * row_spacing
        lps[:3, 2] = normal * step
        origin = planes[0].position
        if origin is None:
            origin = _floats(_lookup(first.ds, "ImagePositionPatient", 0), 3)
        lps[:3, 3] = origin if origin is not None else 0.0
        ras = _LPS_TO_RAS @ lps
    return _canonical(data, ras, name)


def _sort(planes: list[_Plane], normal: np.ndarray | None, what: str) -> tuple[list[_Plane], float | None]:
    """Order the planes along the slice normal (or by Instance Number); return them and the slice step if known."""
    if normal is not None and all(plane.position is not None for plane in planes):
        depth = np.array([float(np.dot(plane.position, normal)) for plane in planes])
        order = np.argsort(depth, kind="stable")
        steps = np.diff(depth[order])
        if steps.size and float(steps.min()) < _POSITION_TOLERANCE_MM:
            distinct = int(np.count_nonzero(steps >= _POSITION_TOLERANCE_MM)) + 1
            raise UnsupportedFormatError(
                f"{_capital(what)} has {len(planes)} images at only {distinct} different positions (it may hold "
                "several echoes, time points or reconstructions). Export one 3-D series and upload that."
            )
        return [planes[i] for i in order], float(np.median(steps)) if steps.size else None
    if all(plane.instance is not None for plane in planes):
        return sorted(planes, key=lambda plane: plane.instance), None  # type: ignore[arg-type, return-value]
    return planes, None


def _invert_planes(stack: np.ndarray, indices: list[int]) -> None:
    """MONOCHROME1, in place: flip the values of these planes within their common range (lowest ↔ highest), so
    high values are bright and the slices of a series stay comparable."""
    chosen = stack[indices]
    stack[indices] = chosen.min() + chosen.max() - chosen


# --------------------------------------------------------------------------------------------------------------------
# Header values: read defensively (a malformed value is treated as missing, never shown)


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


def _orientation(ds: Dataset, frame: int) -> np.ndarray | None:
    """The unit row and column directions (2x3, LPS) of Image Orientation (Patient), or None if missing or broken."""
    cosines = _floats(_lookup(ds, "ImageOrientationPatient", frame), 6)
    if cosines is None:
        return None
    row, column = cosines[:3], cosines[3:]
    norms = np.linalg.norm(row), np.linalg.norm(column)
    if min(norms) < 1e-6:
        return None
    row, column = row / norms[0], column / norms[1]
    if abs(float(np.dot(row, column))) > 1e-2:  # not perpendicular: no plane can be built from it
        return None
    return np.stack([row, column])


def _positive(value: float | None) -> float | None:
    return value if value is not None and value > 0 else None


def _pixel_spacing(ds: Dataset) -> tuple[float, float]:
    """(row spacing, column spacing) in mm from Pixel Spacing; 1 mm each if missing or not positive."""
    spacing = _floats(_lookup(ds, "PixelSpacing", 0), 2)
    if spacing is None or np.any(spacing <= 0):
        return 1.0, 1.0
    return float(spacing[0]), float(spacing[1])


def _slice_spacing(ds: Dataset) -> float:
    """Slice step when positions do not give one: Spacing Between Slices, else Slice Thickness, else 1 mm."""
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = _positive(_float_or_none(_lookup(ds, keyword, 0)))
        if value is not None:
            return value
    return 1.0


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
