"""Turn the bytes of an uploaded file into arrays the rest of the app can trust.

This is the core layer's only door to the outside world, so it is strict: every way a user's file can be wrong ends
in one of the typed :mod:`scse_viz.errors` exceptions with a message for that user, never in a Pillow, nibabel or
zlib traceback. It needs numpy, Pillow, nibabel and pydicom only (no Streamlit, no torch; pydicom is imported when a
DICOM file arrives), so it can be tested and reused on its own.

Three kinds of input are read:

* 2-D images (PNG, JPEG, TIFF, BMP, WebP, GIF) with :func:`load_image`, giving a :class:`LoadedImage`;
* NIfTI-1/NIfTI-2 volumes (``.nii``, ``.nii.gz``) with :func:`load_volume`, giving a :class:`Volume` from which
  :func:`volume_slice` cuts 2-D slices and :func:`image_from_slice` makes a displayable :class:`LoadedImage`;
* DICOM (one file, or a ``.zip`` of a series) with :func:`load_dicom` (needs pydicom), giving a
  :class:`LoadedImage` for a single-frame file and a :class:`Volume` for a multi-frame file or a series, so the
  rest of the app never meets DICOM itself.

:func:`load_any` picks between them from the file's first bytes, so the app has a single entry point. The type of
a file is always decided from its content (magic bytes), never from its name: browsers and users get extensions wrong.
"""

from __future__ import annotations

from scse_viz.io.dicom import is_dicom_upload, load_dicom
from scse_viz.io.images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, LoadedImage, load_image
from scse_viz.io.slices import ORIENTATIONS, image_from_slice, slice_count, volume_slice
from scse_viz.io.sniff import _GZIP_MAGIC, _NIFTI2_HEADER_SIZE, _empty, _nifti_kind, _sniff_image, _unsupported_upload
from scse_viz.io.volumes import DEFAULT_MAX_VOXELS, Volume, load_volume

__all__ = [
    "ORIENTATIONS",
    "LoadedImage",
    "Volume",
    "image_from_slice",
    "is_dicom_upload",
    "load_any",
    "load_dicom",
    "load_image",
    "load_volume",
    "slice_count",
    "volume_slice",
]


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
    """Load an upload as a :class:`Volume` (NIfTI, plain or gzip-compressed; a DICOM series) or a :class:`LoadedImage`.

    The choice is made from the magic bytes (gzip ``1f 8b``; NIfTI-1 ``n+1``/``ni1`` at byte 344; NIfTI-2
    ``n+2``/``ni2`` at byte 4; DICOM ``DICM`` at byte 128; ZIP ``PK 03 04``), never from the file name. A ZIP goes
    to :func:`load_dicom`, which refuses it as below if it holds no DICOM file. Keyword arguments go to
    :func:`load_volume`, :func:`load_dicom` or :func:`load_image`, whichever applies (``volume_index`` concerns 4-D
    NIfTI only). Raises what those raise; bytes of no known kind give :class:`UnsupportedFormatError` listing every
    type the app reads.
    """
    if not data:
        raise _empty(name)
    if data.startswith(_GZIP_MAGIC) or _nifti_kind(data[:_NIFTI2_HEADER_SIZE]) is not None:
        return load_volume(data, name, volume_index=volume_index, max_voxels=max_voxels)
    if is_dicom_upload(data):  # before images: a dual-personality DICOM/TIFF file is read with its DICOM header
        return load_dicom(data, name, max_pixels=max_pixels, min_side=min_side, max_voxels=max_voxels)
    if _sniff_image(data) is not None:
        return load_image(data, name, max_pixels=max_pixels, min_side=min_side)
    raise _unsupported_upload(data, name)
