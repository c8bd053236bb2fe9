"""The Attribution page's exports: CSV and NPZ of every map and agreement score, with what produced them."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scse_viz import explore
from scse_viz.attribution import METHOD_LABELS
from scse_viz.compare_attribution.panels import agreement_rows
from scse_viz.compare_attribution.runs import MethodRun
from scse_viz.export import csv_with_metadata, metadata

CSV_COLUMNS = ("model", "method", "block", "kind", "row", "col", "value")


def _result_metadata(method_run: MethodRun) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": method_run.variant,
        "method": method_run.method,
        "target": method_run.target.describe(),
        "error": method_run.error,
    }
    maps = {}
    for block, result in method_run.results():
        maps[block or "input"] = {
            "target": result.target,
            "settings": result.settings,
            "evaluations": result.evaluations,
            "convergence_delta": result.convergence_delta,
            "output_difference": result.output_difference,
        }
    entry["maps"] = maps
    return entry


def export_metadata(
    run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float, settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
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


def to_csv(
    run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float, settings: Mapping[str, Any] | None = None
) -> bytes:
    """Long-format CSV: the agreement scores (kind "spearman" / "iou") and every attribution value (kind
    "attribution", with its pixel), metadata as ``#`` lines on top; 9 significant digits round-trip float32."""

    def rows():
        for row in agreement_rows(run, method_runs, percent):
            for kind in ("spearman", "iou"):
                yield (row["model"], row["method"], row["block"], kind, "", "", f"{row[kind]:.9g}")
        for method_run in method_runs:
            model, method = run.outputs[method_run.variant].label, METHOD_LABELS[method_run.method]
            for block, result in method_run.results():
                for (i, j), value in np.ndenumerate(result.attribution):
                    yield (model, method, block or "", "attribution", i, j, f"{value:.9g}")

    return csv_with_metadata(export_metadata(run, method_runs, percent, settings), CSV_COLUMNS, rows())


def to_npz(
    run: explore.FamilyRun, method_runs: Sequence[MethodRun], percent: float, settings: Mapping[str, Any] | None = None
) -> bytes:
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
