"""The Attribution page under Streamlit's AppTest: real samples and an upload, real models, the agreement table
checked against the library run by the test itself, nothing computed without the button or on display changes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scse_viz  # noqa: F401
from scse_viz import capture_attention, samples, zoo
from scse_viz.attribution import AttributionTarget, agreement_table, integrated_gradients
from scse_viz.io import load_any
from scse_viz.parallel import torch_call
from scse_viz.preprocess import fashion_tensor
from scse_viz.ui.state import FAMILY

from .app_helpers import chart_rows, counting_forwards, nodes, page, png_bytes, ran

pytestmark = pytest.mark.slow
PAGE = "2_Attribution.py"


def attribution_page(family: str):
    return ran(page(PAGE, **{FAMILY: family}))


def target_box(at):
    return next(s for s in at.selectbox if s.label == "Target class")


def compute(at):
    at.button(key="attr-compute").click()
    return ran(at)


def agreement_shown(at) -> dict[tuple[str, str], tuple[float, float]]:
    """(model, block) -> (Spearman, IoU) as the page's table shows them."""
    frames = [d.value for d in at.dataframe if "Spearman ρ" in d.value.columns]
    assert len(frames) == 1
    iou = next(c for c in frames[0].columns if c.startswith("IoU top"))
    return {(r["model"], r["block"]): (r["Spearman ρ"], r[iou]) for r in frames[0].to_dict("records")}


def expected_agreement(
    family: str,
    x: torch.Tensor,
    target: AttributionTarget,
    baseline: torch.Tensor,
    n_steps: int,
    percent: float,
    variants=("sse", "scse"),
) -> dict:
    """The library's own scores: IG on each model, sSE maps captured on the same input where the app captures them
    (``torch_call``: one torch thread; with two, oneDNN's sums can differ in the last bits and move a rank)."""
    expected = {}
    for variant in variants:
        model = zoo.load_model(family, variant)
        result = integrated_gradients(model, x, target, n_steps=n_steps, baseline=baseline)
        captured = torch_call(lambda model=model: capture_attention(model, x))
        for row in agreement_table(captured.shown(), result, percent):
            expected[(zoo.VARIANT_LABELS[variant], row.block)] = (row.spearman, row.iou)
    return expected


def assert_same_scores(shown: dict, expected: dict) -> None:
    assert sorted(shown) == sorted(expected)
    for key, (rho, iou) in expected.items():
        assert shown[key][0] == pytest.approx(rho, abs=1e-6), key
        assert shown[key][1] == pytest.approx(iou, abs=1e-9), key


def test_fashion_agreement_equals_the_library_and_display_changes_compute_nothing():
    at = attribution_page("fashion")
    sample = samples.list_samples("fashion")[0]
    prepared = zoo.family("fashion").prepare(load_any(samples.sample_bytes(sample), sample.path.name).pixels)
    with torch.no_grad():
        top = int(zoo.load_model("fashion", "none")(prepared.tensor)[0].argmax())
    assert target_box(at).value == top  # the baseline's top class by default
    assert not at.dataframe and any("Compute attributions" in i.value for i in at.info)  # nothing before the button
    with counting_forwards() as counts:
        compute(at)
        assert counts["forwards"] >= 4 * 3  # per model at least: the target's pass, the path, F(baseline)
    black = fashion_tensor(np.zeros((28, 28), np.float32))
    expected = expected_agreement("fashion", prepared.tensor, AttributionTarget("class", top), black, 32, 10.0)
    assert_same_scores(agreement_shown(at), expected)
    assert len(expected) == 12  # six blocks of each of the two models with sSE maps
    chart = chart_rows(nodes(at, "vega_lite_chart")[0])
    assert {(r["series"].split(" · ")[0], r["block"]): r["value"] for r in chart} == {
        key: pytest.approx(rho, abs=1e-6) for key, (rho, _) in expected.items()
    }
    with counting_forwards() as counts:
        at.slider(key="attr-topk").set_value(25)
        ran(at)
        at.selectbox(key="attr-cmap").set_value("viridis")
        ran(at)
        at.slider(key="attr-alpha").set_value(0.8)
        ran(at)
        block = at.selectbox(key="attr-block")
        block.set_value(block.options[0])
        ran(at)
        compute(at)  # the same settings again: kept, not recomputed
        at.select_slider(key="attr-steps").set_value(16)  # a new setting is not computed without the button ...
        ran(at)
        assert counts["forwards"] == 0
        assert not at.dataframe
        at.select_slider(key="attr-steps").set_value(32)  # ... and the old result is still kept
        ran(at)
        assert counts["forwards"] == 0
    at.radio(key="attr-measure").set_value("iou")
    ran(at)
    quarter = expected_agreement("fashion", prepared.tensor, AttributionTarget("class", top), black, 32, 25.0)
    assert_same_scores(agreement_shown(at), quarter)
    chart = chart_rows(nodes(at, "vega_lite_chart")[0])
    assert {(r["series"].split(" · ")[0], r["block"]): r["value"] for r in chart} == {
        key: pytest.approx(iou, abs=1e-9) for key, (_, iou) in quarter.items()
    }
    assert not at.error and not at.exception
    other = next(s for s in samples.list_samples("fashion") if s.label not in (None, sample.label))
    next(s for s in at.sidebar.selectbox if s.label == "Sample").set_value(other.title)
    ran(at)
    x = zoo.family("fashion").prepare(load_any(samples.sample_bytes(other), other.path.name).pixels).tensor
    with torch.no_grad():
        assert target_box(at).value == int(zoo.load_model("fashion", "none")(x)[0].argmax()) != top  # its own default


def test_brain_sample_gradcam_and_integrated_gradients():
    at = attribution_page("brain")
    at.multiselect(key="attr-methods").set_value(["integrated_gradients", "layer_gradcam"])
    at.select_slider(key="attr-steps").set_value(8)
    compute(at)
    assert not at.error
    sample = samples.list_samples("brain")[0]
    pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
    x = zoo.family("brain").prepare(pixels).tensor
    k = target_box(at).value
    frames = next(d.value for d in at.dataframe if "Spearman ρ" in d.value.columns)
    assert set(frames["method"]) == {"Integrated Gradients", "LayerGradCam"}
    ig = {
        (r["model"], r["block"]): (r["Spearman ρ"], r["IoU top 10 %"])
        for r in frames.to_dict("records")
        if r["method"] == "Integrated Gradients"
    }
    expected = expected_agreement(
        "brain", x, AttributionTarget("class_region", k), torch.zeros_like(x), 8, 10.0, variants=("scse",)
    )
    assert_same_scores({key: v for key, v in ig.items() if key[0] == "scSE"}, expected)
    assert len(frames) == 2 * 2 * 9  # two methods × two models with sSE maps × nine blocks
    captions = [str(c.proto) for c in nodes(at, "image")]
    assert sum("sSE map q of decoders.3.attention" in c for c in captions) == 2 * 2  # sSE, scSE for both methods


def test_a_class_one_model_predicts_nowhere_shows_one_error_and_the_rest():
    at = attribution_page("brain")
    next(r for r in at.sidebar.radio if r.label == "Input").set_value("Upload your own")
    ran(at)
    pixels = np.zeros((96, 96))
    pixels[16:80, 16:80] = 0.8  # a bright frame around a darker square: every model but sSE finds white matter
    pixels[20:76, 20:76] = 0.6  # on it (sSE finds none; searched over frames and squares for the shipped models:
    # WM pixels baseline 400, cSE 1956, sSE 0, scSE 971 with the midline-trained models shipped 2026-12-07)
    at.sidebar.file_uploader[0].set_value(("square.png", png_bytes(pixels), "image/png"))
    ran(at)
    target = target_box(at)
    assert target.options[3] == "WM (predicted nowhere by sSE)"
    target.set_value(3)
    at.select_slider(key="attr-steps").set_value(8)
    compute(at)
    assert len(at.error) == 1
    assert "sSE" in at.error[0].value and "scSE" not in at.error[0].value and "at no pixel" in at.error[0].value
    captions = [str(c.proto) for c in nodes(at, "image")]
    assert any("sSE map q of" in c for c in captions)  # the other models' results are shown
    assert agreement_shown(at)
    target_box(at).set_value(2)  # grey matter: not computed yet, and no error left over
    ran(at)
    assert not at.error and not at.exception, [e.value for e in at.error]
