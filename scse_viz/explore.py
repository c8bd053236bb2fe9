"""The one path from a person's input to what the pages draw: image -> prepare -> models with capture -> records.

Pages call these functions and keep what they return; nothing here imports streamlit. Every number a page shows
comes out of :func:`run_model`, which runs the model once through :func:`scse_viz.capture_attention` (the output is
bit-identical to a plain forward pass) and hands the output to the family's task to read (a segmentation is mapped
back onto the input's own pixels there). Nothing here knows which task it runs.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from torch import nn

from scse_viz.capture import BlockRecord, Knockout, capture_attention
from scse_viz.color import luma
from scse_viz.degradation import NoiseSetting, degrade
from scse_viz.geometry import resize_image, resize_nearest, upsample_map
from scse_viz.io import LoadedImage, Volume, image_from_slice, slice_count, volume_slice
from scse_viz.parallel import serial_map, torch_call, torch_map
from scse_viz.progress import ProgressCallback
from scse_viz.tasks import Prediction
from scse_viz.zoo import Family, Prepared

MAX_SIDE = 1024  # longer side kept for display and results; larger uploads are resized (the models see 160 or 28)


# ------------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class SliceOf:
    """Where a slice came from: its volume, orientation and index (the page offers the whole volume in 3-D)."""

    volume: Volume = field(compare=False)
    orientation: str
    index: int


@dataclass(frozen=True)
class InputImage:
    """What the person chose, ready to be prepared for any family.

    ``pixels`` (H×W gray or H×W×3 colour, float32 in [0, 1]) is what is shown and what ``Family.prepare`` receives;
    ``key`` identifies the content (results are kept per key). ``truth`` holds ground truth where a sample has it,
    in whatever form the family's task scores (an H×W class mask on these pixels, a class index).
    """

    name: str
    pixels: np.ndarray
    key: str
    source_size: tuple[int, int]
    note: str = ""
    truth: Any = None
    volume: SliceOf | None = None  # the volume this slice was cut from, where it was

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]

    def gray(self) -> np.ndarray:
        """H×W luma for the gray overlays (colour inputs are drawn in gray under coloured maps)."""
        if self.pixels.ndim == 2:
            return self.pixels
        return np.ascontiguousarray(luma(self.pixels), dtype=np.float32)


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
    return resize_image(pixels, (max(1, round(h * scale)), max(1, round(w * scale))))


def _unit_range(pixels: np.ndarray, name: str) -> np.ndarray:
    """Values already in [0, 1] stay; anything else (float TIFFs) is scaled like a volume slice (robust window)."""
    if pixels.size and float(pixels.min()) >= 0.0 and float(pixels.max()) <= 1.0:
        return pixels
    if pixels.ndim == 2:
        return np.array(image_from_slice(pixels, name).pixels)
    return np.stack([np.array(image_from_slice(pixels[..., c], name).pixels) for c in range(3)], axis=-1)


def input_from_image(image: LoadedImage, *, truth: Any = None, max_side: int = MAX_SIDE) -> InputImage:
    """An uploaded or bundled 2-D image as an :class:`InputImage` (resized for display when larger than max_side;
    a ground-truth array of the image's size is resized with it, nearest neighbour)."""
    h, w = image.pixels.shape[:2]
    pixels = np.clip(_fit_display(_unit_range(np.asarray(image.pixels), image.name), max_side), 0.0, 1.0)
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    notes = [f"{image.source_size[0]}×{image.source_size[1]} px"]
    if pixels.shape[:2] != (h, w):
        notes.append(f"shown and analysed at {pixels.shape[0]}×{pixels.shape[1]}")
        if isinstance(truth, np.ndarray) and truth.shape[:2] == (h, w):
            truth = resize_nearest(truth, pixels.shape[:2])
    return InputImage(
        name=image.name,
        pixels=pixels,
        key=_content_key(pixels, image.name),
        source_size=image.source_size,
        note=", ".join(notes),
        truth=truth,
    )


def input_from_volume(volume: Volume, orientation: str, index: int, max_side: int = MAX_SIDE) -> InputImage:
    """One slice of a volume, oriented as viewers show it (``volume_slice``) and windowed robustly."""
    name = f"{volume.name} · {orientation} {index + 1}/{slice_count(volume, orientation)}"
    loaded = image_from_slice(volume_slice(volume, orientation, index), name)
    result = input_from_image(loaded, max_side=max_side)
    return replace(
        result,
        note=f"{orientation} slice {index} of {volume.name} ({result.note})",
        volume=SliceOf(volume, orientation, index),
    )


def degraded_input(image: InputImage, setting: NoiseSetting) -> InputImage:
    """``image`` with the family's degradation applied (:func:`scse_viz.degradation.degrade`): the noisy picture
    is what the models see and what is shown; the truth holds the clean picture and the σ map."""
    noisy, truth = degrade(image.pixels, setting)
    if not setting.adds_noise:
        return replace(image, pixels=noisy, truth=None, note=f"{image.note}, taken as it is (no noise added)")
    note = f"{image.note}, noise {setting.pattern} up to σ = {setting.sigma:g}/255 added here"
    return replace(
        image, pixels=noisy, truth=truth, key=_content_key(image.pixels, f"{image.key}|{setting.key()}"), note=note
    )


# ------------------------------------------------------------------------------------------------------ running


@dataclass(frozen=True)
class ModelOutput:
    """One model's result on one input: the task's reading of its output, the captured gates, how long it took."""

    variant: str
    label: str  # the variant's name for people
    prediction: Prediction
    records: tuple[BlockRecord, ...]
    knockout: tuple[Knockout, ...] = ()
    seconds: float = 0.0

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

    @property
    def reference(self) -> str:
        """The variant others are compared with: the family's baseline when it ran, else the first that ran."""
        if self.family.baseline in self.outputs:
            return self.family.baseline  # type: ignore[return-value]
        return next(iter(self.outputs))

    def compared(self) -> list[str]:
        """The variants compared with the reference (all but the baseline; none when the family has no baseline)."""
        if self.family.baseline not in self.outputs:
            return []
        return [v for v in self.outputs if v != self.family.baseline]


def _on_shared_pool(family: Family) -> bool:
    """Whether the family's forward passes go to the process's torch pool: a shipped family's do; a brought model's
    stay on the caller's thread, so a slow model someone uploaded never holds the pool other sessions wait in."""
    return family.loader is None


def run_model(
    family: Family, model: nn.Module, variant: str, prepared: Prepared, knockout: Sequence[Knockout] = ()
) -> ModelOutput:
    """Run ``model`` once on the prepared input with capture; the family's task reads the output.

    A shipped model runs where every shipped forward pass runs (:func:`scse_viz.parallel.torch_call`: one torch
    thread on a pool worker), so an intact run and its knock-out differ only by the knock-out; a brought model runs on
    the caller's thread, so a slow model someone uploaded never holds the pool other sessions' runs wait in."""

    def run() -> ModelOutput:
        started = time.perf_counter()
        result = capture_attention(model, prepared.tensor, knockout=list(knockout))
        prediction = family.task.read(result.output, prepared.geometry)
        return ModelOutput(
            variant,
            family.label(variant),
            prediction,
            tuple(result.records),
            tuple(knockout),
            time.perf_counter() - started,
        )

    return torch_call(run) if _on_shared_pool(family) else run()


def run_family(
    family: Family, models: Mapping[str, nn.Module], image: InputImage, progress: ProgressCallback | None = None
) -> FamilyRun:
    """Prepare ``image`` once and run every variant in ``models`` on it.

    A shipped family's variants run side by side, one core each (:func:`scse_viz.parallel.torch_map`: less CPU and
    wall time than one after the other on torch's threads); a brought model runs on the caller's thread alone, so a
    slow model someone uploaded never holds the process's shared pool that other sessions' runs wait in."""
    prepared = family.prepare(image.pixels)
    run = FamilyRun(family, image, prepared)
    variants = list(models)

    def one(variant: str) -> ModelOutput:
        return run_model(family, models[variant], variant, prepared)

    def done(count: int) -> None:
        if progress:
            progress(count / len(variants), f"ran {count} of {len(variants)} models")

    if progress:
        progress(0.0, f"running the {len(variants)} models")
    outputs = (torch_map if _on_shared_pool(family) else serial_map)(one, variants, done)
    run.outputs.update(zip(variants, outputs))
    if progress:
        progress(1.0, "done")
    return run


def run_images(family: Family, models: Mapping[str, nn.Module], images: Iterable[InputImage]) -> Iterator[FamilyRun]:
    """:func:`run_family` over many images, one run at a time: the next image is taken (and so decoded, degraded,
    prepared) only when the caller has finished with the last run, so a batch over thousands keeps one in memory."""
    for image in images:
        yield run_family(family, models, image)


# ------------------------------------------------------------------------------------------------------ outputs


def display_image(run: FamilyRun) -> np.ndarray:
    """The picture maps are drawn over: the input itself when results map back to it (the brain slices), else what
    the model saw (the classifier's 28×28 crop); the input's geometry decides."""
    return run.prepared.geometry.display_image(run.image.gray(), run.prepared.pixels)


def on_display(run: FamilyRun, maps: np.ndarray) -> np.ndarray:
    """Maps on the model input's grid -> on the pixels of :func:`display_image` (float64), with the geometry that
    masks, sSE maps and attributions all share."""
    return np.asarray(run.prepared.geometry.to_display(maps), dtype=np.float64)


def spatial_map(run: FamilyRun, record: BlockRecord, index: int = 0) -> np.ndarray:
    """A block's sSE gate q on the pixels of :func:`display_image` (H×W float64), with the model's own geometry:
    stride upsampling to the model input (bilinear, align_corners=False), then the input's inverse mapping."""
    if record.spatial_gate is None:
        raise ValueError(f"block {record.label} has no spatial gate")
    return on_display(run, upsample_map(record.spatial_gate[index], run.prepared.grid, record.stride))


def knockout_effect(run: FamilyRun, intact: ModelOutput, knocked: ModelOutput) -> dict:
    """How a knock-out changed the output, as the family's task measures it."""
    return run.family.task.knockout_effect(intact.prediction, knocked.prediction)


def join_has_gain(record: BlockRecord) -> bool:
    """Whether the block's output is one gain times x, w_c + q_ij (both gates joined by a sum): asked of the join
    itself (``Join.has_gain``) in one place, so the pages, the views and the export decide alike."""
    return record.channel_gate is not None and record.spatial_gate is not None and record.join.has_gain


def effective_gain(record: BlockRecord, index: int = 0) -> np.ndarray:
    """scSE's gain w_c + q_ij (C×h×w) of a sum-joined block: scse_out = gain · x."""
    if not join_has_gain(record):
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


def displayed_gain(run: FamilyRun, record: BlockRecord, channel: int | None = None, index: int = 0) -> np.ndarray:
    """The scSE gain minus one, w_c + q_ij − 1, on the pixels of :func:`display_image` (channel None: the mean
    over channels). Red-blue pictures of it show where the block boosts (> 0) or damps (< 0) the feature map."""
    gain = effective_gain(record, index)
    plane = gain.mean(axis=0) if channel is None else gain[channel]
    return on_display(run, upsample_map(plane, run.prepared.grid, record.stride)) - 1.0


def gate_change(a: BlockRecord, b: BlockRecord, index: int = 0) -> dict[str, float | int]:
    """How far one block's channel gate moved between two images: mean and largest |w(B) − w(A)| and where."""
    change = np.abs(gate_difference(a, b, index))
    return {"mean": float(change.mean()), "largest": float(change.max()), "channel": int(change.argmax())}
