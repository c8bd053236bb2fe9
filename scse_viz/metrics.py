"""The numbers models are judged by, pooled the way the cards pool them: Dice per class, accuracy per class.

Training, evaluation, the cards and the app's "against the ground truth" tables all call these, so a number in the
app and the same number on a card come from one formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scse_viz.parallel import parallel_map


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


def ssim(estimate: np.ndarray, clean: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity (Wang, Bovik, Sheikh and Simoncelli, 2004) with the paper's parameters, which
    scikit-image documents as the way to match it and which differ from its defaults (a 7×7 uniform window and sample
    covariances): a Gaussian window with σ = 1.5 (11 taps), K1 = 0.01, K2 = 0.03, population covariances,
    ``data_range`` given; averaged over the pixels whose window lies inside the image and over the colour channels.
    Many pictures against one clean picture: :class:`SsimReference`."""
    return SsimReference(clean, data_range)(estimate)


class SsimReference:
    """SSIM (as :func:`ssim`) of any number of pictures against one clean picture.

    Of the five Gaussian-filtered images SSIM needs, two belong to the clean picture alone (its local mean and local
    second moment); computed once here, they serve every picture scored against it. The restoration view scores the
    noisy input and four outputs against one clean photo: 17 filterings of a 512×512×3 image instead of 25, which
    was most of the photo family's first result beyond its forward passes (``python -m benchmarks.photo_latency``).
    The arithmetic is scikit-image's ``structural_similarity`` with ``gaussian_weights`` (scipy's Gaussian filter,
    truncate 3.5, reflect), written out so that part can be kept; the tests hold it to scikit-image at 1e-9."""

    SIGMA, TRUNCATE, K1, K2 = 1.5, 3.5, 0.01, 0.03
    WINDOW = 11  # 2 · int(TRUNCATE · SIGMA + 0.5) + 1 taps: the strip the filter reaches past is left out

    def __init__(self, clean: np.ndarray, data_range: float = 1.0) -> None:
        self.clean = np.asarray(clean, dtype=np.float64)
        if self.clean.ndim not in (2, 3):
            raise ValueError(f"SSIM compares H×W or H×W×C pictures, not shape {self.clean.shape}")
        if min(self.clean.shape[:2]) < self.WINDOW:
            raise ValueError("SSIM needs images of at least 11×11 pixels (its window)")
        self.data_range = float(data_range)
        mean, square = parallel_map(self._filtered, (self.clean, self.clean * self.clean))
        # Only the pixels whose window lies inside the image are averaged, so everything after the filtering is
        # computed on them alone; the clean picture's terms of the formula are computed here once.
        self._c1, self._c2 = (self.K1 * self.data_range) ** 2, (self.K2 * self.data_range) ** 2
        self._uy = self._inside(mean).copy()  # not a view: the whole filtered image is not kept
        self._luminance = self._uy * self._uy + self._c1  # uy² + c1
        self._contrast = self._inside(square) - self._uy * self._uy + self._c2  # vy + c2

    def _filtered(self, image: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        sigma = (self.SIGMA, self.SIGMA, 0.0)[: image.ndim]  # 0: each colour channel on its own
        return gaussian_filter(image, sigma, mode="reflect", truncate=self.TRUNCATE)

    def _checked(self, estimate: np.ndarray) -> np.ndarray:
        if np.shape(estimate) != self.clean.shape:
            raise ValueError(f"shapes differ: {np.shape(estimate)} and {self.clean.shape}")
        return estimate

    def __call__(self, estimate: np.ndarray) -> float:
        return self.scores([estimate])[0]

    def scores(self, estimates: Sequence[np.ndarray]) -> list[float]:
        """SSIM of each picture against the clean one, in order. Pictures are scored on the usable cores at once
        (:func:`scse_viz.parallel.parallel_map`; scipy's filtering releases the GIL), each exactly as alone; one
        picture's filtered images are dropped as soon as its score is known, so memory grows with the cores, not
        with the number of pictures."""
        return parallel_map(self._one, [self._checked(e) for e in estimates])

    def _one(self, estimate: np.ndarray) -> float:
        x = np.asarray(estimate, dtype=np.float64)  # here, so only the pictures being scored exist in float64
        return self._score(self._filtered(x), self._filtered(x * x), self._filtered(x * self.clean))

    def _inside(self, image: np.ndarray) -> np.ndarray:
        pad = (self.WINDOW - 1) // 2
        return image[pad:-pad, pad:-pad]

    def _score(self, ux: np.ndarray, xx: np.ndarray, xy: np.ndarray) -> float:
        """((2·ux·uy + c1)(2·vxy + c2)) / ((ux² + uy² + c1)(vx + vy + c2)), averaged; in place, on the inside."""
        ux, xx, xy = self._inside(ux), self._inside(xx), self._inside(xy)
        product = ux * self._uy
        square = ux * ux
        numerator = xy - product  # vxy
        numerator *= 2.0
        numerator += self._c2
        product *= 2.0
        product += self._c1
        numerator *= product
        denominator = xx - square  # vx
        denominator += self._contrast
        square += self._luminance
        denominator *= square
        numerator /= denominator
        return float(numerator.mean(axis=(0, 1)).mean() if numerator.ndim == 3 else numerator.mean())


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n of the flattened values, ties sharing their average rank (``scipy.stats.rankdata``, "average")."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(values, dtype=np.float64).ravel(), method="average")


def spearman(a: np.ndarray, b: np.ndarray, b_ranks: np.ndarray | None = None) -> float:
    """Spearman's rank correlation of two equally sized arrays: Pearson's r of their average ranks, the value of
    ``scipy.stats.spearmanr``; NaN when either is constant (no order to correlate). ``b_ranks``: ``ranks(b)``
    computed once for many ``a``.

    Why not ``scipy.stats.spearmanr`` itself: the restoration view correlates every block's 512×512 sSE map with one
    σ map, and the ranks of that σ map are computed once for all blocks here (``b_ranks``), which spearmanr cannot
    be told; spearmanr also checks and computes a p-value the app never shows. Measured with
    ``python -m benchmarks.metrics_speed`` (2 shared cores, under load): spearmanr took 1.3-2.6× as long as this
    function with ``b_ranks`` given (512×512: 291 ms against 179 ms a call, same value to 1e-16). The tie handling,
    the part easy to get wrong, is scipy's ``rankdata``."""
    ra, rb = ranks(a), ranks(b) if b_ranks is None else np.asarray(b_ranks, dtype=np.float64)
    if ra.size != rb.size:
        raise ValueError(f"sizes differ: {ra.size} and {rb.size}")
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(np.sqrt((ra @ ra) * (rb @ rb)))
    return float("nan") if denominator == 0 else float((ra @ rb) / denominator)
