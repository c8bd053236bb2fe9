"""The Attribution page's core: default targets, one method on every variant against the library called directly,
Grad-CAM scored block by block, errors kept per variant, maps on the displayed image, exports that round-trip."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch

from scse_viz import capture_attention, explore, samples, zoo
from scse_viz import compare_attribution as ca
from scse_viz.attribution import (
    AttributionTarget,
    agreement_table,
    integrated_gradients,
    layer_gradcam,
    occlusion,
    spearman,
    top_k_iou,
)
from scse_viz.geometry import upsample_map
from scse_viz.io import LoadedImage, load_any
from scse_viz.preprocess import fashion_tensor
from scse_viz.render.attribution import OVERLAP_COLORS, agreement_chart, attribution_grid_figure, overlap_picture
from scse_viz.tasks import SegmentationPrediction


def _sample_input(family: str, index: int = 0) -> explore.InputImage:
    sample = samples.list_samples(family)[index]
    return explore.input_from_image(load_any(samples.sample_bytes(sample), sample.path.name))


def _models(family: str) -> dict:
    return {v: zoo.load_model(family, v) for v in zoo.family(family).variants}


@pytest.fixture(scope="module")
def fashion_models() -> dict:
    return _models("fashion")


@pytest.fixture(scope="module")
def fashion_run(fashion_models) -> explore.FamilyRun:
    return explore.run_family(zoo.family("fashion"), fashion_models, _sample_input("fashion"))


def _synthetic_run(masks: dict[str, np.ndarray]) -> explore.FamilyRun:
    """A brain FamilyRun whose outputs are only the given masks (for the target rules)."""
    pixels = np.zeros(next(iter(masks.values())).shape, np.float32)
    image = explore.InputImage("masks", pixels, "k", pixels.shape)
    family = zoo.family("brain")
    run = explore.FamilyRun(family, image, family.prepare(pixels))
    for variant, mask in masks.items():
        prediction = SegmentationPrediction(np.zeros((4, *mask.shape)), mask)
        run.outputs[variant] = explore.ModelOutput(variant, family.label(variant), prediction, ())
    return run


# ---------------------------------------------------------------------------------------------------------------------
# targets


def test_default_target_of_a_classifier_is_the_baselines_top_class(fashion_run):
    with torch.no_grad():
        logits = zoo.load_model("fashion", "none")(fashion_run.prepared.tensor)[0]
    assert ca.default_target(fashion_run) == int(torch.argmax(logits))
    assert ca.predicted_classes(fashion_run, "scse") == list(range(10))


def test_default_segmentation_target_is_a_class_every_model_predicts():
    mask = np.zeros((10, 10), np.uint8)
    mask[:6] = 3  # WM largest in the baseline ...
    mask[6:8] = 2  # ... then GM
    mask[8, :3] = 1  # a little CSF
    no_wm = np.where(mask == 3, 2, mask)  # ... but the sSE model predicts WM nowhere
    assert ca.default_target(_synthetic_run({"none": mask, "cse": mask, "sse": no_wm, "scse": mask})) == 2
    assert ca.default_target(_synthetic_run({"none": mask, "cse": mask, "sse": mask, "scse": mask})) == 3
    background = np.zeros((10, 10), np.uint8)  # no foreground anywhere: the background region itself
    assert ca.default_target(_synthetic_run({v: background for v in ("none", "cse", "sse", "scse")})) == 0


def test_black_baseline_is_the_tensor_of_black_pixels(fashion_run):
    expected = fashion_tensor(np.zeros((28, 28), np.float32))  # the classifier normalises: black is not 0
    assert torch.equal(ca.black_baseline(fashion_run), expected) and float(expected.abs().max()) > 0.5


# ---------------------------------------------------------------------------------------------------------------------
# running and scoring


def test_integrated_gradients_on_every_variant_equal_the_library(fashion_run, fashion_models):
    k = ca.default_target(fashion_run)
    settings = ca.Settings(n_steps=16)
    todo = ca.jobs(fashion_run, ["integrated_gradients"])
    seen: list[tuple[float, str]] = []
    runs = ca.run_jobs(fashion_run, fashion_models, todo, k, settings, progress=lambda f, m: seen.append((f, m)))
    assert [r.variant for r in runs] == ["none", "cse", "sse", "scse"]
    black = fashion_tensor(np.zeros((28, 28), np.float32))
    x = zoo.family("fashion").prepare(fashion_run.image.pixels).tensor
    for method_run in runs:
        model = zoo.load_model("fashion", method_run.variant)
        direct = integrated_gradients(model, x, AttributionTarget("class", k), n_steps=16, baseline=black)
        np.testing.assert_allclose(method_run.result.attribution, direct.attribution, rtol=1e-5, atol=1e-7)
        records = capture_attention(model, x).shown()
        expected = agreement_table(records, direct, 15.0)
        got = ca.agreement(fashion_run, method_run, 15.0)
        assert [r.block for r in got] == [r.block for r in expected]
        assert [r.spearman for r in got] == pytest.approx([r.spearman for r in expected], abs=1e-6)
        assert [r.iou for r in got] == pytest.approx([r.iou for r in expected], abs=1e-9)
        assert (len(got) > 0) == (method_run.variant in ("sse", "scse"))  # only sSE blocks have maps to score
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {m.split(":")[0] for _, m in seen[:-1]} == {"baseline", "cSE", "sSE", "scSE"}
    rows = ca.agreement_rows(fashion_run, runs, 15.0)
    assert [(r["model"], r["block"]) for r in rows] == [
        (label, f"stages.{i}.attention") for label in ("sSE", "scSE") for i in range(6)
    ]


def test_occlusion_and_smoothgrad_use_the_black_baseline_and_their_settings(fashion_run, fashion_models):
    black = fashion_tensor(np.zeros((28, 28), np.float32))
    x, target = fashion_run.prepared.tensor, AttributionTarget("class", 3)
    settings = ca.Settings(n_steps=8, nt_samples=3, noise_level=0.2, seed=5)
    occluded = ca.attribute(fashion_run, fashion_models["scse"], "scse", "occlusion", 3, settings)
    direct = occlusion(fashion_models["scse"], x, target, baseline=black)
    np.testing.assert_allclose(occluded.result.attribution, direct.attribution, rtol=1e-5, atol=1e-7)
    assert occluded.settings == ca.Settings()  # occlusion reads none of the IG settings
    smooth = ca.attribute(fashion_run, fashion_models["scse"], "scse", "integrated_gradients_smoothgrad", 3, settings)
    direct = integrated_gradients(
        fashion_models["scse"],
        x,
        target,
        n_steps=8,
        baseline=black,
        noise_tunnel=True,
        nt_samples=3,
        noise_level=0.2,
        seed=5,
    )
    np.testing.assert_allclose(smooth.result.attribution, direct.attribution, rtol=1e-5, atol=1e-7)
    # the page ran the library with these settings, no more and no less: as many model evaluations as the direct call
    assert smooth.settings == settings and smooth.result.evaluations == direct.evaluations


def test_gradcam_scores_each_block_against_gradcam_on_that_block(fashion_run, fashion_models):
    assert ca.jobs(fashion_run, ["layer_gradcam", "occlusion"], variants=["none", "scse"]) == [
        ca.Job("scse", "layer_gradcam"),
        ca.Job("none", "occlusion"),
        ca.Job("scse", "occlusion"),
    ]  # the baseline has no attention block to run Grad-CAM on
    method_run = ca.attribute(fashion_run, fashion_models["scse"], "scse", "layer_gradcam", 9)
    assert sorted(method_run.per_block) == [f"stages.{i}.attention" for i in range(6)]
    rows = {r.block: r for r in ca.agreement(fashion_run, method_run, 20.0)}
    x = fashion_run.prepared.tensor
    for block in ("stages.0.attention", "stages.5.attention"):
        cam = layer_gradcam(fashion_models["scse"], x, AttributionTarget("class", 9), block).attribution
        record = capture_attention(fashion_models["scse"], x).record(block)
        q = upsample_map(record.spatial_gate[0], (28, 28), stride=record.stride)
        assert rows[block].spearman == pytest.approx(spearman(q, cam), abs=1e-6)
        assert rows[block].iou == pytest.approx(top_k_iou(q, cam, 20.0))
    cse_only = ca.attribute(fashion_run, fashion_models["cse"], "cse", "layer_gradcam", 9)
    assert len(cse_only.per_block) == 6 and ca.agreement(fashion_run, cse_only) == []  # no sSE maps to score
    baseline = ca.attribute(fashion_run, fashion_models["none"], "none", "layer_gradcam", 9)
    assert "no attention blocks" in baseline.error


def test_a_class_predicted_nowhere_is_an_error_of_that_run_only():
    family = zoo.family("brain")
    pixels = np.zeros((64, 64), np.float32)
    pixels[16:48, 16:48] = 1.0  # a bright square, no padding: the model's grid is the image's
    image = explore.input_from_image(LoadedImage(pixels, "box.png", "L", 8, pixels.shape))
    # the template-trained checkpoints (assets/models/brain/template): on this square only their scSE model finds WM
    template = zoo.ASSETS / "models" / "brain" / "template"
    models = {v: zoo.load_checkpoint(family.build(v), template / f"{v}.safetensors").eval() for v in ("none", "scse")}
    with torch.no_grad():
        predicted = {v: m(family.prepare(pixels).tensor).argmax(dim=1) for v, m in models.items()}
    assert not (predicted["none"] == 3).any() and (predicted["scse"] == 3).any()  # WM: only the scSE model
    run = explore.run_family(family, models, image)
    assert 3 not in ca.predicted_classes(run, "none") and ca.missing_from(run, 3) == ["baseline"]
    done = ca.run_jobs(run, models, ca.jobs(run, ["integrated_gradients"]), 3, ca.Settings(n_steps=4))
    failed, fine = done
    assert failed.result is None and "predicts class 3 (WM) at no pixel" in failed.error
    assert ca.panel(run, failed, None, 10.0).attribution is None and ca.agreement(run, failed) == []
    assert fine.error is None and fine.result.attribution.shape == (160, 160)
    assert len(ca.agreement(run, fine)) == 9  # every scSE block scored


# ---------------------------------------------------------------------------------------------------------------------
# what the page draws


def test_panel_maps_lie_on_the_displayed_image_and_show_the_scored_top_k(fashion_run, fashion_models):
    method_run = ca.attribute(fashion_run, fashion_models["sse"], "sse", "integrated_gradients", 9, ca.Settings(8))
    block = "stages.2.attention"
    p = ca.panel(fashion_run, method_run, block, 12.0)
    record = fashion_run.outputs["sse"].record(block)
    q = upsample_map(record.spatial_gate[0], (28, 28), stride=record.stride)
    np.testing.assert_array_equal(p.sse, explore.spatial_map(fashion_run, record))
    np.testing.assert_allclose(p.attribution, method_run.result.attribution)
    both, either = np.count_nonzero(p.overlap == 3), np.count_nonzero(p.overlap)
    assert both / either == pytest.approx(top_k_iou(q, np.abs(method_run.result.attribution), 12.0))
    assert p.score.iou == pytest.approx(both / either)
    assert ca.panel(fashion_run, method_run, "no such block", 12.0).sse is None


def test_brain_panel_is_mapped_back_onto_a_non_square_input():
    pixels = np.asarray(load_any(samples.sample_bytes(samples.list_samples("brain")[0]), "a.png").pixels)[20:-20]
    image = explore.input_from_image(LoadedImage(np.ascontiguousarray(pixels), "crop.png", "L", 8, pixels.shape))
    models = {"none": zoo.load_model("brain", "none"), "scse": zoo.load_model("brain", "scse")}
    run = explore.run_family(zoo.family("brain"), models, image)
    k = ca.default_target(run)
    method_run = ca.attribute(run, models["scse"], "scse", "layer_gradcam", k)
    block = "decoders.3.attention"
    p = ca.panel(run, method_run, block, 10.0)
    assert p.attribution.shape == p.sse.shape == p.overlap.shape == pixels.shape
    np.testing.assert_array_equal(p.sse, explore.spatial_map(run, run.outputs["scse"].record(block)))
    cam = method_run.per_block[block].attribution  # 160×160, the model's grid
    np.testing.assert_allclose(p.attribution, run.prepared.geometry.to_source(cam), rtol=1e-6, atol=1e-9)


def test_top_k_overlap_and_limits_by_hand():
    attention = np.array([[0.9, 0.1], [0.8, 0.2]])
    attribution = np.array([[-5.0, 0.0], [0.1, 4.0]])  # |a| top 50 %: (0, 0) and (1, 1)
    np.testing.assert_array_equal(ca.top_k_overlap(attention, attribution, 50), [[3, 0], [1, 2]])
    values = np.r_[np.linspace(-1, 1, 199), 100.0]  # one hot pixel
    assert ca.symmetric_limit(values) == pytest.approx(np.percentile(np.abs(values), 99.5))
    assert ca.symmetric_limit(np.zeros(4)) == 1.0
    assert ca.settings_for("occlusion", ca.Settings(n_steps=64)) == ca.settings_for("occlusion", ca.Settings())
    assert ca.settings_for("integrated_gradients", ca.Settings(n_steps=64, nt_samples=9)) == ca.Settings(n_steps=64)


# ---------------------------------------------------------------------------------------------------------------------
# exports and rendering


def test_exports_round_trip_maps_scores_and_metadata(fashion_run, fashion_models):
    runs = [
        ca.attribute(fashion_run, fashion_models[v], v, "integrated_gradients", 9, ca.Settings(8))
        for v in ("none", "scse")
    ] + [ca.attribute(fashion_run, fashion_models["sse"], "sse", "layer_gradcam", 9)]
    text = ca.to_csv(fashion_run, runs, 10.0, {"block": "stages.1.attention"}).decode()
    meta = json.loads("\n".join(line[2:] for line in text.splitlines() if line.startswith("# ")))
    assert meta["settings"] == {"block": "stages.1.attention"} and meta["input"]["key"] == fashion_run.image.key
    assert [r["method"] for r in meta["attribution"]["runs"]] == ["integrated_gradients"] * 2 + ["layer_gradcam"]
    assert meta["attribution"]["runs"][0]["maps"]["input"]["settings"]["n_steps"] == 8
    assert meta["attribution"]["runs"][0]["target"] == {
        "kind": "class",
        "class_index": 9,
        "class_name": "Ankle boot",
        "single_logit": False,
    }
    table = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    values = np.zeros((28, 28), np.float32)
    for row in table:
        if row["model"] == "scSE" and row["kind"] == "attribution":
            values[int(row["row"]), int(row["col"])] = np.float32(float(row["value"]))
    np.testing.assert_array_equal(values, runs[1].result.attribution)
    spearmans = [float(r["value"]) for r in table if r["kind"] == "spearman" and r["model"] == "sSE"]
    assert spearmans == pytest.approx([r.spearman for r in ca.agreement(fashion_run, runs[2], 10.0)], rel=1e-8)
    with np.load(io.BytesIO(ca.to_npz(fashion_run, runs, 10.0))) as npz:
        np.testing.assert_array_equal(npz["scse/integrated_gradients/attribution"], runs[1].result.attribution)
        np.testing.assert_array_equal(
            npz["sse/layer_gradcam/stages.4.attention/attribution"], runs[2].per_block["stages.4.attention"].attribution
        )
        rows = ca.agreement_rows(fashion_run, runs, 10.0)
        assert npz["agreement"]["iou"].tolist() == [r["iou"] for r in rows]
        assert json.loads(str(npz["metadata"]))["attribution"]["top_k_percent"] == 10.0


def test_agreement_chart_and_pictures():
    rows = [
        {"model": "sSE", "method": "IG", "block": b, "stride": s, "spearman": r, "iou": i}
        for b, s, r, i in (("late", 8.0, 0.5, 0.2), ("early", 1.0, -0.1, 0.4))
    ]
    spec = agreement_chart(rows, "iou")
    line = spec["layer"][0]["encoding"]
    assert line["x"]["sort"] == ["late", "early"] and line["y"]["scale"]["domain"] == [0, 1]
    assert [v["value"] for v in spec["data"]["values"]] == [0.2, 0.4]
    with pytest.raises(ValueError):
        agreement_chart(rows, "pearson")
    image = np.full((2, 2), 0.5, np.float32)
    picture = overlap_picture(image, np.array([[0, 1], [2, 3]]), alpha=1.0)
    assert picture[0, 0].tolist() == [128, 128, 128]  # 0.5 gray untouched where neither is in the top k
    for (i, j), color in zip(((0, 1), (1, 0), (1, 1)), OVERLAP_COLORS):
        assert picture[i, j].tolist() == [int(color[c : c + 2], 16) for c in (1, 3, 5)]
    cells = [
        ("baseline", np.ones((2, 2)), None, None, "no attention blocks"),
        ("sSE", -np.ones((2, 2)), image, np.array([[0, 1], [2, 3]]), ""),
    ]
    figure = attribution_grid_figure(image, cells, 1.0)
    assert len(figure.axes) == 6 + 2  # 2 rows × 3 cells and two colorbars
