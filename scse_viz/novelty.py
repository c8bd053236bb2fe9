"""How unusual an input is for a family: a percentile of its gates' distance from the family's training images.

A segmentation of a striped test picture under the brain family comes out as confident grey and white matter; the
models cannot say that the picture is no brain. Their cSE gates can: each gate vector is a learned summary of a
block's whole feature map (global average pooling, a bottleneck, a sigmoid), so an input unlike the training images
drives them to values the training images never did. The gates of every variant that has them (each block's w as
logits, and the mean and spread of its sSE map q's logits) make one feature vector; the Mahalanobis distance of that vector from the training images'
mean, with a shrunk (Ledoit–Wolf) covariance, is the raw score; it is reported as the percentile of that distance
among held-out in-distribution images (0: as typical as any; 100: more unusual than every one of them).

The statistics are fitted by ``python -m scse_viz.train.novelty <family>`` and shipped as
``assets/models/<family>/novelty.npz`` with the fit's provenance; this module only reads them (no training code, no
data sets on the app's path). A brought model has no training data here, so it has no novelty score.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scse_viz.capture import BlockRecord, capture_attention
from scse_viz.errors import ScseVizError
from scse_viz.family import Family

FILE_NAME = "novelty.npz"
UNUSUAL_PERCENTILE = 99.0  # above this the app says the input is unlike the training images
_EPSILON = 1e-4  # gates are clipped to [ε, 1 − ε] before the logit (a saturated sigmoid would be ±inf)


class NoveltyUnavailableError(ScseVizError):
    """The family ships no novelty statistics (a brought model, or a family not fitted yet)."""


@dataclass(frozen=True)
class NoveltyModel:
    """Fitted statistics of one family: which gates (``blocks``: "variant/block", in feature order), their mean and
    inverse covariance, and the sorted distances of held-out in-distribution images that calibrate the percentile."""

    blocks: tuple[str, ...]
    mean: np.ndarray  # D
    precision: np.ndarray  # D×D, inverse of the shrunk covariance
    held_out: np.ndarray  # sorted distances of held-out in-distribution images
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants whose gates the features hold, in feature order."""
        return tuple(dict.fromkeys(b.split("/", 1)[0] for b in self.blocks))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (N×D, or one D vector) from the training mean."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        centred = features - self.mean
        squared = np.einsum("nd,de,ne->n", centred, self.precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def percentile(self, distance: float | np.ndarray) -> np.ndarray:
        """Share of held-out images (in %) less unusual than ``distance`` (ties count half); a non-finite distance
        (NaN or infinite gates) is as unusual as can be: 100."""
        distance = np.asarray(distance, dtype=np.float64)
        below = np.searchsorted(self.held_out, distance, side="left")
        not_above = np.searchsorted(self.held_out, distance, side="right")
        result = 100.0 * (below + not_above) / (2.0 * len(self.held_out))
        return np.where(np.isfinite(distance), result, 100.0)


def gate_features(records: Mapping[str, Sequence[BlockRecord]], blocks: Sequence[str], index: int = 0) -> np.ndarray:
    """One image's feature vector from captured passes (variant -> its records): for each "variant/block" in
    ``blocks``, its channel gate as logits, then the mean and standard deviation of its spatial gate's logits (where
    the block has those gates). KeyError when a block is missing (the statistics were fitted on other models)."""
    by_label = {f"{variant}/{r.label}": r for variant, rs in records.items() for r in rs if r.ran and r.readable}
    parts: list[np.ndarray] = []
    for label in blocks:
        record = by_label[label]
        if record.channel_gate is not None:
            parts.append(_logit(record.channel_gate[index]))
        if record.spatial_gate is not None:
            q = _logit(record.spatial_gate[index])
            parts.append(np.array([q.mean(), q.std()]))
    return np.concatenate(parts) if parts else np.zeros(0)


def feature_blocks(variant: str, records: Sequence[BlockRecord]) -> tuple[str, ...]:
    """The "variant/block" names whose gates make the features: every block that ran, was read and has a gate."""
    return tuple(
        f"{variant}/{r.label}"
        for r in records
        if r.ran and r.readable and (r.channel_gate is not None or r.spatial_gate is not None)
    )


def batch_features(models: Mapping[str, torch.nn.Module], inputs: torch.Tensor, blocks: Sequence[str]) -> np.ndarray:
    """N×D features of a batch of model inputs (one captured forward pass per variant in ``blocks``)."""
    variants = dict.fromkeys(b.split("/", 1)[0] for b in blocks)
    records = {v: capture_attention(models[v], inputs).records for v in variants}
    return np.stack([gate_features(records, blocks, i) for i in range(len(inputs))])


def _logit(gate: np.ndarray) -> np.ndarray:
    gate = np.clip(np.asarray(gate, dtype=np.float64), _EPSILON, 1.0 - _EPSILON)
    return np.log(gate) - np.log1p(-gate)


# ------------------------------------------------------------------------------------------------------ the asset


def save_model(path: str | Path, model: NoveltyModel) -> Path:
    """One compressed ``.npz`` (float32 statistics, provenance as JSON text); read back by :func:`load_model`."""
    path = Path(path)
    np.savez_compressed(
        path,
        blocks=np.asarray(model.blocks),
        mean=model.mean.astype(np.float32),
        precision=model.precision.astype(np.float32),
        held_out=np.sort(model.held_out).astype(np.float32),
        provenance=np.asarray(json.dumps(model.provenance, sort_keys=True)),
    )
    return path


def load_model(path: str | Path) -> NoveltyModel:
    path = Path(path)
    return _load(path, path.stat().st_mtime)


@cache
def _load(path: Path, mtime: float) -> NoveltyModel:
    with np.load(path, allow_pickle=False) as data:
        return NoveltyModel(
            blocks=tuple(str(b) for b in data["blocks"]),
            mean=data["mean"].astype(np.float64),
            precision=data["precision"].astype(np.float64),
            held_out=np.sort(data["held_out"].astype(np.float64)),
            provenance=json.loads(str(data["provenance"])),
        )


def statistics_of(family: Family) -> NoveltyModel | None:
    """The family's shipped statistics, or None where it has none (a brought model has no training data)."""
    if family.loader is not None:
        return None
    path = family.folder / FILE_NAME
    return load_model(path) if path.is_file() else None


# ------------------------------------------------------------------------------------------------------ scoring


def score_records(statistics: NoveltyModel, records: Mapping[str, Sequence[BlockRecord]], index: int = 0) -> float:
    """The novelty percentile of one image from its captured records (variant -> records)."""
    with np.errstate(invalid="ignore", over="ignore"):
        distance = statistics.distance(gate_features(records, statistics.blocks, index))
    return float(statistics.percentile(distance)[0])


def novelty(family: Family, image: np.ndarray, models: Mapping[str, torch.nn.Module] | None = None) -> float:
    """How unusual ``image`` (what the family's models see: H×W or H×W×3 in [0, 1]) is against the family's own
    training images, as a percentile from 0 to 100 (100: more unusual than every held-out training image).

    ``models`` are the family's variants already loaded (else the shipped ones are loaded). Raises
    :class:`NoveltyUnavailableError` for a family without statistics."""
    statistics = statistics_of(family)
    if statistics is None:
        raise NoveltyUnavailableError(
            f"the {family.title} models ship no statistics of their training images, so how unusual an input is "
            "cannot be measured"
        )
    if models is None:
        from scse_viz import zoo

        models = {v: zoo.load_model(family.name, v) for v in statistics.variants}
    prepared = family.prepare(np.asarray(image, dtype=np.float32))
    records = {v: capture_attention(models[v], prepared.tensor).records for v in statistics.variants}
    return score_records(statistics, records)
