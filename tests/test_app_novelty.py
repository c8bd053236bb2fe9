"""The pages under Streamlit's AppTest: the note above the outputs (an input unlike the training images, a brought
model without training data), the photo family's first view, and a block select after a change of family."""

from __future__ import annotations

import numpy as np
import pytest

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz.ui.state import FAMILY

from .app_helpers import page, png_bytes, ran
from .test_app_bring import _bring, _by_label, smp_model_zip  # noqa: F401  (the fixture is used by name)

pytestmark = pytest.mark.slow
UNLIKE = "unlike the images these models were trained on"


def striped(side: int = 192, period: int = 8) -> np.ndarray:
    cols = np.arange(side)[None, :].repeat(side, axis=0)
    return ((cols // (period // 2)) % 2).astype(np.float32)


def upload(at, name: str, pixels: np.ndarray):
    _by_label(at.sidebar.radio, "Input").set_value("Upload your own")
    ran(at)
    _by_label(at.sidebar.file_uploader, "Image, NIfTI volume or DICOM").set_value(
        (name, png_bytes(pixels), "image/png")
    )
    return ran(at)


def test_a_striped_picture_under_brain_gets_the_warning_above_the_outputs():
    at = ran(page("1_Explore.py", **{FAMILY: "brain"}))
    assert not [w for w in at.warning if UNLIKE in w.value]  # the bundled template slice is no stranger
    assert any("How unusual this input is" in m.value for m in at.markdown)
    upload(at, "stripes.png", striped())
    warnings = [w.value for w in at.warning if UNLIKE in w.value]
    assert len(warnings) == 1, [w.value for w in at.warning]
    assert "not as what the picture shows" in warnings[0]


def test_a_brought_model_says_it_has_no_training_data(smp_model_zip):  # noqa: F811
    from scse_viz.ui.inputs import BRING

    _, data = smp_model_zip
    at = ran(page("1_Explore.py", **{FAMILY: BRING}))
    _bring(at, [("my_unet.zip", data, "application/zip")], names="sky\nroad\ncar")
    upload(at, "street.png", np.random.default_rng(1).random((128, 128, 3)).astype(np.float32))
    assert any("without their training images" in i.value for i in at.info), [i.value for i in at.info]
    assert not [w for w in at.warning if UNLIKE in w.value]


def test_the_photo_family_opens_on_noise_that_varies_and_says_what_to_look_for():
    at = ran(page("1_Explore.py", **{FAMILY: "photo"}))
    assert _by_label(at.sidebar.selectbox, "Noise").value == "half"
    assert any("What to look for" in m.value for m in at.markdown)
    table = next(d.value for d in at.dataframe if "ρ(q, σ)" in d.value.columns)
    assert table["ρ(q, σ)"].notna().all()  # every map gets a ρ: none shows "—"


def test_the_block_select_follows_a_change_of_family_on_attribution():
    at = ran(page("2_Attribution.py", **{FAMILY: "brain"}))
    brain_blocks = _by_label(at.selectbox, "Block").options
    assert _by_label(at.selectbox, "Block").value == brain_blocks[-1]
    at.session_state[FAMILY] = "photo"
    ran(at)
    block = _by_label(at.selectbox, "Block")
    assert brain_blocks[-1] not in block.options  # the brain's last block is not in the photo models
    assert block.value == block.options[-1]
    assert at.session_state["attr-block"] == block.value  # what the browser is told to show is what is drawn
