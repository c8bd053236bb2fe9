"""DICOM input: :func:`load_dicom` turns one DICOM file, or a ZIP of a series, into what the app already handles.

Nearly every scanner writes DICOM, so people upload it as it comes off the PACS. The result is never a new kind of
object: a single-frame file becomes a 2-D :class:`~scse_viz.io.images.LoadedImage`, a multi-frame file or a zipped
series a RAS+ :class:`~scse_viz.io.volumes.Volume` built through the same nibabel path as a NIfTI upload, so slicing
and orientation mean the same thing whatever the upload was. A Siemens mosaic (one stored image tiling the slices
of a volume, Image Type ``MOSAIC``) becomes the volume of its slices.

The package splits along its jobs: :mod:`~scse_viz.io.dicom.archive` (ZIP and deflate limits, checked before
anything large is inflated), :mod:`~scse_viz.io.dicom.header` (the few elements read, mosaics),
:mod:`~scse_viz.io.dicom.pixels` (decoding, modality and VOI LUTs) and :mod:`~scse_viz.io.dicom.geometry` (slice
order, spacing, the affine); this module puts them together.

**Privacy.** DICOM headers carry the patient's name, IDs, birth date, and study dates. None of it is shown, logged
or exported: the files are parsed with ``pydicom.dcmread(..., specific_tags=...)`` so that only these elements are
ever decoded, and nothing else of the header even reaches a Python object:

* the pixel data and its description: Pixel Data (or Float / Double Float Pixel Data), Rows, Columns, Samples per
  Pixel, Photometric Interpretation, Planar Configuration, Bits Allocated, Bits Stored, High Bit, Pixel
  Representation, Number of Frames, and the Extended Offset Table (with its lengths) of encapsulated data;
* Rescale Slope, Rescale Intercept and the Modality LUT Sequence (stored values to modality units, e.g.
  Hounsfield units);
* Window Center, Window Width, VOI LUT Function and the VOI LUT Sequence (the default display of a 2-D image);
* Image Type and, under the private creator "SIEMENS MR HEADER", (0019,100A) Number Of Images In Mosaic, only to
  recognise a Siemens mosaic and split it; for a mosaic, the Siemens CSA image header ((0029,xx10) under "SIEMENS
  CSA HEADER", parsed by ``nibabel.nicom.csareader``: acquisition parameters, no patient data), of which only
  NumberOfImagesInMosaic and SliceNormalVector are used;
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

**Pixel values.** The Modality LUT Sequence, or else Rescale Slope and Intercept, is applied by
:func:`pydicom.pixels.apply_modality_lut`; a 2-D gray image is then shown through its VOI LUT Sequence, or else its
window, by :func:`pydicom.pixels.apply_voi_lut` (see :func:`load_dicom`). MONOCHROME1 (where low values are bright, common for
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
from collections.abc import Sequence

import numpy as np

from scse_viz.color import luma
from scse_viz.errors import ImageTooLargeError, ImageTooSmallError, UnsupportedFormatError
from scse_viz.io.dicom.archive import _check_inflated_size, _dicom_members
from scse_viz.io.dicom.geometry import (
    _mosaic_origin,
    _orientation,
    _pixel_spacing,
    _Plane,
    _ras_affine,
    _slice_normal,
    _slice_spacing,
    _sort,
)
from scse_viz.io.dicom.header import _capital, _floats, _Image, _lookup, _read
from scse_viz.io.dicom.pixels import _decode, _displayed, _invert_planes, _modality
from scse_viz.io.images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, LoadedImage
from scse_viz.io.slices import image_from_slice
from scse_viz.io.sniff import _ZIP_MAGIC, _empty, _is_dicom, _read_only, _unsupported_upload
from scse_viz.io.volumes import DEFAULT_MAX_VOXELS, Volume, _canonical

__all__ = ["MAX_UNCOMPRESSED_BYTES", "MAX_ZIP_MEMBERS", "is_dicom_upload", "load_dicom"]

# A ZIP is unpacked in memory only, and these caps are checked from the central directory before anything is
# inflated: a zip bomb costs nothing (:mod:`scse_viz.io.dicom.archive`).
MAX_ZIP_MEMBERS = 2000
MAX_UNCOMPRESSED_BYTES = 1 << 30


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

    * A single-frame file gives a 2-D :class:`LoadedImage` (``mode="dicom"``) in [0, 1]. Gray images go through
      :func:`pydicom.pixels.apply_voi_lut`: the file's first VOI LUT Sequence item if it has one (its lowest entry
      black, its highest white), else its first Window Center/Width pair through its VOI LUT Function (LINEAR,
      LINEAR_EXACT or SIGMOID as the file says; none or another: LINEAR, the standard's default (PS3.3
      C.11.2.1.2, [center − 0.5 − (width − 1)/2, center − 0.5 + (width − 1)/2] to [0, 1], clipped), which pydicom
      also assumes, or LINEAR_EXACT for a window narrower than 1, which LINEAR does not allow), else the robust
      percentile scaling of :func:`image_from_slice`. RGB images go through their full
      scale (``2**BitsStored − 1``). ``max_pixels`` and ``min_side`` apply as for :func:`load_image`.
    * A multi-frame file (Number of Frames > 1) gives a :class:`Volume` of its frames; so does a Siemens mosaic
      (Image Type holds ``MOSAIC``): its n tiles (NumberOfImagesInMosaic of the Siemens CSA image header, read by
      ``nibabel.nicom.csareader``, else (0019,100A) Number Of Images In Mosaic), in a grid of ceil(sqrt(n)) tiles
      a side filled row by row, are its slices, placed as nibabel's ``MosaicWrapper`` places them: the mosaic's
      Image Position corrected to the first tile, the tiles running along the cross product of the orientation's
      two directions, or against it where the CSA header's SliceNormalVector points the other way.
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
            gray/RGB/YBR, a series whose images differ in size or orientation, several images at one position, a
            Siemens mosaic that does not say how many slices it tiles (or whose tiles do not divide it), or a
            Modality LUT that cannot be applied.
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
        _check_inflated_size(data, name, MAX_UNCOMPRESSED_BYTES, cap=MAX_UNCOMPRESSED_BYTES)
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
# A ZIP of a series


def _load_zip(data: bytes, name: str, *, max_pixels: int, min_side: int, max_voxels: int) -> LoadedImage | Volume:
    members = _dicom_members(data, name, max_members=MAX_ZIP_MEMBERS, max_bytes=MAX_UNCOMPRESSED_BYTES)
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


# --------------------------------------------------------------------------------------------------------------------
# 2-D images and volumes


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
    values = _modality(_decode(image, what), image, what, np.float64)[0]
    if image.samples == 3:
        pixels = np.clip(values / float(2**image.bits_stored - 1), 0.0, 1.0)
    else:
        pixels = _displayed(values, image)
        if pixels is None:  # no usable VOI LUT or window: the robust percentile scaling
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

    normal = _slice_normal(orientation, first)
    planes, step = _sort(planes, normal, what)
    spacing = _pixel_spacing(first.ds)
    if step is None:
        step = _slice_spacing(first.ds)

    # Decode one file at a time straight into its planes, so memory holds the volume and one file, not two volumes.
    stack = np.empty((len(planes), first.rows, first.columns), dtype=np.float32)
    where = {(plane.image, plane.frame): k for k, plane in enumerate(planes)}
    for index, image in enumerate(images):
        values = _modality(_decode(image, what), image, what)
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
    origin = planes[0].position
    if origin is None:
        origin = _floats(_lookup(first.ds, "ImagePositionPatient", 0), 3)
        if origin is not None and orientation is not None and first.mosaic:
            origin = _mosaic_origin(origin, orientation, spacing, first)
    ras = _ras_affine(orientation, spacing, step, origin, normal)
    return _canonical(data, ras, name)
