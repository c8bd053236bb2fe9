"""Attributions next to sSE maps: completeness on real zoo models, alignment with a planted spot, agreement scores
against hand computation, typed errors, and no trace left on the shared model."""

from __future__ import annotations

import importlib
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from scse_viz import capture_attention, zoo
from scse_viz.attribution import (
    AttributionError,
    AttributionTarget,
    agreement_table,
    average_ranks,
    integrated_gradients,
    layer_gradcam,
    occlusion,
    spearman,
    top_k_iou,
)
from scse_viz.blocks import SpatialSE
from scse_viz.capture import BlockInfo, BlockRecord
from scse_viz.errors import ScseVizError
from scse_viz.geometry import upsample_map

from .conftest import REPO_ROOT

SAMPLES = REPO_ROOT / "assets" / "samples"


def _sample(family: str, name: str) -> torch.Tensor:
    image = np.asarray(Image.open(SAMPLES / family / name).convert("L"))
    return zoo.family(family).prepare(image).tensor


ROWS_SEEN: list[int] = []  # the batch size of every forward pass through a Counted model, whichever copy ran it


class Counted(nn.Module):
    """``model`` behind a forward pass that notes how many images (rows) it is given, in :data:`ROWS_SEEN`.

    The attributions run on a private deep copy of the model; a module-level list is shared by every copy, so it
    sees what the copy computed. The counts are the test's own, not the library's bookkeeping.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ROWS_SEEN.append(int(x.shape[0]))
        return self.model(x)


def _counting_rows(run):
    """(what ``run()`` returns, the batch sizes of the forward passes it made through Counted models)."""
    ROWS_SEEN.clear()
    result = run()
    return result, list(ROWS_SEEN)


def assert_evaluations_are_the_rows_the_model_ran(result, rows: list[int]) -> None:
    """``evaluations`` is the rows the method pushed through the network: all but the first pass, a single image
    (``build_objective`` runs ``model(x)`` once to fix the target before the method starts)."""
    assert rows[0] == 1 and len(rows) >= 2
    assert result.evaluations == sum(rows[1:]), rows


@pytest.fixture(scope="module")
def fashion() -> nn.Module:
    return zoo.load_model("fashion", "scse")


@pytest.fixture(scope="module")
def boot() -> torch.Tensor:
    return _sample("fashion", "test-00000-ankle-boot.png")  # predicted as class 9 (ankle boot)


# ---------------------------------------------------------------------------------------------------------------------
# Integrated Gradients: completeness, sum(attribution) = F(x) - F(baseline) up to the quadrature's error.
#
# IG's map summed over pixels is a quadrature of the path integrand g(α) = ∇F(b + α(x - b)) · (x - b), whose exact
# integral is F(x) - F(b). The tests first integrate g themselves (the trapezoid rule on a fine grid, with their own
# autograd) and check that it reaches F(x) - F(b) within half the tolerance: that shows the tolerance is about
# the quadrature, not about a rough ReLU integrand that no rule could integrate. IG's total must then lie within
# TOLERANCE of F(x) - F(b): a map with the wrong sign, a missing (x - b) factor, the wrong class or a target that is
# not the fixed class region misses it by far.

TOLERANCE = 0.01  # of |F(x) - F(b)|


def _path_integral(objective, x: torch.Tensor, baseline: torch.Tensor, points: int, chunk: int) -> float:
    alphas = torch.linspace(0.0, 1.0, points)
    values = []
    for part in alphas.split(chunk):
        path = (baseline + part.view(-1, 1, 1, 1) * (x - baseline)).requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(path).sum(), path)
        values.append((grad * (x - baseline)).sum(dim=(1, 2, 3)))
    return float(np.trapezoid(torch.cat(values).double().numpy(), dx=1.0 / (points - 1)))


def test_integrated_gradients_complete_on_zoo_classifier(fashion, boot):
    black = zoo.family("fashion").prepare(np.zeros((28, 28), np.uint8)).tensor  # 0 in pixels is not 0 in tensor
    frozen = zoo.load_model("fashion", "scse").requires_grad_(False)

    def logit(z: torch.Tensor) -> torch.Tensor:
        return frozen(z)[:, 9]

    with torch.no_grad():
        difference = float(logit(boot) - logit(black))
    assert abs(difference) > 1.0  # the boot's logit is well above the black image's
    by_hand = _path_integral(logit, boot, black, points=4097, chunk=512)
    assert abs(by_hand - difference) < 0.5 * TOLERANCE * abs(difference)
    result = integrated_gradients(
        fashion, boot, AttributionTarget("class", 9, "Ankle boot"), n_steps=512, baseline=black
    )
    total = float(result.attribution.astype(np.float64).sum())
    assert result.attribution.shape == (28, 28) and result.attribution.dtype == np.float32
    assert abs(total - difference) <= TOLERANCE * abs(difference)
    assert result.output_difference == pytest.approx(difference, abs=1e-4)
    assert result.convergence_delta == pytest.approx(total - difference, abs=1e-3)
    assert result.target == "logit of class 9 (Ankle boot)"


@pytest.mark.slow
def test_integrated_gradients_complete_on_zoo_unet_class_region():
    # the template-trained scSE U-Net (assets/models/brain/template): on this crop it finds grey matter
    template = zoo.ASSETS / "models" / "brain" / "template" / "scse.safetensors"
    unet = zoo.load_checkpoint(zoo.family("brain").build("scse"), template).eval()
    x = _sample("brain", "mni152-axial-117.png")[..., 64:96, 40:72].contiguous()  # 32×32 crop: grey and white matter
    frozen = zoo.load_checkpoint(zoo.family("brain").build("scse"), template).eval().requires_grad_(False)
    with torch.no_grad():
        region = (frozen(x).argmax(dim=1)[0] == 2).float()  # grey matter as predicted for the unperturbed crop
    assert 50 < region.sum() < region.numel()

    def region_logits(z: torch.Tensor) -> torch.Tensor:  # the class-region target, written out independently
        return (frozen(z)[:, 2] * region).sum(dim=(1, 2))

    baseline = torch.zeros_like(x)
    with torch.no_grad():
        difference = float(region_logits(x) - region_logits(baseline))
    by_hand = _path_integral(region_logits, x, baseline, points=1025, chunk=128)
    assert abs(by_hand - difference) < 0.5 * TOLERANCE * abs(difference)
    result = integrated_gradients(unet, x, AttributionTarget("class_region", 2), n_steps=128)
    total = float(result.attribution.astype(np.float64).sum())
    assert abs(total - difference) <= TOLERANCE * abs(difference)
    assert result.output_difference == pytest.approx(difference, rel=1e-5)
    assert result.target == f"sum of class 2 logits over its {int(region.sum())} predicted pixels"


def test_noise_tunnel_is_reproducible_and_reports_its_noise(fashion, boot):
    target = AttributionTarget("class", 9)
    first, rows = _counting_rows(
        lambda: integrated_gradients(Counted(fashion), boot, target, n_steps=8, noise_tunnel=True, nt_samples=4, seed=3)
    )
    again = integrated_gradients(fashion, boot, target, n_steps=8, noise_tunnel=True, nt_samples=4, seed=3)
    other = integrated_gradients(fashion, boot, target, n_steps=8, noise_tunnel=True, nt_samples=4, seed=4)
    plain = integrated_gradients(fashion, boot, target, n_steps=8)
    np.testing.assert_array_equal(first.attribution, again.attribution)
    assert not np.array_equal(first.attribution, other.attribution)
    assert not np.allclose(first.attribution, plain.attribution)
    expected_stdev = 0.15 * float(boot.max() - boot.min())
    assert first.settings["stdev"] == pytest.approx(expected_stdev) and first.settings["nt_samples"] == 4
    assert_evaluations_are_the_rows_the_model_ran(first, rows)
    assert sum(rows[1:]) > 4 * 8  # at least 8 path points for each of the 4 noisy copies


def test_progress_rises_to_one_in_chunks(fashion, boot):
    seen: list[tuple[float, str]] = []
    integrated_gradients(
        fashion,
        boot,
        AttributionTarget("class", 9),
        n_steps=12,
        internal_batch_size=4,
        progress=lambda fraction, message: seen.append((fraction, message)),
    )
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(fractions) >= 4  # three chunks of 4 path points report before they run
    assert "done" in seen[-1][1]


# ---------------------------------------------------------------------------------------------------------------------
# GradCAM and sSE maps at input resolution, aligned (the planted-spot idea of test_alignment.py).


class PlantedSpot(nn.Module):
    """Lift to 2 equal channels, downsample, sSE with gate σ(10·v − 5), global average pool, linear head.

    For the class-0 logit (head weights 1, 1) ∂logit/∂A_c(i, j) = 1/(h·w) at every position, so Grad-CAM's channel
    weights are 1/(h·w) and its map is (A_0 + A_1)/(h·w) = 2·v·σ(10·v − 5)/(h·w): bright only where the pooled
    input v is.
    """

    def __init__(self, pool: nn.Module) -> None:
        super().__init__()
        self.lift = nn.Conv2d(1, 2, 1, bias=False)
        self.pool = pool
        self.block = SpatialSE(2)
        self.head = nn.Linear(2, 2)
        with torch.no_grad():
            self.lift.weight.fill_(1.0)
            self.block.sSE[0].weight.copy_(torch.tensor([5.0, 5.0]).view(1, 2, 1, 1))
            self.block.sSE[0].bias.fill_(-5.0)
            self.head.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
            self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.pool(self.lift(x))).mean(dim=(2, 3)))


@pytest.mark.parametrize(
    "pool,cell,size,spot,value",
    [
        (nn.AvgPool2d(8), 8, (64, 64), (40, 16), 64.0),  # the average over an 8×8 cell is 1
        (nn.MaxPool2d(4), 4, (48, 80), (4, 73), 1.0),
        (nn.Sequential(nn.MaxPool2d(2), nn.MaxPool2d(2), nn.MaxPool2d(2)), 8, (70, 70), (57, 8), 1.0),  # 70 = 8·8 + 6
    ],
)
def test_gradcam_and_sse_land_on_the_planted_spot(pool, cell, size, spot, value):
    model = PlantedSpot(pool).eval()
    image = torch.zeros(1, 1, *size)
    i, j = spot
    image[0, 0, i, j] = value  # pooled value 1 at the spot's cell, 0 elsewhere
    cam = layer_gradcam(model, image, AttributionTarget("class", 0), "block")
    feature = (size[0] // cell, size[1] // cell)
    by_hand = np.zeros(feature)
    by_hand[i // cell, j // cell] = 2.0 / (feature[0] * feature[1]) / (1.0 + math.exp(-5.0))  # 2·1·σ(5)/(h·w)
    np.testing.assert_allclose(cam.attribution, upsample_map(by_hand, size, stride=(cell, cell)), rtol=1e-5, atol=1e-9)
    record = capture_attention(model, image).record("block")
    sse = upsample_map(record.spatial_gate[0], size, stride=record.stride)
    assert cam.attribution.shape == sse.shape == size
    for peak in (np.unravel_index(np.argmax(cam.attribution), size), np.unravel_index(np.argmax(sse), size)):
        assert peak[0] // cell == i // cell and peak[1] // cell == j // cell
    # the evidence against class 1 is the same map with the sign flipped; Grad-CAM's ReLU removes it
    against = layer_gradcam(model, image, AttributionTarget("class", 1), "block", relu=False)
    np.testing.assert_allclose(against.attribution, -cam.attribution, rtol=1e-5, atol=1e-9)
    assert not layer_gradcam(model, image, AttributionTarget("class", 1), "block").attribution.any()


def test_occlusion_equals_the_mean_drop_over_covering_windows():
    model = Counted(PlantedSpot(nn.AvgPool2d(8)).eval())
    image = torch.zeros(1, 1, 64, 64)
    image[0, 0, 40, 16] = 64.0
    result, rows = _counting_rows(lambda: occlusion(model, image, AttributionTarget("class", 0), window=8, stride=4))
    starts = range(0, 64 - 8 + 1, 4)  # 0, 4, ..., 56: the window's 15 positions per axis
    assert result.settings["windows"] == len(starts) ** 2
    assert_evaluations_are_the_rows_the_model_ran(result, rows)
    assert sum(rows[1:]) == len(starts) ** 2 + 1  # each covered copy once, and the unoccluded image once
    # The class-0 logit is 2·σ(5)/64 with the spot and 0 without it (all else is 0 already), so a window drops the
    # logit by that much if it covers (40, 16) and by nothing otherwise. Each pixel gets the mean drop over the windows
    # covering it: per axis, the fraction of its covering windows that also cover the spot's row (column).
    drop = 2.0 / 64 / (1.0 + math.exp(-5.0))

    def shared(p: int, spot: int) -> float:
        covering = [s for s in starts if s <= p < s + 8]
        return sum(s <= spot < s + 8 for s in covering) / len(covering)

    expected = drop * np.outer([shared(i, 40) for i in range(64)], [shared(j, 16) for j in range(64)])
    np.testing.assert_allclose(result.attribution, expected, rtol=1e-5, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------------------
# Agreement scores against hand computation.

A = np.array([[1, 2, 2], [3, 3, 3], [0, 5, 4]], dtype=float)
B = np.array([[0.1, 0.1, 0.3], [0.2, 0.9, 0.4], [0.5, 0.5, 0.5]])


def test_average_ranks_share_ties():
    # A sorted: 0 | 1 | 2 2 (ranks 3, 4 -> 3.5) | 3 3 3 (ranks 5, 6, 7 -> 6) | 4 | 5
    np.testing.assert_array_equal(average_ranks(A), [2, 3.5, 3.5, 6, 6, 6, 1, 9, 8])
    # B sorted: 0.1 0.1 (1, 2 -> 1.5) | 0.2 | 0.3 | 0.4 | 0.5 0.5 0.5 (6, 7, 8 -> 7) | 0.9
    np.testing.assert_array_equal(average_ranks(B), [1.5, 1.5, 4, 3, 9, 5, 7, 7, 7])


def test_spearman_with_ties_by_hand():
    # both rank vectors have mean 5; deviations
    #   A: -3 -1.5 -1.5  1  1  1 -4  4  3      Σ d² = 57.5
    #   B: -3.5 -3.5 -1 -2  4  0  2  2  2      Σ d² = 57.5
    # Σ dA·dB = 10.5 + 5.25 + 1.5 - 2 + 4 + 0 - 8 + 8 + 6 = 25.25, so ρ = 25.25 / 57.5 = 101/230
    assert spearman(A, B) == pytest.approx(101 / 230, abs=1e-12)
    assert spearman(B, A) == pytest.approx(101 / 230, abs=1e-12)
    assert spearman(A, -A) == pytest.approx(-1.0) and spearman(A, 2 * A + 7) == pytest.approx(1.0)
    assert math.isnan(spearman(A, np.ones_like(A)))


def test_spearman_without_ties_equals_the_textbook_formula():
    rng = np.random.default_rng(0)
    a, b = rng.permutation(49).reshape(7, 7) * 0.3, rng.normal(size=(7, 7))
    n = a.size
    d = np.argsort(np.argsort(a.ravel())) - np.argsort(np.argsort(b.ravel()))  # rank differences
    assert spearman(a, b) == pytest.approx(1 - 6 * float((d**2).sum()) / (n * (n**2 - 1)), abs=1e-12)


def _scipy_stats():
    """scipy.stats, the reference for Spearman with ties; a clear failure (not a skip) when it is missing."""
    try:
        return importlib.import_module("scipy.stats")
    except ImportError as error:
        missing = error  # failed outside the handler, so the report is the message, not a chained traceback
    pytest.fail(
        "This test needs scipy, which the test requirements bring in (through nilearn and scikit-learn): install "
        f"them with `pip install -r requirements-test.txt` (the test command in the README does). {missing}",
        pytrace=False,
    )


def test_spearman_matches_scipy_with_many_ties():
    stats = _scipy_stats()
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 5, size=(16, 16)), rng.integers(0, 3, size=(16, 16)) * 0.5
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a.ravel(), b.ravel()).statistic, abs=1e-12)


def test_top_k_iou_by_hand_with_ties():
    a = np.array([[9, 1, 5], [5, 0, 2], [3, 7, 5]], dtype=float)
    b = np.array([[8, 0, 0], [6, 1, 1], [1, 1, 7]], dtype=float)
    # 30 % of 9 pixels: k = ceil(2.7) = 3. a's 3rd largest is 5, tied thrice: top set {9, 7, 5, 5, 5} = (0,0) (2,1)
    # (0,2) (1,0) (2,2). b's 3rd largest is 6: {(0,0), (2,2), (1,0)}. Intersection 3, union 5.
    assert top_k_iou(a, b, 30) == pytest.approx(3 / 5)
    # 20 %: k = ceil(1.8) = 2, no ties at the cut: a {(0,0), (2,1)}, b {(0,0), (2,2)} -> 1 / 3
    assert top_k_iou(a, b, 20) == pytest.approx(1 / 3)
    assert top_k_iou(a, b, 100) == 1.0 and top_k_iou(a, a, 10) == 1.0
    with pytest.raises(ValueError):
        top_k_iou(a, b, 0)


def _record(gate: np.ndarray, stride: float, name: str = "block") -> BlockRecord:
    info = BlockInfo(name, "sse", "test", channels=2, hidden=None, readable=True)
    h, w = gate.shape
    return BlockRecord(info, ran=True, spatial_gate=gate[None], feature_size=(h, w), stride=(stride, stride))


def test_agreement_table_compares_magnitude_at_the_attribution_resolution():
    gate = np.array([[0.9, 0.2], [0.4, 0.1]])
    evidence = -3.0 * upsample_map(gate, (4, 4), stride=(2, 2))  # strong evidence *against*, where attention is high
    no_spatial = BlockRecord(BlockInfo("c", "cse", "test", 2, 1, True), ran=True, channel_gate=np.ones((1, 2)))
    rows = agreement_table([_record(gate, 2.0), no_spatial], evidence, percent=25)
    assert [(r.block, r.stride) for r in rows] == [("block", (2.0, 2.0))]
    assert rows[0].spearman == pytest.approx(1.0) and rows[0].iou == 1.0
    signed = agreement_table([_record(gate, 2.0)], evidence, percent=25, magnitude=False)[0]
    assert signed.spearman == pytest.approx(-1.0) and signed.iou == 0.0
    with pytest.raises(AttributionError, match="same input"):
        agreement_table([_record(gate, 2.0)], np.zeros((6, 6)))


# ---------------------------------------------------------------------------------------------------------------------
# Typed errors and side effects.


def test_bad_targets_blocks_and_settings_raise_typed_errors(fashion, boot):
    unet = zoo.load_model("brain", "scse")
    black = torch.zeros(1, 1, 32, 32)
    with torch.no_grad():
        assert not (unet(black).argmax(dim=1) == 3).any()  # white matter is predicted nowhere on a black square
    cases = [
        (lambda: integrated_gradients(fashion, boot, AttributionTarget("class", 10)), "classes 0 to 9"),
        (lambda: integrated_gradients(fashion, boot, AttributionTarget("class_region", 1)), "N×K×H×W"),
        (lambda: integrated_gradients(unet, black, AttributionTarget("class", 1)), "N×K class scores"),
        (lambda: integrated_gradients(unet, black, AttributionTarget("class_region", 3)), "no pixel"),
        (lambda: layer_gradcam(fashion, boot, AttributionTarget("class", 1), "stages.0"), "stages.0.attention"),
        (
            lambda: layer_gradcam(zoo.load_model("fashion", "none"), boot, AttributionTarget("class", 1), "stem"),
            "no attention blocks",
        ),
        (lambda: integrated_gradients(fashion, boot.repeat(2, 1, 1, 1), AttributionTarget("class", 1)), "one image"),
        (lambda: integrated_gradients(fashion, boot, AttributionTarget("class", 1), n_steps=0), "n_steps"),
        (lambda: occlusion(fashion, boot, AttributionTarget("class", 1), window=5, stride=2), "divisible"),
    ]
    for run, message in cases:
        with pytest.raises(AttributionError, match=message) as caught:
            run()
        assert isinstance(caught.value, ScseVizError)


def _hooks(model: nn.Module) -> list[int]:
    return [len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()]


def test_attributions_leave_the_shared_model_as_it_was(fashion, boot):
    before = capture_attention(fashion, boot)
    hooks, flags = _hooks(fashion), [p.requires_grad for p in fashion.parameters()]
    x = boot.clone()
    target = AttributionTarget("class", 9)
    integrated_gradients(fashion, x, target, n_steps=4)
    layer_gradcam(fashion, x, target, "stages.2.attention")
    occlusion(fashion, x, target, window=14, stride=7)
    assert _hooks(fashion) == hooks and all(n == 0 for n in hooks)
    assert (
        all(p.grad is None for p in fashion.parameters()) and [p.requires_grad for p in fashion.parameters()] == flags
    )
    assert not fashion.training and torch.equal(x, boot) and not x.requires_grad and x.grad is None
    after = capture_attention(fashion, boot)
    assert torch.equal(after.output, before.output)
    for old, new in zip(before.records, after.records):
        assert np.array_equal(old.spatial_gate, new.spatial_gate) and np.array_equal(old.channel_gate, new.channel_gate)


def test_concurrent_gradcam_and_capture_on_one_shared_model(fashion, boot):
    blocks = ["stages.1.attention", "stages.3.attention", "stages.5.attention"]
    target = AttributionTarget("class", 9)
    alone = {b: layer_gradcam(fashion, boot, target, b).attribution for b in blocks}
    reference = capture_attention(fashion, boot).output

    def gradcam(block: str) -> bool:
        return np.allclose(layer_gradcam(fashion, boot, target, block).attribution, alone[block], atol=1e-6)

    def capture(_: int) -> bool:
        return torch.equal(capture_attention(fashion, boot).output, reference)

    with ThreadPoolExecutor(max_workers=6) as pool:
        jobs = [pool.submit(gradcam, blocks[k % 3]) for k in range(9)] + [pool.submit(capture, k) for k in range(9)]
        assert all(job.result() for job in jobs)
