"""Train one Fashion-MNIST residual classifier (one variant, one seed) and write its weights and a JSON record.

Reproducible by construction: seeds for Python, numpy and torch, deterministic algorithms, a seeded generator for
the shuffling DataLoader (its workers inherit seeds from it), and augmentation drawn from torch's RNG only. The test
accuracy stored at the end is measured by :func:`scse_viz.evaluate.measure_fashion_test`, the same function the
evaluation command runs, so the card's numbers can be re-measured exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision.transforms import v2
from tqdm import tqdm

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz.datasets.fashion import CLASS_NAMES, load_fashion
from scse_viz.evaluate import accuracy_report, measure_fashion_test, predict
from scse_viz.family import Family
from scse_viz.preprocess import FASHION_MEAN, FASHION_STD, fashion_tensor, preprocess_fashion_images
from scse_viz.train.common import TrainResult, make_optimizer, one_cycle, shuffled_loader, start_run, write_run
from scse_viz.train.config import FashionConfig
from scse_viz.train.parts import FamilyTraining


def quantise(pixels: np.ndarray) -> torch.Tensor:
    """Preprocessed float pixels -> uint8 N×1×28×28, the form the v2 augmentations work on (and 4× less memory)."""
    return torch.from_numpy(np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)).unsqueeze(1)


def augmentation(config: FashionConfig) -> v2.Compose:
    """Random shifts (pad-and-crop) and horizontal flips, plus small rotations/scalings when the config asks for them.

    Works on uint8 1×28×28 tensors. An identity RandomAffine is left out rather than run: it costs three times as
    much as the rest of the pipeline.
    """
    steps: list = [v2.RandomCrop(28, padding=config.crop_padding, fill=0), v2.RandomHorizontalFlip(p=config.hflip)]
    if config.affine_degrees > 0 or config.affine_scale != (1.0, 1.0):
        steps.append(v2.RandomAffine(degrees=config.affine_degrees, scale=config.affine_scale, fill=0))
    return v2.Compose(steps)


class AugmentedImages(Dataset):
    """uint8 images with labels; each item is freshly augmented (drawn from torch's RNG, so the seed decides it)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: v2.Compose) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(self.images[index]), self.labels[index]


def normalise_batch(batch: torch.Tensor) -> torch.Tensor:
    """uint8 batch -> float, scaled to [0, 1] and normalised like :func:`scse_viz.preprocess.fashion_tensor`."""
    return (batch.float() / 255.0 - FASHION_MEAN) / FASHION_STD


@torch.no_grad()
def _validation_accuracy(
    model: nn.Module, pixels: np.ndarray, labels: np.ndarray, config: FashionConfig, device: torch.device
) -> float:
    predictions = predict(model, pixels, config.eval_batch_size, device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    return accuracy_report(predictions, labels, len(CLASS_NAMES))["accuracy"]


def train_fashion(config: FashionConfig, out_dir: str | Path, root: str | Path | None = None) -> TrainResult:
    """Train ``config.variant`` with ``config.seed``; write ``<variant>-seed<k>.safetensors`` and ``.json`` to ``out_dir``.

    ``root`` is the folder with the IDX files (default: Debian's ``/usr/share/datasets/fashion-mnist``).
    """
    started = time.perf_counter()
    out_dir, device = start_run(config, out_dir)

    train_images, train_labels = load_fashion("train", root=root)
    if config.max_train_items is not None:
        train_images, train_labels = train_images[: config.max_train_items], train_labels[: config.max_train_items]
    val_images, val_labels = load_fashion("val", root=root)
    val_pixels = preprocess_fashion_images(val_images)
    dataset = AugmentedImages(
        quantise(preprocess_fashion_images(train_images)), torch.from_numpy(train_labels), augmentation(config)
    )
    loader = shuffled_loader(dataset, config, device)

    model = config.build_model().to(device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    optimizer = make_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.momentum)
    scheduler = one_cycle(optimizer, config.lr, config.epochs * len(loader), config.warmup_fraction)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)

    history: list[dict[str, Any]] = []
    step_losses: list[float] = []
    for epoch in range(config.epochs):
        model.train()
        epoch_start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(
            loader,
            desc=f"{config.run_name} epoch {epoch + 1}/{config.epochs}",
            disable=not config.progress,
            leave=False,
        )
        for images, labels in bar:
            inputs = normalise_batch(images.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
            labels = labels.to(device, non_blocking=True)
            logits = model(inputs)
            loss = criterion(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_value = loss.item()
            step_losses.append(loss_value)
            loss_sum += loss_value * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}")
        entry = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "val_accuracy": _validation_accuracy(model, val_pixels, val_labels, config, device),
            "seconds": time.perf_counter() - epoch_start,
        }
        history.append(entry)
        if config.progress:
            tqdm.write(
                f"{config.run_name} epoch {epoch + 1}: loss {entry['train_loss']:.4f}  train acc "
                f"{entry['train_accuracy']:.4f}  val acc {entry['val_accuracy']:.4f}  ({entry['seconds']:.0f} s)"
            )
    train_time = time.perf_counter() - started

    report = measure_fashion_test(model, root=root, device=device, batch_size=config.eval_batch_size)
    return write_run(
        model,
        config,
        out_dir,
        device,
        {
            "test_accuracy": report["accuracy"],
            "per_class_accuracy": report["per_class_accuracy"],
            "test_count": report["count"],
            "val_accuracy": history[-1]["val_accuracy"],
            "train_items": len(dataset),
            "train_time_s": train_time,
            "history": history,
            "step_losses": [round(v, 5) for v in step_losses],
            "normalisation": {"mean": FASHION_MEAN, "std": FASHION_STD},
        },
    )


# ------------------------------------------------------------------------------------------------------ the family's parts


def measure_test(model: nn.Module, device: torch.device | None = None, data_root: Path | None = None) -> dict[str, Any]:
    """Accuracy and per-class accuracy on the 10,000 official test images; accuracy is the headline."""
    report = measure_fashion_test(model, root=data_root, device=device)
    return {**report, "metric": report["accuracy"], "per_class": dict(zip(CLASS_NAMES, report["per_class_accuracy"]))}


def write_excitation(spec: Family, data_root: Path | None) -> list[Path]:
    """Per-class channel-gate statistics of the shipped attention classifiers over the whole test set."""
    from scse_viz import zoo
    from scse_viz.evaluate import fashion_test_pixels
    from scse_viz.excitation import excitation_statistics, save_statistics

    pixels, labels = fashion_test_pixels(data_root)
    inputs = fashion_tensor(pixels)
    stats = {
        v: excitation_statistics(zoo.load_model(spec.name, v), inputs, labels, len(spec.class_names))
        for v in spec.variants
        if v in ("cse", "scse")
    }
    return [save_statistics(spec.folder / "excitation.npz", stats, spec.class_names)]


def _write_samples(out: Path, data_root: Path | None, card_assets: Path | None) -> Path:
    from scse_viz.train.samples.fashion import write_fashion

    return write_fashion(out, data_root, card_assets)


NOVELTY_SOURCES = {"fit": "train", "calibrate": "val", "test": "test"}  # novelty split -> Fashion-MNIST split


def novelty_inputs(split: str, count: int, data_root: Path | None = None) -> list[torch.Tensor]:
    """``count`` images of the split (training images to fit, the held-out validation images to calibrate, the
    official test images to measure), drawn with a seed per split and prepared as the app prepares an upload."""
    images, _ = load_fashion(NOVELTY_SOURCES[split], root=data_root)
    rng = np.random.default_rng([2027, list(NOVELTY_SOURCES).index(split)])
    chosen = np.sort(rng.choice(len(images), size=min(count, len(images)), replace=False))
    pixels = preprocess_fashion_images(images[chosen])
    return [fashion_tensor(pixels)]


PARTS = FamilyTraining(
    config=FashionConfig,
    train=train_fashion,
    measure_test=measure_test,
    metric_name="test accuracy",
    record_metric="test_accuracy",
    # One test image is 1e-4 of the accuracy; the same weights re-measured on a CPU agree to about that (a
    # borderline image may flip), while the shipped variants lie as close as 0.0005 to each other.
    tolerance=3e-4,
    write_samples=_write_samples,
    extra_assets=write_excitation,
    novelty_inputs=novelty_inputs,
)
