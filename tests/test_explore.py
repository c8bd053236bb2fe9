"""The explorer's data path: every number the pages show comes from here, so each is checked independently."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import scse_viz  # noqa: F401
from scse_viz import capture_attention, explore, export, zoo
from scse_viz.capture import BlockInfo, BlockRecord, Knockout
from scse_viz.datasets.brain import brain_slice
from scse_viz.io import LoadedImage, Volume, volume_slice
from scse_viz.parallel import torch_call, torch_workers
from scse_viz.render import charts, raster
from scse_viz.tasks import SegmentationTask, class_areas


def loaded(pixels: np.ndarray, name: str = "test.png") -> LoadedImage:
    pixels = np.asarray(pixels, dtype=np.float32)
    return LoadedImage(pixels=pixels, name=name, mode="L", bit_depth=8, source_size=pixels.shape[:2])


@pytest.fixture(scope="module")
def brain_models() -> dict:
    return {v: zoo.load_model("brain", v) for v in zoo.family("brain").variants}


@pytest.fixture(scope="module")
def brain_run(brain_models) -> explore.FamilyRun:
    item = brain_slice("coronal", 120)  # 189×197: not square, so padding and its inverse are exercised
    image = explore.input_from_image(loaded(item.pixels), truth=item.labels)
    return explore.run_family(zoo.family("brain"), brain_models, image)


def torch_to_source(maps: np.ndarray, source: tuple[int, int]) -> np.ndarray:
    """The inverse mapping written out with torch: bilinear to the padded square, then cut the padding off."""
    h, w = source
    side = max(h, w)
    square = F.interpolate(torch.from_numpy(maps)[None], size=(side, side), mode="bilinear", align_corners=False)[0]
    top, left = (side - h) // 2, (side - w) // 2
    return square[:, top : top + h, left : left + w].numpy()


def test_segmentation_output_is_the_plain_forward_mapped_back(brain_run, brain_models):
    image = brain_run.image
    for variant, output in brain_run.outputs.items():
        # the plain forward, where the app runs every shipped forward pass (a one-thread pool worker where there is
        # one: oneDNN's sums differ by about 1e-6 between thread counts); no_grad belongs to the thread it is set on
        def plain_forward(model=brain_models[variant], x=brain_run.prepared.tensor):
            with torch.no_grad():
                return model(x)

        logits = torch_call(plain_forward)
        expected = torch_to_source(logits.softmax(dim=1)[0].numpy(), image.size)
        np.testing.assert_allclose(output.prediction.probabilities, expected, atol=1e-6)
        assert output.prediction.mask.shape == image.size
        assert np.array_equal(output.prediction.mask, expected.argmax(axis=0))


def test_spatial_map_uses_the_models_geometry(brain_run):
    output = brain_run.outputs["scse"]
    for record in output.shown():
        s = int(record.stride[0])
        q = torch.from_numpy(record.spatial_gate[:1].astype(np.float32))[None]  # 1×1×h×w
        on_input = F.interpolate(q, scale_factor=s, mode="bilinear", align_corners=False)[0] if s > 1 else q[0]
        expected = torch_to_source(on_input.numpy().astype(np.float32), brain_run.image.size)[0]
        np.testing.assert_allclose(explore.spatial_map(brain_run, record), expected, atol=1e-5)


def test_a_planted_cell_lands_on_the_source_pixels_it_covers(brain_run):
    """A single bright feature cell at stride 8 must light up the source pixels that cell covers."""
    size = brain_run.prepared.pixels.shape[0]  # 160
    geometry = brain_run.prepared.geometry
    q = np.zeros((1, size // 8, size // 8), dtype=np.float32)
    i, j = 9, 7
    q[0, i, j] = 1.0
    info = BlockInfo("planted", "sse", "test", 4, None, True)
    record = BlockRecord(info=info, ran=True, spatial_gate=q, stride=(8.0, 8.0), feature_size=q.shape[1:])
    mapped = explore.spatial_map(brain_run, record)
    peak = np.unravel_index(np.argmax(mapped), mapped.shape)
    # model pixels [8i, 8i+8) × [8j, 8j+8) -> source coordinates through the padding and the scale side/size
    scale = geometry.side / size
    rows = ((8 * i) * scale - geometry.top, (8 * i + 8) * scale - geometry.top)
    cols = ((8 * j) * scale - geometry.left, (8 * j + 8) * scale - geometry.left)
    assert rows[0] <= peak[0] < rows[1] and cols[0] <= peak[1] < cols[1]


def test_classification_probabilities_are_the_softmax_of_the_model():
    fam = zoo.family("fashion")
    models = {v: zoo.load_model("fashion", v) for v in ("none", "scse")}
    garment = np.zeros((40, 30), dtype=np.float32)
    garment[5:35, 8:22] = 0.8
    run = explore.run_family(fam, models, explore.input_from_image(loaded(garment)))
    for variant, output in run.outputs.items():
        with torch.no_grad():
            expected = models[variant](run.prepared.tensor).softmax(dim=1)[0].numpy()
        np.testing.assert_allclose(output.prediction.probabilities, expected, atol=1e-7)
        assert not hasattr(output.prediction, "mask")
        top = fam.task.top(output.prediction, k=5)
        assert [p for _, p in top] == sorted(expected, reverse=True)[:5]
    assert explore.display_image(run).shape == (28, 28)  # maps are drawn over what the classifier saw


def test_large_images_are_shrunk_for_display_with_their_mask():
    pixels = np.random.default_rng(0).random((3000, 1500), dtype=np.float32)
    mask = np.zeros((3000, 1500), dtype=np.uint8)
    mask[:1500] = 2
    image = explore.input_from_image(loaded(pixels), truth=mask)
    assert image.size == (1024, 512)
    assert image.truth.shape == (1024, 512)
    assert set(np.unique(image.truth[:500])) == {2} and set(np.unique(image.truth[524:])) == {0}
    assert "shown and analysed at 1024×512" in image.note


def test_out_of_range_float_images_are_windowed_not_clipped_flat():
    pixels = np.linspace(-500.0, 1500.0, 64 * 64, dtype=np.float32).reshape(64, 64)
    image = explore.input_from_image(loaded(pixels))
    assert 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0
    assert len(np.unique(image.pixels)) > 1000  # a ramp stays a ramp


def test_a_volume_slice_is_the_viewer_oriented_slice():
    rng = np.random.default_rng(1)
    data = rng.random((12, 14, 10)).astype(np.float32)
    volume = Volume(data=data, affine=np.eye(4), name="v.nii", zooms=(1.0, 1.0, 1.0))
    image = explore.input_from_volume(volume, "coronal", 5)
    raw = volume_slice(volume, "coronal", 5)
    assert image.size == raw.shape == (10, 12)
    # robust window preserves the order of values: the brightest voxel stays brightest
    assert np.unravel_index(np.argmax(image.pixels), raw.shape) == np.unravel_index(np.argmax(raw), raw.shape)
    assert "coronal slice 5" in image.note


def test_knockout_equals_a_capture_with_that_knockout(brain_run, brain_models):
    knockout = Knockout("sse", 0.5)
    intact = brain_run.outputs["scse"]
    knocked = explore.run_model(brain_run.family, brain_models["scse"], "scse", brain_run.prepared, (knockout,))
    reference = capture_attention(brain_models["scse"], brain_run.prepared.tensor, knockout=knockout)
    expected = torch_to_source(reference.output.softmax(dim=1)[0].numpy(), brain_run.image.size)
    assert np.array_equal(knocked.prediction.mask, expected.argmax(axis=0))
    effect = explore.knockout_effect(brain_run, intact, knocked)
    changed = knocked.prediction.mask != intact.prediction.mask
    assert effect["changed_fraction"] == pytest.approx(float(changed.mean()))
    assert all(r.knocked_out == {"sse": 0.5} for r in knocked.shown())


def test_dice_and_areas_by_hand():
    names = ("background", "a", "b")
    truth = np.array([[0, 1, 1], [2, 2, 0]])
    mask = np.array([[0, 1, 2], [2, 2, 2]])
    task = SegmentationTask(names)
    scores = task.dice(mask, truth)
    # class a: overlap 1, predicted 1, true 2 -> 2/3; class b: overlap 2, predicted 4, true 2 -> 4/6
    assert scores["dice"]["a"] == pytest.approx(2 / 3)
    assert scores["dice"]["b"] == pytest.approx(4 / 6)
    assert scores["mean_dice"] == pytest.approx((2 / 3 + 4 / 6) / 2)
    areas = class_areas(mask, names)
    assert [a["pixels"] for a in areas] == [1, 1, 4]
    assert [a["percent"] for a in areas] == pytest.approx([100 / 6, 100 / 6, 400 / 6])


def test_effective_gain_and_gate_difference_by_hand():
    info = BlockInfo("b", "scse", "test", 2, 1, True)
    w = np.array([[0.2, 0.9]], dtype=np.float32)
    q = np.array([[[0.1, 0.5], [0.7, 1.0]]], dtype=np.float32)
    record = BlockRecord(info=info, ran=True, channel_gate=w, spatial_gate=q, join="sum")
    gain = explore.effective_gain(record)
    assert gain.shape == (2, 2, 2)
    assert gain[1, 1, 0] == pytest.approx(0.9 + 0.7)
    other = BlockRecord(info=info, ran=True, channel_gate=np.array([[0.5, 0.5]], dtype=np.float32))
    np.testing.assert_allclose(explore.gate_difference(record, other), [0.3, -0.4], atol=1e-7)
    with pytest.raises(ValueError):
        explore.effective_gain(BlockRecord(info=info, ran=True, channel_gate=w, spatial_gate=q, join="max"))


def test_csv_export_holds_every_captured_number_and_what_made_it(brain_run):
    settings = {"colormap": "magma", "opacity": 0.4}
    text = export.to_csv(brain_run, settings).decode()
    header = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    meta = json.loads(header)
    card = zoo.family("brain").card()
    assert meta["input"]["name"] == brain_run.image.name and meta["settings"] == settings
    assert meta["models"]["scse"]["sha256"] == card["variants"]["scse"]["shipped"]["sha256"]
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    record = brain_run.outputs["scse"].shown()[3]
    channel = [r for r in rows if r["model"] == "scse" and r["block"] == record.info.name and r["gate"] == "channel w"]
    assert np.array_equal(np.array([float(r["value"]) for r in channel], dtype=np.float32), record.channel_gate[0])
    spatial = [r for r in rows if r["model"] == "scse" and r["block"] == record.info.name and r["gate"] == "spatial q"]
    q = np.zeros(record.spatial_gate[0].shape, dtype=np.float32)
    for r in spatial:
        q[int(r["row"]), int(r["col"])] = float(r["value"])
    assert np.array_equal(q, record.spatial_gate[0])  # float32 round-trips through 9 significant digits
    assert not [r for r in rows if r["model"] == "none"]  # the baseline has no attention blocks


def test_npz_export_round_trips(brain_run):
    data = np.load(io.BytesIO(export.to_npz(brain_run, {"k": 1})))
    meta = json.loads(str(data["metadata"]))
    assert meta["family"] == "brain" and meta["settings"] == {"k": 1}
    for record in brain_run.outputs["cse"].shown():
        assert np.array_equal(data[f"cse/{record.label}/channel_gate"], record.channel_gate)
    assert np.array_equal(data["sse/mask"], brain_run.outputs["sse"].prediction.mask)


def test_raster_overlay_is_the_alpha_blend_of_the_colormap():
    image = np.array([[0.0, 1.0]], dtype=np.float32)
    values = np.array([[0.0, 1.0]])
    out = raster.overlay(image, values, "gray", 0.25)
    # gray colormap: 0 -> black, 1 -> white; pixel 0: 0.75·0 + 0.25·0 = 0; pixel 1: 0.75·1 + 0.25·1 = 1
    assert out[0, 0].tolist() == [0, 0, 0] and out[0, 1].tolist() == [255, 255, 255]
    half = raster.overlay(np.full((1, 1), 0.5, np.float32), np.zeros((1, 1)), "gray", 0.5)
    assert half[0, 0].tolist() == [64, 64, 64]  # 0.5·0.5 + 0.5·0 = 0.25 -> 63.75 -> 64
    with pytest.raises(ValueError):
        raster.overlay(image, np.zeros((2, 2)), "gray", 0.5)


def test_raster_mask_leaves_background_untouched_and_enlarge_repeats_pixels():
    image = np.array([[0.2, 0.2]], dtype=np.float32)
    out = raster.mask_overlay(image, np.array([[0, 1]]), n_classes=2, alpha=1.0)
    assert out[0, 0].tolist() == [51, 51, 51]  # class 0 transparent: the image itself (0.2 · 255 = 51)
    assert out[0, 1].tolist() != [51, 51, 51]
    big = raster.enlarge(np.arange(4, dtype=np.uint8).reshape(2, 2), min_side=5)
    assert big.shape == (6, 6) and big[2, 2] == 0 and big[2, 3] == 1 and big[3, 3] == 3  # factor 3


def test_channel_chart_shows_the_gate_values_in_bar_order():
    gate = np.array([0.1, 0.9, 0.5, 0.7])
    spec = charts.channel_gate_chart(gate, order="sorted", top_k=3, highlight=1)
    values = spec["data"]["values"]
    # top 3 by |w - 0.5| are channels 0 (0.4), 1 (0.4), 3 (0.2); sorted by w: 1, 3, 0
    assert [v["channel"] for v in values] == [1, 3, 0]
    assert [v["w"] for v in values] == [0.9, 0.7, 0.1]
    assert values[0]["role"].startswith("highest") and values[2]["role"].startswith("lowest")
    assert {"datum": 0.5} == spec["layer"][1]["encoding"]["y"]


def test_a_shipped_familys_variants_run_side_by_side_in_the_pool_and_a_brought_models_on_the_callers_thread(
    brain_models,
):
    import dataclasses
    import threading

    family = zoo.family("brain")
    image = explore.input_from_image(loaded(brain_slice("axial", 90).pixels))
    seen: dict[str, list[tuple[str, int]]] = {}

    def watch(variant):
        def hook(module, args):
            seen.setdefault(variant, []).append((threading.current_thread().name, torch.get_num_threads()))

        return hook

    handles = [model.register_forward_pre_hook(watch(v)) for v, model in brain_models.items()]
    try:
        run = explore.run_family(family, brain_models, image)
        explore.run_model(family, brain_models["scse"], "scse", run.prepared, (Knockout("cse", 0.5),))
        shipped = {v: list(calls) for v, calls in seen.items()}
        seen.clear()
        brought = dataclasses.replace(family, loader=lambda variant: brain_models[variant])
        explore.run_family(brought, brain_models, image)
    finally:
        for handle in handles:
            handle.remove()
    caller = (threading.current_thread().name, torch.get_num_threads())
    assert set(seen) == set(brain_models) and all(calls == [caller] for calls in seen.values())
    assert set(shipped) == set(brain_models) and len(shipped["scse"]) == 2  # the intact run and the knock-out
    for calls in shipped.values():
        if torch_workers():  # every shipped forward pass, knock-out included, on a pool worker with one torch thread
            assert all(name.startswith("scse-torch") and threads == 1 for name, threads in calls), calls
        else:
            assert calls == [caller] * len(calls)
