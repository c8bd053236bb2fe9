"""Where a DICOM volume's voxels lie: slice orientation, order and spacing, and the RAS+ affine, read as nibabel and
dcm2niix read them (a malformed value is treated as missing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scse_viz.errors import UnsupportedFormatError
from scse_viz.io.dicom.header import _capital, _float_or_none, _floats, _Image, _lookup

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

_POSITION_TOLERANCE_MM = 1e-3
_PARALLEL_TOLERANCE = 1e-3  # |cos| of a CSA slice normal and the orientation's cross product within this of 1
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class _Plane:
    """One 2-D plane of a volume: which file and frame it is, and where it lies."""

    image: int
    frame: int
    position: np.ndarray | None
    instance: int | None


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


def _mosaic_origin(
    position: np.ndarray, orientation: np.ndarray, spacing: tuple[float, float], image: _Image
) -> np.ndarray:
    """Where a Siemens mosaic's first slice's first pixel lies: Image Position (Patient) of a mosaic is that of the
    whole tiled picture's corner, half the picture minus half a tile away (nibabel's ``MosaicWrapper``)."""
    row_direction, column_direction = orientation
    row_spacing, column_spacing = spacing
    shift_rows = (image.rows * image.mosaic - image.rows) / 2.0
    shift_columns = (image.columns * image.mosaic - image.columns) / 2.0
    return position + column_direction * row_spacing * shift_rows + row_direction * column_spacing * shift_columns


def _slice_normal(orientation: np.ndarray | None, image: _Image) -> np.ndarray | None:
    """The direction (LPS) in which a volume's planes follow one another: the cross product of the orientation's
    row and column directions, but for a Siemens mosaic whose CSA header's SliceNormalVector points the other way,
    its negation, since the tiles run along the CSA normal (nibabel's ``SiemensWrapper.slice_normal``: the cross
    product, the CSA header's sign). A CSA normal that is not along the cross product is ignored (nibabel would
    refuse the file)."""
    if orientation is None:
        return None
    normal = np.cross(orientation[0], orientation[1])
    csa = image.mosaic_normal if image.mosaic else None
    if csa is not None:
        agreement = float(np.dot(csa, normal))
        if abs(abs(agreement) - 1.0) <= _PARALLEL_TOLERANCE and agreement < 0:
            return -normal
    return normal


def _ras_affine(
    orientation: np.ndarray | None,
    spacing: tuple[float, float],
    step: float,
    origin: np.ndarray | None,
    normal: np.ndarray | None = None,
) -> np.ndarray:
    """The RAS affine of voxel axes (column, row, slice), nibabel's and dcm2niix's reading of a DICOM series: from
    orientation, spacing and the first plane's position in DICOM's LPS, x and y negated; the slices follow
    ``normal`` (LPS), by default the cross product of the orientation's directions. With no orientation the volume
    is laid out so that the axial view (rot90 of a RAS+ slice) shows each frame as stored."""
    row_spacing, column_spacing = spacing
    if orientation is None:
        return np.diag([column_spacing, -row_spacing, step, 1.0])
    row_direction, column_direction = orientation
    lps = np.eye(4)
    lps[:3, 0] = row_direction * column_spacing  # moving along a row = to the next column
    lps[:3, 1] = column_direction * row_spacing
    lps[:3, 2] = (np.cross(row_direction, column_direction) if normal is None else normal) * step
    lps[:3, 3] = origin if origin is not None else 0.0
    return _LPS_TO_RAS @ lps
