"""Turn a family's training runs into what the app ships: one checkpoint per variant and the family's model card.

``python -m scse_viz.train.ship {brain,fashion} --runs runs/<family>``

1. Every run (4 variants × its seeds) is re-measured here with the evaluation command's own function on the CPU,
   after its weights' SHA-256 is checked against the run record. The card's numbers are these CPU measurements,
   so ``python -m scse_viz.evaluate`` on the same kind of machine reproduces them; the number the run measured on
   its own device at the end of training is kept next to them.
2. The shipped seed of a variant is the one whose test number is the median of its seeds: a representative model,
   not the luckiest.
3. Its weights are copied to ``assets/models/<family>/<variant>.safetensors``; ``card.json`` and ``card.md`` are
   written next to them; for the classifier also the per-class excitation statistics (``excitation.npz``).
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
from scse_viz.evaluate import measure_test, per_class
from scse_viz.train.common import sha256_of

METRIC_NAMES = {"fashion": "test accuracy", "brain": "test mean Dice (CSF, GM, WM)"}


def load_runs(runs_dir: Path, variant: str) -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in sorted(runs_dir.glob(f"{variant}-seed*.json"))]
    if not records:
        raise SystemExit(f"no runs of variant {variant!r} in {runs_dir}")
    return sorted(records, key=lambda r: r["seed"])


def measure_run(spec: zoo.Family, runs_dir: Path, record: dict[str, Any], data_root: Path | None) -> dict[str, Any]:
    """Re-measure one run's checkpoint on the CPU, after checking its hash."""
    weights = runs_dir / record["weights_file"]
    if sha256_of(weights) != record["sha256"]:
        raise SystemExit(f"{weights}: SHA-256 differs from its run record; refusing to ship it")
    model = zoo.load_checkpoint(spec.build(record["variant"]), weights)
    report = measure_test(spec.name, model, torch.device("cpu"), data_root)
    training_metric = record.get("test_accuracy", record.get("test_mean_dice"))
    return {
        "seed": record["seed"],
        "metric": report["metric"],
        "per_class": per_class(report, spec.class_names),
        "metric_at_training": training_metric,
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


def summarise(seeds: list[dict[str, Any]], class_names: Sequence[str]) -> dict[str, Any]:
    mean, std = _mean_std([s["metric"] for s in seeds])
    classes = {}
    for name in class_names:
        values = [s["per_class"][name] for s in seeds if s["per_class"].get(name) is not None]
        classes[name] = dict(zip(("mean", "std"), _mean_std(values))) if values else None
    return {"metric": {"mean": mean, "std": std}, "per_class": classes}


def median_seed(seeds: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose headline number is the median (the lower middle one for an even count)."""
    ranked = sorted(seeds, key=lambda s: (s["metric"], s["seed"]))
    return ranked[(len(ranked) - 1) // 2]


def ship(family_name: str, runs_dir: Path, data_root: Path | None = None, cpu_minutes: float | None = None) -> dict:
    spec = zoo.family(family_name)
    spec.folder.mkdir(parents=True, exist_ok=True)
    variants: dict[str, Any] = {}
    recipe: dict[str, Any] | None = None
    for variant in spec.variants:
        records = load_runs(runs_dir, variant)
        run_recipe = spec.config_class.from_dict(records[0]["config"]).recipe()
        if any(spec.config_class.from_dict(r["config"]).recipe() != run_recipe for r in records):
            raise SystemExit(f"the runs of {variant!r} were not trained with one recipe")
        if recipe is not None and run_recipe != recipe:
            raise SystemExit(f"variant {variant!r} was trained with another recipe than the others")
        recipe = run_recipe
        seeds = [measure_run(spec, runs_dir, r, data_root) for r in records]
        for s in seeds:
            print(f"{family_name}/{variant} seed {s['seed']}: {s['metric']:.4f} on CPU "
                  f"({s['metric_at_training']:.4f} at the end of training on {s['trained_on']})")  # fmt: skip
        chosen = median_seed(seeds)
        shutil.copyfile(runs_dir / chosen["weights_file"], spec.weights_path(variant))
        shipped = {**{k: chosen[k] for k in ("seed", "metric", "per_class", "sha256")},
                   "file": spec.weights_path(variant).name}  # fmt: skip
        variants[variant] = {
            "label": zoo.VARIANT_LABELS[variant],
            "parameters": chosen["parameters"],
            "attention_parameters": chosen["attention_parameters"],
            **summarise(seeds, spec.class_names),
            "seeds": seeds,
            "shipped": shipped,
        }
    baseline = variants["none"]["parameters"]
    for entry in variants.values():
        entry["overhead_percent"] = 100.0 * (entry["parameters"] - baseline) / baseline
    card = {
        "family": spec.name,
        "title": spec.title,
        "task": spec.task,
        "class_names": list(spec.class_names),
        "trained_on": spec.trained_on,
        "metric": METRIC_NAMES[spec.name],
        "measured_on": f"CPU ({platform.machine()}), torch {torch.__version__}, {torch.get_num_threads()} threads",
        "selection_rule": "the seed whose test number is the median of the three",
        "cpu_minutes_per_model": cpu_minutes,
        "recipe": recipe,
        "variants": variants,
    }
    (spec.folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (spec.folder / "card.md").write_text(card_markdown(card))
    if spec.task == "classification":
        write_excitation(spec, data_root)
    return card


def write_excitation(spec: zoo.Family, data_root: Path | None) -> Path:
    """Per-class channel-gate statistics of the shipped attention classifiers over the whole test set."""
    from scse_viz.evaluate import fashion_test_pixels
    from scse_viz.excitation import excitation_statistics, save_statistics
    from scse_viz.preprocess import fashion_tensor

    pixels, labels = fashion_test_pixels(data_root)
    inputs = fashion_tensor(pixels)
    stats = {
        v: excitation_statistics(zoo.load_model(spec.name, v), inputs, labels, len(spec.class_names))
        for v in spec.variants if v in ("cse", "scse")
    }  # fmt: skip
    return save_statistics(spec.folder / "excitation.npz", stats, spec.class_names)


# ------------------------------------------------------------------------------------------------------ card.md

FAMILY_TEXT = {
    "brain": """\
## Data

- **Source**: the MNI152 2009a symmetric T1 template (1 mm, 197×233×189, skull-stripped) and its GM and WM
  probability maps, read from the files inside the installed `nilearn` wheel. Nothing is downloaded.
- **Labels**: brain = T1 > 0. Outside the brain: background. Inside: the largest of p_CSF = max(1 − p_GM − p_WM, 0),
  p_GM and p_WM (stored value / 255), ties to the later class. CSF is "inside the brain but neither GM nor WM":
  ventricles, sulcal CSF and the partial-volume rim.
- **Slices**: sagittal, coronal and axial slices with at least 200 brain voxels, oriented as the app shows them.
- **Split**: per orientation the slices are cut into 12 contiguous slabs of equal length. Slabs 2 and 9 are the
  test set (80 slices), 5 and 6 validation (78), the rest training (278) minus 2 guard slices next to each
  held-out slab. The held-out pairs mirror each other because the template is left-right symmetric.
- **Caveat**: this is one brain. Held-out slabs are never seen as slices of their orientation, but their voxels
  appear as lines of training slices in the other two orientations. The test measures new 2-D sections of the same
  template, not new subjects or scanners; expect lower numbers on real scans.

## Preprocessing (`scse_viz.preprocess.brain_preprocess`, also used by the app)

Gray (colour → BT.601 luma); intensity scaled robustly (0.5th percentile of all pixels → 0, 99.5th percentile of
the brighter pixels → 1, clipped); centred on a square of the longer side (zero padding); resized to 160×160
(bilinear, antialiased). Outputs and sSE maps go back with the inverse (bilinear resize, padding cut off), and
Dice is measured on the slice's own 1 mm pixels.

## Augmentation (training only)

Joint on image and mask with torchvision `transforms.v2`: horizontal flip (p 0.5), affine (±15°, translate 6 %,
scale 0.85–1.15), elastic (p 0.5, alpha 30, sigma 4; the mask with nearest neighbours). Then on the image alone:
gamma 0.7–1.5, a smooth multiplicative bias field exp(poly2), contrast 0.85–1.15 and brightness ±0.05, Gaussian
noise with σ up to 0.04.
""",
    "fashion": """\
## Data

- **Source**: Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it (`/usr/share/datasets/fashion-mnist/`).
- **Split**: the first 55,000 official training images train, the last 5,000 validate (monitoring only), and the
  official 10,000 test images give every number on this card.

## Preprocessing (`scse_viz.preprocess.fashion_preprocess`, also used by the app)

Grayscale (BT.601); the background level is the median of a 2-pixel border ring, and a light background (> 0.5,
darker than average inside) is inverted, since Fashion-MNIST shows light garments on black; the background level is
subtracted and the brightest pixel stretched to 1; the object's bounding box (threshold 0.05, higher on a noisy
background) is cropped, centred on a black square and resized to 28×28 (Lanczos). Dataset images come through
nearly unchanged, so training and evaluation use the same function. The model then normalises with the training
pixels' mean and standard deviation (0.2879, 0.3532).

![A light-background photo before and after preprocessing](preprocessing.png)

## Augmentation (training only)

torchvision `transforms.v2` on uint8 images: RandomCrop(28, padding 2) and RandomHorizontalFlip (p 0.5).
A recipe with small rotations and scalings (RandomAffine ±8°, 0.92–1.08) and 15 epochs reached only 0.930–0.931
(one seed per variant): the models underfit (training accuracy ≈ validation accuracy), so the shipped recipe drops
the affine part and trains 20 epochs.

## Per-class excitation

`excitation.npz` holds, for the cSE and scSE models, the mean and standard deviation of every block's channel gate
per class over the 10,000 test images (`scse_viz.excitation.excitation_statistics` recomputes it for any model and
labelled set).
""",
}


def _fmt(mean_std: dict[str, float] | None, digits: int = 4) -> str:
    if mean_std is None:
        return "–"
    return f"{mean_std['mean']:.{digits}f} ± {mean_std['std']:.{digits}f}"


def comparison_lines(variants: dict[str, Any]) -> list[str]:
    """One sentence per attention variant: its mean against the baseline's, in units of the seeds' spread."""
    base = variants["none"]["metric"]
    lines = []
    for name, entry in variants.items():
        if name == "none":
            continue
        difference = entry["metric"]["mean"] - base["mean"]
        spread = max(entry["metric"]["std"], base["std"])
        verdict = "within the spread between seeds" if abs(difference) <= 2 * spread else (
            "better than the baseline by more than twice the spread between seeds" if difference > 0
            else "worse than the baseline by more than twice the spread between seeds")  # fmt: skip
        lines.append(f"- {entry['label']} vs baseline: {difference:+.4f} ({verdict}).")
    return lines


def card_markdown(card: dict[str, Any]) -> str:
    """The human-readable card, generated from ``card.json`` plus the family's fixed description."""
    variants = card["variants"]
    classes = [c for c in card["class_names"] if c != "background"]
    lines = [
        f"# Model card: {card['title']}",
        "",
        f"Four models that differ only in their attention blocks: baseline (none), cSE, sSE and scSE. "
        f"Trained on: {card['trained_on']}.",
        "",
        "## Results",
        "",
        f"{card['metric']} on the test set, mean ± sample standard deviation over {len(variants['none']['seeds'])} "
        f"seeds, measured on the {card['measured_on']} by `python -m scse_viz.evaluate {card['family']}`'s "
        "function.",
        "",
        "| variant | " + " | ".join([card["metric"].split(" (")[0], *classes]) + " |",
        "|---|" + "---|" * (len(classes) + 1),
    ]
    for entry in variants.values():
        cells = [_fmt(entry["metric"]), *(_fmt(entry["per_class"].get(c)) for c in classes)]
        lines.append(f"| {entry['label']} | " + " | ".join(cells) + " |")
    lines += ["", *comparison_lines(variants), "", "## Shipped checkpoints",
        "",
        f"One per variant, chosen by rule: {card['selection_rule']}.",
        "",
        "| variant | file | seed | test number | parameters | attention parameters | overhead vs baseline | "
        "SHA-256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in variants.values():
        shipped = entry["shipped"]
        lines.append(
            f"| {entry['label']} | `{shipped['file']}` | {shipped['seed']} | {shipped['metric']:.4f} | "
            f"{entry['parameters']:,} | {entry['attention_parameters']:,} | {entry['overhead_percent']:+.2f} % | "
            f"`{shipped['sha256'][:16]}…` |"
        )
    lines += ["", "Every run, seed by seed (CPU measurement / measurement at the end of training on its device):", ""]
    for entry in variants.values():
        runs = ", ".join(
            f"seed {s['seed']}: {s['metric']:.4f} / {s['metric_at_training']:.4f} ({s['trained_on']}, "
            f"{s['train_time_s'] / 60:.1f} min, {s['num_workers']} loader workers)"
            for s in entry["seeds"]
        )
        lines.append(f"- {entry['label']}: {runs}")
    recipe = card["recipe"]
    lines += [
        "",
        FAMILY_TEXT[card["family"]].rstrip(),
        "",
        "## Recipe",
        "",
        "Identical for the four variants (only the attention blocks differ); seeds 0, 1 and 2.",
        "",
        "```json",
        json.dumps(recipe, indent=2),
        "```",
        "",
        "Train: `python -m scse_viz.train "
        f"{card['family']} --variant all --seed 0 1 2` (CUDA when available; `--device cpu` forces the CPU). "
        "A run is deterministic for a given device and number of loader workers (each worker draws its own "
        "augmentation stream).",
        "",
        f"Ship: `python -m scse_viz.train.ship {card['family']} --runs runs/{card['family']}`. "
        f"Re-measure: `python -m scse_viz.evaluate {card['family']}` (exit status 1 if a number moved by more than "
        "the tolerance).",
    ]
    if card.get("cpu_minutes_per_model"):
        lines += [
            "",
            f"Training time on a 2-core CPU: about {card['cpu_minutes_per_model']:.0f} minutes per model "
            "(estimated from timed training steps by the benchmark in `benchmarks/`). The shipped runs were "
            "trained on a GPU.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.train.ship", description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(zoo.FAMILIES))
    parser.add_argument("--runs", type=Path, help="default: runs/<family>")
    parser.add_argument("--data-root", type=Path, help="fashion: folder with the IDX files")
    parser.add_argument("--cpu-minutes", type=float, help="measured CPU training time per model, for the card")
    parser.add_argument("--markdown-only", action="store_true", help="rewrite card.md from the existing card.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    if args.markdown_only:
        spec = zoo.family(args.family)
        card = json.loads((spec.folder / "card.json").read_text())
        (spec.folder / "card.md").write_text(card_markdown(card))
        return 0
    card = ship(args.family, args.runs or Path("runs") / args.family, args.data_root, args.cpu_minutes)
    for variant, entry in card["variants"].items():
        print(f"{variant}: {_fmt(entry['metric'])}, shipped seed {entry['shipped']['seed']} "
              f"({entry['shipped']['metric']:.4f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
