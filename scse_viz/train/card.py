"""The human-readable model card (``card.md``), generated from ``card.json`` and the family's fixed description.

The description (data, preprocessing, augmentation) is the family's own asset, ``assets/models/<family>/about.md``;
everything with a number in it comes from ``card.json``, so the two files never disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ABOUT_FILE = "about.md"
NOVELTY_HEADING = "## Inputs unlike the training data"


def _fmt(mean_std: dict[str, float] | None, digits: int = 4) -> str:
    if mean_std is None:
        return "–"
    return f"{mean_std['mean']:.{digits}f} ± {mean_std['std']:.{digits}f}"


NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: int) -> str:
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f} %"


def comparison_lines(variants: dict[str, Any], baseline: str | None) -> list[str]:
    """One sentence per attention variant: its mean against the baseline's, in units of the seeds' spread."""
    if baseline is None or baseline not in variants:
        return []
    base = variants[baseline]["metric"]
    lines = []
    for name, entry in variants.items():
        if name == baseline:
            continue
        difference = entry["metric"]["mean"] - base["mean"]
        spread = max(entry["metric"]["std"], base["std"])
        if min(len(entry["seeds"]), len(variants[baseline]["seeds"])) < 2:  # no spread known: nothing to claim
            lines.append(
                f"- {entry['label']} vs baseline: {difference:+.4f} (one seed each: the spread between "
                "seeds is unknown, so no difference is claimed)."
            )
            continue
        verdict = (
            "within the spread between seeds"
            if abs(difference) <= 2 * spread
            else (
                "better than the baseline by more than twice the spread between seeds"
                if difference > 0
                else "worse than the baseline by more than twice the spread between seeds"
            )
        )
        lines.append(f"- {entry['label']} vs baseline: {difference:+.4f} ({verdict}).")
    return lines


WIDE = 12  # more measures than this: one row per measure, one column per variant


def _results_table(card: dict[str, Any], classes: list[str]) -> list[str]:
    variants = card["variants"].values()
    headline = card["metric"].split(" (")[0]
    if len(classes) <= WIDE:
        lines = ["| variant | " + " | ".join([headline, *classes]) + " |", "|---|" + "---|" * (len(classes) + 1)]
        for entry in variants:
            cells = [_fmt(entry["metric"]), *(_fmt(entry["per_class"].get(c)) for c in classes)]
            lines.append(f"| {entry['label']} | " + " | ".join(cells) + " |")
        return lines
    lines = [
        "| measure | " + " | ".join(e["label"] for e in variants) + " |",
        "|---|" + "---|" * len(variants),
        f"| {headline} (headline) | " + " | ".join(_fmt(e["metric"], 3) for e in variants) + " |",
    ]
    for name in classes:
        lines.append(f"| {name} | " + " | ".join(_fmt(e["per_class"].get(name), 3) for e in variants) + " |")
    return lines


def _references_table(card: dict[str, Any]) -> list[str]:
    """Methods without training measured in the same run on the same inputs (e.g. BM3D), where the card has them."""
    references = card.get("references")
    if not references:
        return []
    measures = list(next(iter(references.values())))
    lines = [
        "",
        "The same test inputs through methods without training, measured in the same run:",
        "",
        "| method | " + " | ".join(measures) + " |",
        "|---|" + "---|" * len(measures),
    ]
    for method, values in references.items():
        lines.append(f"| {method} | " + " | ".join(f"{values[m]:.3f}" for m in measures) + " |")
    return lines


def about_text(folder: Path) -> str:
    """The family's fixed description for its card (``about.md`` beside ``card.json``; empty when absent)."""
    path = folder / ABOUT_FILE
    return path.read_text() if path.is_file() else ""


def _one_shrinkage(value: float | dict[str, float]) -> float:
    """An older record holds the shrinkage as a number, a newer one per part (here a single part)."""
    return next(iter(value.values())) if isinstance(value, dict) else value


def novelty_section(record: dict[str, Any]) -> str:
    """The card's section on inputs unlike the training data, from ``card.json``'s ``novelty`` record (written by
    ``python -m scse_viz.train.novelty``)."""
    if len(record.get("parts", ())) > 1:  # one Mahalanobis distance per part, the largest standardised one scored
        shrinkage = ", ".join(f"{part} {value}" for part, value in record["shrinkage"].items())
        method = (
            "The app says how unusual an input is for these models: the Mahalanobis distance from the training "
            f"inputs' of each part of the {record['models']} models' features ({record['features']}; parts: "
            f"{', '.join(record['parts'])}; Ledoit–Wolf shrinkage {shrinkage}), each log distance standardised by "
            "its median and spread over held-out in-distribution inputs, the largest of them as the score, reported "
            f"as a percentile of the held-out inputs' scores ({record['inputs']['calibrate']}; fitted on "
            f"{record['inputs']['fit']} training inputs)."
        )
    else:
        method = (
            "The app says how unusual an input is for these models: the Mahalanobis distance of the "
            f"gates of the {record['models']} models ({record['features']}) from its training inputs' (Ledoit–Wolf "
            f"shrinkage {_one_shrinkage(record['shrinkage'])}), as a percentile of held-out in-distribution inputs "
            f"({record['inputs']['calibrate']}; fitted on {record['inputs']['fit']} training inputs)."
        )
    lines = [
        NOVELTY_HEADING,
        "",
        (
            f"{method} Above 99 it says the maps show the mechanism on an input the models never learned, not a "
            "reading of it."
        ),
        "",
        (
            f"How well it tells this family's {record['inputs']['test']} test inputs from inputs it was not made for "
            "(AUROC: 1 = every such input scores above every test input; measured by "
            "`python -m scse_viz.train.novelty`):"
        ),
        "",
        "| inputs | count | AUROC | share above the 99th percentile | least unusual (percentile) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, value in record["auroc"].items():
        count = record["counts"].get(label, sum(record["counts"].values()))
        above = record["above 99"].get(label)
        least = record["least unusual"].get(label, "")
        lines.append(f"| {label} | {count} | {value:.3f} | {'' if above is None else f'{above:.2f}'} | {least} |")
    lines += [
        "",
        f"Test inputs above the 99th percentile: {record['test percentile above 99']:.3f} of them (false alarms).",
        "",
    ]
    return "\n".join(lines)


def card_markdown(card: dict[str, Any], about: str, baseline: str | None) -> str:
    """The human-readable card, generated from ``card.json`` plus the family's fixed description ``about``."""
    variants = card["variants"]
    # every variant's measures, in order (a baseline has no ρ(q, σ) of spatial gates)
    classes = list(dict.fromkeys(c for e in variants.values() for c in e["per_class"] if c != "background"))
    names = [e["label"] if e["label"].lower() == v else f"{e['label']} ({v})" for v, e in variants.items()]
    seeds = next(iter(variants.values()))["seeds"]
    lines = [
        f"# Model card: {card['title']}",
        "",
        (
            f"{_count(len(variants)).capitalize()} models that differ only in their attention blocks: {_and(names)}. "
            f"Trained on: {card['trained_on']}."
        ),
        "",
        "## Results",
        "",
        (
            f"{card['metric']} on the test set, mean ± sample standard deviation over {len(seeds)} seeds"
            if len(seeds) > 1
            else f"{card['metric']} on the test set, from one seed per variant (± 0: no spread is known)"
        )
        + f", measured on the {card['measured_on']} by `python -m scse_viz.evaluate {card['family']}`'s "
        "function.",
        "",
        *_results_table(card, classes),
        *_references_table(card),
    ]
    lines += [
        "",
        *comparison_lines(variants, baseline),
        "",
        "## Shipped checkpoints",
        "",
        f"One per variant, chosen by rule: {card['selection_rule']}.",
        "",
        "| variant | file | seed | test number | parameters | attention parameters | overhead vs baseline | SHA-256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in variants.values():
        shipped = entry["shipped"]
        lines.append(
            f"| {entry['label']} | `{shipped['file']}` | {shipped['seed']} | {shipped['metric']:.4f} | "
            f"{entry['parameters']:,} | {entry['attention_parameters']:,} | {_percent(entry['overhead_percent'])} | "
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
        about.rstrip(),
        "",
        "## Recipe",
        "",
        (
            f"Identical for the {_count(len(variants))} variants (only the attention blocks differ); seeds "
            f"{_and([str(s['seed']) for s in seeds])}."
        ),
        "",
        "```json",
        json.dumps(recipe, indent=2),
        "```",
        "",
        (
            "Train: `python -m scse_viz.train "
            f"{card['family']} --variant all --seed {' '.join(str(s['seed']) for s in seeds)}` (CUDA when available; "
            "`--device cpu` forces the CPU). "
            "A run is deterministic for a given device and number of loader workers (each worker draws its own "
            "augmentation stream)."
        ),
        "",
        (
            f"Ship: `python -m scse_viz.train.ship {card['family']} --runs runs/{card['family']}`. "
            f"Re-measure: `python -m scse_viz.evaluate {card['family']}` (exit status 1 if a number moved by more than "
            "the tolerance)."
        ),
    ]
    trained_on_cpu = all(s["trained_on"] == "cpu" for e in variants.values() for s in e["seeds"])
    if trained_on_cpu:
        minutes = [s["train_time_s"] / 60 for e in variants.values() for s in e["seeds"]]
        lines += [
            "",
            (
                "Every run above (every seed, shipped or not) was trained on this project's 2-core CPU: "
                f"{min(minutes):.1f} to {max(minutes):.1f} minutes per model, measured (each run's time above)."
            ),
        ]
    elif card.get("cpu_minutes_per_model"):
        lines += [
            "",
            (
                f"Training time on a 2-core CPU: about {card['cpu_minutes_per_model']:.0f} minutes per model "
                "(estimated from timed training steps by the benchmark in `benchmarks/`). The shipped runs were "
                "trained on a GPU."
            ),
        ]
    if card.get("novelty"):
        lines += ["", novelty_section(card["novelty"]).rstrip("\n")]
    return "\n".join(lines) + "\n"
