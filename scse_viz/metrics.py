"""The numbers models are judged by, pooled the way the cards pool them: Dice per class, accuracy per class.

Training, evaluation, the cards and the app's "against the ground truth" tables all call these, so a number in the
app and the same number on a card come from one formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def dice_counts(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class: [overlap, predicted pixels, true pixels] (num_classes×3 int64), to be summed over slices."""
    counts = np.zeros((num_classes, 3), dtype=np.int64)
    for k in range(num_classes):
        p, t = predicted == k, labels == k
        counts[k] = (np.count_nonzero(p & t), np.count_nonzero(p), np.count_nonzero(t))
    return counts


def dice_report(counts: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Dice per class from pooled counts (2·overlap / (predicted + true); NaN for a class absent from both) and
    their mean over the foreground classes (every class but the first, background)."""
    overlap, predicted, true = counts[:, 0], counts[:, 1], counts[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(predicted + true > 0, 2.0 * overlap / (predicted + true), np.nan)
    return {
        "dice": {name: float(d) for name, d in zip(class_names, dice)},
        "mean_dice": float(np.nanmean(dice[1:])),
    }


def accuracy_report(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Overall and per-class accuracy (None for a class with no items), with the counts behind them."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    correct = predictions == labels
    per_class, counts = [], []
    for k in range(num_classes):
        members = labels == k
        counts.append(int(members.sum()))
        per_class.append(float(correct[members].mean()) if members.any() else None)
    return {
        "accuracy": float(correct.mean()) if len(labels) else float("nan"),
        "per_class_accuracy": per_class,
        "count": int(len(labels)),
        "per_class_count": counts,
    }
