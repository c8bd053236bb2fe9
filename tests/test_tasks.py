"""The task interface on its own, and families that are not ours: one model without a baseline, or a pair.

Every expected value is computed here from the model's raw output with torch or numpy, not by the task.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from scse_viz import capture_attention, explore, export
from scse_viz import compare_attribution as ca
from scse_viz.capture import Knockout
from scse_viz.family import Family
from scse_viz.geometry import ModelGrid, SquareGeometry
from scse_viz.io import LoadedImage
from scse_viz.models import ResidualClassifier, UNet2D
from scse_viz.preprocess import Prepared, brain_preprocess, brain_tensor
from scse_viz.tasks import ClassificationTask, OutputError, SegmentationTask
from scse_viz.views import Charts, Heading, Metrics, Pictures, Table, Text, view_for

CLASSES = ("background", "left", "right")


def _image(pixels: np.ndarray) -> explore.InputImage:
    pixels = np.asarray(pixels, np.float32)
    return explore.input_from_image(LoadedImage(pixels, "test.png", "L", 8, pixels.shape))


def _prepare_square(image: np.ndarray) -> Prepared:
    pixels, geometry = brain_preprocess(image, size=32)
    return Prepared(pixels, brain_tensor(pixels), geometry)


def _unet(variant: str) -> torch.nn.Module:
    torch.manual_seed(7)
    return UNet2D(num_classes=3, base_channels=4, depth=2, attention=variant).eval()  # type: ignore[arg-type]


def _brought_segmenter(variants: tuple[str, ...], baseline: str | None) -> Family:
    """A segmentation family as a person might bring one: its own names, classes, and maybe no baseline."""
    return Family(
        name="my-unet",
        title="My U-Net",
        task=SegmentationTask(CLASSES),
        prepare=_prepare_square,
        build=_unet,
        trained_on="nothing (untrained)",
        variants=variants,
        baseline=baseline,
        variant_labels={v: v.upper() for v in variants},
    )


def test_segmentation_reads_softmax_on_the_source_pixels_and_argmax():
    task = SegmentationTask(CLASSES)
    logits = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    geometry = SquareGeometry.for_image(20, 32, 32)  # a 20×32 image padded to 32×32 (6 rows of padding on top)
    prediction = task.read(logits, geometry)
    expected = torch.softmax(logits, dim=1)[0, :, 6:26, :].numpy()  # same size: the padding is only cut off
    np.testing.assert_allclose(prediction.probabilities, expected, atol=1e-6)
    assert prediction.mask.dtype == np.uint8 and np.array_equal(prediction.mask, expected.argmax(axis=0))


def test_classification_scores_the_true_class_and_reports_a_knockout():
    task = ClassificationTask(("a", "b", "c"))
    logits = torch.tensor([[0.0, 2.0, 1.0]])
    prediction = task.read(logits, ModelGrid((4, 4)))
    e = np.exp([0.0, 2.0, 1.0])
    np.testing.assert_allclose(prediction.probabilities, e / e.sum(), rtol=1e-6)
    score = task.score(prediction, 2)
    assert score["correct"] is False and score["predicted"] == "b" and score["truth"] == "c"
    assert score["probability_of_truth"] == pytest.approx(e[2] / e.sum(), rel=1e-6)
    flipped = task.read(torch.tensor([[3.0, 0.0, 0.0]]), ModelGrid((4, 4)))
    effect = task.knockout_effect(prediction, flipped)
    assert effect["top1_intact"] == "b" and effect["top1_knocked"] == "a"
    largest = float(np.max(np.abs(flipped.probabilities - prediction.probabilities)))
    assert effect["largest_change"] == pytest.approx(largest)


@pytest.mark.parametrize(
    "task, shape",
    [
        (SegmentationTask(CLASSES), (1, 3)),
        (ClassificationTask(CLASSES), (1, 3, 4, 4)),
        (SegmentationTask(CLASSES), (1, 5, 4, 4)),
    ],
)
def test_an_output_of_the_wrong_form_is_one_typed_error(task, shape):
    with pytest.raises(OutputError, match="returned shape"):
        task.read(torch.zeros(shape), ModelGrid((4, 4)))
    with pytest.raises(OutputError, match="not a tensor"):
        task.read((torch.zeros(shape),), ModelGrid((4, 4)))


def test_attribution_targets_follow_the_task():
    assert SegmentationTask(CLASSES).attribution_target(1).kind == "class_region"
    target = ClassificationTask(CLASSES).attribution_target(2)
    assert (target.kind, target.class_index, target.class_name) == ("class", 2, "right")


def test_a_single_model_without_baseline_runs_through_every_flow():
    family = _brought_segmenter(("mine",), baseline=None)
    pixels = np.zeros((24, 40), np.float32)
    pixels[6:18, 5:20] = 1.0
    image = _image(pixels)
    truth = (pixels > 0.5).astype(np.uint8)
    image = explore.InputImage(image.name, image.pixels, image.key, image.source_size, truth=truth)
    run = explore.run_family(family, {"mine": _unet("scse")}, image)
    assert run.reference == "mine" and run.compared() == []
    output = run.outputs["mine"]
    assert output.label == "MINE" and output.prediction.mask.shape == (24, 40)

    sections = view_for(family.task).outputs(run)
    kinds = [type(s) for s in sections]
    assert kinds == [Text, Pictures, Heading, Table, Heading, Table]  # no "differs from the baseline" row
    dice_rows = sections[-1].rows
    mask, truth = output.prediction.mask, image.truth
    left = (mask == 1, truth == 1)
    pooled = left[0].sum() + left[1].sum()
    by_hand = 2 * np.sum(left[0] & left[1]) / pooled if pooled else np.nan
    assert dice_rows[0]["model"] == "MINE" and (dice_rows[0]["left"] == pytest.approx(by_hand, nan_ok=True))
    makers = view_for(family.task).figures(run, "mine")
    assert [title for title, _ in makers] == ["outputs side by side"]

    data = np.load(io.BytesIO(export.to_npz(run, {})))
    assert json.loads(str(data["metadata"]))["task"] == "segmentation"
    assert np.array_equal(data["mine/mask"], mask)

    assert ca.jobs(run, ["layer_gradcam"]) == [ca.Job("mine", "layer_gradcam")]
    assert ca.default_target(run) in ca.predicted_classes(run, "mine")


def test_a_pair_compares_the_attention_model_with_its_baseline():
    family = _brought_segmenter(("plain", "scse"), baseline="plain")
    pixels = np.random.default_rng(3).random((32, 32)).astype(np.float32)
    run = explore.run_family(family, {"plain": _unet("none"), "scse": _unet("scse")}, _image(pixels))
    assert run.reference == "plain" and run.compared() == ["scse"]
    sections = view_for(family.task).outputs(run)
    assert isinstance(sections[-1], Pictures) and len(sections[-1].items) == 1
    caption = sections[-1].items[0][0]
    share = float(np.mean(run.outputs["scse"].prediction.mask != run.outputs["plain"].prediction.mask))
    assert caption == f"SCSE ≠ PLAIN: {100 * share:.2f} % of pixels"
    assert ca.jobs(run, ["layer_gradcam", "occlusion"]) == [
        ca.Job("scse", "layer_gradcam"),
        ca.Job("plain", "occlusion"),
        ca.Job("scse", "occlusion"),
    ]


def test_a_classifier_view_shows_top_classes_and_knockout_metrics():
    torch.manual_seed(1)
    model = ResidualClassifier(in_channels=1, num_classes=3, widths=(4, 8), blocks_per_stage=1, attention="scse").eval()

    def prepare(image: np.ndarray) -> Prepared:
        pixels = np.asarray(image, np.float32)[:16, :16]
        return Prepared(pixels, torch.from_numpy(pixels)[None, None].clone(), ModelGrid(pixels.shape))

    family = Family(
        name="toy",
        title="Toy",
        task=ClassificationTask(CLASSES),
        prepare=prepare,
        build=lambda v: model,
        trained_on="nothing",
        variants=("only",),
        baseline=None,
    )
    run = explore.run_family(family, {"only": model}, _image(np.random.default_rng(0).random((16, 16))))
    with torch.no_grad():
        p = torch.softmax(model(run.prepared.tensor), dim=1)[0].numpy()
    (charts,) = view_for(family.task).outputs(run)
    assert isinstance(charts, Charts)
    values = charts.specs[0]["data"]["values"]
    assert [v["probability"] for v in values] == pytest.approx(sorted(p, reverse=True), abs=1e-7)
    knocked = explore.run_model(family, model, "only", run.prepared, (Knockout("cse", 0.5),))
    sections = view_for(family.task).knockout(run, run.outputs["only"], knocked, "cSE = 0.5")
    metrics = sections[-1]
    assert isinstance(metrics, Metrics)
    with torch.no_grad():
        q = torch.softmax(capture_attention(model, run.prepared.tensor, knockout=Knockout("cse", 0.5)).output, 1)[0]
    assert metrics.items[1][1] == f"{float(np.abs(q.numpy() - p).max()):.4f}"
