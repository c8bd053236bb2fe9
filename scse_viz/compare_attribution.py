"""Attention versus attribution for a whole family: one attribution method on every variant of one input, each
variant's sSE maps scored against it, and what the Attribution page shows and exports.

The page keeps one :class:`MethodRun` per (input, variant, method, target, settings); everything here is plain
numbers (no streamlit). Attributions explain the model input (``run.prepared``): the 160×160 brain input or the
28×28 garment crop, the very tensor the sSE maps were captured on, so the two lie on one grid and
:func:`~scse_viz.attribution.agreement_table` compares them there. For display both are mapped onto the picture the
explorer draws (:func:`scse_viz.explore.display_image`) with the same geometry.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from scse_viz import explore
from scse_viz.attribution import (
    METHOD_LABELS,
    AgreementRow,
    AttributionError,
    AttributionResult,
    AttributionTarget,
    ProgressCallback,
    agreement_table,
    integrated_gradients,
    layer_gradcam,
    occlusion,
    spatial_map_at,
    top_k_mask,
)
from scse_viz.capture import BlockRecord
from scse_viz.export import metadata
from scse_viz.zoo import VARIANT_LABELS

METHODS = ("integrated_gradients", "integrated_gradients_smoothgrad", "occlusion", "layer_gradcam")
PER_BLOCK = "layer_gradcam"  # the one method whose map depends on the block (Grad-CAM on that block's output)
BASELINE = "none"


@dataclass(frozen=True)
class Settings:
    """The knobs of the methods (hashable: part of the key results are kept under)."""

    n_steps: int = 32  # IG path points
    nt_samples: int = 4  # NoiseTunnel: noisy copies of the input
    noise_level: float = 0.15  # NoiseTunnel: standard deviation as a fraction of the input's value range
    seed: int = 0  # NoiseTunnel: the noise generator's seed


def settings_for(method: str, settings: Settings) -> Settings:
    """Only the settings ``method`` reads (the rest at their defaults), so that changing the IG steps does not make
    an Occlusion or Grad-CAM result look out of date."""
    if method == "integrated_gradients":
        return Settings(n_steps=settings.n_steps)
    if method == "integrated_gradients_smoothgrad":
        return settings
    return Settings()


@dataclass(frozen=True)
class MethodRun:
    """One method on one variant for one target: a single map, or (Grad-CAM) one map per attention block.

    ``error`` holds the message of an :class:`AttributionError` (a class this variant predicts nowhere, a baseline
    without attention blocks for Grad-CAM); then there are no maps.
    """

    variant: str
    method: str
    target: AttributionTarget
    settings: Settings
    result: AttributionResult | None = None
    per_block: dict[str, AttributionResult] = field(default_factory=dict)
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{VARIANT_LABELS[self.variant]} · {METHOD_LABELS[self.method]}"

    @property
    def explained(self) -> str:
        """What the maps explain, for people ("logit of class 9 (Ankle boot)")."""
        results = self.results()
        return results[0][1].target if results else self.target.class_label

    def map_for(self, record: BlockRecord) -> AttributionResult | None:
        """The map to compare with ``record``'s sSE map: the method's one map, or Grad-CAM on that very block."""
        return self.per_block.get(record.info.name) if self.method == PER_BLOCK else self.result

    def results(self) -> list[tuple[str | None, AttributionResult]]:
        """(block or None, result) for every map this run holds."""
        if self.method == PER_BLOCK:
            return list(self.per_block.items())
        return [] if self.result is None else [(None, self.result)]


# ------------------------------------------------------------------------------------------------------ targets


def predicted_classes(run: explore.FamilyRun, variant: str) -> list[int]:
    """Classes ``variant`` predicts somewhere on the input (segmentation) or all classes (classification)."""
    output = run.outputs[variant]
    if output.mask is None:
        return list(range(len(run.family.class_names)))
    return [int(k) for k in np.unique(output.mask)]


def missing_from(run: explore.FamilyRun, class_index: int) -> list[str]:
    """Labels of the variants that predict ``class_index`` nowhere on the input (empty for a classifier)."""
    return [VARIANT_LABELS[v] for v in run.outputs if class_index not in predicted_classes(run, v)]


def default_target(run: explore.FamilyRun) -> int:
    """The class to explain first: the baseline's top class (classification); for segmentation the foreground class
    predicted on most pixels by the baseline among those every variant predicts somewhere (so no variant has an
    empty region), falling back to the baseline's largest class."""
    baseline = run.outputs[BASELINE]
    if baseline.mask is None:
        return int(np.argmax(baseline.probabilities))
    counts = np.bincount(baseline.mask.ravel(), minlength=len(run.family.class_names))
    everywhere = set.intersection(*(set(predicted_classes(run, v)) for v in run.outputs))
    foreground = [k for k in everywhere if k != 0 and counts[k] > 0]
    pool = foreground or [int(k) for k in np.flatnonzero(counts)]
    return max(pool, key=lambda k: (counts[k], -k))


def target_for(run: explore.FamilyRun, class_index: int) -> AttributionTarget:
    return AttributionTarget.for_task(run.family.task, class_index, run.family.class_names)


def black_baseline(run: explore.FamilyRun) -> torch.Tensor:
    """The model-input tensor of a black image (the family's own preprocessing), IG's and Occlusion's reference:
    0 in pixels is not 0 in the tensor where the network normalises its input."""
    return run.family.prepare(np.zeros_like(run.prepared.pixels)).tensor


# ------------------------------------------------------------------------------------------------------ running


def attention_blocks(run: explore.FamilyRun, variant: str) -> list[str]:
    """Module names of ``variant``'s attention blocks that ran once (Grad-CAM needs exactly one call)."""
    names = [r.info.name for r in run.outputs[variant].shown()]
    return [n for n in dict.fromkeys(names) if names.count(n) == 1]


def attribute(
    run: explore.FamilyRun,
    model: nn.Module,
    variant: str,
    method: str,
    class_index: int,
    settings: Settings = Settings(),
    progress: ProgressCallback | None = None,
) -> MethodRun:
    """``method`` on ``variant`` (``model``) for ``class_index``; an AttributionError becomes the run's ``error``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    target, settings = target_for(run, class_index), settings_for(method, settings)
    x, black = run.prepared.tensor, black_baseline(run)
    try:
        if method == PER_BLOCK:
            blocks = attention_blocks(run, variant)
            if not blocks:
                raise AttributionError(f"the {VARIANT_LABELS[variant]} model has no attention blocks for Grad-CAM")
            per_block = {}
            for i, block in enumerate(blocks):
                part = None if progress is None else _part(progress, i, len(blocks))
                per_block[block] = layer_gradcam(model, x, target, block, progress=part)
            return MethodRun(variant, method, target, settings, per_block=per_block)
        if method == "occlusion":
            result = occlusion(model, x, target, baseline=black, progress=progress)
        else:
            result = integrated_gradients(
                model, x, target, n_steps=settings.n_steps, baseline=black,
                noise_tunnel=method == "integrated_gradients_smoothgrad", nt_samples=settings.nt_samples,
                noise_level=settings.noise_level, seed=settings.seed, progress=progress,
            )  # fmt: skip
    except AttributionError as error:
        return MethodRun(variant, method, target, settings, error=str(error))
    return MethodRun(variant, method, target, settings, result=result)


def _part(progress: ProgressCallback, index: int, count: int) -> ProgressCallback:
    """Progress of job ``index`` of ``count`` reported as a share of the whole."""
    return lambda fraction, message: progress((index + fraction) / count, message)


@dataclass(frozen=True)
class Job:
    variant: str
    method: str


def jobs(variants: Sequence[str], methods: Sequence[str]) -> list[Job]:
    """Every (variant, method) pair; Grad-CAM only on variants with attention blocks (the baseline has none)."""
    return [Job(v, m) for m in methods for v in variants if not (m == PER_BLOCK and v == BASELINE)]


def run_jobs(
    run: explore.FamilyRun,
    models: Mapping[str, nn.Module],
    todo: Sequence[Job],
    class_index: int,
    settings: Settings = Settings(),
    progress: Callable[[float, str], None] | None = None,
) -> list[MethodRun]:
    """Each job in turn, progress reported over all of them ("<model>: <what the method reports>")."""
    done = []
    for i, job in enumerate(todo):
        part = None
        if progress is not None:
            label = VARIANT_LABELS[job.variant]
            part = _part(lambda f, text, label=label: progress(f, f"{label}: {text}"), i, len(todo))
        done.append(attribute(run, models[job.variant], job.variant, job.method, class_index, settings, part))
    if progress is not None:
        progress(1.0, "done")
    return done


# ------------------------------------------------------------------------------------------------------ agreement


def agreement(run: explore.FamilyRun, method_run: MethodRun, percent: float = 10.0) -> list[AgreementRow]:
    """Every sSE block of the variant against the run's map (Grad-CAM: against Grad-CAM on that block), as
    :func:`agreement_table` scores them at the model input's resolution."""
    records = [r for r in run.outputs[method_run.variant].shown() if r.spatial_gate is not None]
    if method_run.method != PER_BLOCK:
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
            rows.append({
                "model": VARIANT_LABELS[method_run.variant],
                "method": METHOD_LABELS[method_run.method],
                "block": row.block,
                "stride": None if row.stride is None else float(row.stride[0]),
                "spearman": row.spearman,
                "iou": row.iou,
                "top_k_percent": row.percent,
            })  # fmt: skip
    return rows


# ------------------------------------------------------------------------------------------------------ display


def on_display(run: explore.FamilyRun, values: np.ndarray) -> np.ndarray:
    """A map on the model input's grid -> on the pixels of :func:`explore.display_image` (the geometry sSE maps and
    masks are drawn with)."""
    values = np.asarray(values, dtype=np.float32)
    if run.prepared.geometry is None:
        return values.astype(np.float64)
    return run.prepared.geometry.to_source(values).astype(np.float64)


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
    the displayed image with the geometry of the masks and sSE maps. The overlap is decided on the model input's
    grid, where the IoU is scored, and then mapped."""
    output = run.outputs[method_run.variant]
    record = next((r for r in output.shown() if r.label == block and r.spatial_gate is not None), None)
    if method_run.error:
        return Panel(method_run.variant, None, 1.0, None, None, None, method_run.error)
    result = method_run.per_block.get(block or "") if method_run.method == PER_BLOCK else method_run.result
    if result is None:
        return Panel(method_run.variant, None, 1.0, None, None, None, f"no Grad-CAM map for block {block}")
    attribution = on_display(run, result.attribution)
    limit = symmetric_limit(attribution)
    if record is None:
        note = "no attention blocks" if not output.shown() else "no sSE map (channel attention only)"
        return Panel(method_run.variant, attribution, limit, None, None, None, note)
    score = agreement_table([record], result, percent)[0]
    attention = spatial_map_at(record, result.attribution.shape)
    masks = top_k_overlap(attention, result.attribution, percent)
    shown = np.zeros(attribution.shape, dtype=np.uint8)
    for bit in (1, 2):
        shown += bit * (on_display(run, (masks & bit).astype(np.float32) / bit) >= 0.5).astype(np.uint8)
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


# ------------------------------------------------------------------------------------------------------ export

CSV_COLUMNS = ("model", "method", "block", "kind", "row", "col", "value")


def _result_metadata(method_run: MethodRun) -> dict[str, Any]:
    entry: dict[str, Any] = {"model": method_run.variant, "method": method_run.method,
                             "target": asdict(method_run.target), "error": method_run.error}  # fmt: skip
    maps = {}
    for block, result in method_run.results():
        maps[block or "input"] = {
            "target": result.target, "settings": result.settings, "evaluations": result.evaluations,
            "convergence_delta": result.convergence_delta, "output_difference": result.output_difference,
        }  # fmt: skip
    entry["maps"] = maps
    return entry


def export_metadata(run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float,
                    settings: Mapping[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The explorer's metadata (input, weights and hashes) plus every attribution's target and resolved settings."""
    info = metadata(run, settings)
    info["attribution"] = {
        "grid": "model input (the maps are on the tensor the models saw)",
        "top_k_percent": percent,
        "agreement": "Spearman rank correlation and top-k % IoU of each sSE map (upsampled with the block's stride) "
        "against |attribution|",
        "runs": [_result_metadata(m) for m in method_runs],
    }
    return json.loads(json.dumps(info, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def to_csv(run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float,
           settings: Mapping[str, Any] | None = None) -> bytes:  # fmt: skip
    """Long-format CSV: the agreement scores (kind "spearman" / "iou") and every attribution value (kind
    "attribution", with its pixel), metadata as ``#`` lines on top; 9 significant digits round-trip float32."""
    buffer = io.StringIO()
    for line in json.dumps(export_metadata(run, method_runs, percent, settings), indent=1).splitlines():
        buffer.write(f"# {line}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in agreement_rows(run, method_runs, percent):
        for kind in ("spearman", "iou"):
            writer.writerow((row["model"], row["method"], row["block"], kind, "", "", f"{row[kind]:.9g}"))
    for method_run in method_runs:
        model, method = VARIANT_LABELS[method_run.variant], METHOD_LABELS[method_run.method]
        for block, result in method_run.results():
            for (i, j), value in np.ndenumerate(result.attribution):
                writer.writerow((model, method, block or "", "attribution", i, j, f"{value:.9g}"))
    return buffer.getvalue().encode()


def to_npz(run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float,
           settings: Mapping[str, Any] | None = None) -> bytes:  # fmt: skip
    """Compressed NPZ: ``<variant>/<method>[/<block>]/attribution`` maps (float32, model-input grid), the sSE maps
    they were scored against, ``agreement`` rows (structured array) and ``metadata`` (JSON string)."""
    arrays: dict[str, np.ndarray] = {
        "metadata": np.asarray(json.dumps(export_metadata(run, method_runs, percent, settings))),
        "input/model_input": run.prepared.pixels,
    }
    for method_run in method_runs:
        for block, result in method_run.results():
            arrays["/".join(filter(None, (method_run.variant, method_run.method, block, "attribution")))] = (
                result.attribution
            )
        for record in run.outputs[method_run.variant].shown():
            if record.spatial_gate is not None:
                arrays[f"{method_run.variant}/{record.label}/spatial_gate"] = record.spatial_gate
    rows = agreement_rows(run, method_runs, percent)
    arrays["agreement"] = np.array(
        [(r["model"], r["method"], r["block"], r["spearman"], r["iou"]) for r in rows],
        dtype=[("model", "U16"), ("method", "U64"), ("block", "U64"), ("spearman", "f8"), ("iou", "f8")],
    )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
