"""Every captured number of one input, as CSV (long format) and NPZ, with what produced it written into the file.

Both files carry the same metadata: app and model family, the input's name and content key, each model's weights
file and SHA-256 from the card, knock-outs, and whatever page settings the caller passes. Values are the float32
gates exactly as captured (CSV writes them with 9 significant digits, enough to round-trip float32).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from scse_viz.explore import FamilyRun, ModelOutput

CSV_COLUMNS = ("model", "block", "call", "kind", "join", "gate", "index", "row", "col", "value")


def metadata(run: FamilyRun, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What produced these numbers: family, input, per model its weights and knock-outs, and page settings."""
    try:
        card_variants = run.family.card()["variants"]
    except FileNotFoundError:
        card_variants = {}
    models = {}
    for variant, output in run.outputs.items():
        shipped = card_variants.get(variant, {}).get("shipped", {})
        models[variant] = {
            "label": output.label,
            "weights": shipped.get("file"),
            "sha256": shipped.get("sha256"),
            "knockout": [{"branch": k.branch, "value": k.value, "blocks": k.blocks} for k in output.knockout],
        }
    return {
        "app": "scSE Lens",
        "family": run.family.name,
        "task": run.family.task.name,
        "input": {"name": run.image.name, "key": run.image.key, "size": list(run.image.size), "note": run.image.note},
        "model_input_size": list(run.prepared.tensor.shape[1:]),  # C, H, W
        "models": models,
        "settings": dict(settings or {}),
        **({"provenance": dict(run.family.provenance)} if run.family.provenance else {}),
    }


def _rows(variant: str, output: ModelOutput):
    for record in output.records:
        base = (variant, record.info.name, record.call, record.kind, record.join or "")
        if not (record.ran and record.readable):
            yield (*base, "not captured", "", "", "", record.reason)
            continue
        if record.channel_gate is not None:
            for c, value in enumerate(record.channel_gate[0]):
                yield (*base, "channel w", c, "", "", f"{value:.9g}")
        if record.spatial_gate is not None:
            q = record.spatial_gate[0]
            for (i, j), value in np.ndenumerate(q):
                yield (*base, "spatial q", "", i, j, f"{value:.9g}")


def csv_with_metadata(info: Mapping[str, Any], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV whose first lines are ``info`` as indented JSON behind ``# `` (what produced the numbers), then the
    header row and ``rows``: every CSV scSE Lens exports is laid out this way."""
    buffer = io.StringIO()
    for line in json.dumps(info, indent=1).splitlines():
        buffer.write(f"# {line}\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def to_csv(run: FamilyRun, settings: Mapping[str, Any] | None = None) -> bytes:
    """Long-format CSV: one row per gate value; the metadata as ``#`` comment lines on top."""
    rows = (row for variant, output in run.outputs.items() for row in _rows(variant, output))
    return csv_with_metadata(metadata(run, settings), CSV_COLUMNS, rows)


def to_npz(run: FamilyRun, settings: Mapping[str, Any] | None = None) -> bytes:
    """Compressed NPZ: ``<variant>/<block>/{channel_gate,spatial_gate}`` arrays, the outputs as the task exports
    them (``<variant>/probabilities``, a segmentation's ``<variant>/mask``), and ``metadata`` (a JSON string)."""
    arrays: dict[str, np.ndarray] = {"metadata": np.asarray(json.dumps(metadata(run, settings)))}
    arrays["input/pixels"] = run.image.pixels
    arrays["input/model_input"] = run.prepared.pixels
    for variant, output in run.outputs.items():
        for name, array in run.family.task.export_arrays(output.prediction).items():
            arrays[f"{variant}/{name}"] = array
        for record in output.shown():
            if record.channel_gate is not None:
                arrays[f"{variant}/{record.label}/channel_gate"] = record.channel_gate
            if record.spatial_gate is not None:
                arrays[f"{variant}/{record.label}/spatial_gate"] = record.spatial_gate
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
