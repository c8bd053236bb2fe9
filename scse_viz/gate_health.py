"""Gate health over many images, from a batch table (``python -m scse_viz.batch``): which blocks' gates still
depend on their input, which have collapsed to a constant or saturated, and how two models' gates differ.

A gate that gives (nearly) the same values for every image and every channel or pixel is a constant scaling: it
could be folded into the next layer's weights, so the block does no attention at all (the report on
hujie-frank/SENet #78: every SE scale drifting to about 0.65). A gate that is almost always below 0.05 or above 0.95
has saturated: it switches channels or pixels off or passes them, and its gradient through the sigmoid is nearly 0,
so training can hardly move it any more. Plain numbers in, plain rows out; no streamlit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

COLLAPSE_SPREAD = 0.01  # across images: std of the per-image mean gate below this …
COLLAPSE_WITHIN = 0.02  # … and within an image: mean std below this: the gate is a constant
SATURATED_SHARE = 0.9  # shares below 0.05 and above 0.95 together above this: saturated
GATES = {"w": "channel gate w (cSE)", "q": "spatial gate q (sSE)"}


def _rows(table: Any) -> list[dict[str, Any]]:
    """A pyarrow Table, a pandas DataFrame or a list of dicts as a list of dicts."""
    if hasattr(table, "to_pylist"):
        return table.to_pylist()
    if hasattr(table, "to_dict"):
        return table.to_dict("records")
    return list(table)


def block_summary(table: Any) -> list[dict[str, Any]]:
    """Per model and block, per gate it has: images, mean gate, spread of the per-image means across images,
    mean spread within an image, saturated share, and a verdict (``collapsed``, ``saturated`` or ``healthy``)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(table):
        groups[(row["model"], row["block"])].append(row)
    summary = []
    for (model, block), rows in groups.items():
        for gate in GATES:
            means = [r[f"{gate}_mean"] for r in rows if r.get(f"{gate}_mean") is not None]
            if not means:
                continue
            stds = [r[f"{gate}_std"] for r in rows if r.get(f"{gate}_std") is not None]
            shares = [
                r[f"{gate}_share_below_0.05"] + r[f"{gate}_share_above_0.95"]
                for r in rows
                if r.get(f"{gate}_share_below_0.05") is not None
            ]
            within = float(np.mean(stds)) if stds else float("nan")  # NaN: a table without these columns
            saturated = float(np.mean(shares)) if shares else float("nan")
            spread = float(np.std(means))
            verdict = (
                "collapsed"
                if spread < COLLAPSE_SPREAD and within < COLLAPSE_WITHIN
                else "saturated"
                if saturated > SATURATED_SHARE
                else "healthy"
            )
            summary.append(
                {
                    "model": model,
                    "block": block,
                    "gate": gate,
                    "images": len(means),
                    "mean": float(np.mean(means)),
                    "spread across images": spread,
                    "spread within an image": within,
                    "saturated share": saturated,
                    "verdict": verdict,
                }
            )
    return summary


def verdict_text(entry: Mapping[str, Any]) -> str:
    """One sentence for people on a summary row that is not healthy."""
    gate = GATES[entry["gate"]]
    if entry["verdict"] == "collapsed":
        return (
            f"{entry['model']} · {entry['block']}: the {gate} is {entry['mean']:.3f} for every image (spread "
            f"{entry['spread across images']:.4f} across images, {entry['spread within an image']:.4f} within "
            "one): a constant scaling that could be folded into the weights; this block attends to nothing."
        )
    if entry["verdict"] == "saturated":
        return (
            f"{entry['model']} · {entry['block']}: {100 * entry['saturated share']:.0f} % of the {gate}'s "
            "values are below 0.05 or above 0.95: it switches features on or off, and through the flat ends "
            "of the sigmoid training can hardly move it any more."
        )
    return f"{entry['model']} · {entry['block']}: healthy"


def distributions(table: Any, gate: str) -> list[dict[str, Any]]:
    """Rows (model, block, image, value) of each image's mean gate, for small multiples of the distributions."""
    return [
        {"model": r["model"], "block": r["block"], "image": r["image"], "value": r[f"{gate}_mean"]}
        for r in _rows(table)
        if r.get(f"{gate}_mean") is not None
    ]


def class_profiles(table: Any, gate: str) -> list[dict[str, Any]]:
    """Mean of the per-image mean gate per model, block and label (empty when the images carry no labels)."""
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in _rows(table):
        if r.get("label") is not None and r.get(f"{gate}_mean") is not None:
            groups[(r["model"], r["block"], r["label"])].append(r[f"{gate}_mean"])
    return [
        {"model": m, "block": b, "label": label, "mean": float(np.mean(v)), "images": len(v)}
        for (m, b, label), v in groups.items()
    ]


def compare(first: Any, second: Any, names: Sequence[str] = ("A", "B")) -> list[dict[str, Any]]:
    """Per block and gate present in both tables: each table's mean gate and spread, and their difference."""
    a = {(e["block"], e["gate"]): e for e in block_summary(first)}
    b = {(e["block"], e["gate"]): e for e in block_summary(second)}
    rows = []
    for key in (k for k in a if k in b):
        rows.append(
            {
                "block": key[0],
                "gate": key[1],
                f"mean {names[0]}": a[key]["mean"],
                f"mean {names[1]}": b[key]["mean"],
                "difference": b[key]["mean"] - a[key]["mean"],
                f"verdict {names[0]}": a[key]["verdict"],
                f"verdict {names[1]}": b[key]["verdict"],
            }
        )
    return rows


def models_in(table: Any) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in _rows(table)))


def only(table: Any, models: Iterable[str]) -> list[dict[str, Any]]:
    keep = set(models)
    return [r for r in _rows(table) if r["model"] in keep]


FAITHFULNESS = (
    "sse_deletion_auc",
    "random_deletion_auc",
    "ig_deletion_auc",
    "sse_insertion_auc",
    "random_insertion_auc",
    "ig_insertion_auc",
    "channel_rho",
    "top_k_drop",
    "bottom_k_drop",
)


def faithfulness_summary(table: Any) -> list[dict[str, Any]]:
    """Per model and block, the mean over images of each faithfulness column the batch wrote (``--faithfulness``);
    empty for a table without them."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(table):
        if any(row.get(c) is not None for c in FAITHFULNESS):
            groups[(row["model"], row["block"])].append(row)
    summary = []
    for (model, block), rows in groups.items():
        entry: dict[str, Any] = {"model": model, "block": block, "images": len(rows)}
        for column in FAITHFULNESS:
            values = [r[column] for r in rows if r.get(column) is not None and np.isfinite(r[column])]
            entry[column] = float(np.mean(values)) if values else None
        summary.append(entry)
    return summary


RANKINGS = {"sse": "sSE map q", "random": "random order", "ig": "|Integrated Gradients|"}
CURVES = ("deletion", "insertion")


def perturbation_curves(table: Any, model: str, block: str) -> list[dict[str, Any]]:
    """Mean deletion and insertion curves over the images of one model and block, per ranking (sSE map, random,
    |IG|): rows (curve, ranking, share of pixels, mean value, images) for a line chart; empty for a table written
    without ``--faithfulness`` (or by a version that kept only the areas)."""
    rows = [r for r in _rows(table) if r["model"] == model and r["block"] == block]
    points = []
    for curve in CURVES:
        for ranking, title in RANKINGS.items():
            curves = [r[f"{ranking}_{curve}_curve"] for r in rows if r.get(f"{ranking}_{curve}_curve") is not None]
            if not curves:
                continue
            mean = np.mean(np.asarray(curves, dtype=np.float64), axis=0)
            for share, value in zip(np.linspace(0.0, 1.0, len(mean)), mean):
                points.append(
                    {
                        "curve": curve,
                        "ranking": title,
                        "share of pixels": float(share),
                        "objective": float(value),
                        "images": len(curves),
                    }
                )
    return points


# ------------------------------------------------------------------------------------------------------ SENet protocol


def between_class_share(values: np.ndarray, labels: Sequence[Any]) -> float:
    """The share of the gates' variance that lies between classes: over images i (rows of ``values``, N×C) and
    channels c, Σ_c Σ_k n_k (mean_kc − mean_c)² / Σ_c Σ_i (w_ic − mean_c)². 1: every image of a class has the same
    gates and classes differ; 0: the class means are equal and the gates vary only within classes (the law of total
    variance splits the total exactly into these two parts). NaN when the gates do not vary at all."""
    w = np.asarray(values, dtype=np.float64)
    labels = np.asarray([str(label) for label in labels])
    if w.ndim != 2 or len(w) != len(labels):
        raise ValueError(f"need N×C gates and N labels, got {w.shape} and {len(labels)}")
    grand = w.mean(axis=0)
    total = float(((w - grand) ** 2).sum())
    between = 0.0
    for label in np.unique(labels):
        members = w[labels == label]
        between += len(members) * float(((members.mean(axis=0) - grand) ** 2).sum())
    return float("nan") if total <= 1e-20 else between / total


def _labelled_gates(table: Any) -> dict[tuple[str, str], tuple[list[Any], list[list[float]], list[float]]]:
    """(model, block) -> labels, each image's cSE gate vector and its saturated share, in the table's block order."""
    groups: dict[tuple[str, str], tuple[list[Any], list[list[float]], list[float]]] = {}
    for r in _rows(table):
        if r.get("label") is None or r.get("w_values") is None:
            continue
        labels, vectors, saturated = groups.setdefault((r["model"], r["block"]), ([], [], []))
        labels.append(r["label"])
        vectors.append(r["w_values"])
        if r.get("w_share_below_0.05") is not None:
            saturated.append(r["w_share_below_0.05"] + r["w_share_above_0.95"])
    return groups


def class_specificity(table: Any) -> list[dict[str, Any]]:
    """SENet's protocol (Hu et al., §7.2, Fig. 6), one number per block: per model and block in network order, the
    share of the cSE gates' variance between classes (:func:`between_class_share`) and the saturated share (gates
    below 0.05 or above 0.95) beside it. Empty for a table without labels or without ``w_values`` (an older batch)."""
    summary = []
    depth: dict[str, int] = defaultdict(int)
    for (model, block), (labels, vectors, saturated) in _labelled_gates(table).items():
        if len({len(v) for v in vectors}) != 1:
            continue  # a block whose channel count changes between images (ECA on inputs of other sizes)
        summary.append(
            {
                "model": model,
                "block": block,
                "depth": depth[model],
                "images": len(labels),
                "classes": len(set(map(str, labels))),
                "class specificity": between_class_share(np.asarray(vectors), labels),
                "saturated share": float(np.mean(saturated)) if saturated else float("nan"),
            }
        )
        depth[model] += 1
    return summary


def class_channel_means(table: Any, model: str) -> list[dict[str, Any]]:
    """For one model, per block, class and channel: the mean cSE gate over the class's images (SENet's Fig. 6, one
    line per class across the channels)."""
    rows = []
    for (m, block), (labels, vectors, _) in _labelled_gates(table).items():
        if m != model or len({len(v) for v in vectors}) != 1:
            continue
        w, names = np.asarray(vectors, dtype=np.float64), np.asarray([str(label) for label in labels])
        for label in dict.fromkeys(names):
            means = w[names == label].mean(axis=0)
            rows.extend(
                {
                    "block": block,
                    "label": label,
                    "channel": c,
                    "mean gate": float(v),
                    "images": int((names == label).sum()),
                }
                for c, v in enumerate(means)
            )
    return rows
