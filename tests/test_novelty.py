"""Novelty: the percentile's arithmetic on known answers, the shipped statistics on real training images and on
inputs no family was made for, and the notes the pages draw (above the outputs, beside a gate)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import zoo
from scse_viz.capture import BlockInfo, BlockRecord
from scse_viz.explore import input_from_image, run_family
from scse_viz.io import LoadedImage
from scse_viz.novelty import NoveltyModel, Part, load_model, novelty, output_features, save_model, statistics_of
from scse_viz.views import Note, Text
from scse_viz.views.notes import gate_notes, gate_problem, novelty_percentile, novelty_sections

FAMILIES = [f.name for f in zoo.list_families()]


def stripes(side: int = 160, period: int = 8) -> np.ndarray:
    cols = np.arange(side)[None, :].repeat(side, axis=0)
    return ((cols // (period // 2)) % 2).astype(np.float32)


def checkerboard(side: int = 160, period: int = 16) -> np.ndarray:
    rows, cols = np.mgrid[0:side, 0:side]
    return (((rows // period) + (cols // period)) % 2).astype(np.float32)


# ------------------------------------------------------------------------------------------------------ arithmetic


def test_distance_and_percentile_have_known_values(tmp_path):
    # covariance diag(4, 1): (2, 0) lies one standard deviation out, (0, 3) three
    model = NoveltyModel(("scse/a",), np.zeros(2), np.diag([0.25, 1.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert model.distance(np.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])) == pytest.approx([1.0, 3.0, 0.0])
    # below all four held-out distances: 0; above all: 100; equal to the second: 1 below + half a tie = 1.5 of 4
    assert model.percentile(np.array([0.5, 10.0, 2.0])) == pytest.approx([0.0, 100.0, 37.5])
    assert model.percentile(np.array([np.nan, np.inf])) == pytest.approx([100.0, 100.0])
    back = load_model(save_model(tmp_path / "n.npz", model))
    assert back.blocks == ("scse/a",) and back.variants == ("scse",)
    assert back.distance(np.array([2.0, 0.0])) == pytest.approx([1.0])


def test_parts_score_the_largest_standardised_log_distance(tmp_path):
    # two parts of one column each, unit precision: distances |x0| and |x1|; part a standardised by (log 2, 0.5),
    # part b by (0, 1)
    parts = (Part("a", 0, 1, float(np.log(2.0)), 0.5), Part("b", 1, 2, 0.0, 1.0))
    model = NoveltyModel(("scse/a",), np.zeros(2), np.eye(2), np.array([0.0, 1.0]), outputs=("scse",), parts=parts)
    rows = np.array([[4.0, 1.0], [1.0, np.e**3], [np.nan, 1.0]])
    assert model.part_distances(rows)[:2] == pytest.approx(np.array([[4.0, 1.0], [1.0, np.e**3]]))
    # row 0: a = (log 4 − log 2) / 0.5 = 2 log 2, b = 0; row 1: a = −2 log 2, b = 3; a NaN gate: NaN
    expected = [2 * np.log(2.0), 3.0]
    assert model.score(rows)[:2] == pytest.approx(expected) and np.isnan(model.score(rows)[2])
    back = load_model(save_model(tmp_path / "parts.npz", model))
    assert back.parts == parts and back.outputs == ("scse",) and back.variants == ("scse",)
    assert back.score(rows[:2]) == pytest.approx(expected)


def test_statistics_without_parts_score_the_plain_distance(tmp_path):
    model = NoveltyModel(("scse/a",), np.zeros(2), np.diag([0.25, 1.0]), np.array([1.0, 2.0]))
    back = load_model(save_model(tmp_path / "plain.npz", model))
    assert back.parts == () and back.outputs == ()
    assert back.score(np.array([[2.0, 0.0], [0.0, 3.0]])) == pytest.approx([1.0, 3.0])


def test_output_features_read_the_residual_and_the_restored_picture():
    from scipy.stats import pearsonr

    rng = np.random.default_rng(5)
    restored = np.full((32, 48, 3), 0.5)
    restored[..., 0] = 0.8  # a flat colour: no texture, the same spread over channels everywhere
    noise = rng.normal(0, 0.1, (32, 48, 3))
    features = output_features(restored + noise, restored)  # read in float32: agreement to float32's precision
    residual_std = noise.reshape(-1, 3).std(axis=0)
    assert features[:3] == pytest.approx(np.log(residual_std + 1e-4), abs=1e-5)
    assert features[3:6] == pytest.approx(noise.reshape(-1, 3).mean(axis=0), abs=1e-6)
    assert features[6:9] == pytest.approx([0.8, 0.5, 0.5], abs=1e-6) and features[9:12] == pytest.approx(
        [np.log(1e-4)] * 3, abs=1e-3
    )
    pairs = [pearsonr(noise[..., a].ravel(), noise[..., b].ravel())[0] for a, b in ((0, 1), (0, 2), (1, 2))]
    assert features[12:15] == pytest.approx(pairs, abs=1e-5)
    assert features[15:17] == pytest.approx(np.log(np.array([np.std([0.8, 0.5, 0.5]), 0.0]) + 1e-4), abs=1e-3)
    assert features[19:21] == pytest.approx([np.log(1e-4)] * 2, abs=1e-3)
    # a residual the same in every channel, alternating like a checkerboard: channels correlate fully, and every
    # pixel's right and lower neighbour is its negative
    rows, cols = np.mgrid[0:32, 0:48]
    board = np.repeat((0.05 * (-1.0) ** (rows + cols))[..., None], 3, axis=-1)
    features = output_features(restored + board, restored)
    assert features[12:15] == pytest.approx([1.0, 1.0, 1.0], abs=1e-5) and features[17:19] == pytest.approx(
        [-1.0, -1.0], abs=1e-5
    )


def test_the_app_scores_a_photo_as_the_novelty_function_does():
    """The Explore note reads the outputs the run already has (cropped back to the picture); ``novelty`` runs the
    models itself: on a picture that needs padding both must read the same pixels."""
    spec = zoo.family("photo")
    picture = np.random.default_rng(3).random((50, 70, 3)).astype(np.float32)
    assert novelty_percentile(family_run("photo", picture)) == pytest.approx(novelty(spec, picture))


@pytest.mark.parametrize("name", FAMILIES)
def test_shipped_statistics_belong_to_the_shipped_weights(name):
    """Refit after new weights are shipped: ``python -m scse_viz.train.novelty <family>``."""
    spec = zoo.family(name)
    statistics = statistics_of(spec)
    assert statistics is not None, f"{name} ships no novelty.npz"
    for variant in statistics.variants:
        digest = hashlib.sha256(spec.weights_path(variant).read_bytes()).hexdigest()[:16]
        shipped = statistics.provenance["weights_sha256_16"][variant]
        assert shipped == digest, f"new {variant} weights: refit with python -m scse_viz.train.novelty {name}"
    assert statistics.held_out.size >= 100 and np.all(np.diff(statistics.held_out) >= 0)


# ------------------------------------------------------------------------------------------------------ real models


def test_fashion_training_images_are_typical_and_patterns_are_not():
    from scse_viz.datasets.fashion import load_fashion

    spec = zoo.family("fashion")
    models = zoo.models_of(spec)
    images, _ = load_fashion("train")
    scores = [novelty(spec, images[i].astype(np.float32) / 255.0, models) for i in range(0, 2000, 100)]
    assert np.median(scores) < 80, scores
    assert novelty(spec, checkerboard(), models) > 99
    assert novelty(spec, stripes(), models) > 99


def test_brain_training_slices_are_typical_and_a_striped_picture_is_not():
    from scse_viz.datasets.brain import load_brain_slices

    spec = zoo.family("brain")
    models = zoo.models_of(spec)
    slices = load_brain_slices("train")
    scores = [novelty(spec, item.pixels, models) for item in slices[:: max(len(slices) // 12, 1)]]
    assert np.median(scores) < 80, scores
    assert novelty(spec, stripes(), models) > 99
    assert novelty(spec, checkerboard(), models) > 99


def test_photo_training_like_crops_are_typical_and_a_checkerboard_is_not():
    from scse_viz.datasets.photos import scikit_image_photo
    from scse_viz.degradation import NoiseSetting, degrade

    spec = zoo.family("photo")
    models = zoo.models_of(spec)
    photo, _ = degrade(scikit_image_photo("astronaut")[128:384, 128:384], NoiseSetting())
    assert novelty(spec, photo, models) < 99
    board, _ = degrade(checkerboard(256, 32), NoiseSetting())
    assert novelty(spec, board, models) > 99


# ------------------------------------------------------------------------------------------------------ notes


def family_run(name: str, pixels: np.ndarray):
    spec = zoo.family(name)
    image = input_from_image(LoadedImage(pixels, "test.png", "F", 32, pixels.shape[:2]))
    return run_family(spec, zoo.models_of(spec), image)


def test_the_note_above_the_outputs_warns_on_stripes_under_brain():
    sections = novelty_sections(family_run("brain", stripes()))
    assert len(sections) == 1 and isinstance(sections[0], Note) and sections[0].level == "warning"
    assert "unlike the images these models were trained on" in sections[0].text


def test_the_note_on_a_template_slice_is_one_quiet_line():
    from scse_viz.datasets.brain import brain_slice

    sections = novelty_sections(family_run("brain", brain_slice("axial", 70).pixels))
    assert len(sections) == 1 and isinstance(sections[0], Text)
    assert "more unusual than" in sections[0].text


def test_a_brought_model_says_it_has_no_training_data():
    from dataclasses import replace

    run = family_run("fashion", checkerboard(28, 4))
    brought = replace(run, family=replace(run.family, loader=lambda v: zoo.load_model("fashion", v)))
    (note,) = novelty_sections(brought)
    assert isinstance(note, Note) and "without their training images" in note.text


def record(channel: np.ndarray | None, spatial: np.ndarray | None) -> BlockRecord:
    info = BlockInfo("encoders.1.attention", "scse", "test", 4, 2, True)
    return BlockRecord(info, ran=True, channel_gate=channel, spatial_gate=spatial)


def test_gate_notes_name_nan_infinite_and_constant_gates():
    healthy = record(np.array([[0.1, 0.9, 0.5, 0.3]]), np.array([[[0.2, 0.8], [0.4, 0.6]]]))
    assert gate_notes(healthy) == []
    nan = record(np.array([[0.1, np.nan, 0.5, np.nan]]), None)
    (note,) = gate_notes(nan, "scSE")
    assert "scSE · encoders.1.attention" in note.text and "channel gate w" in note.text and "NaN in 2 of 4" in note.text
    infinite = record(None, np.array([[[0.2, np.inf], [0.4, 0.6]]]))
    assert "infinite in 1 of 4" in gate_notes(infinite)[0].text
    constant = record(np.full((1, 4), 0.25), np.full((1, 2, 2), 0.7))
    texts = [n.text for n in gate_notes(constant)]
    assert len(texts) == 2 and "0.25 everywhere" in texts[0] and "0.7 everywhere" in texts[1]
    assert gate_problem(np.array([0.5])) is None  # one value is no evidence of a constant gate
