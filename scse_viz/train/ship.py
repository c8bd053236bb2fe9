"""Turn a family's training runs into what the app ships: one checkpoint per variant and the family's model card.

``python -m scse_viz.train.ship <family> --runs runs/<family>``

1. Every run (4 variants × its seeds) is re-measured here with the evaluation command's own function on the CPU,
   after its weights' SHA-256 is checked against the run record. The card's numbers are these CPU measurements,
   so ``python -m scse_viz.evaluate`` on the same kind of machine reproduces them; the number the run measured on
   its own device at the end of training is kept next to them.
2. The shipped seed of a variant is the one whose test number is the median of its seeds: a representative model,
   not the luckiest.
3. Its weights are copied to ``assets/models/<family>/<variant>.safetensors``; ``card.json`` and ``card.md`` are
   written next to them (``card.md`` by :mod:`scse_viz.train.card`), then whatever else the family's
   ``PARTS.extra_assets`` writes (the classifier's per-class excitation statistics, ``excitation.npz``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from scse_viz import zoo
from scse_viz.train.card import _fmt, about_text, card_markdown
from scse_viz.train.common import sha256_of
from scse_viz.train.parts import FamilyTraining, parts_for, trainable_families


def load_runs(runs_dir: Path, variant: str) -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in sorted(runs_dir.glob(f"{variant}-seed*.json"))]
    if not records:
        raise SystemExit(f"no runs of variant {variant!r} in {runs_dir}")
    return sorted(records, key=lambda r: r["seed"])


def measure_run(
    spec: zoo.Family, parts: FamilyTraining, runs_dir: Path, record: dict[str, Any], data_root: Path | None
) -> dict[str, Any]:
    """Re-measure one run's checkpoint on the CPU, after checking its hash."""
    weights = runs_dir / record["weights_file"]
    if sha256_of(weights) != record["sha256"]:
        raise SystemExit(f"{weights}: SHA-256 differs from its run record; refusing to ship it")
    model = zoo.load_checkpoint(spec.build(record["variant"]), weights)
    report = parts.measure_test(model, torch.device("cpu"), data_root)
    return {
        "seed": record["seed"],
        "metric": report["metric"],
        "per_class": report["per_class"],
        "metric_at_training": record[parts.record_metric],
        "trained_on": record["device"],
        "train_time_s": round(record["train_time_s"], 1),
        "num_workers": record["config"].get("num_workers"),
        "sha256": record["sha256"],
        "weights_file": record["weights_file"],
        "parameters": record["parameters"],
        "attention_parameters": record["attention_parameters"],
    }


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); 0 spread for a single run."""
    return float(statistics.mean(values)), float(statistics.stdev(values)) if len(values) > 1 else 0.0


def summarise(seeds: list[dict[str, Any]], class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Mean and spread over the seeds of the headline number and of every per-class (or per-measure) number; the
    names are ``class_names`` or, by default, those the seeds' reports hold, in their order."""
    mean, std = _mean_std([s["metric"] for s in seeds])
    classes = {}
    for name in class_names if class_names is not None else list(seeds[0]["per_class"]):
        values = [s["per_class"][name] for s in seeds if s["per_class"].get(name) is not None]
        classes[name] = dict(zip(("mean", "std"), _mean_std(values))) if values else None
    return {"metric": {"mean": mean, "std": std}, "per_class": classes}


def median_seed(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose headline number is the median (the lower middle one for an even count)."""
    ranked = sorted(seeds, key=lambda s: (s["metric"], s["seed"]))
    return ranked[(len(ranked) - 1) // 2]


def ship(family_name: str, runs_dir: Path, data_root: Path | None = None, cpu_minutes: float | None = None) -> dict:
    spec = zoo.family(family_name)
    parts = parts_for(spec)
    spec.folder.mkdir(parents=True, exist_ok=True)
    variants: dict[str, Any] = {}
    recipe: dict[str, Any] | None = None
    for variant in spec.variants:
        records = load_runs(runs_dir, variant)
        run_recipe = parts.config.from_dict(records[0]["config"]).recipe()
        if any(parts.config.from_dict(r["config"]).recipe() != run_recipe for r in records):
            raise SystemExit(f"the runs of {variant!r} were not trained with one recipe")
        if recipe is not None and run_recipe != recipe:
            raise SystemExit(f"variant {variant!r} was trained with another recipe than the others")
        recipe = run_recipe
        seeds = [measure_run(spec, parts, runs_dir, r, data_root) for r in records]
        for s in seeds:
            print(
                f"{family_name}/{variant} seed {s['seed']}: {s['metric']:.4f} on CPU "
                f"({s['metric_at_training']:.4f} at the end of training on {s['trained_on']})"
            )
        chosen = median_seed(seeds)
        shutil.copyfile(runs_dir / chosen["weights_file"], spec.weights_path(variant))
        shipped = {
            **{k: chosen[k] for k in ("seed", "metric", "per_class", "sha256")},
            "file": spec.weights_path(variant).name,
        }
        variants[variant] = {
            "label": spec.label(variant),
            "parameters": chosen["parameters"],
            "attention_parameters": chosen["attention_parameters"],
            **summarise(seeds),
            "seeds": seeds,
            "shipped": shipped,
        }
    reference = variants[spec.baseline]["parameters"] if spec.baseline in variants else None
    for entry in variants.values():
        entry["overhead_percent"] = None if reference is None else 100.0 * (entry["parameters"] - reference) / reference
    card = {
        "family": spec.name,
        "title": spec.title,
        "task": spec.task.name,
        "class_names": list(spec.class_names),
        "trained_on": spec.trained_on,
        "metric": parts.metric_name,
        "measured_on": f"CPU ({platform.machine()}), torch {torch.__version__}, {torch.get_num_threads()} threads",
        "selection_rule": "the seed whose test number is the median of the seeds",
        "cpu_minutes_per_model": cpu_minutes,
        "recipe": recipe,
        "variants": variants,
    }
    if parts.references is not None:
        print(f"measuring the references of {family_name} (methods without training) on the same test inputs")
        card["references"] = parts.references()
    (spec.folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (spec.folder / "card.md").write_text(card_markdown(card, about_text(spec.folder), spec.baseline))
    if parts.extra_assets is not None:
        parts.extra_assets(spec, data_root)
    return card


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.train.ship", description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=trainable_families())
    parser.add_argument("--runs", type=Path, help="default: runs/<family>")
    parser.add_argument("--data-root", type=Path, help="fashion: folder with the IDX files")
    parser.add_argument("--cpu-minutes", type=float, help="measured CPU training time per model, for the card")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite card.md from the existing card.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    if args.markdown_only:
        spec = zoo.family(args.family)
        card = json.loads((spec.folder / "card.json").read_text())
        (spec.folder / "card.md").write_text(card_markdown(card, about_text(spec.folder), spec.baseline))
        return 0
    card = ship(args.family, args.runs or Path("runs") / args.family, args.data_root, args.cpu_minutes)
    for variant, entry in card["variants"].items():
        print(
            f"{variant}: {_fmt(entry['metric'])}, shipped seed {entry['shipped']['seed']} "
            f"({entry['shipped']['metric']:.4f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
