"""The brain data, checked against the template files read here with nibabel alone: the slab split (disjoint, whole
contiguous slabs, guard gap, mirror twins never trained on) and the tissue-label rule on voxels decided by hand."""

from __future__ import annotations

import importlib.resources
from functools import cache

import nibabel as nib
import numpy as np
import pytest

from scse_viz.datasets.brain import brain_slice, split_indices

ORIENTATIONS = ("sagittal", "coronal", "axial")  # slicing along x, y, z of the RAS template


@cache
def raw(kind: str) -> nib.Nifti1Image:
    folder = importlib.resources.files("nilearn") / "datasets" / "data"
    return nib.load(str(folder / f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz"))


@cache
def raw_data(kind: str) -> np.ndarray:
    return np.asarray(raw(kind).dataobj)


def brain_range(axis: int) -> np.ndarray:
    """Slice indices along ``axis`` holding at least 200 brain (T1 > 0) voxels: the documented extent."""
    brain = raw_data("t1") > 0
    counts = brain.sum(axis=tuple(a for a in range(3) if a != axis))
    return np.flatnonzero(counts >= 200)


def runs(indices: list[int]) -> list[list[int]]:
    """Split sorted indices into runs of consecutive numbers."""
    groups: list[list[int]] = []
    for i in indices:
        if groups and i == groups[-1][-1] + 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def test_template_files_are_ras_so_slices_map_to_voxels_simply() -> None:
    for kind in ("t1", "gm", "wm"):
        assert nib.aff2axcodes(raw(kind).affine) == ("R", "A", "S")
        np.testing.assert_array_equal(raw(kind).affine, raw("t1").affine)


@pytest.mark.parametrize("axis, orientation", list(enumerate(ORIENTATIONS)))
def test_split_is_disjoint_whole_slabs_with_a_guard_gap(axis, orientation) -> None:
    extent = brain_range(axis)
    first, n = int(extent[0]), len(extent)
    assert np.array_equal(extent, np.arange(first, first + n))  # the brain is one contiguous run of slices
    train, val, test = (split_indices(orientation, split) for split in ("train", "val", "test"))
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)

    slab = n / 12  # 12 slabs of equal length (±1 slice, since n is not a multiple of 12)
    test_runs, val_runs = runs(test), runs(val)
    assert len(test_runs) == 2 and len(val_runs) == 1  # slabs 2 and 9; slabs 5 and 6 are neighbours
    for run, start_slab, slabs in ((test_runs[0], 2, 1), (test_runs[1], 9, 1), (val_runs[0], 5, 2)):
        assert abs(run[0] - (first + start_slab * slab)) <= 1
        assert abs(len(run) - slabs * slab) <= 1

    held_out = np.array(val + test)
    distance = {i: int(np.abs(held_out - i).min()) for i in extent}
    assert min(distance[i] for i in train) == 3  # a gap of 2 guard slices, and not more
    expected_train = [int(i) for i in extent if distance[int(i)] > 2]
    assert train == expected_train  # nothing else is dropped


def test_mirror_twin_of_every_held_out_sagittal_slice_is_never_trained_on() -> None:
    t1, affine = raw_data("t1"), raw("t1").affine
    train = set(split_indices("sagittal", "train"))
    for split in ("test", "val"):
        held = split_indices("sagittal", split)
        for i in held:
            x = affine[0, 0] * i + affine[0, 3]  # world x (mm) of slice i
            twin = int(round((-x - affine[0, 3]) / affine[0, 0]))  # the slice at -x (the midline is its own)
            np.testing.assert_array_equal(t1[twin], t1[i])  # the symmetric template: same picture
            assert twin not in train, f"sagittal {split} slice {i} has its mirror twin {twin} in training"


def hand_label(t1: int, gm: int, wm: int) -> int:
    """The documented rule for one voxel, written out: 0 background, 1 CSF, 2 GM, 3 WM; ties to the later class."""
    if t1 == 0:
        return 0
    p_gm, p_wm = gm / 255, wm / 255
    p_csf = max(1 - p_gm - p_wm, 0)
    best = max(p_csf, p_gm, p_wm)
    if p_wm == best:
        return 3
    if p_gm == best:
        return 2
    return 1


def pixel_of(voxel: tuple[int, int, int], axis: int) -> tuple[int, tuple[int, int]]:
    """Slice index and (row, column) of ``voxel`` in the app's view: top = superior (anterior for axial), the
    patient's left (or posterior, sagittal) at the left."""
    x, y, z = voxel
    _nx, ny, nz = raw_data("t1").shape
    return [(x, (nz - 1 - z, y)), (y, (nz - 1 - z, x)), (z, (ny - 1 - y, x))][axis]


def test_labels_follow_the_rule_on_voxels_decided_by_hand() -> None:
    t1, gm, wm = (raw_data(k).astype(np.int64) for k in ("t1", "gm", "wm"))
    inside = t1 > 0
    cases = {
        "outside the brain": ~inside,
        "clear CSF (little GM or WM)": inside & (gm + wm < 40),
        "clear GM": inside & (gm > 200),
        "clear WM": inside & (wm > 200),
        "GM = WM tie": inside & (gm == wm) & (gm >= 100),
        "CSF beats GM and WM": inside & (gm > 60) & (wm > 20) & (255 - gm - wm > gm + 5) & (255 - gm - wm > wm + 5),
    }
    expected_class = {
        "outside the brain": 0,
        "clear CSF (little GM or WM)": 1,
        "clear GM": 2,
        "clear WM": 3,
        "GM = WM tie": 3,
        "CSF beats GM and WM": 1,
    }
    for case, where in cases.items():
        voxels = np.argwhere(where)
        assert len(voxels) > 0, case
        for voxel in voxels[:: max(1, len(voxels) // 3)][:3]:
            voxel = tuple(int(v) for v in voxel)
            label = hand_label(int(t1[voxel]), int(gm[voxel]), int(wm[voxel]))
            assert label == expected_class[case], (case, voxel)
            for axis, orientation in enumerate(ORIENTATIONS):
                index, (row, col) = pixel_of(voxel, axis)
                assert brain_slice(orientation, index).labels[row, col] == label, (case, voxel, orientation)
