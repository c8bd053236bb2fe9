"""What the Attribution page draws and tabulates: each variant's map beside a block's sSE map, and their agreement.

Attributions explain the model input (``run.prepared``), the very tensor the sSE maps were captured on, so the two
lie on one grid and :func:`~scse_viz.attribution.agreement_table` compares them there. For display both are mapped
onto the picture the explorer draws (:func:`scse_viz.explore.display_image`) with the same geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scse_viz import explore
from scse_viz.attribution import METHOD_LABELS, AgreementRow, agreement_table, spatial_map_at, top_k_mask
from scse_viz.compare_attribution.runs import MethodRun


def agreement(run: explore.FamilyRun, method_run: MethodRun, percent: float = 10.0) -> list[AgreementRow]:
    """Every sSE block of the variant against the run's map (Grad-CAM: against Grad-CAM on that block), as
    :func:`agreement_table` scores them at the model input's resolution."""
    records = [r for r in run.outputs[method_run.variant].shown() if r.spatial_gate is not None]
    if not method_run.block_wise:
        return [] if method_run.result is None else agreement_table(records, method_run.result, percent)
    rows = []
    for record in records:
        result = method_run.map_for(record)
        if result is not None:
            rows.extend(agreement_table([record], result, percent))
    return rows


def agreement_rows(run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float = 10.0) -> list[dict]:
    """Table rows (model, method, block, stride, Spearman, IoU) of every run that has sSE maps to compare."""
    rows = []
    for method_run in method_runs:
        for row in agreement(run, method_run, percent):
            rows.append(
                {
                    "model": run.outputs[method_run.variant].label,
                    "method": METHOD_LABELS[method_run.method],
                    "block": row.block,
                    "stride": None if row.stride is None else float(row.stride[0]),
                    "spearman": row.spearman,
                    "iou": row.iou,
                    "top_k_percent": row.percent,
                }
            )
    return rows


def sse_blocks(run: explore.FamilyRun) -> list[str]:
    """Labels of the blocks that have an sSE map in every variant with sSE maps (network order)."""
    spatial = [o for o in run.outputs.values() if any(r.spatial_gate is not None for r in o.shown())]
    labels = explore.common_blocks(spatial)
    return [b for b in labels if spatial and spatial[0].record(b).spatial_gate is not None]


@dataclass(frozen=True)
class Panel:
    """What the page draws for one variant, one method and one block, on the pixels of the displayed image."""

    variant: str
    attribution: np.ndarray | None  # signed map
    limit: float  # colour limits ±limit of the attribution
    sse: np.ndarray | None  # the block's sSE map q (None: no sSE map in this variant)
    overlap: np.ndarray | None  # 0 neither, 1 sSE only, 2 attribution only, 3 both (top-k %, as scored)
    score: AgreementRow | None
    note: str  # why a picture is missing ("" when nothing is)


def panel(run: explore.FamilyRun, method_run: MethodRun, block: str | None, percent: float) -> Panel:
    """The variant's attribution (Grad-CAM: on ``block``), ``block``'s sSE map and their top-k overlap, mapped to
    the displayed image with the geometry of the masks and sSE maps (:func:`scse_viz.explore.on_display`). The
    overlap is decided on the model input's grid, where the IoU is scored, and then mapped."""
    output = run.outputs[method_run.variant]
    record = next((r for r in output.shown() if r.label == block and r.spatial_gate is not None), None)
    if method_run.error:
        return Panel(method_run.variant, None, 1.0, None, None, None, method_run.error)
    result = method_run.per_block.get(block or "") if method_run.block_wise else method_run.result
    if result is None:
        return Panel(method_run.variant, None, 1.0, None, None, None, f"no Grad-CAM map for block {block}")
    attribution = explore.on_display(run, result.attribution)
    limit = symmetric_limit(attribution)
    if record is None:
        note = "no attention blocks" if not output.shown() else "no sSE map (channel attention only)"
        return Panel(method_run.variant, attribution, limit, None, None, None, note)
    score = agreement_table([record], result, percent)[0]
    attention = spatial_map_at(record, result.attribution.shape)
    masks = top_k_overlap(attention, result.attribution, percent)
    shown = np.zeros(attribution.shape, dtype=np.uint8)
    for bit in (1, 2):
        shown += bit * (explore.on_display(run, (masks & bit).astype(np.float32) / bit) >= 0.5).astype(np.uint8)
    return Panel(method_run.variant, attribution, limit, explore.spatial_map(run, record), shown, score, "")


def symmetric_limit(values: np.ndarray, percentile: float = 99.5) -> float:
    """Colour limit ±L for a signed map: the ``percentile`` of |values| (one hot pixel does not wash out the rest);
    1 for an all-zero map."""
    magnitude = np.abs(np.asarray(values, dtype=np.float64))
    limit = float(np.percentile(magnitude, percentile)) if magnitude.size else 0.0
    return limit if limit > 0 else (float(magnitude.max()) or 1.0)


def top_k_overlap(attention: np.ndarray, attribution: np.ndarray, percent: float) -> np.ndarray:
    """Where the top ``percent`` % of the sSE map and of |attribution| lie (as :func:`top_k_iou` counts them):
    0 neither, 1 sSE only, 2 attribution only, 3 both."""
    top_attention = top_k_mask(attention, percent)
    top_evidence = top_k_mask(np.abs(attribution), percent)
    return top_attention.astype(np.uint8) + 2 * top_evidence.astype(np.uint8)
