"""Train one brain-MRI U-Net (one variant, one seed) on MNI152 template slices; write weights and a JSON record.

Every slice goes through :func:`scse_viz.preprocess.brain_preprocess`, the function the app and the evaluation use;
the labels follow the same geometry (their class probabilities are resized like the image, then arg-maxed).
Augmentation is drawn from torch's RNG only (seeded), jointly on image and mask with torchvision transforms.v2
(flip, affine, elastic), followed by intensity changes on the image alone (gamma, a smooth bias field, contrast and
brightness, Gaussian noise) so that the models also work on slices that are not the template's exact intensities.
The Dice stored at the end is measured by :func:`scse_viz.evaluate.measure_brain`, the same function the evaluation
command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2
from tqdm import tqdm

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz.data import realhead, synthhead
from scse_viz.datasets.brain import BRAIN_CLASSES, BrainSlice, labels_from_probabilities, load_brain_slices
from scse_viz.evaluate import measure_brain, measure_heads
from scse_viz.family import ASSETS
from scse_viz.geometry import SquareGeometry, resize_image, resize_nearest
from scse_viz.preprocess import brain_preprocess, brain_tensor, normalise_intensity
from scse_viz.train.common import (
    TrainResult,
    make_optimizer,
    one_cycle,
    resolve_device,
    seed_everything,
    sha256_of,
    shuffled_loader,
    write_run,
)
from scse_viz.train.config import BrainConfig
from scse_viz.train.elastic import SeparableElasticTransform
from scse_viz.train.parts import FamilyTraining
from scse_viz.zoo import load_checkpoint

# One training sample: the model input (1×H×W), its labels (H×W) and whether a head is drawn around the brain (a
# synthetic or the real head: True; the template's own skull-stripped slice: False)
Sample = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def model_inputs(slices: list[BrainSlice], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed images (N×1×size×size float32) and labels at the model's resolution (N×size×size int64)."""
    images, labels = [], []
    for item in slices:
        pixels, geometry = brain_preprocess(item.pixels, size)
        images.append(pixels)
        labels.append(np.argmax(geometry.to_model(item.probabilities), axis=0))
    return torch.from_numpy(np.stack(images)).unsqueeze(1), torch.from_numpy(np.stack(labels).astype(np.int64))


def geometric_augmentation(config: BrainConfig, scale: tuple[float, float] | None = None) -> v2.Compose:
    """Joint image/mask transforms: the mask is resampled with nearest neighbours by torchvision. ``scale``: the zoom
    range (default the recipe's ``affine_scale``; synthetic heads zoom further, their canvas has room)."""
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(p=config.hflip),
            v2.RandomAffine(
                degrees=config.affine_degrees,
                translate=(config.affine_translate, config.affine_translate),
                scale=config.affine_scale if scale is None else scale,
            ),
            v2.RandomApply(
                [SeparableElasticTransform(alpha=config.elastic_alpha, sigma=config.elastic_sigma)],
                p=config.elastic_probability,
            ),
        ]
    )


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


def intensity_augmentation(image: torch.Tensor, config: BrainConfig) -> torch.Tensor:
    """Gamma, smooth multiplicative bias field, contrast/brightness and Gaussian noise on a 1×H×W image in [0, 1]."""
    image = image.clamp(0.0, 1.0) ** _uniform(*config.gamma_range)
    _, h, w = image.shape
    v, u = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    terms = torch.stack([u, v, u * v, u * u, v * v])
    coefficients = (torch.rand(5) * 2 - 1) * config.bias_field
    image = image * torch.exp(torch.einsum("k,khw->hw", coefficients, terms))
    image = image * _uniform(*config.contrast_range) + _uniform(-config.brightness, config.brightness)
    image = image + torch.randn_like(image) * _uniform(0.0, config.noise_std)
    return image.clamp(0.0, 1.0)


class AugmentedSlices(Dataset):
    """The template's own slices, augmented (geometry, then intensities). Each sample is ``(image, labels, False)``:
    the last element says whether a head is drawn around the brain (never here: the template is skull-stripped)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, config: BrainConfig) -> None:
        self.images, self.labels, self.config = images, labels, config
        self.geometric = geometric_augmentation(config)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Sample:
        image, mask = self.geometric(tv_tensors.Image(self.images[index]), tv_tensors.Mask(self.labels[index]))
        image = intensity_augmentation(image.as_subclass(torch.Tensor), self.config)
        return image, mask.as_subclass(torch.Tensor), torch.tensor(False)


class SyntheticHeads(Dataset):
    """Training samples drawn as synthetic heads (``scse_viz.data.synthhead``) around the training slices' labels,
    mixed with the template's own slices (``1 - synthetic_share`` of the samples, augmented as before).

    Each training slice is put once on a canvas with room for a head and resized to the model's input; per sample a
    head is drawn there, head, labels and class probabilities are warped together (flip, affine, elastic), and only
    then rendered, so every intensity sits on the pixel its label does. The generator's seed comes from torch's
    RNG, so a run stays reproducible from its seed.
    """

    def __init__(
        self, slices: list[BrainSlice], images: torch.Tensor, labels: torch.Tensor, config: BrainConfig
    ) -> None:
        self.template = AugmentedSlices(images, labels, config)
        self.config = config
        self.orientations = [item.orientation for item in slices]
        self.canvases, self.mm_per_px = [], []
        for item in slices:
            canvas = synthhead.head_canvas(item.probabilities, item.orientation, config.canvas_pad)
            self.canvases.append(resize_image(canvas.transpose(1, 2, 0), (config.size, config.size)).transpose(2, 0, 1))
            self.mm_per_px.append(canvas.shape[-1] / config.size)
        self.geometric = geometric_augmentation(config, scale=config.synthetic_scale)

    def __len__(self) -> int:
        return len(self.canvases)

    def __getitem__(self, index: int) -> Sample:
        if float(torch.rand(())) >= self.config.synthetic_share:
            return self.template[index]
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        probabilities = np.ascontiguousarray(self.canvases[index])
        tissues = synthhead.add_head(
            labels_from_probabilities(probabilities), self.orientations[index], rng, self.mm_per_px[index]
        )
        warped, warped_tissues = self.geometric(
            tv_tensors.Image(torch.from_numpy(probabilities)), tv_tensors.Mask(torch.from_numpy(tissues))
        )
        tissues = warped_tissues.as_subclass(torch.Tensor).numpy().astype(np.uint8)
        contrast = synthhead.CONTRASTS[int(torch.multinomial(torch.tensor(self.config.contrast_weights), 1))]
        means, stds = synthhead.draw_intensities(rng, contrast)
        image = synthhead.render(tissues, warped.as_subclass(torch.Tensor).numpy(), means, stds, rng)
        image = normalise_intensity(image) ** float(np.exp(rng.normal(0.0, 0.25)))
        return (
            torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None],
            torch.from_numpy(synthhead.training_labels(tissues).astype(np.int64)),
            torch.tensor(True),
        )


def crop_like_an_upload(
    image: np.ndarray, tissues: np.ndarray, size: int, keep: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random window keeping at least ``keep`` of each side, then the app's pad-to-square and resize (nearest for
    the tissues): a head cut off at a random place, as uploads are."""
    h, w = tissues.shape
    rows, cols = int(round(h * rng.uniform(keep, 1.0))), int(round(w * rng.uniform(keep, 1.0)))
    top, left = int(rng.integers(0, h - rows + 1)), int(rng.integers(0, w - cols + 1))
    image, tissues = image[top : top + rows, left : left + cols], tissues[top : top + rows, left : left + cols]
    geometry = SquareGeometry.for_image(rows, cols, size)
    return geometry.to_model(normalise_intensity(image)), tissues_to_model(tissues, geometry)


def tissues_to_model(tissues: np.ndarray, geometry: SquareGeometry) -> np.ndarray:
    """A tissue map placed as the app places a picture (centred on a square of air, resized), by nearest neighbour."""
    h, w = tissues.shape
    square = np.full((geometry.side, geometry.side), synthhead.AIR, dtype=np.uint8)
    square[geometry.top : geometry.top + h, geometry.left : geometry.left + w] = tissues
    return resize_nearest(square, (geometry.size, geometry.size))


class RealHeads(Dataset):
    """Samples from the real head's training slices (``scse_viz.data.realhead``, Colin 27).

    Each slice is put once on the model's grid as the app would (pad to square, resize): the scan's own pixels, its
    class fractions and its whole-head tissue map. Per sample the three are warped together (flip, affine with the
    synthetic heads' zoom, elastic); then either the scan's own T1 intensities are kept (with the template's
    intensity augmentation) or, for ``real_head_rendered`` of the samples, the warped tissue map is rendered in a
    drawn contrast (random, T1-, T2-, PD- or FLAIR-like) with partial-volume mixing, blur, bias field, lower
    resolution and noise (:func:`scse_viz.data.synthhead.render`); sometimes the result is cropped like an upload.
    """

    def __init__(self, slices: list[Any], config: BrainConfig) -> None:
        self.config = config
        images, probabilities, tissues = [], [], []
        for item in slices:
            h, w = item.tissues.shape
            geometry = SquareGeometry.for_image(h, w, config.size)
            images.append(geometry.to_model(normalise_intensity(item.image)))
            probabilities.append(geometry.to_model(item.probabilities))
            tissues.append(tissues_to_model(item.tissues, geometry))
        self.stacks = torch.from_numpy(np.concatenate([np.stack(images)[:, None], np.stack(probabilities)], axis=1))
        self.tissues = torch.from_numpy(np.stack(tissues))
        self.geometric = geometric_augmentation(config, scale=config.synthetic_scale)

    def __len__(self) -> int:
        return len(self.tissues)

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        stack, tissues = self.geometric(tv_tensors.Image(self.stacks[index]), tv_tensors.Mask(self.tissues[index]))
        stack = stack.as_subclass(torch.Tensor)
        tissues = tissues.as_subclass(torch.Tensor).numpy().astype(np.uint8)
        if float(torch.rand(())) < self.config.real_head_rendered:
            contrast = synthhead.CONTRASTS[int(torch.multinomial(torch.tensor(self.config.contrast_weights), 1))]
            means, stds = synthhead.draw_intensities(rng, contrast)
            image = synthhead.render(tissues, stack[1:].numpy(), means, stds, rng)
        else:
            image = intensity_augmentation(stack[:1], self.config)[0].numpy()
        if float(torch.rand(())) < self.config.crop_probability:
            image, tissues = crop_like_an_upload(image, tissues, self.config.size, self.config.crop_min, rng)
        image = normalise_intensity(image) ** float(np.exp(rng.normal(0.0, 0.25)))
        return (
            torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None],
            torch.from_numpy(synthhead.training_labels(tissues).astype(np.int64)),
            torch.tensor(True),
        )


class MixedSources(Dataset):
    """Each sample from the real head with probability ``share``, else from the template-based set (its own slices
    and synthetic heads). The length is the two sets' lengths together; the index only picks within a source."""

    def __init__(self, template: Dataset, real: Dataset, share: float) -> None:
        self.template, self.real, self.share = template, real, share

    def __len__(self) -> int:
        return len(self.template) + len(self.real)

    def __getitem__(self, index: int) -> Sample:
        if float(torch.rand(())) < self.share:
            return self.real[index % len(self.real)]
        return self.template[index % len(self.template)]


class RandomCrops(Dataset):
    """A random ``side``×``side`` window of each sample (image and labels alike): a U-Net is convolutional, and a
    128-pixel window costs 0.62 of a 160-pixel input per step on this CPU (0.91 s against 1.47 s for a batch of 16,
    measured), so the same minutes buy 1.6 times the steps. Evaluation runs on whole inputs."""

    def __init__(self, dataset: Dataset, side: int) -> None:
        self.dataset, self.side = dataset, side

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample:
        image, labels, head_drawn = self.dataset[index]
        h, w = labels.shape
        top, left = int(torch.randint(0, h - self.side + 1, ())), int(torch.randint(0, w - self.side + 1, ()))
        return (
            image[:, top : top + self.side, left : left + self.side],
            labels[top : top + self.side, left : left + self.side],
            head_drawn,
        )


def soft_dice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1 - mean soft Dice over the foreground classes (1..K-1), pooled over the batch."""
    probabilities = logits.softmax(dim=1)[:, 1:]
    one_hot = nn.functional.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].to(probabilities.dtype)
    intersection = (probabilities * one_hot).sum(dim=(0, 2, 3))
    total = probabilities.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    return 1.0 - ((2 * intersection + 1.0) / (total + 1.0)).mean()


def head_weighted_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    inputs: torch.Tensor,
    head_weight: float,
    threshold: float,
    margin: int = 0,
    weighted: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy per pixel, averaged, with the non-brain head pixels weighing ``head_weight`` times the rest:
    tissue painted on the face or skull is the error a user sees first, while plain cross-entropy lets the many easy
    air pixels dilute it. Head pixels are background pixels brighter than ``threshold`` (scalp, fat, face, neck) or
    in the (2·``margin``+1)-pixel square around a brain label (the skull, dark on a T1 scan, where a too-wide CSF rim
    is drawn). ``weighted``: a boolean per sample, whose False samples weigh every pixel alike (None: all True)."""
    per_pixel = nn.functional.cross_entropy(logits, labels, reduction="none")
    if head_weight == 1.0:
        return per_pixel.mean()
    background = labels == 0
    head = background & (inputs[:, 0] > threshold)
    if margin > 0:
        brain = (~background)[:, None].to(per_pixel.dtype)
        near = nn.functional.max_pool2d(brain, 2 * margin + 1, stride=1, padding=margin)[:, 0] > 0
        head = head | (background & near)
    if weighted is not None:
        head = head & weighted.to(head.device).view(-1, 1, 1)
    return (per_pixel * (1.0 + (head_weight - 1.0) * head.to(per_pixel.dtype))).mean()


def train_brain(config: BrainConfig, out_dir: str | Path) -> TrainResult:
    """Train ``config.variant`` with ``config.seed``; write ``<variant>-seed<k>.safetensors`` and ``.json``."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    seed_everything(config.seed)

    train_slices = load_brain_slices("train")
    if config.max_train_items is not None:
        train_slices = train_slices[:: max(1, len(train_slices) // config.max_train_items)][: config.max_train_items]
    val_slices = load_brain_slices("val")
    images, labels = model_inputs(train_slices, config.size)
    if config.synthetic_share > 0:
        dataset: Dataset = SyntheticHeads(train_slices, images, labels, config)
    else:
        dataset = AugmentedSlices(images, labels, config)
    if config.real_head_share > 0:
        real_slices = realhead.load_real_head_slices("train", midline_trained=config.real_head_midline)
        if config.max_train_items is not None:
            real_slices = real_slices[:: max(1, len(real_slices) // config.max_train_items)][: config.max_train_items]
        dataset = MixedSources(dataset, RealHeads(real_slices, config), config.real_head_share)
    if 0 < config.train_crop < config.size:
        dataset = RandomCrops(dataset, config.train_crop)
    loader = shuffled_loader(dataset, config, device)

    model = config.build_model()
    initial = None
    if config.init_from not in (None, "", "none"):  # "none": from scratch (the template recipe)
        initial = ASSETS / config.init_from.format(variant=config.variant)
        load_checkpoint(model, initial)
    model = model.to(device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optimizer = make_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.momentum)
    scheduler = one_cycle(optimizer, config.lr, config.epochs * len(loader), config.warmup_fraction)

    history: list[dict[str, Any]] = []
    step_losses: list[float] = []
    for epoch in range(config.epochs):
        model.train()
        epoch_start = time.perf_counter()
        loss_sum, seen = 0.0, 0
        bar = tqdm(
            loader,
            desc=f"{config.run_name} epoch {epoch + 1}/{config.epochs}",
            disable=not config.progress,
            leave=False,
        )
        for batch, target, head_drawn in bar:
            batch, target = batch.to(device, non_blocking=True), target.to(device, non_blocking=True)
            weighted = None if config.head_weight_on_template else head_drawn
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.autocast_bf16):
                logits = model(batch.contiguous(memory_format=memory_format))
            logits = logits.float()
            cross_entropy = head_weighted_cross_entropy(
                logits, target, batch, config.head_weight, config.head_threshold, config.head_margin, weighted
            )
            loss = cross_entropy + config.dice_weight * soft_dice_loss(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_value = loss.item()
            step_losses.append(loss_value)
            loss_sum += loss_value * len(target)
            seen += len(target)
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": loss_sum / seen,
            "seconds": time.perf_counter() - epoch_start,
        }
        if (epoch + 1) % config.val_every == 0 or epoch + 1 == config.epochs:
            model.to(memory_format=torch.contiguous_format)  # measured NCHW, as the cards are
            entry["val_dice"] = measure_brain(model, val_slices, device, config.eval_batch_size)["mean_dice"]
            model.to(memory_format=memory_format)
        history.append(entry)
        if config.progress:
            val = f"  val Dice {entry['val_dice']:.4f}" if "val_dice" in entry else ""
            tqdm.write(
                f"{config.run_name} epoch {epoch + 1}: loss {entry['train_loss']:.4f}{val} ({entry['seconds']:.0f} s)"
            )
    train_time = time.perf_counter() - started

    model.to(memory_format=torch.contiguous_format)  # measured NCHW, as the cards are; saved contiguous
    report = measure_test(model, device)
    return write_run(
        model,
        config,
        out_dir,
        device,
        {
            "test_dice": report["dice"],
            "test_mean_dice": report["mean_dice"],
            "per_condition": report["per_class"],
            "initial_weights": None
            if initial is None
            else {"file": config.init_from.format(variant=config.variant), "sha256": sha256_of(initial)},
            "test_count": report["count"],
            "class_names": list(BRAIN_CLASSES),
            "val_mean_dice": history[-1]["val_dice"],
            "train_items": len(dataset),
            "train_time_s": train_time,
            "history": history,
            "step_losses": [round(v, 5) for v in step_losses],
        },
    )


# ------------------------------------------------------------------------------------------------------ the family's parts


HEAD_CONDITIONS = (("T1-like head", "t1"), ("T2-like head", "t2"))
REAL_HEAD = "real head"  # Colin 27's held-out slabs with its own T1 intensities (scse_viz.data.realhead)
# The template's sagittal slabs 5 and 6 (its validation slabs): the midline section, falx, corpus callosum, brainstem
# and vermis, which no other sagittal slice shows and the slice a person uploads first. No run trains on them (the
# template stage holds them out, the fine-tune trains on the real head's midline instead); the test slabs 2 and 9
# are lateral, so without this condition a model that leaves the midline unlabelled passes every other one.
MIDLINE = "template midline"


def midline_slices() -> list[BrainSlice]:
    """The template's sagittal midline slabs (5 and 6), held out from every run."""
    return load_brain_slices("val", ("sagittal",))


def _dice_entries(label: str, report: dict[str, Any]) -> dict[str, float]:
    """A condition's card entries: ``<label> mean Dice`` and ``<label> CSF/GM/WM``."""
    return {f"{label} mean Dice": report["mean_dice"], **{f"{label} {n}": report["dice"][n] for n in BRAIN_CLASSES[1:]}}


def measure_test(model: nn.Module, device: torch.device | None = None, data_root: Path | None = None) -> dict[str, Any]:
    """Pooled Dice on held-out test slabs in four conditions: the plain template (the headline: mean over CSF, GM and
    WM), the same slices drawn as synthetic heads in a T1-like and in an inverted, T2-like contrast, and the real
    head's (Colin 27) held-out slabs with its own intensities; for the heads also the share of non-brain head pixels
    labelled as a tissue (on the real head: those at least 3 mm from the brain). A fifth, the template's held-out
    sagittal midline (:data:`MIDLINE`)."""
    report = measure_brain(model, load_brain_slices("test"), device)
    per_class = _dice_entries("template", report)
    for label, contrast in HEAD_CONDITIONS:
        heads = measure_heads(model, synthhead.test_heads(contrast), device)
        per_class.update(_dice_entries(label, heads))
        per_class[f"{label}: non-brain as tissue"] = heads["non_brain_share"]
    real = measure_heads(model, realhead.test_slices(), device)
    per_class.update(_dice_entries(REAL_HEAD, real))
    per_class[f"{REAL_HEAD}: non-brain as tissue"] = real["non_brain_share"]
    per_class.update(_dice_entries(MIDLINE, measure_brain(model, midline_slices(), device)))
    return {**report, "metric": report["mean_dice"], "per_class": per_class}


def _train(config: BrainConfig, out_dir: Path, data_root: Path | None = None) -> TrainResult:
    return train_brain(config, out_dir)


def _write_samples(out: Path, data_root: Path | None, card_assets: Path | None) -> Path:
    from scse_viz.train.samples.brain import write_brain

    return write_brain(out)


# ------------------------------------------------------------------------------------------------ the card's pictures

REAL_SCAN = "anatomical.nii"  # a real T1 scan of a person (not the template) inside nibabel's test data
REAL_SCAN_PICTURE = "real-scan.png"


def real_scan_slices() -> list[tuple[str, np.ndarray]]:
    """The middle sagittal, coronal and axial slice of nibabel's ``anatomical.nii``, read by the app's own reader."""
    import importlib.resources

    from scse_viz.io import ORIENTATIONS, image_from_slice, load_volume, slice_count, volume_slice

    data = (importlib.resources.files("nibabel") / "tests" / "data" / REAL_SCAN).read_bytes()
    volume = load_volume(data, REAL_SCAN)
    shown = []
    for orientation in ORIENTATIONS:
        index = slice_count(volume, orientation) // 2
        pixels = image_from_slice(volume_slice(volume, orientation, index), REAL_SCAN).pixels
        shown.append((f"{REAL_SCAN} {orientation} {index}", np.asarray(pixels)))
    return shown


def real_head_picture_slices() -> list[tuple[str, np.ndarray]]:
    """One held-out slice of the real head (Colin 27) per orientation, where its non-brain anatomy shows most: the
    middle of test slab 9 sagittally (right hemisphere, temporal bone and scalp) and coronally (the eyes and the
    face) and of test slab 2 axially (the orbits, the nose and the cerebellum)."""
    chosen = []
    for orientation, slab in (("sagittal", 9), ("coronal", 9), ("axial", 2)):
        slabs = realhead.extent_slabs(realhead.real_head().brain, orientation)
        indices = [i for i, s in slabs.items() if s == slab]
        item = realhead.real_head_slice(orientation, indices[len(indices) // 2])
        chosen.append((f"real head (held out) {orientation} {item.index}", item.image))
    return chosen


def write_card_pictures(family: Any, data_root: Path | None = None) -> list[Path]:
    """``real-scan.png`` beside the card: the real head's held-out slices in three orientations, the template's
    held-out midline, nibabel's real scan's three middle slices and one T1-like and one T2-like test head, each with
    the mask of the template-trained scSE model the recipe starts from and of the four shipped models."""
    from scse_viz import zoo
    from scse_viz.evaluate import segment
    from scse_viz.render.export import figure_bytes, new_figure
    from scse_viz.render.geometry import show_image
    from scse_viz.render.outputs import class_colors
    from scse_viz.render.raster import mask_overlay

    heads = {contrast: synthhead.test_heads(contrast) for _, contrast in HEAD_CONDITIONS}
    midline = midline_slices()
    middle = midline[len(midline) // 2]
    rows = (
        real_head_picture_slices()
        + [(f"{MIDLINE} (held out) sagittal {middle.index}", middle.pixels)]
        + real_scan_slices()
        + [
            (f"{label} (test slice {k})", normalise_intensity(heads[contrast][k].image))
            for (label, contrast), k in zip(HEAD_CONDITIONS, (10, 50))
        ]
    )
    columns = [
        (
            "template-trained scSE (start)",
            zoo.load_checkpoint(family.build("scse"), ASSETS / "models/brain/template/scse.safetensors"),
        )
    ]
    columns += [(family.label(v), zoo.load_model(family.name, v)) for v in family.variants]
    rgba = class_colors(len(BRAIN_CLASSES))
    fig = new_figure((2.4 * (len(columns) + 1), 2.5 * len(rows)))
    axes = fig.subplots(len(rows), len(columns) + 1, squeeze=False)
    for r, (name, pixels) in enumerate(rows):
        show_image(axes[r, 0], pixels)
        axes[r, 0].set_title(name, fontsize=7)
        for c, (title, model) in enumerate(columns, start=1):
            mask = np.argmax(segment(model.eval(), [pixels])[0], axis=0)
            show_image(axes[r, c], mask_overlay(pixels, mask, len(BRAIN_CLASSES)))
            axes[r, c].set_title(title, fontsize=7)
    from matplotlib.patches import Patch

    fig.legend(
        handles=[Patch(color=rgba[k], label=BRAIN_CLASSES[k]) for k in range(1, len(BRAIN_CLASSES))],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
    )
    path = family.folder / REAL_SCAN_PICTURE
    path.write_bytes(figure_bytes(fig, "png", dpi=110))
    return [path]


NOVELTY_SPLITS = {"fit": "train", "calibrate": "val", "test": "test"}  # novelty split -> slab split


def novelty_inputs(split: str, count: int, data_root: Path | None = None) -> list[torch.Tensor]:
    """Brain inputs of one slab split for the novelty statistics, all on the model's grid.

    To fit and to calibrate: ``count`` samples drawn as training draws them (the template's slices, synthetic heads
    and the real head, augmented and rendered in drawn contrasts; the recipe's own mix), from the split's slabs and
    with a seed per split. To calibrate and to test also the split's own slices as an upload of them is prepared
    (the template's, the real head's; for the test also the card's T1- and T2-like heads)."""
    config = BrainConfig()
    slices = load_brain_slices(NOVELTY_SPLITS[split])
    real = realhead.load_real_head_slices(NOVELTY_SPLITS[split], midline_trained=config.real_head_midline)
    pictures: list[np.ndarray] = []
    if split != "fit":
        pictures += [item.pixels for item in slices] + [item.image for item in real]
    if split == "test":
        pictures += [head.image for _, contrast in HEAD_CONDITIONS for head in synthhead.test_heads(contrast)]
        return [torch.cat([brain_tensor(brain_preprocess(picture)[0]) for picture in pictures])]
    images, labels = model_inputs(slices, config.size)
    drawn = MixedSources(
        SyntheticHeads(slices, images, labels, config), RealHeads(real, config), config.real_head_share
    )
    generator_state = torch.get_rng_state()
    torch.manual_seed(2027 + list(NOVELTY_SPLITS).index(split))
    try:
        order = torch.randperm(len(drawn))[:count].tolist()
        samples = torch.stack([drawn[i % len(drawn)][0] for i in order])
    finally:
        torch.set_rng_state(generator_state)
    batches = [samples]
    if pictures:
        batches.append(torch.cat([brain_tensor(brain_preprocess(picture)[0]) for picture in pictures]))
    return batches


PARTS = FamilyTraining(
    config=BrainConfig,
    train=_train,
    measure_test=measure_test,
    metric_name="test mean Dice (CSF, GM, WM)",
    record_metric="test_mean_dice",
    # Re-measuring the same weights on a CPU moves the pooled Dice by about 1e-4 (float rounding at tissue
    # borders); the shipped variants' means lie as close as 0.0005 to each other, so the command's tolerance
    # sits between the two.
    tolerance=5e-4,
    write_samples=_write_samples,
    check_every_number=True,  # the head conditions and the non-brain shares are re-measured too
    extra_assets=write_card_pictures,
    novelty_inputs=novelty_inputs,
)
