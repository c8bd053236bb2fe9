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
        "count": len(labels),
        "per_class_count": counts,
    }


# ------------------------------------------------------------------------------------------------------ restoration


def psnr(estimate: np.ndarray, clean: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, 10·log10(range² / MSE), over every pixel and colour (inf when equal)."""
    estimate, clean = np.asarray(estimate, dtype=np.float64), np.asarray(clean, dtype=np.float64)
    if estimate.shape != clean.shape:
        raise ValueError(f"shapes differ: {estimate.shape} and {clean.shape}")
    mse = float(np.mean((estimate - clean) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def _gaussian_filter(image: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """Separable Gaussian window (11 taps for σ = 1.5, as Wang et al. 2004), valid part only (no padding)."""
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    rows = np.apply_along_axis(lambda r: np.convolve(r, taps, mode="valid"), 0, image)
    return np.apply_along_axis(lambda c: np.convolve(c, taps, mode="valid"), 1, rows)


def ssim(estimate: np.ndarray, clean: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity (Wang, Bovik, Sheikh and Simoncelli, 2004): Gaussian window σ = 1.5, K1 = 0.01,
    K2 = 0.03, population covariances, averaged over the pixels whose window lies inside the image and over the
    colour channels (the definition scikit-image uses with ``gaussian_weights=True``)."""
    estimate, clean = np.asarray(estimate, dtype=np.float64), np.asarray(clean, dtype=np.float64)
    if estimate.shape != clean.shape:
        raise ValueError(f"shapes differ: {estimate.shape} and {clean.shape}")
    if estimate.ndim == 2:
        estimate, clean = estimate[..., None], clean[..., None]
    if min(estimate.shape[:2]) < 11:
        raise ValueError("SSIM needs images of at least 11×11 pixels (its window)")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for c in range(estimate.shape[2]):
        x, y = estimate[..., c], clean[..., c]
        mx, my = _gaussian_filter(x), _gaussian_filter(y)
        vx = _gaussian_filter(x * x) - mx * mx
        vy = _gaussian_filter(y * y) - my * my
        cov = _gaussian_filter(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        values.append(s.mean())
    return float(np.mean(values))


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n of the flattened values, ties sharing their average rank (one sort)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first index of each run of equal values
    ends = np.r_[starts[1:], flat.size]
    average = (starts + ends + 1) / 2.0  # mean of the ranks starts+1 … ends
    ranked = np.empty(flat.size, dtype=np.float64)
    ranked[order] = np.repeat(average, ends - starts)
    return ranked


def spearman(a: np.ndarray, b: np.ndarray, b_ranks: np.ndarray | None = None) -> float:
    """Spearman's rank correlation of two equally sized arrays (Pearson's r of their average ranks); NaN when
    either is constant (no order to correlate). ``b_ranks``: ``ranks(b)`` computed once for many ``a``."""
    ra, rb = ranks(a), ranks(b) if b_ranks is None else b_ranks
    if ra.size != rb.size:
        raise ValueError(f"sizes differ: {ra.size} and {rb.size}")
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float("nan") if denominator == 0 else float((ra * rb).sum() / denominator)
