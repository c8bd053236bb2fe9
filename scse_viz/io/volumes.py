"""Parsing NIfTI-1/NIfTI-2 volumes: :func:`load_volume` checks the bytes and gives a RAS+ :class:`Volume`.

Cutting slices out of a volume and windowing them for display is :mod:`scse_viz.io.slices`.
"""

from __future__ import annotations

import gzip
import io
import operator
import warnings
import zlib
from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nibabel.spatialimages import HeaderDataError

from scse_viz.errors import (
    ImageTooLargeError,
    NonFiniteValuesError,
    UnreadableFileError,
    UnsupportedFormatError,
    VolumeIndexRequiredError,
)
from scse_viz.io.sniff import (
    _DECODE_ERRORS,
    _GZIP_MAGIC,
    _IMAGE_TYPES,
    _NIFTI1_HEADER_SIZE,
    _NIFTI2_HEADER_SIZE,
    _VOLUME_TYPES,
    _empty,
    _looks_like,
    _nifti_kind,
    _read_only,
)

DEFAULT_MAX_VOXELS = 200_000_000

_GZIP_TRAILING_LIMIT = 1 << 20


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
