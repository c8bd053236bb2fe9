"""Odd inputs on the Explore page under AppTest: volumes of one slice or one voxel's thickness, very thin strips,
and a file that fails: each gives a result or one clear message, never a Streamlit exception, and the page says
plainly which picture it shows."""

from __future__ import annotations

import io

import nibabel as nib
import numpy as np
import pytest

import scse_viz  # noqa: F401
from scse_viz import zoo
from scse_viz.ui.state import FAMILY

from .app_helpers import nodes, open_tab, page, png_bytes, ran

pytestmark = pytest.mark.slow
PAGE = "1_Explore.py"


def nifti(data: np.ndarray) -> bytes:
    image = nib.Nifti1Image(data.astype(np.float32), np.eye(4))
    buffer = io.BytesIO()
    holder = nib.FileHolder(fileobj=buffer)
    image.to_file_map({"header": holder, "image": holder})
    return buffer.getvalue()


def uploaded(family: str, name: str, data: bytes):
    at = ran(page(PAGE, **{FAMILY: family}))
    next(r for r in at.sidebar.radio if r.label == "Input").set_value("Upload your own")
    ran(at)
    at.sidebar.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return ran(at)


def captions(at) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def test_a_volume_of_one_slice_runs_without_a_slider():
    at = uploaded("brain", "one-slice.nii", nifti(np.random.default_rng(0).random((40, 50, 1))))
    orientation = next(r for r in at.sidebar.radio if r.label == "Slice orientation")
    assert orientation.options == ["axial"]  # sagittal and coronal slices would be one voxel thin
    assert any("only axial slices are wide enough" in c for c in captions(at))
    assert any(c == "One axial slice." for c in captions(at))
    assert not [s for s in at.sidebar.slider if s.label == "Slice"]
    assert [d for d in at.dataframe if "class" in d.value.columns]  # the area table: the slice was segmented


def test_a_volume_one_voxel_thick_offers_only_the_orientation_that_shows_it():
    at = uploaded("photo", "thin.nii", nifti(np.random.default_rng(1).random((1, 50, 60))))
    orientation = next(r for r in at.sidebar.radio if r.label == "Slice orientation")
    assert orientation.options == ["sagittal"]


def test_a_volume_too_thin_everywhere_gets_one_message():
    at = uploaded("brain", "needle.nii", nifti(np.random.default_rng(2).random((1, 1, 60))))
    assert [e.value for e in at.sidebar.error] and "thinner than 8 pixels" in at.sidebar.error[0].value


@pytest.mark.parametrize("family", list(zoo.FAMILIES))
def test_a_strip_of_1_to_200_gives_a_result_and_a_strip_of_one_pixel_a_message(family):
    at = uploaded(family, "strip.png", png_bytes(np.random.default_rng(3).random((8, 1600))))
    assert not at.sidebar.error
    assert any("what the models see" in str(n.proto) for n in nodes(at, "image"))  # the models ran on it
    at.sidebar.file_uploader[0].set_value(
        ("line.png", png_bytes(np.random.default_rng(4).random((1, 300))), "image/png")
    )
    ran(at)
    assert "at least 8 pixels" in at.sidebar.error[0].value


def test_a_failed_upload_says_the_older_picture_is_still_shown():
    at = uploaded("brain", "strip.png", png_bytes(np.random.default_rng(5).random((64, 80))))
    at.sidebar.file_uploader[0].set_value(("broken.png", b"\x89PNG\r\n\x1a\nbroken", "image/png"))
    ran(at)
    warnings = [w.value for w in at.warning]
    assert any("broken.png" in w and "still shown is **strip.png**" in w for w in warnings), warnings


def test_a_dicom_series_zip_is_read_into_a_volume_and_a_4d_nifti_asks_for_its_volume():
    from .test_dicom import series_slice, zip_bytes

    members = {
        f"IM{i:04d}": series_slice(value=10 * i, z=2.0 * i, instance=i + 1, rows=40, cols=48) for i in (3, 0, 4, 1, 2)
    }  # shuffled in the zip
    at = uploaded("brain", "series.zip", zip_bytes(members))
    assert not at.sidebar.error
    orientation = next(r for r in at.sidebar.radio if r.label == "Slice orientation")
    assert orientation.value == "axial"
    slider = next(s for s in at.sidebar.slider if s.label == "Slice")
    assert (slider.min, slider.max) == (0, 4)
    assert [d for d in at.dataframe if "class" in d.value.columns]  # a slice of it was segmented
    at.sidebar.file_uploader[0].set_value(
        ("fmri.nii", nifti(np.random.default_rng(6).random((20, 24, 16, 3))), "application/octet-stream")
    )
    ran(at)
    assert any("4th dimension" in n.label for n in at.sidebar.number_input)


def test_the_3d_tab_runs_every_slice_once_and_offers_nifti_downloads():
    from scse_viz.volume_run import plane, run_volume

    data = np.random.default_rng(7).random((24, 28, 6)).astype(np.float32)
    data[6:18, 8:20] += 1.0
    at = open_tab(uploaded("brain", "small.nii", nifti(data)), "Whole volume (3-D)")
    at.button(key="vol-run").click()
    ran(at)
    assert not at.error
    downloads = [str(n.proto) for n in nodes(at, "download_button")]
    assert any("_mask.nii.gz" in d for d in downloads) and sum("_sse_" in d for d in downloads) == 9
    captions = [str(n.proto) for n in nodes(at, "image")]
    assert any("axial 3" in c for c in captions)  # the planes through the middle voxel
    # the kept result: a rerun (moving the X slider) runs no model again, and the planes match the library
    from scse_viz.io import load_any

    expected = run_volume(
        zoo.family("brain"), zoo.load_model("brain", "scse"), "scse", load_any(nifti(data), "small.nii"), "axial"
    )
    at.slider(key="vol-X").set_value(5)
    ran(at)
    assert "vol-run" not in [b.key for b in at.button]  # kept: no second run is offered
    (kept,) = at.session_state["scse_volume_runs"].values()
    assert np.array_equal(kept.outputs["mask"], expected.outputs["mask"])
    for label, q in expected.gates.items():
        assert np.array_equal(kept.gates[label], q), label
    assert plane(kept.outputs["mask"], "sagittal", 5).shape == (6, 28)
