"""Measure a model on its family's test set the one way training measures it, and compare with the model card.

``python -m scse_viz.evaluate {brain,fashion} [--variant scse] [--weights my.safetensors] [--device cpu]``
re-measures the shipped (or given) checkpoints with the very functions training used at its end
(:func:`measure_fashion_test`, :func:`measure_brain`), prints them next to the card's numbers, and exits with status
1 when a headline number differs from the card by more than the tolerance (accuracy 0.002, mean Dice 0.005).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scse_viz.data.brain import BRAIN_CLASSES, BrainSlice
from scse_viz.data.fashion import CLASS_NAMES, load_fashion
from scse_viz.preprocess import brain_preprocess, brain_tensor, fashion_tensor, preprocess_fashion_images
from scse_viz.train.common import resolve_device

REPRODUCE_TOLERANCE = {"fashion": 0.002, "brain": 0.005}


def fashion_test_pixels(root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Test images through ``fashion_preprocess`` (float32 N×28×28 in [0, 1]) and their labels."""
    images, labels = load_fashion("test", root=root)
    return preprocess_fashion_images(images), labels


@torch.no_grad()
def predict(model: nn.Module, pixels: np.ndarray, batch_size: int = 500, device: torch.device | None = None) -> np.ndarray:
    """Class predictions for preprocessed 28×28 pixels, in eval mode and NCHW memory format.

    NCHW always (even for a model trained channels-last) so that training's final number and this command's number
    come from the same kernels on the same device.
    """
    device = device or next(model.parameters()).device
    model.eval().to(device=device, memory_format=torch.contiguous_format)
    predictions = []
    for start in range(0, len(pixels), batch_size):
        batch = fashion_tensor(pixels[start : start + batch_size]).to(device)
        predictions.append(model(batch).argmax(dim=1).cpu().numpy())
    return np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)


def accuracy_report(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, Any]:
    """Overall and per-class accuracy (None for a class with no items), with the counts behind them."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    correct = predictions == labels
    per_class, counts = [], []
    for k in range(num_classes):
        members = labels == k
        counts.append(int(members.sum()))
        per_class.append(float(correct[members].mean()) if members.any() else None)
    return {
        "accuracy": float(correct.mean()) if len(labels) else float("nan"),
        "per_class_accuracy": per_class,
        "count": int(len(labels)),
        "per_class_count": counts,
    }


def measure_fashion_test(
    model: nn.Module,
    root: str | Path | None = None,
    device: torch.device | None = None,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Test accuracy and per-class accuracy of ``model`` on Fashion-MNIST: what training stores and evaluation checks."""
    pixels, labels = fashion_test_pixels(root)
    return accuracy_report(predict(model, pixels, batch_size, device), labels, len(CLASS_NAMES))


def dice_counts(predicted: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class: [overlap, predicted pixels, true pixels] (num_classes×3 int64), to be summed over slices."""
    counts = np.zeros((num_classes, 3), dtype=np.int64)
    for k in range(num_classes):
        p, t = predicted == k, labels == k
        counts[k] = (np.count_nonzero(p & t), np.count_nonzero(p), np.count_nonzero(t))
    return counts


def dice_report(counts: np.ndarray, class_names: Sequence[str] = BRAIN_CLASSES) -> dict[str, Any]:
    """Dice per class from pooled counts (2·overlap / (predicted + true); NaN for a class absent from both) and
    their mean over the foreground classes (every class but the first, background)."""
    overlap, predicted, true = counts[:, 0], counts[:, 1], counts[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(predicted + true > 0, 2.0 * overlap / (predicted + true), np.nan)
    return {
        "dice": {name: float(d) for name, d in zip(class_names, dice)},
        "mean_dice": float(np.nanmean(dice[1:])),
    }


@torch.no_grad()
def segment(model: nn.Module, images: Sequence[np.ndarray], batch_size: int = 32,
            device: torch.device | None = None) -> list[np.ndarray]:  # fmt: skip
    """Class probabilities (K×H×W float32) of each gray slice, mapped back onto that slice's own pixels.

    The path every brain result takes: ``brain_preprocess`` -> model in eval mode -> softmax -> ``to_source``.
    """
    device = device or next(model.parameters()).device
    model.eval().to(device)
    results: list[np.ndarray] = []
    for start in range(0, len(images), batch_size):
        prepared = [brain_preprocess(image) for image in images[start : start + batch_size]]
        batch = brain_tensor(np.stack([pixels for pixels, _ in prepared])).to(device)
        probabilities = model(batch).softmax(dim=1).cpu().numpy()
        results.extend(geometry.to_source(p) for p, (_, geometry) in zip(probabilities, prepared))
    return results


def measure_brain(model: nn.Module, slices: Sequence[BrainSlice], device: torch.device | None = None,
                  batch_size: int = 32) -> dict[str, Any]:  # fmt: skip
    """Pooled Dice per class over ``slices``, measured on each slice's own pixels (the native 1 mm grid): what
    training stores and evaluation checks."""
    counts = np.zeros((len(BRAIN_CLASSES), 3), dtype=np.int64)
    for start in range(0, len(slices), batch_size):
        chunk = slices[start : start + batch_size]
        for item, probabilities in zip(chunk, segment(model, [s.pixels for s in chunk], batch_size, device)):
            counts += dice_counts(np.argmax(probabilities, axis=0), item.labels, len(BRAIN_CLASSES))
    return {**dice_report(counts), "count": len(slices)}


def measure_test(family_name: str, model: nn.Module, device: torch.device | None = None,
                 data_root: str | Path | None = None) -> dict[str, Any]:  # fmt: skip
    """The test-set report of a family's model, with its headline number under ``"metric"``.

    fashion: accuracy and per-class accuracy on the 10,000 official test images; brain: pooled Dice per class on
    the held-out test slabs and their mean over CSF, GM and WM.
    """
    if family_name == "fashion":
        report = measure_fashion_test(model, root=data_root, device=device)
        return {**report, "metric": report["accuracy"]}
    if family_name == "brain":
        from scse_viz.data.brain import load_brain_slices

        report = measure_brain(model, load_brain_slices("test"), device)
        return {**report, "metric": report["mean_dice"]}
    raise ValueError(f"unknown family {family_name!r}")


def per_class(report: dict[str, Any], class_names: Sequence[str]) -> dict[str, float | None]:
    """Per-class numbers of a report by class name: accuracy (fashion) or Dice (brain)."""
    if "dice" in report:
        return dict(report["dice"])
    return dict(zip(class_names, report["per_class_accuracy"]))


def _format(measured: dict[str, float | None], card: dict[str, float | None] | None) -> str:
    lines = [f"{'class':<14}{'measured':>10}" + (f"{'card':>10}{'diff':>10}" if card else "")]
    for name, value in measured.items():
        line = f"{name:<14}{'-' if value is None else f'{value:.4f}':>10}"
        if card and value is not None and card.get(name) is not None:
            line += f"{card[name]:>10.4f}{value - card[name]:>+10.4f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=["brain", "fashion"])
    parser.add_argument("--variant", default="all", choices=["all", "none", "cse", "sse", "scse"])
    parser.add_argument("--weights", type=Path, help="a safetensors checkpoint (default: the shipped one)")
    parser.add_argument("--device", default="cpu", help="cpu (what the card was measured on), cuda, auto")
    parser.add_argument("--data-root", type=Path, help="fashion: folder with the four IDX files (default: Debian's)")
    args = parser.parse_args(argv)
    if args.weights is not None and args.variant == "all":
        parser.error("--weights needs one --variant (the architecture the weights are for)")

    from scse_viz import zoo  # late: --help stays fast

    spec = zoo.family(args.family)
    device = resolve_device(args.device)
    try:
        card = spec.card()
    except FileNotFoundError:
        card = None
    tolerance = REPRODUCE_TOLERANCE[args.family]
    failed = 0
    for variant in spec.variants if args.variant == "all" else (args.variant,):
        weights = args.weights or spec.weights_path(variant)
        model = zoo.load_checkpoint(spec.build(variant), weights)
        report = measure_test(args.family, model, device, args.data_root)
        shipped = card["variants"][variant]["shipped"] if card and args.weights is None else None
        print(f"\n{args.family} / {variant}: {weights} on {device}")
        print(_format(per_class(report, spec.class_names), shipped and shipped["per_class"]))
        if shipped is None:
            print(f"{card and card['metric'] or 'headline'} {report['metric']:.4f} (nothing on the card to compare with)")
            continue
        difference = report["metric"] - shipped["metric"]
        ok = abs(difference) <= tolerance
        failed += not ok
        print(f"{card['metric']} {report['metric']:.4f}   card {shipped['metric']:.4f}   difference {difference:+.4f}   "
              f"{'OK' if ok else 'MISMATCH'} (tolerance {tolerance})")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
