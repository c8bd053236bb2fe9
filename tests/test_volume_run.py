"""A model over every slice of a volume: each slice of the 3-D result equals the single-slice path, the stacking
inverts the display orientation, the NIfTI export keeps shape and affine, and a stop request keeps nothing."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest

import scse_viz  # noqa: F401
from scse_viz import explore, zoo
from scse_viz.io import ORIENTATIONS, Volume, volume_slice
from scse_viz.volume_run import Cancelled, _place, nifti_bytes, plane, run_volume

AFFINE = np.array([[2.0, 0, 0, -40], [0, 2.5, 0, -60], [0, 0, 3.0, -20], [0, 0, 0, 1]])


def small_volume(shape=(24, 28, 6)) -> Volume:
    rng = np.random.default_rng(0)
    data = rng.random(shape).astype(np.float32)
    data[6:18, 8:20] += 1.0  # a bright block, so slices have structure
    return Volume(data, AFFINE, "small.nii.gz", (2.0, 2.5, 3.0))


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_placing_a_display_slice_inverts_volume_slice(orientation):
    volume = small_volume()
    stacked = np.zeros(volume.shape, np.float32)
    axis = ORIENTATIONS.index(orientation)
    for index in range(volume.shape[axis]):
        _place(stacked, axis, index, volume_slice(volume, orientation, index))
    assert np.array_equal(stacked, volume.data)
    assert np.array_equal(plane(stacked, orientation, 1), volume_slice(volume, orientation, 1))


def test_each_slice_of_the_3d_result_equals_the_single_slice_path():
    family, volume = zoo.family("brain"), small_volume()
    model = zoo.load_model("brain", "scse")
    result = run_volume(family, model, "scse", volume, "axial")
    assert result.outputs["mask"].shape == volume.shape and result.slices == 6
    for index in (0, 3, 5):
        image = explore.input_from_volume(volume, "axial", index)
        alone = explore.run_family(family, {"scse": model}, image)
        output = alone.outputs["scse"]
        assert np.array_equal(plane(result.outputs["mask"], "axial", index), output.prediction.mask)
        record = output.shown()[-1]
        q = explore.spatial_map(alone, record).astype(np.float32)
        assert np.array_equal(plane(result.gates[record.label], "axial", index), q)


def test_nifti_export_keeps_the_volume_shape_and_affine():
    volume = small_volume()
    mask = (volume.data > 1.0).astype(np.uint8)
    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes(mask, volume.affine, "mask")))
    assert image.shape == volume.shape
    np.testing.assert_allclose(image.affine, AFFINE)
    assert np.array_equal(np.asarray(image.dataobj), mask)
    assert int(image.header["sform_code"]) == 1 and int(image.header["qform_code"]) == 1


def test_a_stop_request_raises_and_returns_nothing():
    family, volume = zoo.family("brain"), small_volume()
    calls = iter([False, False, True])
    with pytest.raises(Cancelled, match="after 2 of 6"):
        run_volume(family, zoo.load_model("brain", "none"), "none", volume, "axial", stop=lambda: next(calls))


def test_a_nifti_uploaded_then_exported_reloads_with_its_affine(tmp_path):
    from scse_viz.io import load_any

    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(small_volume().data, AFFINE), path)
    loaded = load_any(path.read_bytes(), "scan.nii.gz")
    result = run_volume(zoo.family("brain"), zoo.load_model("brain", "sse"), "sse", loaded, "coronal")
    label = next(iter(result.gates))
    back = nib.Nifti1Image.from_bytes(gzip.decompress(nifti_bytes(result.gates[label], result.affine)))
    original = nib.load(path)
    assert back.shape == original.shape
    np.testing.assert_allclose(back.affine, original.affine)
