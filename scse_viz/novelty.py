"""How unusual an input is for a family: a percentile of its gates' distance from the family's training images.

A segmentation of a striped test picture under the brain family comes out as confident grey and white matter; the
models cannot say that the picture is no brain. Their cSE gates can: each gate vector is a learned summary of a
block's whole feature map (global average pooling, a bottleneck, a sigmoid), so an input unlike the training images
drives them to values the training images never did. The gates of every variant that has them (each block's w as
logits, and the mean and spread of its sSE map q's logits) make one feature vector; a model that returns an image
(a denoiser) adds what its output says of the input (:func:`output_features`: the removed residual's level, colour
correlation and grain, the restored picture's colour and texture). The vector is cut into parts (one per variant's
gates, one per variant's output), and each part's Mahalanobis distance from the training images' mean, with a shrunk
(Ledoit–Wolf) covariance, is put on a common scale: the log distance standardised by its median and spread over
held-out in-distribution images. The raw score is the largest of them, so an input that is unusual in any one part is
unusual; it is reported as the percentile of that score among the held-out in-distribution images (0: as typical as
any; 100: more unusual than every one of them). Statistics with one part and no standardisation (as fitted before
parts existed) score the plain distance.

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
class Part:
    """One part of the feature vector, scored on its own: columns ``start:stop``; its log distance is standardised
    as ``(log d − centre) / scale`` (centre and scale from held-out in-distribution images)."""

    name: str
    start: int
    stop: int
    centre: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class NoveltyModel:
    """Fitted statistics of one family: which gates (``blocks``: "variant/block", in feature order), which variants'
    outputs (``outputs``, after the gates), the features' mean and inverse covariance (block-diagonal over
    ``parts``), and the sorted scores of held-out in-distribution images that calibrate the percentile."""

    blocks: tuple[str, ...]
    mean: np.ndarray  # D
    precision: np.ndarray  # D×D, inverse of the shrunk covariance (of each part: zero between parts)
    held_out: np.ndarray  # sorted scores of held-out in-distribution images
    provenance: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()  # variants whose output features follow the gates, in this order
    parts: tuple[Part, ...] = ()  # empty: one part, the whole vector, scored by its plain distance

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants whose gates or outputs the features hold, in feature order."""
        return tuple(dict.fromkeys([b.split("/", 1)[0] for b in self.blocks] + list(self.outputs)))

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (N×D, or one D vector) from the training mean."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        centred = features - self.mean
        squared = np.einsum("nd,de,ne->n", centred, self.precision, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def part_distances(self, features: np.ndarray) -> np.ndarray:
        """N×K: each part's Mahalanobis distance (its own block of the precision) for each row of ``features``."""
        features = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if not self.parts:
            return self.distance(features)[:, None]
        columns = []
        for part in self.parts:
            centred = features[:, part.start : part.stop] - self.mean[part.start : part.stop]
            block = self.precision[part.start : part.stop, part.start : part.stop]
            columns.append(np.sqrt(np.maximum(np.einsum("nd,de,ne->n", centred, block, centred), 0.0)))
        return np.stack(columns, axis=1)

    def score(self, features: np.ndarray) -> np.ndarray:
        """The raw novelty score of each row: the largest standardised log distance over the parts (the plain
        distance for statistics without parts). The held-out scores are in the same units."""
        distances = self.part_distances(features)
        if not self.parts:
            return distances[:, 0]
        centre = np.array([p.centre for p in self.parts])
        scale = np.array([p.scale for p in self.parts])
        with np.errstate(divide="ignore"):
            standardised = (np.log(distances) - centre) / scale
        # a NaN in any part (NaN gates) makes the whole score NaN: as unusual as can be
        return np.where(np.isnan(standardised).any(axis=1), np.nan, np.max(standardised, axis=1))

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


def batch_features(
    models: Mapping[str, torch.nn.Module],
    inputs: torch.Tensor,
    blocks: Sequence[str],
    outputs: Sequence[str] = (),
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """N×D features of a batch of model inputs (one captured forward pass per variant): the gates of ``blocks``, then
    the :func:`output_features` of each variant in ``outputs`` on the displayed ``size`` (all of the input when
    None)."""
    variants = dict.fromkeys([b.split("/", 1)[0] for b in blocks] + list(outputs))
    captured = {v: capture_attention(models[v], inputs) for v in variants}
    records = {v: c.records for v, c in captured.items()}
    size = size or (inputs.shape[-2], inputs.shape[-1])
    rows = []
    for i in range(len(inputs)):
        pairs = [image_pair(inputs[i : i + 1], captured[v].output[i : i + 1], size) for v in outputs]
        rows.append(np.concatenate([gate_features(records, blocks, i)] + [output_features(*p) for p in pairs]))
    return np.stack(rows)


def output_features(noisy: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """What a denoiser's output says of its input (both H×W×C on the displayed pixels; ``restored`` unclipped, as
    the model computed it): per channel the log spread and the mean of the residual it removed (noisy − restored),
    and the restored picture's mean and log spread; for colour, the residual's correlation between channels and the
    log mean and spread of the restored picture's colour (the spread over channels per pixel); then the residual's
    correlation with its right and lower neighbour (noise is grain-free, removed detail is not) and the restored
    picture's log mean absolute difference across and down. A training photo has colour and leaves a residual of
    independent noise; a gray scan, a drawing or a pattern does not."""
    noisy = np.asarray(noisy, dtype=np.float32)
    restored = np.asarray(restored, dtype=np.float32)
    noisy, restored = (a[..., None] if a.ndim == 2 else a for a in (noisy, restored))
    residual = noisy - restored
    count = residual.shape[0] * residual.shape[1]
    # sums and products in float64 through BLAS (a 512×512 photo: a few ms, not the passes over it numpy's
    # std and corrcoef make)
    flat_residual = residual.reshape(count, -1)
    flat_restored = restored.reshape(count, -1)
    residual_mean = flat_residual.mean(axis=0, dtype=np.float64)
    residual_covariance = _moments(flat_residual) - np.outer(residual_mean, residual_mean)
    residual_spread = np.sqrt(np.maximum(np.diag(residual_covariance), 0.0))
    restored_mean = flat_restored.mean(axis=0, dtype=np.float64)
    restored_spread = np.sqrt(np.maximum(np.diag(_moments(flat_restored)) - restored_mean**2, 0.0))
    parts = [_log(residual_spread), residual_mean, restored_mean, _log(restored_spread)]
    if residual.shape[-1] == 3:
        pairs = ([0, 0, 1], [1, 2, 2])
        products = residual_spread[pairs[0]] * residual_spread[pairs[1]]
        parts.append(np.where(products > 0, residual_covariance[pairs] / np.where(products > 0, products, 1.0), 0.0))
        colour = flat_restored.std(axis=1)
        parts.append(_log(np.array([colour.mean(dtype=np.float64), colour.std(dtype=np.float64)])))
    centred = residual - residual_mean.astype(np.float32)
    variance = max(float(np.einsum("ijk,ijk->", centred, centred, dtype=np.float64)) / centred.size, 1e-12)
    across = np.einsum("ijk,ijk->", centred[:, 1:], centred[:, :-1], dtype=np.float64) / centred[:, 1:].size
    down = np.einsum("ijk,ijk->", centred[1:], centred[:-1], dtype=np.float64) / centred[1:].size
    gradients = [
        np.abs(np.diff(restored, axis=1)).mean(dtype=np.float64),
        np.abs(np.diff(restored, axis=0)).mean(dtype=np.float64),
    ]
    parts += [np.array([across / variance, down / variance]), _log(np.array(gradients))]
    return np.concatenate(parts)


def _moments(flat: np.ndarray) -> np.ndarray:
    """C×C mean of the products of the columns of ``flat`` (N×C), summed in float64."""
    flat = flat.astype(np.float64)
    return flat.T @ flat / len(flat)


def _log(values: np.ndarray) -> np.ndarray:
    return np.log(np.asarray(values, dtype=np.float64) + 1e-4)


def _logit(gate: np.ndarray) -> np.ndarray:
    gate = np.clip(np.asarray(gate, dtype=np.float64), _EPSILON, 1.0 - _EPSILON)
    return np.log(gate) - np.log1p(-gate)


# ------------------------------------------------------------------------------------------------------ the asset


def save_model(path: str | Path, model: NoveltyModel) -> Path:
    """One compressed ``.npz`` (float32 statistics, provenance as JSON text); read back by :func:`load_model`."""
    path = Path(path)
    parts = {
        "outputs": np.asarray(model.outputs, dtype=str),
        "part_names": np.asarray([p.name for p in model.parts], dtype=str),
        "part_bounds": np.asarray([(p.start, p.stop) for p in model.parts], dtype=np.int64).reshape(-1, 2),
        "part_standardisation": np.asarray([(p.centre, p.scale) for p in model.parts], dtype=np.float64).reshape(-1, 2),
    }
    np.savez_compressed(
        path,
        blocks=np.asarray(model.blocks),
        mean=model.mean.astype(np.float32),
        precision=model.precision.astype(np.float32),
        held_out=np.sort(model.held_out).astype(np.float32),
        provenance=np.asarray(json.dumps(model.provenance, sort_keys=True)),
        **parts,
    )
    return path


def load_model(path: str | Path) -> NoveltyModel:
    path = Path(path)
    return _load(path, path.stat().st_mtime)


@cache
def _load(path: Path, mtime: float) -> NoveltyModel:
    with np.load(path, allow_pickle=False) as data:
        names = data["part_names"] if "part_names" in data else np.zeros(0, dtype=str)
        bounds = data["part_bounds"] if "part_bounds" in data else np.zeros((0, 2), dtype=np.int64)
        standardisation = data["part_standardisation"] if "part_standardisation" in data else np.zeros((0, 2))
        return NoveltyModel(
            blocks=tuple(str(b) for b in data["blocks"]),
            mean=data["mean"].astype(np.float64),
            precision=data["precision"].astype(np.float64),
            held_out=np.sort(data["held_out"].astype(np.float64)),
            provenance=json.loads(str(data["provenance"])),
            outputs=tuple(str(v) for v in data["outputs"]) if "outputs" in data else (),
            parts=tuple(
                Part(str(n), int(b[0]), int(b[1]), float(c[0]), float(c[1]))
                for n, b, c in zip(names, bounds, standardisation, strict=True)
            ),
        )


def statistics_of(family: Family) -> NoveltyModel | None:
    """The family's shipped statistics, or None where it has none (a brought model has no training data)."""
    if family.loader is not None:
        return None
    path = family.folder / FILE_NAME
    return load_model(path) if path.is_file() else None


# ------------------------------------------------------------------------------------------------------ scoring


def features_of(
    statistics: NoveltyModel,
    records: Mapping[str, Sequence[BlockRecord]],
    outputs: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    index: int = 0,
) -> np.ndarray:
    """One image's full feature vector: its gates, then for each variant in ``statistics.outputs`` the
    :func:`output_features` of its (noisy input, restored output) pair in ``outputs`` (KeyError when missing)."""
    gates = gate_features(records, statistics.blocks, index)
    if not statistics.outputs:
        return gates
    if outputs is None:
        raise KeyError("these statistics need the models' outputs")
    return np.concatenate([gates] + [output_features(*outputs[v]) for v in statistics.outputs])


def score_records(
    statistics: NoveltyModel,
    records: Mapping[str, Sequence[BlockRecord]],
    outputs: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    index: int = 0,
) -> float:
    """The novelty percentile of one image from its captured records (variant -> records) and, where the statistics
    use them, its variants' outputs (variant -> (noisy input, restored output), both H×W×C on the displayed pixels)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        score = statistics.score(features_of(statistics, records, outputs, index))
    return float(statistics.percentile(score)[0])


def image_pair(model_input: torch.Tensor, model_output: torch.Tensor, size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """(noisy input, unclipped output) of a model that returns an image, as H×W×C arrays cropped to the displayed
    ``size`` (what :func:`output_features` reads; the same pixels the app's restoration prediction holds)."""
    h, w = size
    return tuple(np.asarray(t[0, :, :h, :w].detach().permute(1, 2, 0).numpy()) for t in (model_input, model_output))


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
    image = np.asarray(image, dtype=np.float32)
    prepared = family.prepare(image)
    captured = {v: capture_attention(models[v], prepared.tensor) for v in statistics.variants}
    size = (image.shape[0], image.shape[1])  # a denoiser's output is cropped back to the picture's own pixels
    outputs = {v: image_pair(prepared.tensor, captured[v].output, size) for v in statistics.outputs}
    return score_records(statistics, {v: c.records for v, c in captured.items()}, outputs)
