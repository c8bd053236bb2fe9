"""Restoration: the model returns an image (RGB, same size as its input), scored by PSNR and SSIM against the clean
image where it is known, explained through how much error the model removes inside a region."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from scse_viz.color import luma
from scse_viz.geometry import DisplayGeometry
from scse_viz.metrics import SsimReference, psnr
from scse_viz.tasks.base import OutputError, Prediction, Task


@dataclass(frozen=True)
class RestorationPrediction(Prediction):
    """``image``: the restored picture on the displayed pixels, H×W×3 in [0, 1] (clipped, as a saved file would be);
    ``raw``: the same before clipping (what the model computed)."""

    image: np.ndarray
    raw: np.ndarray


@dataclass(frozen=True)
class RestorationTruth:
    """What a degraded input knows of itself: the clean picture, and the noise's standard deviation per pixel
    (H×W on the 0–1 scale) when the app added the noise."""

    clean: np.ndarray
    sigma: np.ndarray | None = None


SSIM_MIN_SIDE = SsimReference.WINDOW


def ssim_reference(clean: np.ndarray) -> SsimReference | None:
    """The clean picture's SSIM statistics, to score several pictures against it (None for a picture narrower than
    SSIM's window, a strip)."""
    return SsimReference(clean) if min(np.shape(clean)[:2]) >= SSIM_MIN_SIDE else None


def restoration_scores(image: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """PSNR (dB) and SSIM of an image against the clean one, both on the 0–1 scale (SSIM NaN for a picture
    narrower than its 11-pixel window, a strip); many images against one clean picture: :func:`restoration_scores_of`."""
    return restoration_scores_of([image], clean)[0]


def restoration_scores_of(images: Sequence[np.ndarray], clean: np.ndarray) -> list[dict[str, float]]:
    """:func:`restoration_scores` of several images against one clean picture, in order: its SSIM statistics are
    filtered once and the images scored on all usable cores (:meth:`SsimReference.scores`)."""
    reference = ssim_reference(clean)
    ssims = [float("nan")] * len(images) if reference is None else reference.scores(images)
    return [{"psnr": psnr(image, clean), "ssim": value} for image, value in zip(images, ssims)]


REGIONS = (
    "the whole picture",
    "where the noise is strong (σ ≥ half its largest)",
    "where the noise is weak (σ < half its largest)",
)


def region_mask(index: int, truth: RestorationTruth | None, size: tuple[int, int]) -> np.ndarray:
    """H×W bool of region ``index`` of :data:`REGIONS` on a picture of ``size``; the σ regions are empty when σ
    is unknown."""
    if index == 0:
        return np.ones(size, dtype=bool)
    if truth is None or truth.sigma is None:
        return np.zeros(size, dtype=bool)
    strong = truth.sigma >= 0.5 * float(truth.sigma.max()) if truth.sigma.max() > 0 else np.zeros(size, bool)
    return strong if index == 1 else ~strong


class RestorationTask(Task):
    """Image in, image out (``channels`` colours); no classes. Attribution explains the error a model removes."""

    name = "restoration"
    output_rank = 4
    target_label = "Target region"
    target_explanation = (
        "Explained: the squared error the model removes inside the region, Σ (noisy − clean)² − "
        "Σ (output − clean)², against the clean picture."
    )

    def __init__(self, channels: int = 3) -> None:
        super().__init__(REGIONS)
        self.channels = channels

    def logits(self, output: Any) -> torch.Tensor:
        """The model's N×C×H×W image, or one :class:`OutputError`."""
        if not isinstance(output, torch.Tensor) or output.dim() != 4 or output.shape[1] != self.channels:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            raise OutputError(f"a restoration reads N×{self.channels}×H×W images; the model returned {shape}")
        return output.float()

    def read(self, output: Any, geometry: DisplayGeometry) -> RestorationPrediction:
        """The output image cropped back onto the displayed pixels, channels last."""
        raw = np.moveaxis(geometry.to_display(self.logits(output)[0].numpy()), 0, -1).astype(np.float32)
        return RestorationPrediction(np.clip(raw, 0.0, 1.0), raw)

    def score(self, prediction: Prediction, truth: Any) -> dict[str, Any]:
        if not isinstance(truth, RestorationTruth):
            raise TypeError(f"a restoration is scored against a RestorationTruth, not {type(truth).__name__}")
        return restoration_scores(_image(prediction), truth.clean)

    def knockout_effect(self, intact: Prediction, knocked: Prediction) -> dict[str, Any]:
        """How far the knocked-out output moved: PSNR against the intact output and the mean absolute change."""
        a, b = _image(intact), _image(knocked)
        return {"psnr_vs_intact": psnr(b, a), "mean_abs_change": float(np.abs(b - a).mean())}

    def target_kind(self) -> str:
        return "error_reduction"

    def explained_target(self, class_index: int, truth: Any, prepared: Any) -> Any:
        """The region's mask and the clean picture, put on the model's grid (the padding lies outside every region,
        so what fills it there does not count)."""
        from dataclasses import replace

        truth = truth if isinstance(truth, RestorationTruth) else None
        grid = prepared.grid
        h, w = prepared.geometry.to_display(np.zeros(grid, np.float32)).shape
        region = np.zeros(grid, dtype=bool)
        region[:h, :w] = region_mask(class_index, truth, (h, w))
        clean = None
        if truth is not None:
            padded = np.zeros((*grid, self.channels), dtype=np.float32)
            padded[:h, :w] = truth.clean
            clean = padded.transpose(2, 0, 1)[None]
        digest = hashlib.sha1(region.tobytes() + (b"" if clean is None else clean.tobytes())).hexdigest()[:16]
        return replace(self.attribution_target(class_index), region=region, clean=clean, content=digest)

    def predicted_classes(self, prediction: Prediction) -> list[int]:
        return list(range(len(self.class_names)))

    def default_target(self, reference: Prediction, others: Sequence[Prediction]) -> int:
        """The whole picture."""
        return 0

    def slice_maps(self, prediction: Prediction) -> dict[str, np.ndarray]:
        """The restored slice in gray (a volume is one channel)."""
        return {"restored": luma(_image(prediction)).astype(np.float32)}

    def export_arrays(self, prediction: Prediction) -> dict[str, np.ndarray]:
        return {"restored": _image(prediction)}


def _image(prediction: Prediction) -> np.ndarray:
    if not isinstance(prediction, RestorationPrediction):
        raise TypeError(f"a restoration task reads RestorationPrediction, not {type(prediction).__name__}")
    return prediction.image
