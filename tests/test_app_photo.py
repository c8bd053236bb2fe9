"""The photo family on the Explore page under Streamlit's AppTest: samples, uploads, painted noise and the switch
offered for a file of another family, with every number checked against the library run by the test itself."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import scse_viz  # noqa: F401
from scse_viz import explore, samples, zoo
from scse_viz.degradation import PAINTED, PATTERN_TITLES, NoiseSetting, degrade
from scse_viz.io import load_any
from scse_viz.metrics import psnr, ssim
from scse_viz.ui.noise import PAINTED_KEY
from scse_viz.ui.state import FAMILY

from .app_helpers import open_tab, page, png_bytes, ran

pytestmark = pytest.mark.slow
PAGE = "1_Explore.py"
SKIMAGE_DATA = os.path.join(os.path.dirname(__import__("skimage").__file__), "data")
PHOTO = zoo.family("photo")


def by_label(widgets, label: str):
    matches = [w for w in widgets if w.label == label]
    assert len(matches) == 1, f"{len(matches)} widgets labelled {label!r}"
    return matches[0]


def scores_table(at) -> dict[str, dict[str, float]]:
    frames = [d.value for d in at.dataframe if "PSNR (dB)" in d.value.columns]
    assert len(frames) == 1, f"{len(frames)} score tables"
    return frames[0].set_index("image").to_dict("index")


def expected_scores(clean: np.ndarray, setting: NoiseSetting) -> dict[str, tuple[float, float]]:
    """PSNR and SSIM of the noisy input and of each shipped model, computed here without the app."""
    noisy, _truth = degrade(clean, setting)
    result = {"noisy input": (psnr(noisy, clean), ssim(noisy, clean))}
    prepared = PHOTO.prepare(noisy)
    for variant in PHOTO.variants:
        with torch.no_grad():
            output = zoo.load_model("photo", variant)(prepared.tensor)[0].permute(1, 2, 0).numpy()
        restored = np.clip(output[: clean.shape[0], : clean.shape[1]], 0, 1)
        result[f"{PHOTO.label(variant)} output"] = (psnr(restored, clean), ssim(restored, clean))
    return result


def assert_scores(at, expected: dict[str, tuple[float, float]]) -> None:
    table = scores_table(at)
    assert set(table) == set(expected)
    for name, (p, s) in expected.items():
        assert table[name]["PSNR (dB)"] == pytest.approx(p, abs=1e-6), name
        assert table[name]["SSIM"] == pytest.approx(s, abs=1e-6), name


def test_the_first_sample_with_default_noise_shows_the_library_numbers():
    at = ran(page(PAGE, **{FAMILY: "photo"}))
    sample = samples.list_samples("photo")[0]
    clean = np.asarray(load_any(samples.sample_bytes(sample), sample.path.name).pixels)
    assert_scores(at, expected_scores(clean, NoiseSetting("half", 25.0, 0)))
    assert any("ρ(q, σ)" in d.value.columns for d in at.dataframe)  # the gate table is there


def upload(at, name: str, data: bytes):
    by_label(at.sidebar.radio, "Input").set_value("Upload your own")
    ran(at)
    at.sidebar.file_uploader[0].set_value((name, data, "image/png"))
    return ran(at)


def test_an_uploaded_photo_with_painted_noise_is_scored_against_the_paint():
    data = Path(os.path.join(SKIMAGE_DATA, "coffee.png")).read_bytes()  # a photo nobody here made
    at = upload(ran(page(PAGE, **{FAMILY: "photo"})), "coffee.png", data)
    loaded = load_any(data, "coffee.png")
    image = explore.input_from_image(loaded, max_side=PHOTO.max_side)
    painted = np.zeros((214, 280), np.float32)  # what the canvas (280 px wide) would hold after a stroke
    painted[40:120, 60:200] = 1.0
    at.session_state[PAINTED_KEY] = {image.key: painted}
    by_label(at.sidebar.selectbox, "Noise").set_value(PAINTED)
    by_label(at.sidebar.slider, "σ (of 255)").set_value(45.0)
    ran(at)
    assert_scores(at, expected_scores(image.pixels, NoiseSetting(PAINTED, 45.0, 0, painted)))
    assert any("Painted:" in c.value for c in at.sidebar.caption)


def test_a_photo_that_came_noisy_is_shown_without_scores():
    at = ran(page(PAGE, **{FAMILY: "photo"}))
    by_label(at.sidebar.selectbox, "Noise").set_value("already noisy")
    ran(at)
    assert not [d for d in at.dataframe if "PSNR (dB)" in d.value.columns]
    assert any("no clean version" in m.value for m in at.markdown)
    assert PATTERN_TITLES["already noisy"].startswith("none")


def test_a_colour_photo_under_fashion_offers_the_photo_family_and_carries_the_file():
    data = Path(os.path.join(SKIMAGE_DATA, "chelsea.png")).read_bytes()
    at = upload(ran(page(PAGE, **{FAMILY: "fashion"})), "chelsea.png", data)
    warnings = [w.value for w in at.sidebar.warning]
    assert any("chelsea.png" in w and PHOTO.title in w for w in warnings), warnings
    at.sidebar.button(key="switch-fashion").click()
    ran(at)
    assert at.session_state[FAMILY] == "photo"
    assert any("carried over" in c.value for c in at.sidebar.caption)
    clean = np.asarray(load_any(data, "chelsea.png").pixels)
    assert_scores(at, expected_scores(clean, NoiseSetting("half", 25.0, 0)))


def test_a_gray_scan_under_photo_gets_no_switch_offer_but_a_volume_does(tmp_path):
    from scse_viz.datasets.brain import brain_slice

    at = upload(ran(page(PAGE, **{FAMILY: "photo"})), "axial.png", png_bytes(brain_slice("axial", 70).pixels))
    assert not at.sidebar.warning  # a gray picture can be denoised: no other family is clearly better
    import nibabel as nib

    volume = tmp_path / "head.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((20, 24, 16)).astype(np.float32), np.eye(4)), volume)
    at.sidebar.file_uploader[0].set_value(("head.nii.gz", volume.read_bytes(), "application/gzip"))
    ran(at)
    warnings = [w.value for w in at.sidebar.warning]
    assert any("a volume" in w and zoo.family("brain").title in w for w in warnings), warnings


def noisy_first_sample() -> torch.Tensor:
    """The model input of the first sample with the sidebar's default noise (half, σ = 25, seed 0)."""
    sample = samples.list_samples("photo")[0]
    clean = np.asarray(load_any(samples.sample_bytes(sample), sample.path.name).pixels)
    return PHOTO.prepare(degrade(clean, NoiseSetting())[0]).tensor


def test_teach_walks_through_a_denoiser_block_on_the_noisy_photo():
    from scse_viz import capture_attention
    from scse_viz import teaching as T

    at = ran(page("3_Teach.py", **{FAMILY: "photo"}))
    block = at.selectbox(key="teach-block-photo").value
    record = next(
        r
        for r in capture_attention(zoo.load_model("photo", "scse"), noisy_first_sample()).records
        if r.info.name == block
    )
    table = next(d.value for d in at.dataframe if T.COL_GATE in d.value.columns)
    np.testing.assert_allclose(table[T.COL_GATE], record.channel_gate[0], rtol=0, atol=1e-6)


def test_attribution_explains_the_error_each_model_removes():
    at = ran(page("2_Attribution.py", **{FAMILY: "photo"}))
    assert (
        at.selectbox(key=next(k for k in at.session_state if str(k).startswith("attr-target-"))).label
        == "Target region"
    )
    at.select_slider(key="attr-steps").set_value(8)
    at.button(key="attr-compute").click()
    ran(at)
    assert not at.error
    assert any("squared error removed" in c.value for c in at.caption)
    frames = next(d.value for d in at.dataframe if "Spearman ρ" in d.value.columns)
    assert set(frames["model"]) == {"sSE", "scSE"} and len(frames) == 2 * 7  # two models × seven blocks


def test_knockout_of_the_photo_models_equals_a_capture_with_that_knockout():
    from scse_viz import capture_attention
    from scse_viz.capture import Knockout

    at = open_tab(ran(page(PAGE, **{FAMILY: "photo"})), "Knock-out")
    at.toggle(key="ko-on").set_value(True)
    ran(at)
    table = next(d.value for d in at.dataframe if "change" in d.value.columns).set_index("change")["value"]
    x = noisy_first_sample()
    model = zoo.load_model("photo", "scse")  # the page's default: the last attention model, cSE gates at 0.5
    sample = samples.list_samples("photo")[0]
    h, w = load_any(samples.sample_bytes(sample), sample.path.name).pixels.shape[:2]
    intact = np.clip(capture_attention(model, x).output[0].permute(1, 2, 0).numpy()[:h, :w], 0, 1)
    knocked = capture_attention(model, x, knockout=[Knockout("cse", 0.5, None)]).output
    knocked = np.clip(knocked[0].permute(1, 2, 0).numpy()[:h, :w], 0, 1)
    assert table["PSNR of the knocked-out output against the intact one (dB)"] == pytest.approx(psnr(knocked, intact))
    assert table["mean |knocked-out − intact| (0–1 scale)"] == pytest.approx(float(np.abs(knocked - intact).mean()))
