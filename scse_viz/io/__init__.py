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

from scse_viz.errors import UnsupportedFormatError
from scse_viz.io.images import DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, LoadedImage, load_image
from scse_viz.io.sniff import _GZIP_MAGIC, _IMAGE_TYPES, _NIFTI2_HEADER_SIZE, _VOLUME_TYPES, _empty, _looks_like, _nifti_kind, _sniff_image
from scse_viz.io.slices import ORIENTATIONS, image_from_slice, slice_count, volume_slice
from scse_viz.io.volumes import DEFAULT_MAX_VOXELS, Volume, load_volume

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
