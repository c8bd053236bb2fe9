"""Train one Fashion-MNIST residual classifier (one variant, one seed) and write its weights and a JSON record.

Reproducible by construction: seeds for Python, numpy and torch, deterministic algorithms, a seeded generator for
the shuffling DataLoader (its workers inherit seeds from it), and augmentation drawn from torch's RNG only. The test
accuracy stored at the end is measured by :func:`scse_viz.evaluate.measure_fashion_test`, the same function the
evaluation command runs, so the card's numbers can be re-measured exactly.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz.data.fashion import CLASS_NAMES, load_fashion
from scse_viz.evaluate import accuracy_report, measure_fashion_test, predict
from scse_viz.preprocess import FASHION_MEAN, FASHION_STD, preprocess_fashion_images
from scse_viz.train.common import (
    TrainResult,
    attention_parameters,
    count_parameters,
    environment,
    make_optimizer,
    one_cycle,
    resolve_device,
    save_weights,
    seed_everything,
    sha256_of,
)
from scse_viz.train.config import FashionConfig

from torchvision.transforms import v2  # noqa: E402  (after the shim above)


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
def _validation_accuracy(model: nn.Module, pixels: np.ndarray, labels: np.ndarray, config: FashionConfig,
                         device: torch.device) -> float:  # fmt: skip
    predictions = predict(model, pixels, config.eval_batch_size, device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    return accuracy_report(predictions, labels, len(CLASS_NAMES))["accuracy"]


def train_fashion(config: FashionConfig, out_dir: str | Path, root: str | Path | None = None) -> TrainResult:
    """Train ``config.variant`` with ``config.seed``; write ``<variant>-seed<k>.safetensors`` and ``.json`` to ``out_dir``.

    ``root`` is the folder with the IDX files (default: Debian's ``/usr/share/datasets/fashion-mnist``).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    seed_everything(config.seed)

    train_images, train_labels = load_fashion("train", root=root)
    if config.max_train_items is not None:
        train_images, train_labels = train_images[: config.max_train_items], train_labels[: config.max_train_items]
    val_images, val_labels = load_fashion("val", root=root)
    val_pixels = preprocess_fashion_images(val_images)
    dataset = AugmentedImages(
        quantise(preprocess_fashion_images(train_images)), torch.from_numpy(train_labels), augmentation(config)
    )
    workers = config.workers(device.type)
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(dataset) >= 2 * config.batch_size,  # full batches for BatchNorm, unless the set is tiny
        generator=torch.Generator().manual_seed(config.seed),
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )

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
        bar = tqdm(loader, desc=f"{config.run_name} epoch {epoch + 1}/{config.epochs}", disable=not config.progress,
                   leave=False)  # fmt: skip
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
    weights_path = out_dir / f"{config.run_name}.safetensors"
    save_weights(model, weights_path, {"family": config.family, "variant": config.variant, "seed": str(config.seed)})
    record = {
        "family": config.family,
        "variant": config.variant,
        "seed": config.seed,
        "config": config.to_dict(),
        "test_accuracy": report["accuracy"],
        "per_class_accuracy": report["per_class_accuracy"],
        "test_count": report["count"],
        "val_accuracy": history[-1]["val_accuracy"],
        "train_items": len(dataset),
        "train_time_s": train_time,
        "history": history,
        "step_losses": [round(v, 5) for v in step_losses],
        "parameters": count_parameters(model),
        "attention_parameters": attention_parameters(model),
        "normalisation": {"mean": FASHION_MEAN, "std": FASHION_STD},
        **environment(device),
        "weights_file": weights_path.name,
        "sha256": sha256_of(weights_path),
    }
    record_path = out_dir / f"{config.run_name}.json"
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return TrainResult(weights_path=weights_path, record_path=record_path, record=record)
