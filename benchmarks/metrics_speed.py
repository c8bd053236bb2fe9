"""Time of the app's Spearman and SSIM (``scse_viz.metrics``) against the library calls they could be, on the map
sizes the app scores (medians of alternating runs; prints figures and ratios, asserts nothing).

Spearman: ``metrics.spearman`` (scipy's ``rankdata`` and Pearson's r of the ranks; ``b_ranks`` computed once, as the
restoration view does for the σ map it compares every block's sSE map with) against ``scipy.stats.spearmanr`` on
the same flattened maps: 28×28 (Fashion-MNIST), 160×160 (the brain U-Net's input), 256×256 and 512×512 (the photo
family's working side). SSIM: ``metrics.ssim`` (skimage's ``structural_similarity`` with Wang et al.'s parameters,
written out) against skimage itself, and a picture scored against an ``SsimReference`` made once, as the restoration
view scores the noisy input and each model's output against one clean picture, on RGB pictures of those sides.

Run from the repository root: python -m benchmarks.metrics_speed [--repeats 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy.stats import spearmanr

from scse_viz.metrics import SsimReference, ranks, spearman, ssim


def _median_ms(calls: list[Callable[[], object]], repeats: int) -> list[float]:
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for k, call in enumerate(calls):  # alternate, so drifting load hits every arm alike
            start = time.perf_counter()
            call()
            times[k].append(time.perf_counter() - start)
    return [1e3 * statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    repeats = parser.parse_args().repeats
    rng = np.random.default_rng(0)
    print("Spearman (ms per call): ours with b_ranks | ours | scipy.stats.spearmanr | spearmanr / ours with b_ranks")
    for side in (28, 160, 256, 512):
        q = rng.random((side, side))
        sigma = np.round(q + rng.random((side, side)), 1)  # plateaus: many ties, as a painted σ map has
        sigma_ranks = ranks(sigma)
        cached, plain, library = _median_ms(
            [
                lambda: spearman(q, sigma, sigma_ranks),
                lambda: spearman(q, sigma),
                lambda: spearmanr(q.ravel(), sigma.ravel()).statistic,
            ],
            repeats,
        )
        gap = abs(spearman(q, sigma) - spearmanr(q.ravel(), sigma.ravel()).statistic)
        print(
            f"  {side:>3}×{side:<3} {cached:8.2f} {plain:8.2f} {library:8.2f}   ×{library / cached:.2f}"
            f"   (|difference| {gap:.1e})"
        )
    from skimage.metrics import structural_similarity

    print("SSIM (ms per call, RGB)      ours   reused  skimage   |difference|")
    for side in (64, 160, 256, 512):
        clean = rng.random((side, side, 3))
        noisy = np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1)
        reference = SsimReference(clean)
        options = {"data_range": 1.0, "channel_axis": -1, "gaussian_weights": True, "use_sample_covariance": False}
        took, reused, library = _median_ms(
            [
                lambda: ssim(noisy, clean),
                lambda: reference(noisy),
                lambda: structural_similarity(noisy, clean, sigma=1.5, **options),
            ],
            max(3, repeats // 3),
        )
        gap = abs(ssim(noisy, clean) - structural_similarity(noisy, clean, sigma=1.5, **options))
        print(f"  {side:>3}×{side:<3} {took:8.1f} {reused:8.1f} {library:8.1f}   {gap:.1e}")


if __name__ == "__main__":
    main()
