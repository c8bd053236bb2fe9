"""``python -m scse_viz.train.novelty <family> [...]``: fit, calibrate and measure a family's novelty statistics.

Fits :class:`scse_viz.novelty.NoveltyModel` on the gates of every variant that has gates (and, for a denoiser, on
what its output and residual say) over the family's training inputs (its ``PARTS.novelty_inputs``: drawn as
training draws them), one Mahalanobis distance per part (:func:`feature_parts`); standardises each part's log
distance and calibrates the percentile of the largest on held-out in-distribution inputs, writes ``assets/models/<family>/novelty.npz`` with the fit's provenance, and
measures how well the score tells the family's test inputs from inputs it was never meant for (AUROC, 1 = every
out-of-family input scores above every test input): the other families' test pictures, photographs from
scikit-image's wheel (for families that do not take photos), and synthetic patterns. The AUROCs go into
``card.json`` (``novelty``) and a section of ``card.md``. The models are the shipped ones (``scse_viz.zoo``), so
after shipping new weights this one command refits: ``python -m scse_viz.train.novelty brain``. ``--features
FILE`` keeps the features (and reads them back on a second run: refitting the statistics without the models);
``--out DIR`` writes the statistics and the card there instead of into the family's folder.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz import zoo
from scse_viz.capture import capture_attention
from scse_viz.degradation import NoiseSetting, degrade
from scse_viz.family import Family
from scse_viz.novelty import (
    FILE_NAME,
    NoveltyModel,
    Part,
    batch_features,
    feature_blocks,
    gate_features,
    output_features,
    save_model,
)
from scse_viz.train.card import about_text, card_markdown
from scse_viz.train.parts import parts_for, trainable_families

COUNTS = {"fit": 1000, "calibrate": 500, "test": 500}  # inputs per split (fewer where a split has fewer)
OTHER_PER_FAMILY = 60  # test pictures taken from each other family
PHOTOS: tuple[str, ...] = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "horse")
BATCH = 64
Models = Mapping[str, torch.nn.Module]


# ------------------------------------------------------------------------------------------------------ inputs


def synthetic_patterns(side: int = 160) -> list[tuple[str, np.ndarray]]:
    """Pictures no training set holds: stripes, checkerboards, noise, constants and a ramp (gray, 0–1)."""
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float32)
    rng = np.random.default_rng(2027)
    patterns: list[tuple[str, np.ndarray]] = []
    for period in (4, 8, 16, 32):
        patterns.append((f"stripes {period} px", (np.sin(2 * np.pi * cols / period) > 0).astype(np.float32)))
        patterns.append((f"diagonal stripes {period} px", 0.5 + 0.5 * np.sin(2 * np.pi * (rows + cols) / period)))
        patterns.append((f"checkerboard {period} px", ((rows // period + cols // period) % 2).astype(np.float32)))
    patterns.append(("uniform noise", rng.uniform(0, 1, (side, side)).astype(np.float32)))
    patterns.append(("gaussian noise", np.clip(rng.normal(0.5, 0.2, (side, side)), 0, 1).astype(np.float32)))
    patterns.append(("binary noise", (rng.uniform(0, 1, (side, side)) > 0.5).astype(np.float32)))
    for value in (0.0, 0.5, 1.0):
        patterns.append((f"constant {value:g}", np.full((side, side), value, dtype=np.float32)))
    patterns.append(("ramp", np.broadcast_to(cols / (side - 1), (side, side)).astype(np.float32)))
    return [(name, np.ascontiguousarray(p, dtype=np.float32)) for name, p in patterns]


def scikit_photos() -> list[tuple[str, np.ndarray]]:
    """Photographs from scikit-image's wheel (files nobody here made), 0–1, colour or gray as stored."""
    from skimage import data

    photos = []
    for name in PHOTOS:
        image = np.asarray(getattr(data, name)(), dtype=np.float32)
        image = image[..., :3] if image.ndim == 3 else image
        photos.append((name, image / 255.0 if image.max() > 1 else image))
    return photos


def other_family_pictures(spec: Family, data_root: Path | None) -> list[tuple[str, np.ndarray]]:
    """Test pictures of every other trainable family (evenly spaced through each one's test set)."""
    pictures = []
    for other in trainable_families():
        if other == spec.name:
            continue
        test_images = zoo.family(other).test_images
        if test_images is None:
            continue
        items = list(test_images(data_root))
        step = max(len(items) // OTHER_PER_FAMILY, 1)
        pictures += [(f"{other}: {name}", np.asarray(pixels, np.float32)) for name, pixels, _ in items[::step]]
    return pictures


def as_the_app_sees(spec: Family, picture: np.ndarray) -> torch.Tensor:
    """The family's model input for a picture, through its default degradation first where it has one (the app
    adds the family's default noise to a picture before its models see it)."""
    if spec.degradation is not None:
        picture, _ = degrade(picture, NoiseSetting())
    return spec.prepare(picture).tensor


# ------------------------------------------------------------------------------------------------------ features


def features_of(models: Models, batches: Iterable[torch.Tensor], blocks: Sequence[str], outputs: Sequence[str]):
    rows = []
    for batch in batches:
        for start in range(0, len(batch), BATCH):
            rows.append(batch_features(models, batch[start : start + BATCH], blocks, outputs))
    return np.concatenate(rows)


def picture_features(
    spec: Family,
    models: Models,
    blocks: Sequence[str],
    outputs: Sequence[str],
    pictures: Sequence[tuple[str, np.ndarray]],
) -> np.ndarray:
    """Features of pictures as the app sees them; a denoiser's output is read on the picture's own pixels."""
    return np.concatenate(
        [batch_features(models, as_the_app_sees(spec, p), blocks, outputs, p.shape[:2]) for _, p in pictures]
    )


def feature_parts(widths: Mapping[str, int], outputs: Sequence[str], output_width: int) -> list[tuple[str, int, int]]:
    """The parts scored on their own: each variant's gates (its blocks' columns, in order), then each variant's
    output features. A part per variant keeps each covariance small enough to estimate from a thousand images
    and lets one variant's unusual response stand out instead of being averaged over every dimension.

    A family without output features (a segmenter, a classifier) keeps every gate in one part: measured on the
    brain family, one part per variant lowered the AUROC against every out-of-family input from 0.967 to 0.942
    (0.955 to 0.927 against the other families' inputs; one side-by-side run, on the models of 2026-12-06), where
    the joint distance sees how the variants' gates move together."""
    if not outputs:
        return [("gates", 0, sum(widths.values()))]
    parts: list[tuple[str, int, int]] = []
    start = 0
    for block, width in widths.items():
        name = f"{block.split('/', 1)[0]} gates"
        if parts and parts[-1][0] == name:
            parts[-1] = (name, parts[-1][1], start + width)
        else:
            parts.append((name, start, start + width))
        start += width
    for variant in outputs:
        parts.append((f"{variant} output", start, start + output_width))
        start += output_width
    return parts


def fit_statistics(fit: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, inverse Ledoit–Wolf covariance of ``fit`` (N×D) and the shrinkage used."""
    from sklearn.covariance import LedoitWolf

    estimate = LedoitWolf().fit(fit)
    return estimate.location_, np.linalg.inv(estimate.covariance_), float(estimate.shrinkage_)


def fit_parts(
    fit: np.ndarray, calibrate: np.ndarray, bounds: Sequence[tuple[str, int, int]], blocks: Sequence[str], outputs
) -> tuple[NoveltyModel, dict[str, float]]:
    """Each part's mean and shrunk inverse covariance from the training inputs (block-diagonal precision), then
    its log distance's centre (median) and scale (interquartile range / 1.349, the standard deviation of a normal)
    and the held-out scores from the calibration inputs. Returns the statistics and each part's shrinkage."""
    mean = np.zeros(fit.shape[1])
    precision = np.zeros((fit.shape[1], fit.shape[1]))
    shrinkage = {}
    for name, start, stop in bounds:
        mean[start:stop], precision[start:stop, start:stop], shrinkage[name] = fit_statistics(fit[:, start:stop])
    parts = []
    bare = NoveltyModel(
        tuple(blocks), mean, precision, np.zeros(1), outputs=tuple(outputs), parts=tuple(Part(*b) for b in bounds)
    )
    log_distances = np.log(bare.part_distances(calibrate))
    for (name, start, stop), column in zip(bounds, log_distances.T, strict=True):
        q1, median, q3 = np.percentile(column, [25, 50, 75])
        parts.append(Part(name, start, stop, float(median), float(max(q3 - q1, 1e-6) / 1.349)))
    scaled = NoveltyModel(tuple(blocks), mean, precision, np.zeros(1), outputs=tuple(outputs), parts=tuple(parts))
    held_out = np.sort(scaled.score(calibrate))
    return NoveltyModel(tuple(blocks), mean, precision, held_out, outputs=tuple(outputs), parts=tuple(parts)), shrinkage


def auroc(in_distribution: np.ndarray, unusual: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.zeros(len(in_distribution)), np.ones(len(unusual))]
    scores = np.nan_to_num(np.r_[in_distribution, unusual], nan=np.inf)
    return float(roc_auc_score(labels, np.minimum(scores, np.finfo(np.float64).max)))


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------------ the command


def compute_features(
    spec: Family, data_root: Path | None, counts: dict[str, int]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Every split's and every out-of-family group's feature matrix (one captured pass per variant), and what
    names their columns: the gated blocks with their widths, the variants whose output is an image, the groups'
    picture names."""
    inputs = parts_for(spec).novelty_inputs
    if inputs is None:
        raise SystemExit(f"the {spec.name} family's training parts give no novelty inputs")
    models = zoo.models_of(spec)
    batches = {split: inputs(split, counts[split], data_root) for split in ("fit", "calibrate", "test")}
    with torch.no_grad():
        probe = next(b for b in batches["fit"] if len(b))[:1]
        captured = {v: capture_attention(m, probe) for v, m in models.items()}
        records = {v: c.records for v, c in captured.items()}
        blocks = tuple(b for v, c in captured.items() for b in feature_blocks(v, c.records))
        widths = {b: len(gate_features(records, [b])) for b in blocks}
        gated = dict.fromkeys(b.split("/", 1)[0] for b in blocks)
        outputs = tuple(  # the gated variants whose output is an image (what a denoiser removed says what it read)
            v for v in gated if isinstance(captured[v].output, torch.Tensor) and captured[v].output.shape == probe.shape
        )
        output_width = len(output_features(probe[0].permute(1, 2, 0).numpy(), probe[0].permute(1, 2, 0).numpy()))
        models = {v: m for v, m in models.items() if v in gated}
        features = {split: features_of(models, b, blocks, outputs) for split, b in batches.items()}
        groups = {"other families' inputs": other_family_pictures(spec, data_root)}
        if spec.degradation is None:  # a family that restores photos takes photos
            groups["photographs (scikit-image)"] = scikit_photos()
        groups["synthetic patterns"] = synthetic_patterns()
        for label, pictures in groups.items():
            features[label] = picture_features(spec, models, blocks, outputs, pictures)
    layout = {
        "widths": widths,
        "outputs": list(outputs),
        "output_width": output_width,
        "groups": {label: [name for name, _ in pictures] for label, pictures in groups.items()},
        "models": list(models),
    }
    return features, layout


def fit_family(
    name: str,
    data_root: Path | None = None,
    counts: dict[str, int] | None = None,
    out: Path | None = None,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Fit, calibrate, measure and write one family's statistics (into ``out``, else the family's folder, with the
    card); returns the card's ``novelty`` record. ``cache``: an ``.npz`` of the features, read where it exists,
    else written, so that the statistics can be refitted without running the models again."""
    started = time.perf_counter()
    counts = {**COUNTS, **(counts or {})}
    spec = zoo.family(name)
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            layout = json.loads(str(stored["layout"]))
            features = {key: stored[key] for key in stored.files if key != "layout"}
    else:
        features, layout = compute_features(spec, data_root, counts)
        if cache is not None:
            np.savez_compressed(cache, layout=np.asarray(json.dumps(layout)), **features)
    widths, outputs = layout["widths"], tuple(layout["outputs"])
    blocks = tuple(widths)
    bounds = feature_parts(widths, outputs, layout["output_width"])
    statistics, shrinkage = fit_parts(features["fit"], features["calibrate"], bounds, blocks, outputs)
    test_score = statistics.score(features["test"])
    group_score = {label: statistics.score(features[label]) for label in layout["groups"]}
    percentile = {label: statistics.percentile(d) for label, d in group_score.items()}
    labels = ", ".join(spec.label(v) for v in layout["models"])
    described = "cSE gate logits, sSE map logits' mean and spread"
    if outputs:
        described += f"; {layout['output_width']} numbers of each denoiser's output and residual"
    record: dict[str, Any] = {
        "models": labels,
        "features": f"{len(statistics.mean)} numbers from {len(blocks)} blocks: {described}",
        "parts": [part.name for part in statistics.parts],
        "inputs": {split: int(len(features[split])) for split in ("fit", "calibrate", "test")},
        "shrinkage": {part: round(value, 4) for part, value in shrinkage.items()},
        "test percentile above 99": round(float(np.mean(statistics.percentile(test_score) > 99.0)), 4),
        "auroc": {label: round(auroc(test_score, d), 4) for label, d in group_score.items()},
        "counts": {label: len(names) for label, names in layout["groups"].items()},
        "above 99": {label: round(float(np.mean(p > 99.0)), 4) for label, p in percentile.items()},
        "least unusual": {
            label: f"{layout['groups'][label][int(np.argmin(p))]} ({float(np.min(p)):.1f})"
            for label, p in percentile.items()
        },
    }
    record["auroc"]["all out-of-family inputs"] = round(
        auroc(test_score, np.concatenate(list(group_score.values()))), 4
    )
    provenance = {
        "family": name,
        "weights_sha256_16": {v: _file_hash(spec.weights_path(v)) for v in layout["models"]},
        "fitted": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": f"python -m scse_viz.train.novelty {name}",
        "inputs": record["inputs"],
        "shrinkage": record["shrinkage"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    folder = out or spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    save_model(folder / FILE_NAME, replace(statistics, provenance=provenance))
    record["seconds"] = provenance["seconds"]
    record["weights_sha256_16"] = provenance["weights_sha256_16"]
    write_card(spec, record, folder)
    return record


def write_card(spec: Family, record: dict[str, Any], folder: Path | None = None) -> None:
    """``card.json``'s ``novelty`` record, then ``card.md`` regenerated from it (the card writer draws the section),
    so card.md stays exactly what the card writer makes of card.json. Written into ``folder`` (the family's card
    read from its own folder) where given."""
    folder = folder or spec.folder
    card = json.loads((spec.folder / "card.json").read_text())
    card["novelty"] = record
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (folder / "card.md").write_text(card_markdown(card, about_text(spec.folder), spec.baseline))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.train.novelty", description=__doc__.split("\n")[0])
    parser.add_argument("family", nargs="+", choices=trainable_families())
    parser.add_argument("--data-root", type=Path, default=None, help="fashion: folder with the IDX files")
    parser.add_argument("--out", type=Path, default=None, help="write novelty.npz and the card here (one family)")
    parser.add_argument("--features", type=Path, default=None, help="features cache (.npz): read if it exists")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--fit", type=int, default=COUNTS["fit"], help="training inputs to fit on")
    parser.add_argument("--calibrate", type=int, default=COUNTS["calibrate"], help="held-out inputs to calibrate on")
    args = parser.parse_args(argv)
    if len(args.family) > 1 and (args.out or args.features):
        parser.error("--out and --features take one family")
    torch.set_num_threads(args.threads)
    for name in args.family:
        counts = {"fit": args.fit, "calibrate": args.calibrate}
        record = fit_family(name, args.data_root, counts, out=args.out, cache=args.features)
        print(json.dumps({name: record}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
