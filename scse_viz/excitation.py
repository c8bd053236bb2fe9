"""Per-class excitation statistics: how each block's channel gate w behaves, class by class, over a labelled set.

SE-Net (Hu et al., Fig. 6) showed that early blocks excite channels alike for every class while late blocks become
class-specific. :func:`excitation_statistics` measures that for any model and labelled images through
:func:`scse_viz.capture_attention` (the values shown are the gates the model computed), and :func:`save_statistics` /
:func:`load_statistics` keep them compactly in one ``.npz`` per family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scse_viz.capture import capture_attention


@dataclass(frozen=True)
class ClassExcitation:
    """One block's channel gate per class: ``mean`` and ``std`` are K×C (population std), ``count`` K images."""

    block: str
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray


def excitation_statistics(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: Sequence[int] | np.ndarray,
    num_classes: int,
    batch_size: int = 500,
) -> list[ClassExcitation]:
    """Mean and spread of every readable block's channel gate per class over ``inputs`` (N×C×H×W, preprocessed).

    Sums are kept in float64, so the result does not depend on the batch size beyond float32 rounding of the gates
    themselves. Classes without images get NaN rows. Blocks without a channel gate (sSE) are skipped.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    sums: dict[str, np.ndarray] = {}
    squares: dict[str, np.ndarray] = {}
    order: list[str] = []
    counts = np.bincount(labels, minlength=num_classes).astype(np.int64)
    one_hot = np.eye(num_classes)[labels]  # N×K
    for start in range(0, len(inputs), batch_size):
        result = capture_attention(model, inputs[start : start + batch_size])
        members = one_hot[start : start + batch_size]
        for record in result.shown():
            if record.channel_gate is None:
                continue
            gate = record.channel_gate.astype(np.float64)  # n×C
            if record.label not in sums:
                order.append(record.label)
                sums[record.label] = np.zeros((num_classes, gate.shape[1]))
                squares[record.label] = np.zeros((num_classes, gate.shape[1]))
            sums[record.label] += members.T @ gate
            squares[record.label] += members.T @ (gate * gate)
    stats = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for block in order:
            mean = sums[block] / counts[:, None]
            variance = np.maximum(squares[block] / counts[:, None] - mean * mean, 0.0)
            stats.append(ClassExcitation(block, mean.astype(np.float32), np.sqrt(variance).astype(np.float32), counts))
    return stats


def save_statistics(path: str | Path, by_variant: dict[str, list[ClassExcitation]], class_names: Sequence[str]) -> Path:
    """One compressed ``.npz``: ``<variant>/<block>/{mean,std}`` float32 K×C plus ``count`` and ``class_names``."""
    arrays: dict[str, np.ndarray] = {"class_names": np.asarray(class_names)}
    for variant, stats in by_variant.items():
        arrays[f"{variant}/blocks"] = np.asarray([s.block for s in stats])
        for s in stats:
            arrays[f"{variant}/{s.block}/mean"] = s.mean
            arrays[f"{variant}/{s.block}/std"] = s.std
            arrays["count"] = s.count
    path = Path(path)
    np.savez_compressed(path, **arrays)
    return path


def load_statistics(path: str | Path) -> tuple[dict[str, list[ClassExcitation]], tuple[str, ...]]:
    """Inverse of :func:`save_statistics`: per variant the blocks in network order, and the class names."""
    with np.load(path, allow_pickle=False) as data:
        class_names = tuple(str(n) for n in data["class_names"])
        count = data["count"]
        variants = sorted({key.split("/")[0] for key in data.files if key.endswith("/blocks")})
        by_variant = {
            v: [
                ClassExcitation(str(b), data[f"{v}/{b}/mean"], data[f"{v}/{b}/std"], count) for b in data[f"{v}/blocks"]
            ]
            for v in variants
        }
    return by_variant, class_names
