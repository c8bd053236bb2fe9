"""Looking at a volume: 2-D slices oriented as neuroimaging viewers show them, windowed robustly for display.

:func:`volume_slice` cuts a slice out of a RAS+ :class:`~scse_viz.io.volumes.Volume` (what
:func:`~scse_viz.io.volumes.load_volume` parses) and :func:`image_from_slice` scales it to [0, 1] as a
:class:`~scse_viz.io.images.LoadedImage`.
"""

from __future__ import annotations

import operator

import numpy as np

from scse_viz.errors import NonFiniteValuesError, SliceIndexError
from scse_viz.io.images import LoadedImage
from scse_viz.io.sniff import _read_only
from scse_viz.io.volumes import Volume

ORIENTATIONS = ("sagittal", "coronal", "axial")


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
