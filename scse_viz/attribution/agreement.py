"""How much an sSE map and an attribution map agree: Spearman rank correlation and IoU of their top-k % pixels.

The question is "does the block's spatial attention point where the evidence for the output is?". An sSE gate is one
map for every class and only says *where* the block lets features through; an attribution's sign says whether a
pixel's evidence raises or lowers the target, and strong evidence against the target is evidence all the same. So
:func:`agreement_table` compares the sSE map with the attribution's *magnitude* |a| (``magnitude=False`` compares the
signed values instead, which asks "does attention point at the evidence *for* the target?").
:func:`spearman` and :func:`top_k_iou` themselves compare the values they are given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from scse_viz import metrics
from scse_viz.attribution.records import AttributionError, AttributionResult
from scse_viz.capture import BlockRecord
from scse_viz.geometry import upsample_map


def _flat_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"the two maps must be non-empty and of one shape, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the maps must hold finite values")
    return a.ravel(), b.ravel()


average_ranks = metrics.ranks  # ranks 1..n, tied values sharing the mean of the ranks they span (scipy's "average")


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps of one shape (:func:`scse_viz.metrics.spearman`: Pearson's r of their
    average ranks, as ``scipy.stats.spearmanr``). NaN when either map is constant (no order to correlate)."""
    return metrics.spearman(*_flat_pair(a, b))


def top_k_mask(m: np.ndarray, percent: float) -> np.ndarray:
    """Boolean mask of the top ``percent`` % pixels of ``m`` by value: k = ceil(percent/100 · n) pixels, and every
    pixel tied with the k-th largest value too (so the set may hold more than k pixels; no tie is broken by pixel
    position, which would make the score depend on where ties happen to lie)."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must lie in (0, 100], got {percent!r}")
    m = np.asarray(m, dtype=np.float64)
    k = max(1, math.ceil(round(percent * m.size / 100.0, 9)))
    threshold = np.partition(m.ravel(), m.size - k)[m.size - k]
    return m >= threshold


def top_k_iou(a: np.ndarray, b: np.ndarray, percent: float) -> float:
    """Intersection over union of the top ``percent`` % pixels of ``a`` and of ``b`` (ties as in ``top_k_mask``)."""
    flat_a, flat_b = _flat_pair(a, b)
    top_a, top_b = top_k_mask(flat_a, percent), top_k_mask(flat_b, percent)
    return float(np.count_nonzero(top_a & top_b)) / float(np.count_nonzero(top_a | top_b))


@dataclass(frozen=True)
class AgreementRow:
    """Agreement of one block's sSE map with one attribution map."""

    block: str  # the record's label (module name, with the call number for a block that ran twice)
    stride: tuple[float, float] | None
    spearman: float
    iou: float
    percent: float  # the k of the top-k % IoU


def spatial_map_at(record: BlockRecord, size: tuple[int, int], image: int = 0) -> np.ndarray:
    """The record's sSE map for ``image``, upsampled to ``size`` (H, W) with the block's own geometry."""
    if record.spatial_gate is None or record.feature_size is None or record.stride is None:
        raise AttributionError(f"block {record.label!r} has no spatial map to compare")
    captured = tuple(round(f * s) for f, s in zip(record.feature_size, record.stride))
    if captured != tuple(size):
        raise AttributionError(
            f"the sSE maps were captured on a {captured[0]}×{captured[1]} input but the attribution map is "
            f"{size[0]}×{size[1]}: run both on the same input"
        )
    return upsample_map(record.spatial_gate[image], size, stride=record.stride)


def agreement_table(
    records: Iterable[BlockRecord],
    attribution: np.ndarray | AttributionResult,
    percent: float = 10.0,
    *,
    magnitude: bool = True,
    image: int = 0,
) -> list[AgreementRow]:
    """One row per block record that has an sSE map (others are skipped): the map, upsampled to the attribution's
    resolution with ``upsample_map``, against |attribution| (or the signed attribution with ``magnitude=False``)."""
    values = attribution.attribution if isinstance(attribution, AttributionResult) else np.asarray(attribution)
    if values.ndim != 2:
        raise AttributionError(f"the attribution must be one H×W map, got shape {values.shape}")
    evidence = np.abs(values) if magnitude else values
    rows = []
    for record in records:
        if not (record.ran and record.readable) or record.spatial_gate is None:
            continue
        attention = spatial_map_at(record, values.shape, image)
        rows.append(
            AgreementRow(
                record.label,
                record.stride,
                spearman(attention, evidence),
                top_k_iou(attention, evidence, percent),
                percent,
            )
        )
    return rows
