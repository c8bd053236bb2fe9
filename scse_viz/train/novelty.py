"""``python -m scse_viz.train.novelty <family> [...]``: fit, calibrate and measure a family's novelty statistics.

Fits :class:`scse_viz.novelty.NoveltyModel` on the gates of every variant that has gates over the family's
training inputs (its ``PARTS.novelty_inputs``: drawn as training draws them), calibrates the percentile on
held-out in-distribution inputs, writes ``assets/models/<family>/novelty.npz`` with the fit's provenance, and
measures how well the score tells the family's test inputs from inputs it was never meant for (AUROC, 1 = every
out-of-family input scores above every test input): the other families' test pictures, photographs from
scikit-image's wheel (for families that do not take photos), and synthetic patterns. The AUROCs go into
``card.json`` (``novelty``) and a section of ``card.md``. The models are the shipped ones (``scse_viz.zoo``), so
after shipping new weights this one command refits: ``python -m scse_viz.train.novelty brain``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz import zoo
from scse_viz.capture import capture_attention
from scse_viz.degradation import NoiseSetting, degrade
from scse_viz.family import Family
from scse_viz.novelty import FILE_NAME, NoveltyModel, batch_features, feature_blocks, save_model
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


def features_of(models: Models, batches: Iterable[torch.Tensor], blocks: Sequence[str]) -> np.ndarray:
    rows = []
    for batch in batches:
        for start in range(0, len(batch), BATCH):
            rows.append(batch_features(models, batch[start : start + BATCH], blocks))
    return np.concatenate(rows)


def picture_features(
    spec: Family, models: Models, blocks: Sequence[str], pictures: Sequence[tuple[str, np.ndarray]]
) -> np.ndarray:
    return np.concatenate([batch_features(models, as_the_app_sees(spec, p), blocks) for _, p in pictures])


def fit_statistics(fit: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, inverse Ledoit–Wolf covariance of ``fit`` (N×D) and the shrinkage used."""
    from sklearn.covariance import LedoitWolf

    estimate = LedoitWolf().fit(fit)
    return estimate.location_, np.linalg.inv(estimate.covariance_), float(estimate.shrinkage_)


def auroc(in_distribution: np.ndarray, unusual: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.zeros(len(in_distribution)), np.ones(len(unusual))]
    scores = np.nan_to_num(np.r_[in_distribution, unusual], nan=np.inf)
    return float(roc_auc_score(labels, np.minimum(scores, np.finfo(np.float64).max)))


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------------ the command


def fit_family(name: str, data_root: Path | None = None, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """Fit, calibrate, measure and write one family's statistics; returns the card's ``novelty`` record."""
    started = time.perf_counter()
    counts = {**COUNTS, **(counts or {})}
    spec = zoo.family(name)
    inputs = parts_for(spec).novelty_inputs
    if inputs is None:
        raise SystemExit(f"the {name} family's training parts give no novelty inputs")
    models = zoo.models_of(spec)
    batches = {split: inputs(split, counts[split], data_root) for split in ("fit", "calibrate", "test")}
    with torch.no_grad():
        probe = next(b for b in batches["fit"] if len(b))[:1]
        blocks = tuple(b for v, m in models.items() for b in feature_blocks(v, capture_attention(m, probe).records))
        models = {v: m for v, m in models.items() if any(b.startswith(f"{v}/") for b in blocks)}
        features = {split: features_of(models, b, blocks) for split, b in batches.items()}
        mean, precision, shrinkage = fit_statistics(features["fit"])
        statistics = NoveltyModel(blocks, mean, precision, np.zeros(1))
        held_out = np.sort(statistics.distance(features["calibrate"]))
        test_distance = statistics.distance(features["test"])
        groups = {"other families' inputs": other_family_pictures(spec, data_root)}
        if spec.degradation is None:  # a family that restores photos takes photos
            groups["photographs (scikit-image)"] = scikit_photos()
        groups["synthetic patterns"] = synthetic_patterns()
        group_distance = {
            label: statistics.distance(picture_features(spec, models, blocks, pictures))
            for label, pictures in groups.items()
        }
    statistics = NoveltyModel(blocks, mean, precision, held_out)
    labels = ", ".join(spec.label(v) for v in models)
    percentile = {label: statistics.percentile(d) for label, d in group_distance.items()}
    record: dict[str, Any] = {
        "models": labels,
        "features": f"{len(mean)} numbers from {len(blocks)} blocks: cSE gate logits, sSE map logits' mean and spread",
        "inputs": {split: int(len(f)) for split, f in features.items()},
        "shrinkage": round(shrinkage, 4),
        "test percentile above 99": round(float(np.mean(statistics.percentile(test_distance) > 99.0)), 4),
        "auroc": {label: round(auroc(test_distance, d), 4) for label, d in group_distance.items()},
        "counts": {label: len(pictures) for label, pictures in groups.items()},
        "above 99": {label: round(float(np.mean(p > 99.0)), 4) for label, p in percentile.items()},
        "least unusual": {
            label: f"{pictures[int(np.argmin(p))][0]} ({float(np.min(p)):.1f})"
            for (label, pictures), p in zip(groups.items(), percentile.values())
        },
    }
    record["auroc"]["all out-of-family inputs"] = round(
        auroc(test_distance, np.concatenate(list(group_distance.values()))), 4
    )
    provenance = {
        "family": name,
        "weights_sha256_16": {v: _file_hash(spec.weights_path(v)) for v in models},
        "fitted": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": f"python -m scse_viz.train.novelty {name}",
        "inputs": record["inputs"],
        "shrinkage": record["shrinkage"],
        "seconds": round(time.perf_counter() - started, 1),
    }
    save_model(spec.folder / FILE_NAME, NoveltyModel(blocks, mean, precision, held_out, provenance))
    record["seconds"] = provenance["seconds"]
    record["weights_sha256_16"] = provenance["weights_sha256_16"]
    write_card(spec, record)
    return record


def write_card(spec: Family, record: dict[str, Any]) -> None:
    """``card.json``'s ``novelty`` record, then ``card.md`` regenerated from it (the card writer draws the section),
    so card.md stays exactly what the card writer makes of card.json."""
    card_json = spec.folder / "card.json"
    card = json.loads(card_json.read_text())
    card["novelty"] = record
    card_json.write_text(json.dumps(card, indent=2) + "\n")
    (spec.folder / "card.md").write_text(card_markdown(card, about_text(spec.folder), spec.baseline))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.train.novelty", description=__doc__.split("\n")[0])
    parser.add_argument("family", nargs="+", choices=trainable_families())
    parser.add_argument("--data-root", type=Path, default=None, help="fashion: folder with the IDX files")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.family:
        record = fit_family(name, args.data_root)
        print(json.dumps({name: record}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
