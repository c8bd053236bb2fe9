"""The one path from a person's input to what the pages draw: image -> prepare -> models with capture -> records.

Pages call these functions and keep what they return; nothing here imports streamlit. Every number a page shows
comes out of :func:`run_model`, which runs the model once through :func:`scse_viz.capture_attention` (the output is
bit-identical to a plain forward pass) and maps segmentation results back onto the input's own pixels.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from scse_viz.capture import BlockRecord, Knockout, capture_attention
from scse_viz.evaluate import dice_counts, dice_report
from scse_viz.io import LoadedImage, Volume, image_from_slice, slice_count, volume_slice
from scse_viz.render.geometry import upsample_map
from scse_viz.zoo import VARIANT_LABELS, Family, Prepared

MAX_SIDE = 1024  # longer side kept for display and results; larger uploads are resized (the models see 160 or 28)
Progress = Callable[[float, str], None]


# ------------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class InputImage:
    """What the person chose, ready to be prepared for any family.

    ``pixels`` (H×W gray or H×W×3 colour, float32 in [0, 1]) is what is shown and what ``Family.prepare`` receives;
    ``key`` identifies the content (results are kept per key). ``truth_mask`` / ``truth_label`` hold ground truth
    where a sample has it.
    """

    name: str
    pixels: np.ndarray
    key: str
    source_size: tuple[int, int]
    note: str = ""
    truth_mask: np.ndarray | None = None
    truth_label: int | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]

    def gray(self) -> np.ndarray:
        """H×W luma for the gray overlays (colour inputs are drawn in gray under coloured maps)."""
        if self.pixels.ndim == 2:
            return self.pixels
        return np.ascontiguousarray(self.pixels @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32))


def _content_key(pixels: np.ndarray, extra: str = "") -> str:
    digest = hashlib.sha1(np.ascontiguousarray(pixels).tobytes())
    digest.update(f"{pixels.shape}{pixels.dtype}{extra}".encode())
    return digest.hexdigest()[:16]


def _fit_display(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most ``max_side`` (antialiased bilinear); smaller images are untouched."""
    h, w = pixels.shape[:2]
    if max(h, w) <= max_side:
        return pixels
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    return (out[0] if pixels.ndim == 2 else out.permute(1, 2, 0)).numpy()


def _unit_range(pixels: np.ndarray, name: str) -> np.ndarray:
    """Values already in [0, 1] stay; anything else (float TIFFs) is scaled like a volume slice (robust window)."""
    if pixels.size and float(pixels.min()) >= 0.0 and float(pixels.max()) <= 1.0:
        return pixels
    if pixels.ndim == 2:
        return np.array(image_from_slice(pixels, name).pixels)
    return np.stack([np.array(image_from_slice(pixels[..., c], name).pixels) for c in range(3)], axis=-1)


def input_from_image(
    image: LoadedImage, *, truth_mask: np.ndarray | None = None, truth_label: int | None = None,
    max_side: int = MAX_SIDE,
) -> InputImage:  # fmt: skip
    """An uploaded or bundled 2-D image as an :class:`InputImage` (resized for display when larger than max_side)."""
    h, w = image.pixels.shape[:2]
    pixels = np.clip(_fit_display(_unit_range(np.asarray(image.pixels), image.name), max_side), 0.0, 1.0)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    notes = [f"{image.source_size[0]}×{image.source_size[1]} px"]
    if pixels.shape[:2] != (h, w):
        notes.append(f"shown and analysed at {pixels.shape[0]}×{pixels.shape[1]}")
        if truth_mask is not None:
            truth_mask = _resize_nearest(truth_mask, pixels.shape[:2])
    return InputImage(
        name=image.name, pixels=pixels, key=_content_key(pixels, image.name), source_size=image.source_size,
        note=", ".join(notes), truth_mask=truth_mask, truth_label=truth_label,
    )  # fmt: skip


def input_from_volume(volume: Volume, orientation: str, index: int, max_side: int = MAX_SIDE) -> InputImage:
    """One slice of a volume, oriented as viewers show it (``volume_slice``) and windowed robustly."""
    name = f"{volume.name} · {orientation} {index + 1}/{slice_count(volume, orientation)}"
    loaded = image_from_slice(volume_slice(volume, orientation, index), name)
    result = input_from_image(loaded, max_side=max_side)
    return replace(result, note=f"{orientation} slice {index} of {volume.name} ({result.note})")


def _resize_nearest(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = np.minimum((np.arange(size[0]) + 0.5) * mask.shape[0] / size[0], mask.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(size[1]) + 0.5) * mask.shape[1] / size[1], mask.shape[1] - 1).astype(int)
    return mask[rows][:, cols]


# ------------------------------------------------------------------------------------------------------ running


@dataclass(frozen=True)
class ModelOutput:
    """One model's result on one input: output, captured gates and how long it took.

    Segmentation: ``probabilities`` K×H×W and ``mask`` H×W on the input's own pixels. Classification:
    ``probabilities`` K and no mask.
    """

    variant: str
    probabilities: np.ndarray
    mask: np.ndarray | None
    records: tuple[BlockRecord, ...]
    knockout: tuple[Knockout, ...] = ()
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return VARIANT_LABELS[self.variant]

    def shown(self) -> list[BlockRecord]:
        """Records with gates: the block ran and its gates were read and verified."""
        return [r for r in self.records if r.ran and r.readable]

    def record(self, label: str) -> BlockRecord:
        for r in self.records:
            if r.label == label:
                return r
        raise KeyError(f"no block {label!r} in the {self.label} model")


@dataclass(frozen=True)
class FamilyRun:
    """Every variant of a family on one input (and the prepared input they shared)."""

    family: Family
    image: InputImage
    prepared: Prepared
    outputs: dict[str, ModelOutput] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.family.name}:{self.image.key}"


def run_model(family: Family, model: nn.Module, variant: str, prepared: Prepared,
              knockout: Sequence[Knockout] = ()) -> ModelOutput:  # fmt: skip
    """Run ``model`` once on the prepared input with capture; map segmentation results back to the input pixels."""
    started = time.perf_counter()
    result = capture_attention(model, prepared.tensor, knockout=list(knockout))
    logits = result.output
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"the {variant} model returned {type(logits).__name__}, not a tensor of logits")
    probabilities = logits.float().softmax(dim=1)[0].numpy()
    mask = None
    if family.task == "segmentation":
        if prepared.geometry is not None:
            probabilities = prepared.geometry.to_source(probabilities)
        mask = np.argmax(probabilities, axis=0).astype(np.uint8)
    return ModelOutput(variant, probabilities, mask, tuple(result.records), tuple(knockout),
                       time.perf_counter() - started)  # fmt: skip


def run_family(family: Family, models: Mapping[str, nn.Module], image: InputImage,
               progress: Progress | None = None) -> FamilyRun:  # fmt: skip
    """Prepare ``image`` once and run every variant in ``models`` on it."""
    prepared = family.prepare(image.pixels)
    run = FamilyRun(family, image, prepared)
    for i, (variant, model) in enumerate(models.items()):
        if progress:
            progress(i / len(models), f"running the {VARIANT_LABELS[variant]} model")
        run.outputs[variant] = run_model(family, model, variant, prepared)
    if progress:
        progress(1.0, "done")
    return run


# ------------------------------------------------------------------------------------------------------ outputs


def display_image(run: FamilyRun) -> np.ndarray:
    """The picture maps are drawn over: the input itself when results map back to it (segmentation), else what
    the model saw (the classifier's 28×28 crop)."""
    return run.image.gray() if run.prepared.geometry is not None else run.prepared.pixels


def spatial_map(run: FamilyRun, record: BlockRecord, index: int = 0) -> np.ndarray:
    """A block's sSE gate q on the pixels of :func:`display_image` (H×W float64), with the model's own geometry:
    stride upsampling to the model input (bilinear, align_corners=False), then the input's inverse mapping."""
    if record.spatial_gate is None:
        raise ValueError(f"block {record.label} has no spatial gate")
    side = run.prepared.pixels.shape
    on_input = upsample_map(record.spatial_gate[index], side, record.stride)
    if run.prepared.geometry is None:
        return on_input
    return run.prepared.geometry.to_source(on_input.astype(np.float32)).astype(np.float64)


def top_classes(probabilities: np.ndarray, class_names: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The k most probable classes, most probable first (ties: lower class index first)."""
    order = np.argsort(-np.asarray(probabilities), kind="stable")[:k]
    return [(class_names[i], float(probabilities[i])) for i in order]


def class_areas(mask: np.ndarray, class_names: Sequence[str]) -> list[dict]:
    """Pixels and share of the image per class (every class, also absent ones)."""
    counts = np.bincount(mask.ravel(), minlength=len(class_names))
    return [{"class": name, "pixels": int(c), "percent": 100.0 * float(c) / mask.size}
            for name, c in zip(class_names, counts)]  # fmt: skip


def dice_scores(mask: np.ndarray, truth: np.ndarray, class_names: Sequence[str]) -> dict:
    """Dice per class and the mean over the foreground classes, as the evaluation computes them."""
    return dice_report(dice_counts(mask, truth, len(class_names)), class_names)


def disagreement(mask: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Where two masks differ (H×W bool) and the share of differing pixels."""
    differ = mask != reference
    return differ, float(differ.mean())


def knockout_effect(intact: ModelOutput, knocked: ModelOutput, class_names: Sequence[str]) -> dict:
    """How a knock-out changed the output: pixels that changed class (segmentation) or probability shifts."""
    if intact.mask is not None and knocked.mask is not None:
        _, changed = disagreement(knocked.mask, intact.mask)
        return {"changed_fraction": changed,
                "dice_vs_intact": dice_scores(knocked.mask, intact.mask, class_names)["mean_dice"]}  # fmt: skip
    delta = knocked.probabilities - intact.probabilities
    return {
        "top1_intact": class_names[int(np.argmax(intact.probabilities))],
        "top1_knocked": class_names[int(np.argmax(knocked.probabilities))],
        "largest_change": float(np.abs(delta).max()),
    }


def effective_gain(record: BlockRecord, index: int = 0) -> np.ndarray:
    """scSE's gain w_c + q_ij (C×h×w) of a sum-joined block: scse_out = gain · x."""
    if record.channel_gate is None or record.spatial_gate is None or record.join != "sum":
        raise ValueError(f"block {record.label} is not an scSE block joined by sum")
    return record.channel_gate[index][:, None, None] + record.spatial_gate[index][None]


def gate_difference(a: BlockRecord, b: BlockRecord, index: int = 0) -> np.ndarray:
    """w(image B) − w(image A) for the same block of the same model."""
    if a.channel_gate is None or b.channel_gate is None:
        raise ValueError("both records need a channel gate")
    return b.channel_gate[index] - a.channel_gate[index]


def common_blocks(outputs: Sequence[ModelOutput]) -> list[str]:
    """Labels of the blocks with gates in every output (for grids and comparisons)."""
    labels = [r.label for r in outputs[0].shown()] if outputs else []
    return [label for label in labels if all(any(r.label == label for r in o.shown()) for o in outputs[1:])]
