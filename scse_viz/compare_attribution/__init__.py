"""Attention versus attribution for a whole family: one attribution method on every variant of one input, each
variant's sSE maps scored against it, and what the Attribution page shows and exports.

Three jobs, three modules: :mod:`~scse_viz.compare_attribution.runs` (targets, running, kept records),
:mod:`~scse_viz.compare_attribution.panels` (agreement and what the page draws),
:mod:`~scse_viz.compare_attribution.export` (CSV and NPZ).

The page keeps one :class:`MethodRun` per (input, variant, method, target, settings); everything here is plain
numbers (no streamlit). Attributions explain the model input (``run.prepared``): the 160×160 brain input or the
28×28 garment crop, the very tensor the sSE maps were captured on, so the two lie on one grid and
:func:`~scse_viz.attribution.agreement_table` compares them there. For display both are mapped onto the picture the
explorer draws (:func:`scse_viz.explore.display_image`) with the same geometry.
"""

from scse_viz.attribution import Settings
from scse_viz.compare_attribution.export import CSV_COLUMNS, export_metadata, to_csv, to_npz
from scse_viz.compare_attribution.panels import (
    Panel,
    agreement,
    agreement_rows,
    panel,
    sse_blocks,
    symmetric_limit,
    top_k_overlap,
)
from scse_viz.compare_attribution.runs import (
    Job,
    MethodRun,
    attention_blocks,
    attribute,
    black_baseline,
    default_target,
    jobs,
    missing_from,
    predicted_classes,
    run_jobs,
    settings_for,
    target_for,
)

__all__ = [
    "CSV_COLUMNS",
    "Job",
    "MethodRun",
    "Panel",
    "Settings",
    "agreement",
    "agreement_rows",
    "attention_blocks",
    "attribute",
    "black_baseline",
    "default_target",
    "export_metadata",
    "jobs",
    "missing_from",
    "panel",
    "predicted_classes",
    "run_jobs",
    "settings_for",
    "sse_blocks",
    "symmetric_limit",
    "target_for",
    "to_csv",
    "to_npz",
    "top_k_overlap",
]
