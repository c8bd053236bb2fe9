"""What ships: the median seed, mean ± sample standard deviation, and card.md saying what card.json says.

The first tests give ``scse_viz.train.ship`` tiny run records written to a temporary folder, with medians, means and
spreads worked out by hand. The last ones read every shipped card: card.json's own summary numbers are recomputed
from its seeds with numpy, and every number in card.md is parsed back and compared with card.json.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from scse_viz import zoo
from scse_viz.train.card import NOVELTY_HEADING, about_text, card_markdown
from scse_viz.train.ship import load_runs, measure_run, median_seed, summarise

# --------------------------------------------------------------------------------------------- tiny run records


def _record(variant: str, seed: int, dice: float, per_class: dict[str, float | None]) -> dict:
    return {"variant": variant, "seed": seed, "metric": dice, "per_class": per_class}


def _write_runs(folder: Path, runs: list[dict]) -> None:
    for run in runs:
        (folder / f"{run['variant']}-seed{run['seed']}.json").write_text(json.dumps(run))


def test_three_seeds_ship_the_median_one_with_mean_and_sample_std(tmp_path: Path) -> None:
    _write_runs(
        tmp_path,
        [
            _record("scse", 0, 0.70, {"CSF": 0.60, "GM": 0.90}),
            _record("scse", 1, 0.80, {"CSF": 0.70, "GM": None}),
            _record("scse", 2, 0.75, {"CSF": 0.65, "GM": 0.80}),
            _record("none", 0, 0.10, {"CSF": 0.1, "GM": 0.1}),  # another variant: not read
        ],
    )
    runs = load_runs(tmp_path, "scse")
    assert [r["seed"] for r in runs] == [0, 1, 2]
    assert median_seed(runs)["seed"] == 2  # 0.70 < 0.75 < 0.80
    summary = summarise(runs)
    # mean 0.75; deviations -0.05, +0.05, 0 -> sample variance (n - 1 = 2) 0.0025, std 0.05 (the card says "sample")
    assert summary["metric"]["mean"] == pytest.approx(0.75, abs=1e-12)
    assert summary["metric"]["std"] == pytest.approx(0.05, abs=1e-12)
    assert summary["per_class"]["CSF"]["mean"] == pytest.approx(0.65, abs=1e-12)
    assert summary["per_class"]["CSF"]["std"] == pytest.approx(0.05, abs=1e-12)
    # a class a seed did not measure is summarised over the others: 0.90 and 0.80 -> std sqrt(0.005)
    assert summary["per_class"]["GM"]["mean"] == pytest.approx(0.85, abs=1e-12)
    assert summary["per_class"]["GM"]["std"] == pytest.approx(math.sqrt(0.005), abs=1e-12)


def test_an_even_count_ships_the_lower_middle_seed_and_ties_go_to_the_lower_seed(tmp_path: Path) -> None:
    runs = [_record("cse", s, d, {}) for s, d in ((0, 0.9), (1, 0.6), (2, 0.8), (3, 0.7))]
    assert median_seed(runs)["seed"] == 3  # ranked 0.6, 0.7, 0.8, 0.9: the lower middle is 0.7
    tied = [_record("cse", s, 0.5, {}) for s in (4, 2, 7)]
    assert median_seed(tied)["seed"] == 4  # ranked by seed 2, 4, 7
    single = summarise([_record("cse", 0, 0.42, {"a": 0.3})])
    assert single["metric"] == {"mean": pytest.approx(0.42), "std": 0.0}  # one run: no spread


def test_no_runs_and_a_changed_checkpoint_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no runs"):
        load_runs(tmp_path, "scse")
    (tmp_path / "scse-seed0.safetensors").write_bytes(b"not the trained weights")
    record = {"variant": "scse", "seed": 0, "weights_file": "scse-seed0.safetensors", "sha256": "0" * 64}
    spec = zoo.family("fashion")
    with pytest.raises(SystemExit, match="SHA-256 differs"):
        measure_run(spec, None, tmp_path, record, None)  # refused before anything is built or measured


def _tiny_card(baseline_dice: list[float], scse_dice: list[float]) -> dict:
    def variant(label: str, dice: list[float]) -> dict:
        seeds = [
            {
                "seed": i,
                "metric": d,
                "per_class": {"CSF": d - 0.1},
                "metric_at_training": d,
                "trained_on": "cpu",
                "train_time_s": 600.0 + 60 * i,
                "num_workers": 0,
            }
            for i, d in enumerate(dice)
        ]
        chosen = median_seed(seeds)
        return {
            "label": label,
            "parameters": 1000,
            "attention_parameters": 0 if label == "baseline" else 50,
            **summarise(seeds),
            "seeds": seeds,
            "shipped": {**chosen, "sha256": "ab" * 32, "file": f"{label}.safetensors"},
            "overhead_percent": 0.0 if label == "baseline" else 5.0,
        }

    return {
        "family": "tiny",
        "title": "Tiny",
        "trained_on": "nothing",
        "metric": "test Dice",
        "measured_on": "CPU",
        "selection_rule": "the median seed",
        "recipe": {"epochs": 1},
        "variants": {"none": variant("baseline", baseline_dice), "scse": variant("scSE", scse_dice)},
    }


def test_the_card_states_mean_and_sample_std_and_a_difference_beyond_twice_the_spread() -> None:
    # baseline 0.70, 0.80, 0.75: mean 0.75, std 0.05; scSE 0.90, 0.92, 0.94: mean 0.92, std 0.02
    # difference +0.17 > 2 × max(0.05, 0.02) = 0.10 -> "better"
    text = card_markdown(_tiny_card([0.70, 0.80, 0.75], [0.90, 0.92, 0.94]), "", "none")
    assert "| baseline | 0.7500 ± 0.0500 | 0.6500 ± 0.0500 |" in text
    assert "| scSE | 0.9200 ± 0.0200 | 0.8200 ± 0.0200 |" in text
    assert "mean ± sample standard deviation over 3 seeds" in text
    assert "- scSE vs baseline: +0.1700 (better than the baseline by more than twice the spread" in text
    assert "| baseline | `baseline.safetensors` | 2 | 0.7500 |" in text  # seed 2 holds the median 0.75
    assert "| scSE | `scSE.safetensors` | 1 | 0.9200 |" in text
    assert "10.0 to 12.0 minutes per model" in text  # 600 s and 720 s
    # +0.08 is within 2 × 0.05
    close = card_markdown(_tiny_card([0.70, 0.80, 0.75], [0.82, 0.84, 0.83]), "", "none")
    assert "- scSE vs baseline: +0.0800 (within the spread between seeds)." in close
    # one seed each: no claim, whatever the difference
    single = card_markdown(_tiny_card([0.5], [0.9]), "", "none")
    assert "+0.4000 (one seed each: the spread between seeds is unknown, so no difference is claimed)" in single


# --------------------------------------------------------------------------------------------- the shipped cards

FAMILIES = sorted(p.parent.name for p in (zoo.ASSETS / "models").glob("*/card.json"))


def _close(text: str, value: float) -> bool:
    """``text`` is ``value`` printed with as many decimals as ``text`` has (rounding tolerance only)."""
    digits = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text.replace(",", "")) - value) <= 0.5 * 10**-digits + 1e-12


def _mean_std(cell: str) -> tuple[str, str]:
    mean, std = cell.split(" ± ")
    return mean, std


@pytest.fixture(params=FAMILIES)
def shipped(request) -> tuple[str, dict, str]:
    folder = zoo.ASSETS / "models" / request.param
    return request.param, json.loads((folder / "card.json").read_text()), (folder / "card.md").read_text()


def test_there_are_shipped_cards() -> None:
    assert set(FAMILIES) >= {"brain", "fashion", "photo"}


def test_card_json_summaries_are_the_seeds_mean_and_sample_std_and_the_shipped_seed_is_the_median(shipped) -> None:
    _, card, _ = shipped
    for variant, entry in card["variants"].items():
        metrics = np.array([s["metric"] for s in entry["seeds"]])
        std = float(np.std(metrics, ddof=1)) if len(metrics) > 1 else 0.0
        assert entry["metric"]["mean"] == pytest.approx(float(np.mean(metrics)), abs=1e-12), variant
        assert entry["metric"]["std"] == pytest.approx(std, abs=1e-12), variant
        for cls, summary in entry["per_class"].items():
            values = [s["per_class"][cls] for s in entry["seeds"] if s["per_class"].get(cls) is not None]
            if summary is None:
                assert not values
                continue
            assert summary["mean"] == pytest.approx(float(np.mean(values)), abs=1e-12), (variant, cls)
            assert summary["std"] == pytest.approx(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0), cls
        # the shipped seed's number is the median of the seeds (the lower middle for an even count)
        ranked = sorted(metrics)
        assert entry["shipped"]["metric"] == ranked[(len(ranked) - 1) // 2], variant
        seed = next(s for s in entry["seeds"] if s["seed"] == entry["shipped"]["seed"])
        assert seed["metric"] == entry["shipped"]["metric"] and seed["per_class"] == entry["shipped"]["per_class"]
        assert seed["sha256"] == entry["shipped"]["sha256"]
        baseline = card["variants"]["none"]["parameters"]
        assert entry["overhead_percent"] == pytest.approx(100 * (entry["parameters"] - baseline) / baseline)


def _table_rows(lines: list[str], header_start: str) -> tuple[list[str], list[list[str]], set[int]]:
    """The header cells and body rows of the table whose header line starts with ``header_start``; the line indices."""
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    end = start + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[start:end]]
    return cells[0], cells[2:], set(range(start, end))


def test_every_number_in_card_md_is_card_json(shipped) -> None:
    """card.md, parsed back: the results, references, comparison, shipped and per-seed lines, the seeds and the
    recipe say what card.json says; a line with any other number (outside the family's own about.md) fails."""
    name, card, text = shipped
    about = about_text(zoo.ASSETS / "models" / name).rstrip()
    assert about and about in text
    generated = text.replace(about, "")
    if card.get("novelty"):  # the novelty fit's section: its AUROC table parsed back against card.json's record
        novelty = card["novelty"]
        section = generated[generated.index(NOVELTY_HEADING) :]
        header, rows, _ = _table_rows(section.splitlines(), "| inputs | count | AUROC |")
        assert [r[0] for r in rows] == list(novelty["auroc"])
        for row in rows:
            assert _close(row[2], novelty["auroc"][row[0]]), row
        assert f"({novelty['inputs']['calibrate']}; fitted on {novelty['inputs']['fit']} training inputs)" in section
        generated = generated[: generated.index(NOVELTY_HEADING)]
    recipe_block = re.search(r"```json\n(.*?)\n```", generated, re.DOTALL)
    assert json.loads(recipe_block.group(1)) == card["recipe"]
    lines = generated.replace(recipe_block.group(0), "").splitlines()
    checked: set[int] = set()
    variants = list(card["variants"].values())
    by_label = {e["label"]: e for e in variants}
    seeds = [s["seed"] for s in variants[0]["seeds"]]

    # results table: narrow (variant rows, 4 decimals) or wide (measure rows, 3 decimals)
    if any(line.startswith("| variant | ") and "file" not in line for line in lines):
        header, rows, used = _table_rows(lines, f"| variant | {card['metric'].split(' (')[0]}")
        for row in rows:
            entry = by_label[row[0]]
            for column, cell in zip(header[1:], row[1:]):
                summary = entry["metric"] if column == header[1] else entry["per_class"].get(column)
                if cell == "–":
                    assert summary is None
                    continue
                mean, std = _mean_std(cell)
                assert _close(mean, summary["mean"]) and _close(std, summary["std"]), (row[0], column, cell)
    else:
        header, rows, used = _table_rows(lines, "| measure | ")
        assert header[1:] == [e["label"] for e in variants]
        for row in rows:
            for entry, cell in zip(variants, row[1:]):
                summary = entry["metric"] if row[0].endswith("(headline)") else entry["per_class"].get(row[0])
                if cell == "–":
                    assert summary is None, (row[0], entry["label"])
                    continue
                mean, std = _mean_std(cell)
                assert _close(mean, summary["mean"]) and _close(std, summary["std"]), (row[0], entry["label"], cell)
    assert len(rows) in (len(variants), 1 + len({c for e in variants for c in e["per_class"] if c != "background"}))
    checked |= used

    if card.get("references"):
        header, rows, used = _table_rows(lines, "| method | ")
        assert [r[0] for r in rows] == list(card["references"])
        for row in rows:
            for measure, cell in zip(header[1:], row[1:]):
                assert _close(cell, card["references"][row[0]][measure]), (row[0], measure)
        checked |= used

    header, rows, used = _table_rows(lines, "| variant | file | seed | test number |")
    assert len(rows) == len(variants)
    for row, entry in zip(rows, variants):
        shipped_entry = entry["shipped"]
        assert row[0] == entry["label"] and row[1] == f"`{shipped_entry['file']}`"
        assert int(row[2]) == shipped_entry["seed"] and _close(row[3], shipped_entry["metric"])
        assert int(row[4].replace(",", "")) == entry["parameters"]
        assert int(row[5].replace(",", "")) == entry["attention_parameters"]
        assert _close(row[6].removesuffix(" %"), entry["overhead_percent"])
        assert shipped_entry["sha256"].startswith(row[7].strip("`…"))
    checked |= used

    base = card["variants"]["none"]
    for i, line in enumerate(lines):
        found = re.fullmatch(r"- (.+) vs baseline: ([+-]\d+\.\d+) \((.+)\)\.", line)
        if found:
            entry = by_label[found.group(1)]
            difference = entry["metric"]["mean"] - base["metric"]["mean"]
            assert _close(found.group(2), difference)
            spread = max(entry["metric"]["std"], base["metric"]["std"])
            expected = (
                "one seed each"
                if len(seeds) < 2
                else "within"
                if abs(difference) <= 2 * spread
                else ("better" if difference > 0 else "worse")
            )
            assert found.group(3).startswith(expected), line
            checked.add(i)
            continue
        found = re.fullmatch(r"- (.+?): (seed .+)", line)
        if found and found.group(1) in by_label:
            entry = by_label[found.group(1)]
            runs = re.findall(r"seed (\d+): (\S+) / (\S+) \((.+?), (\S+) min, (-?\d+) loader workers\)", found.group(2))
            assert len(runs) == len(entry["seeds"])
            for run, seed in zip(runs, entry["seeds"]):
                assert int(run[0]) == seed["seed"] and run[3] == seed["trained_on"]
                assert _close(run[1], seed["metric"]) and _close(run[2], seed["metric_at_training"])
                assert _close(run[4], seed["train_time_s"] / 60) and int(run[5]) == seed["num_workers"]
            checked.add(i)

    def seeds_said(line: str) -> None:
        assert re.findall(r"\d+", line) == [str(s) for s in seeds], line

    for i, line in enumerate(lines):
        if i in checked:
            continue
        if "sample standard deviation over" in line or "from one seed per variant" in line:
            found = re.search(r"over (\d+) seeds", line)
            assert (int(found.group(1)) if found else 1) == len(seeds)
            line = re.sub(r"over \d+ seeds|± 0", "", line)
        elif line.startswith("Identical for the"):
            seeds_said(line.split("seeds")[1])
            line = ""
        elif line.startswith("Train: `python -m scse_viz.train "):
            seeds_said(line.split("--seed")[1].split("`")[0])
            line = ""
        elif "minutes per model, measured" in line:
            minutes = [s["train_time_s"] / 60 for e in variants for s in e["seeds"]]
            low, high = re.search(r"(\S+) to (\S+) minutes", line).groups()
            assert _close(low, min(minutes)) and _close(high, max(minutes))
            line = line.replace(low, "").replace(high, "").replace("2-core", "")
        fixed = ("exit status 1",)  # the evaluation command's documented exit status, not a measurement
        for known in (
            card["title"],
            card["metric"],
            card["trained_on"],
            card["measured_on"],
            card["selection_rule"],
            *fixed,
        ):
            line = line.replace(known, "")
        assert not re.search(r"\d", line), f"{name}/card.md: a number card.json does not give: {lines[i]!r}"
    assert lines[0] == f"# Model card: {card['title']}"


def test_card_md_is_what_the_card_writer_makes_of_card_json(shipped) -> None:
    """No hand edits: regenerating card.md from card.json and about.md gives the shipped file."""
    name, card, text = shipped
    spec = zoo.family(name)
    assert card_markdown(card, about_text(spec.folder), spec.baseline) == text
