"""The photo denoising family: its noise, its metrics, its geometry, its training and its task, each checked
against an independent computation (scikit-image, scipy, or arithmetic done here)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import explore, zoo
from scse_viz.attribution import AttributionError
from scse_viz.attribution.targets import build_objective
from scse_viz.data import photo as data
from scse_viz.datasets.photos import scikit_image_photo
from scse_viz.degradation import AS_IS, PAINTED, NoiseSetting, degrade
from scse_viz.io import LoadedImage, Volume
from scse_viz.metrics import SsimReference, psnr, spearman, ssim
from scse_viz.tasks import RestorationPrediction, RestorationTruth

FAMILY = zoo.family("photo")
SKIMAGE_DATA = os.path.join(os.path.dirname(__import__("skimage").__file__), "data")


def gray_picture(h: int = 96, w: int = 128, value: float = 0.5) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.float32)


# ------------------------------------------------------------------------------------------------------ noise


@pytest.mark.parametrize("pattern", data.NOISE_PATTERNS)
def test_sigma_maps_stay_between_zero_and_sigma(pattern):
    sigmas = data.sigma_map(pattern, (64, 80), 0.1, np.random.default_rng(3))
    assert sigmas.shape == (64, 80)
    assert sigmas.min() >= 0 and sigmas.max() <= 0.1 + 1e-7
    if pattern == "uniform":
        assert np.all(sigmas == np.float32(0.1))
    else:  # every other pattern varies: somewhere near clean, somewhere near σ
        assert sigmas.min() < 0.02 and sigmas.max() > 0.08


def test_added_noise_has_the_stated_sigma_where_it_is_and_none_elsewhere():
    clean = gray_picture(200, 200)
    sigmas = np.zeros((200, 200), np.float32)
    sigmas[:, :100] = 20 / 255  # left half noisy (values stay far from 0 and 1: no clipping)
    noisy = data.add_noise(clean, sigmas, np.random.default_rng(0))
    residual = noisy - clean
    assert residual[:, :100].std() == pytest.approx(20 / 255, rel=0.02)
    assert abs(residual[:, :100].mean()) < 0.002
    assert np.all(residual[:, 100:] == 0)


def test_degrade_follows_the_pattern_and_keeps_the_truth():
    clean = gray_picture()
    noisy, truth = degrade(clean, NoiseSetting("half", 30.0, seed=5))
    assert np.array_equal(truth.clean, clean)
    strong, weak = truth.sigma > 25 / 255, truth.sigma < 1e-4
    assert strong.any() and weak.any()
    residual = noisy - clean
    assert residual[strong].std() == pytest.approx(truth.sigma[strong].mean(), rel=0.05)
    assert np.abs(residual[weak]).max() < 1e-3
    again, _ = degrade(clean, NoiseSetting("half", 30.0, seed=5))
    other, _ = degrade(clean, NoiseSetting("half", 30.0, seed=6))
    assert np.array_equal(noisy, again) and not np.array_equal(noisy, other)


def test_painted_noise_goes_only_where_painted_and_as_is_adds_none():
    clean = gray_picture(60, 80)
    painted = np.zeros((30, 40), np.float32)  # a canvas of half the picture's size
    painted[:, 20:] = 1.0  # the right half painted
    noisy, truth = degrade(clean, NoiseSetting(PAINTED, 40.0, painted=painted))
    assert np.all(truth.sigma[:, :40] == 0) and np.allclose(truth.sigma[:, 40:], 40 / 255)
    assert np.all(noisy[:, :40] == clean[:, :40]) and not np.all(noisy[:, 40:] == clean[:, 40:])
    untouched, none = degrade(clean, NoiseSetting(AS_IS))
    assert none is None and np.array_equal(untouched, clean)
    nothing_yet, truth = degrade(clean, NoiseSetting(PAINTED, 40.0))
    assert np.array_equal(nothing_yet, clean) and np.all(truth.sigma == 0)


# ------------------------------------------------------------------------------------------------------ metrics


def test_psnr_and_ssim_agree_with_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(1)
    clean = data.evaluation_crop(scikit_image_photo("coffee"), 96)
    noisy = np.clip(clean + 0.08 * rng.standard_normal(clean.shape), 0, 1)
    assert psnr(noisy, clean) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=1.0), abs=1e-9)
    expected = structural_similarity(
        noisy, clean, data_range=1.0, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(noisy, clean) == pytest.approx(expected, abs=1e-9)
    assert psnr(clean, clean) == float("inf") and ssim(clean, clean) == pytest.approx(1.0)


def test_one_ssim_reference_scores_many_pictures_as_scikit_image_does():
    # The clean picture's statistics are filtered once and reused: every picture scored against them, colour or grey,
    # must still get scikit-image's own SSIM, and a picture of another shape is refused.
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(2)
    clean = data.evaluation_crop(scikit_image_photo("coffee"), 64)
    for picture in (clean, clean.mean(axis=-1)):
        reference = SsimReference(picture)
        for noise in (0.02, 0.1, 0.3):
            other = np.clip(picture + noise * rng.standard_normal(picture.shape), 0, 1)
            expected = structural_similarity(
                other,
                picture,
                data_range=1.0,
                channel_axis=-1 if picture.ndim == 3 else None,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            assert reference(other) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError, match="shapes differ"):
        SsimReference(clean)(clean[:-1])
    with pytest.raises(ValueError, match="11×11"):
        SsimReference(clean[:10])


def test_ssim_scores_of_many_pictures_come_back_in_order_each_as_scored_alone(monkeypatch):
    # scores() spreads the pictures over threads: each must get exactly the value it gets alone (same code, no
    # shared state), in the order given, and one wrongly shaped picture among them is refused.
    from scse_viz import parallel

    monkeypatch.setattr(parallel, "usable_cores", lambda: 4)  # threads even on a one-core runner
    rng = np.random.default_rng(5)
    clean = data.evaluation_crop(scikit_image_photo("coffee"), 64)
    reference = SsimReference(clean)
    pictures = [np.clip(clean + noise * rng.standard_normal(clean.shape), 0, 1) for noise in (0.3, 0.01, 0.1, 0.05)]
    alone = [SsimReference(clean)(p) for p in pictures]
    assert reference.scores(pictures) == alone  # exact: the same arithmetic on the same arrays
    assert len(set(alone)) == 4  # distinct values, so a change of order would show
    assert reference.scores(pictures[::-1]) == alone[::-1]
    assert reference.scores([]) == []
    with pytest.raises(ValueError, match="shapes differ"):
        reference.scores([pictures[0], clean[:-1]])


def test_spearman_agrees_with_scipy_also_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(2)
    a = np.round(rng.random((30, 40)), 1)  # many ties, as on a σ map's plateaus
    b = a + rng.random((30, 40))
    assert spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel()).statistic, abs=1e-12)
    assert np.isnan(spearman(np.ones(10), np.arange(10)))


# ------------------------------------------------------------------------------------------------------ geometry


def test_prepare_pads_to_a_multiple_of_eight_and_results_crop_back():
    picture = np.random.default_rng(4).random((37, 50, 3)).astype(np.float32)
    prepared = FAMILY.prepare(picture)
    assert prepared.grid == (40, 56)
    assert np.array_equal(prepared.tensor[0].permute(1, 2, 0).numpy()[:37, :50], picture)
    identity = prepared.tensor.clone()  # a model that returns its input reads back as the input itself
    prediction = FAMILY.task.read(identity, prepared.geometry)
    assert np.array_equal(prediction.raw, picture)


def test_a_gray_picture_is_denoised_as_rgb():
    prepared = FAMILY.prepare(np.full((16, 16), 0.25, np.float32))
    assert prepared.tensor.shape == (1, 3, 16, 16) and float(prepared.tensor.min()) == 0.25


# ------------------------------------------------------------------------------------------------------ models


def test_one_step_of_the_recipe_lowers_the_loss_on_its_batch():
    from scse_viz.train.photo import NoisyBatches, PhotoConfig, build_pool

    config = PhotoConfig(variant="scse", seed=0, batch_size=4, dead_leaves=4, photos=4, photo_dirs=(SKIMAGE_DATA,))
    pool, _ = build_pool(config)
    assert pool.shape == (8, 96, 96, 3) and 0 <= pool.min() and pool.max() <= 1
    noisy, clean = NoisyBatches(pool, config)()
    model = config.build_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(8):
        loss = (model(noisy) - clean).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.slow
def test_a_tiny_training_run_writes_a_checkpoint_the_zoo_loads(tmp_path):
    from scse_viz.train.photo import PhotoConfig, train_photo

    config = PhotoConfig(
        variant="sse",
        seed=1,
        epochs=1,
        batch_size=4,
        dead_leaves=4,
        photos=4,
        photo_dirs=(SKIMAGE_DATA,),
        progress=False,
    )
    result = train_photo(config, tmp_path)
    model = zoo.load_checkpoint(FAMILY.build("sse"), result.weights_path)
    from safetensors.torch import load_file

    stored = load_file(str(result.weights_path))
    assert all(torch.equal(stored[k], v) for k, v in model.state_dict().items())
    record = result.record
    assert set(record["per_condition"]) >= {"PSNR σ=25", "SSIM varying"}
    assert any(k.startswith("ρ(q, σ)") for k in record["per_condition"])
    assert record["test_psnr_25"] == record["per_condition"]["PSNR σ=25"]


@pytest.mark.parametrize("variant", FAMILY.variants)
def test_the_shipped_variants_load_in_eval_mode_and_denoise(variant):
    model = zoo.load_model("photo", variant)
    assert not model.training
    clean = data.evaluation_crop(scikit_image_photo("chelsea"), 128)
    noisy, _truth = degrade(clean, NoiseSetting("uniform", 25.0, seed=0))
    prepared = FAMILY.prepare(noisy)
    with torch.no_grad():
        restored = FAMILY.task.read(model(prepared.tensor), prepared.geometry).image
    assert psnr(restored, clean) > psnr(noisy, clean) + 3.0


# ------------------------------------------------------------------------------------------------------ the task


def untrained_run(setting: NoiseSetting) -> explore.FamilyRun:
    clean = data.evaluation_crop(scikit_image_photo("astronaut"), 64)
    image = explore.InputImage("astronaut", clean, "astro", (64, 64))
    models = {v: FAMILY.build(v).eval() for v in FAMILY.variants}
    return explore.run_family(FAMILY, models, explore.degraded_input(image, setting)), models


def test_the_outputs_view_scores_every_model_against_the_clean_picture():
    from scse_viz.views import view_for
    from scse_viz.views.sections import Table

    run, _ = untrained_run(NoiseSetting("blob", 40.0, seed=2))
    truth = run.image.truth
    sections = view_for(FAMILY.task).outputs(run)
    scores = next(s for s in sections if isinstance(s, Table) and "PSNR (dB)" in s.rows[0]).rows
    assert scores[0]["PSNR (dB)"] == pytest.approx(psnr(run.image.pixels, truth.clean))
    for row, output in zip(scores[1:], run.outputs.values()):
        assert row["PSNR (dB)"] == pytest.approx(psnr(np.clip(output.prediction.raw, 0, 1), truth.clean))
        assert row["SSIM"] == pytest.approx(ssim(np.clip(output.prediction.raw, 0, 1), truth.clean))
    gates = next(s for s in sections if isinstance(s, Table) and "ρ(q, σ)" in s.rows[0]).rows
    first = gates[0]
    record = run.outputs["sse" if first["model"] == "sSE" else "scse"].record(first["block"])
    q = explore.spatial_map(run, record)
    assert first["ρ(q, σ)"] == pytest.approx(spearman(q, truth.sigma))


def test_error_reduction_objective_equals_the_arithmetic():
    run, models = untrained_run(NoiseSetting("half", 30.0, seed=1))
    model, x = models["scse"], run.prepared.tensor
    truth = run.image.truth
    for index in range(3):
        target = FAMILY.task.explained_target(index, truth, run.prepared)
        objective = build_objective(model, x, target)
        with torch.no_grad():
            restored = model(x)[0].permute(1, 2, 0).numpy()
        noisy = x[0].permute(1, 2, 0).numpy()
        region = target.region
        expected = (((noisy - truth.clean) ** 2 - (restored - truth.clean) ** 2).sum(axis=-1)[region]).sum()
        assert objective.value == pytest.approx(float(expected), rel=1e-4)
        assert float(objective.forward(x)[0].detach()) == pytest.approx(objective.value, rel=1e-4)
    assert target.region.sum() + FAMILY.task.explained_target(1, truth, run.prepared).region.sum() == 64 * 64


def test_a_region_without_pixels_is_one_clear_error():
    run, models = untrained_run(NoiseSetting("uniform", 20.0))
    target = FAMILY.task.explained_target(2, run.image.truth, run.prepared)  # weak noise: nowhere when uniform
    with pytest.raises(AttributionError, match="holds no pixel"):
        build_objective(models["scse"], run.prepared.tensor, target)


def test_knockout_effect_of_identical_outputs_is_none():
    a = RestorationPrediction(np.zeros((16, 16, 3), np.float32), np.zeros((16, 16, 3), np.float32))
    b = RestorationPrediction(np.full((16, 16, 3), 0.1, np.float32), np.full((16, 16, 3), 0.1, np.float32))
    assert FAMILY.task.knockout_effect(a, a)["mean_abs_change"] == 0
    assert FAMILY.task.knockout_effect(a, b)["psnr_vs_intact"] == pytest.approx(20.0)  # 10·log10(1 / 0.1²)
    with pytest.raises(TypeError):
        FAMILY.task.score(a, np.zeros((4, 4, 3)))
    assert FAMILY.task.score(b, RestorationTruth(np.zeros((16, 16, 3))))["psnr"] == pytest.approx(20.0)


# ------------------------------------------------------------------------------------------------------ which family


def test_each_family_says_which_inputs_suit_it():
    photo = LoadedImage(scikit_image_photo("chelsea"), "chelsea.png", "RGB", 8, (300, 451))
    garment = LoadedImage(np.zeros((28, 28), np.float32), "g.png", "L", 8, (28, 28))
    volume = Volume(np.zeros((8, 8, 8), np.float32), np.eye(4), "v.nii", (1.0, 1.0, 1.0))
    suits = {
        name: {k: zoo.family(name).suits(v) for k, v in {"photo": photo, "garment": garment, "volume": volume}.items()}
        for name in zoo.FAMILIES
    }
    assert suits["photo"] == {"photo": True, "garment": True, "volume": False}
    assert suits["fashion"] == {"photo": False, "garment": True, "volume": False}
    assert suits["brain"] == {"photo": False, "garment": True, "volume": True}


def test_export_keeps_each_restored_picture_and_the_noisy_input():
    import io
    import json

    from scse_viz import export

    run, _ = untrained_run(NoiseSetting("band", 35.0, seed=4))
    arrays = np.load(io.BytesIO(export.to_npz(run)))
    assert np.array_equal(arrays["input/pixels"], run.image.pixels)
    for variant, output in run.outputs.items():
        assert np.array_equal(arrays[f"{variant}/restored"], np.clip(output.prediction.raw, 0, 1))
    assert json.loads(str(arrays["metadata"]))["family"] == "photo"
