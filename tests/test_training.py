"""Tiny real training runs of both families on the CPU: the loss on one fixed, un-augmented batch drops from the
untrained model to the trained one, and each run writes a safetensors file whose SHA-256 is the one its record gives.

The fixed batch is evaluated in training mode (BatchNorm on batch statistics) with the training objective, before
and after, so neither augmentation noise nor half-updated running statistics can make the comparison flaky.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from torch import nn

from scse_viz.datasets.brain import load_brain_slices
from scse_viz.datasets.idx import write_idx
from scse_viz.preprocess import fashion_tensor, preprocess_fashion_images
from scse_viz.train.brain import head_weighted_cross_entropy, model_inputs, soft_dice_loss, train_brain
from scse_viz.train.common import seed_everything
from scse_viz.train.config import BrainConfig, FashionConfig
from scse_viz.train.fashion import train_fashion
from scse_viz.zoo import load_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def restore_torch_settings():
    """Training seeds every RNG, turns on deterministic algorithms and sets the thread count for the whole process;
    put them back so later tests run as they would alone."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_num_threads(threads)
    torch.set_rng_state(rng)


@torch.no_grad()
def batch_loss(model: nn.Module, loss_of) -> float:
    return float(loss_of(model.train()))


def untrained(config) -> nn.Module:
    """The model a run starts from: the recipe's network built right after seeding, as the runs do."""
    seed_everything(config.seed)
    return config.build_model()


def check_record(result, config) -> nn.Module:
    """The weights file's hash is the record's (on disk too); returns the model loaded from the file."""
    digest = hashlib.sha256(result.weights_path.read_bytes()).hexdigest()
    assert result.record["sha256"] == digest
    assert json.loads(result.record_path.read_text())["sha256"] == digest
    model = load_checkpoint(config.build_model(), result.weights_path)
    assert result.record["parameters"] == sum(p.numel() for p in model.parameters())
    return model


def test_tiny_brain_run_lowers_the_loss_and_records_its_weights(tmp_path) -> None:
    # A small U-Net trained at 64 px (evaluation still runs at 160); no elastic warping, which costs most per step.
    config = BrainConfig(
        variant="scse",
        seed=3,
        epochs=8,
        batch_size=4,
        max_train_items=8,
        base_channels=8,
        depth=2,
        size=64,
        lr=0.01,
        warmup_fraction=0.3,
        elastic_probability=0.0,
        device="cpu",
        progress=False,
        val_every=100,
        init_from=None,
        real_head_share=0.0,
        synthetic_share=0.0,  # only the template's own slices: the run minimises the loss measured below
    )
    # (the real head's own tiny run: tests/test_realhead.py) The same eight slices the run takes (every k-th training
    # slice), without augmentation.
    slices = load_brain_slices("train")
    chosen = slices[:: len(slices) // 8][:8]
    images, labels = model_inputs(chosen, config.size)

    # which samples take the head weight, chosen as the run chooses: the template's own slices have no drawn head
    weighted = None if config.head_weight_on_template else torch.zeros(len(images), dtype=torch.bool)

    def loss_of(model):  # the loss the run minimises on these slices: (head-weighted) cross-entropy and soft Dice
        logits = model(images)
        cross_entropy = head_weighted_cross_entropy(
            logits, labels, images, config.head_weight, config.head_threshold, config.head_margin, weighted
        )
        return cross_entropy + config.dice_weight * soft_dice_loss(logits, labels)

    before = batch_loss(untrained(config), loss_of)
    result = train_brain(config, tmp_path)
    after = batch_loss(check_record(result, config), loss_of)
    assert len(result.record["step_losses"]) == 8 * 2  # 8 slices in batches of 4, eight epochs
    assert result.record["train_items"] == 8
    assert after < 0.8 * before, (before, after)


def test_head_weighted_cross_entropy_weighs_bright_background_pixels_only() -> None:
    # Four pixels written out by hand: (label, input) = (0, dark air), (0, bright head), (2, bright brain), (0, bright
    # head); logits that make every pixel's loss known: -log softmax of the labelled class.
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    logits = logits.T.reshape(1, 4, 2, 2)
    labels = torch.tensor([0, 0, 2, 0]).reshape(1, 2, 2)
    inputs = torch.tensor([0.05, 0.6, 0.8, 0.11]).reshape(1, 1, 2, 2)
    losses = [
        -np.log(np.exp(row[k]) / np.exp(row).sum()) for row, k in zip(logits.reshape(4, 4).T.numpy(), [0, 0, 2, 0])
    ]
    plain = float(np.mean(losses))
    weighted = float(np.mean([losses[0], 3 * losses[1], losses[2], 3 * losses[3]]))
    assert float(head_weighted_cross_entropy(logits, labels, inputs, 1.0, 0.1)) == pytest.approx(plain, rel=1e-6)
    assert float(head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1)) == pytest.approx(weighted, rel=1e-6)
    # a threshold above every input: nothing is head, so the weighted loss is the plain one
    assert float(head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.9)) == pytest.approx(plain, rel=1e-6)


def test_dark_background_next_to_the_brain_weighs_as_head_within_the_margin_only() -> None:
    # One row of seven pixels: brain (label 1) at column 0, background after it, every input dark (0.02, below the
    # threshold, like a T1 scan's skull). Logits equal for every class, so each pixel's loss is log 4.
    labels = torch.tensor([[1, 0, 0, 0, 0, 0, 0]]).reshape(1, 1, 7)
    logits = torch.zeros(1, 4, 1, 7)
    inputs = torch.full((1, 1, 1, 7), 0.02)
    per_pixel = float(np.log(4.0))
    no_margin = head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1, margin=0)
    assert float(no_margin) == pytest.approx(per_pixel, rel=1e-6)  # dark: nothing is head without the margin
    # margin 2: columns 1 and 2 (one and two pixels from the brain) weigh 3, columns 3 to 6 and the brain weigh 1
    with_margin = head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1, margin=2)
    assert float(with_margin) == pytest.approx(per_pixel * (5 * 1 + 2 * 3) / 7, rel=1e-6)
    # the brain pixel itself never weighs as head, however near it is to itself
    brain_only = head_weighted_cross_entropy(logits, torch.ones(1, 1, 7, dtype=torch.long), inputs, 3.0, 0.1, 2)
    assert float(brain_only) == pytest.approx(per_pixel, rel=1e-6)


def test_samples_without_a_drawn_head_weigh_every_pixel_alike() -> None:
    # Two samples of one row of seven pixels, as in the margin test: brain at column 0, dark background after it, equal
    # logits (each pixel's loss log 4). Margin 2 makes columns 1 and 2 head in both; only the first sample has a head
    # drawn (weighted True), so the second (a skull-stripped template slice) weighs all seven pixels 1.
    labels = torch.tensor([[1, 0, 0, 0, 0, 0, 0]]).reshape(1, 1, 7).repeat(2, 1, 1)
    logits = torch.zeros(2, 4, 1, 7)
    inputs = torch.full((2, 1, 1, 7), 0.02)
    per_pixel = float(np.log(4.0))
    both = head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1, 2, torch.tensor([True, True]))
    assert float(both) == pytest.approx(per_pixel * (5 + 2 * 3) / 7, rel=1e-6)
    first = head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1, 2, torch.tensor([True, False]))
    assert float(first) == pytest.approx(per_pixel * ((5 + 2 * 3) + 7) / 14, rel=1e-6)
    none = head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1, 2, torch.tensor([False, False]))
    assert float(none) == pytest.approx(per_pixel, rel=1e-6)


def test_the_margin_is_a_square_around_the_brain_and_stops_at_the_pictures_edge() -> None:
    # A 6×6 picture, dark everywhere, brain only at the top-left corner pixel; margin 1: the three pixels touching it
    # (right, below, diagonal) weigh 3, the other 32 background pixels and the brain pixel weigh 1.
    labels = torch.zeros(1, 6, 6, dtype=torch.long)
    labels[0, 0, 0] = 2
    logits = torch.zeros(1, 4, 6, 6)
    inputs = torch.full((1, 1, 6, 6), 0.02)
    expected = float(np.log(4.0)) * (33 * 1 + 3 * 3) / 36
    assert float(head_weighted_cross_entropy(logits, labels, inputs, 3.0, 0.1, margin=1)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="head_margin"):
        BrainConfig(head_margin=-1)


def test_a_brain_record_from_before_the_head_weight_reads_as_the_recipe_it_was_trained_with() -> None:
    today = BrainConfig(variant="sse").to_dict()
    new_fields = ("head_weight", "channels_last", "head_margin", "autocast_bf16", "head_weight_on_template")
    # the shipped recipe's defaults (head weight 4 since 2026-12-07; the template's own slices unweighted since its
    # evening)
    assert tuple(today[k] for k in new_fields) == (4.0, True, 3, True, False)
    older = {k: v for k, v in today.items() if k not in new_fields}
    rebuilt = BrainConfig.from_dict(older)
    assert tuple(getattr(rebuilt, k) for k in new_fields) == (1.0, False, 0, False, True)  # what runs before had
    assert BrainConfig.from_dict(today).to_dict() == today  # a record that has them keeps them


def synthetic_garments(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST-shaped stand-ins (uint8 N×28×28, light on black) of three easy classes, with noise: 0 horizontal
    stripes, 1 vertical stripes, 2 a plain block (shapes that survive the run's flips and shifts)."""
    labels = np.arange(count) % 3
    images = np.zeros((count, 28, 28), dtype=np.float64)
    images[labels == 0, 4:24:4, 4:24] = 0.9
    images[labels == 1, 4:24, 4:24:4] = 0.9
    images[labels == 2, 6:22, 6:22] = 0.9
    images += rng.normal(0.0, 0.05, images.shape)
    return np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8), labels.astype(np.uint8)


def test_tiny_fashion_run_lowers_the_loss_and_records_its_weights(tmp_path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    sets = {"train": synthetic_garments(40, rng), "t10k": synthetic_garments(20, rng)}
    for prefix, (images, labels) in sets.items():
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", labels)
    # NCHW: oneDNN 3.x's AVX2 kernel for the backward weights of a strided 1x1 convolution with 4 input channels
    # in NHWC segfaults (one thread) or spins forever (two) on this AMD EPYC; the shipped widths never hit it.
    config = FashionConfig(
        variant="scse",
        seed=1,
        epochs=4,
        batch_size=8,
        widths=(4, 8),
        blocks_per_stage=1,
        device="cpu",
        progress=False,
        eval_batch_size=64,
        channels_last=False,
    )
    train_images, train_labels = sets["train"]
    # A tiny set keeps a fifth for validation: the run trains on the first 32 images, the ones used here.
    inputs = fashion_tensor(preprocess_fashion_images(train_images[:32]))
    targets = torch.from_numpy(train_labels[:32].astype(np.int64))
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    def loss_of(model):
        return criterion(model(inputs), targets)

    before = batch_loss(untrained(config), loss_of)
    result = train_fashion(config, tmp_path / "runs", root=data)
    after = batch_loss(check_record(result, config), loss_of)
    assert result.record["train_items"] == 32 and result.record["test_count"] == 20
    assert len(result.record["step_losses"]) == 4 * 4  # 32 images in batches of 8, four epochs
    assert after < 0.5 * before, (before, after)
