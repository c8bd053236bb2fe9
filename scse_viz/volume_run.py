"""One model over every slice of a volume: the task's per-slice maps and every block's sSE map, stacked back into
the volume's own voxel grid, and written as NIfTI with the volume's affine.

Each slice takes exactly the path a single slice takes in the app (:func:`scse_viz.explore.input_from_volume`,
the family's ``prepare``, :func:`scse_viz.explore.run_model`, :func:`scse_viz.explore.spatial_map`), so a slice of
the 3-D result equals what the Explore page shows for that slice. A display slice is ``np.rot90`` of the voxel
plane (:func:`scse_viz.io.volume_slice`), so it goes back with ``np.rot90(·, -1)``. Nothing here imports streamlit.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from torch import nn

from scse_viz import explore
from scse_viz.family import Family
from scse_viz.geometry import resize_nearest
from scse_viz.io import ORIENTATIONS, Volume, slice_count
from scse_viz.progress import ProgressCallback

SLICE_AXIS = {name: axis for axis, name in enumerate(ORIENTATIONS)}


@dataclass
class VolumeResult:
    """One model's maps over a whole volume, X×Y×Z each, on the volume's voxels (RAS+, ``affine``)."""

    variant: str
    label: str
    orientation: str  # the axis the 2-D model ran along
    affine: np.ndarray
    shape: tuple[int, int, int]
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # the task's maps ("mask", "restored")
    gates: dict[str, np.ndarray] = field(default_factory=dict)  # block label -> sSE map q, float32
    seconds: float = 0.0

    @property
    def slices(self) -> int:
        return self.shape[SLICE_AXIS[self.orientation]]


class Cancelled(Exception):
    """The run was asked to stop before its last slice (nothing partial is returned)."""


def _place(volume_map: np.ndarray, axis: int, index: int, display_map: np.ndarray) -> None:
    """Put a display-oriented slice (``np.rot90`` of the plane) back into the voxel grid."""
    plane = np.rot90(display_map, -1)
    target = np.take(volume_map, index, axis=axis)
    if plane.shape != target.shape:  # a slice larger than the app's working size was shrunk: nearest back
        plane = resize_nearest(plane, target.shape)
    index_tuple = [slice(None)] * 3
    index_tuple[axis] = index
    volume_map[tuple(index_tuple)] = plane


def run_volume(
    family: Family,
    model: nn.Module,
    variant: str,
    volume: Volume,
    orientation: str,
    progress: ProgressCallback | None = None,
    stop: Callable[[], bool] | None = None,
) -> VolumeResult:
    """``model`` on every slice along ``orientation``; ``stop()`` true between slices raises :class:`Cancelled`."""
    started = time.perf_counter()
    axis, count = SLICE_AXIS[orientation], slice_count(volume, orientation)
    result = VolumeResult(variant, family.label(variant), orientation, np.asarray(volume.affine), volume.shape)
    for index in range(count):
        if stop is not None and stop():
            raise Cancelled(f"stopped after {index} of {count} slices")
        if progress is not None:
            progress(index / count, f"{family.label(variant)}: {orientation} slice {index + 1} of {count}")
        image = explore.input_from_volume(volume, orientation, index, max_side=family.max_side or explore.MAX_SIDE)
        prepared = family.prepare(image.pixels)
        output = explore.run_model(family, model, variant, prepared)
        run = explore.FamilyRun(family, image, prepared, {variant: output})
        for name, plane in family.task.slice_maps(output.prediction).items():
            if name not in result.outputs:
                result.outputs[name] = np.zeros(volume.shape, dtype=plane.dtype)
            _place(result.outputs[name], axis, index, plane)
        for record in output.shown():
            if record.spatial_gate is None:
                continue
            if record.label not in result.gates:
                result.gates[record.label] = np.zeros(volume.shape, dtype=np.float32)
            _place(result.gates[record.label], axis, index, explore.spatial_map(run, record).astype(np.float32))
    if progress is not None:
        progress(1.0, "done")
    result.seconds = time.perf_counter() - started
    return result


def plane(volume_map: np.ndarray, orientation: str, index: int) -> np.ndarray:
    """A display-oriented slice of any X×Y×Z map (the convention of :func:`scse_viz.io.volume_slice`)."""
    return np.ascontiguousarray(np.rot90(np.take(volume_map, index, axis=SLICE_AXIS[orientation])))


def nifti_bytes(volume_map: np.ndarray, affine: np.ndarray, description: str = "") -> bytes:
    """A gzip-compressed NIfTI-1 of one map with the volume's affine (as both qform and sform, code 1 = scanner),
    so it opens aligned with the scan in ITK-SNAP or 3D Slicer."""
    data = np.asarray(volume_map)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    image = nib.Nifti1Image(data, np.asarray(affine, dtype=np.float64))
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    if description:
        image.header["descrip"] = description[:79].encode("ascii", "replace")
    raw = io.BytesIO()
    holder = nib.FileHolder(fileobj=raw)
    image.to_file_map({"header": holder, "image": holder})
    import gzip

    return gzip.compress(raw.getvalue(), mtime=0)
