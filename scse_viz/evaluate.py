"""Measure a model on its family's test set the one way training measures it, and compare with the model card.

``python -m scse_viz.evaluate <family> [--variant scse] [--weights my.safetensors] [--device cpu]`` re-measures the
shipped (or given) checkpoints with the very function training used at its end (the family's
``PARTS.measure_test``: :func:`measure_fashion_test`, :func:`measure_brain`), prints them next to the card's
numbers, and exits with status 1 when a headline number differs from the card by more than the family's
``PARTS.tolerance``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scse_viz.datasets.brain import BRAIN_CLASSES, BrainSlice
from scse_viz.datasets.fashion import CLASS_NAMES, load_fashion
from scse_viz.metrics import accuracy_report, dice_counts, dice_report
from scse_viz.preprocess import brain_preprocess, brain_tensor, fashion_tensor, preprocess_fashion_images


def fashion_test_pixels(root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Test images through ``fashion_preprocess`` (float32 N×28×28 in [0, 1]) and their labels."""
    images, labels = load_fashion("test", root=root)
    return preprocess_fashion_images(images), labels


@torch.no_grad()
def predict(
    model: nn.Module, pixels: np.ndarray, batch_size: int = 500, device: torch.device | None = None
) -> np.ndarray:
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


def measure_fashion_test(
    model: nn.Module,
    root: str | Path | None = None,
    device: torch.device | None = None,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Test accuracy and per-class accuracy of ``model`` on Fashion-MNIST: what training stores and evaluation checks."""
    pixels, labels = fashion_test_pixels(root)
    return accuracy_report(predict(model, pixels, batch_size, device), labels, len(CLASS_NAMES))


@torch.no_grad()
def segment(
    model: nn.Module, images: Sequence[np.ndarray], batch_size: int = 32, device: torch.device | None = None
) -> list[np.ndarray]:
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


def measure_brain(
    model: nn.Module, slices: Sequence[BrainSlice], device: torch.device | None = None, batch_size: int = 32
) -> dict[str, Any]:
    """Pooled Dice per class over ``slices``, measured on each slice's own pixels (the native 1 mm grid): what
    training stores and evaluation checks."""
    counts = np.zeros((len(BRAIN_CLASSES), 3), dtype=np.int64)
    for start in range(0, len(slices), batch_size):
        chunk = slices[start : start + batch_size]
        for item, probabilities in zip(chunk, segment(model, [s.pixels for s in chunk], batch_size, device)):
            counts += dice_counts(np.argmax(probabilities, axis=0), item.labels, len(BRAIN_CLASSES))
    return {**dice_report(counts, BRAIN_CLASSES), "count": len(slices)}


def measure_heads(
    model: nn.Module, heads: Sequence[Any], device: torch.device | None = None, batch_size: int = 32
) -> dict[str, Any]:
    """Pooled Dice per class over synthetic heads (``scse_viz.data.synthhead.SynthHead``: image, labels, head), and
    the share of the head's non-brain pixels (CSF rim, skull, scalp, neck, face, eyes) labelled as a tissue."""
    counts = np.zeros((len(BRAIN_CLASSES), 3), dtype=np.int64)
    head_pixels, head_as_tissue = 0, 0
    for start in range(0, len(heads), batch_size):
        chunk = heads[start : start + batch_size]
        for head, probabilities in zip(chunk, segment(model, [h.image for h in chunk], batch_size, device)):
            predicted = np.argmax(probabilities, axis=0)
            counts += dice_counts(predicted, head.labels, len(BRAIN_CLASSES))
            head_pixels += int(head.head.sum())
            head_as_tissue += int((head.head & (predicted > 0)).sum())
    share = head_as_tissue / head_pixels if head_pixels else float("nan")
    return {**dice_report(counts, BRAIN_CLASSES), "count": len(heads), "non_brain_share": share}


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
    from scse_viz.train.parts import parts_for, trainable_families  # late: the module stays light to import

    parser.add_argument("family", choices=trainable_families())
    parser.add_argument("--variant", default="all", help="all (default) or one of the family's variants")
    parser.add_argument("--weights", type=Path, help="a safetensors checkpoint (default: the shipped one)")
    parser.add_argument("--device", default="cpu", help="cpu (what the card was measured on), cuda, auto")
    parser.add_argument("--data-root", type=Path, help="fashion: folder with the four IDX files (default: Debian's)")
    parser.add_argument("--card", type=Path, help="the card.json to compare with (default: the family's shipped card)")
    parser.add_argument(
        "--no-references",
        action="store_true",
        help="skip re-measuring the card's methods without training (photo: BM3D, non-local means)",
    )
    args = parser.parse_args(argv)
    if args.weights is not None and args.variant == "all":
        parser.error("--weights needs one --variant (the architecture the weights are for)")

    from scse_viz import zoo
    from scse_viz.train.common import resolve_device

    spec = zoo.family(args.family)
    parts = parts_for(spec)
    if args.variant != "all" and args.variant not in spec.variants:
        parser.error(f"--variant must be all or one of {', '.join(spec.variants)}")
    device = resolve_device(args.device)
    if args.card is not None:
        card = json.loads(args.card.read_text())
    else:
        try:
            card = spec.card()
        except FileNotFoundError:
            card = None
    tolerance = parts.tolerance
    failed = 0
    for variant in spec.variants if args.variant == "all" else (args.variant,):
        weights = args.weights or spec.weights_path(variant)
        model = zoo.load_checkpoint(spec.build(variant), weights)
        report = parts.measure_test(model, device, args.data_root)
        shipped = card["variants"][variant]["shipped"] if card and args.weights is None else None
        print(f"\n{args.family} / {variant}: {weights} on {device}")
        print(_format(report["per_class"], shipped and shipped["per_class"]))
        if shipped is None:
            print(
                f"{card and card['metric'] or 'headline'} {report['metric']:.4f} (nothing on the card to compare with)"
            )
            continue
        difference = report["metric"] - shipped["metric"]
        ok = abs(difference) <= tolerance
        failed += not ok
        print(
            f"{card['metric']} {report['metric']:.4f}   card {shipped['metric']:.4f}   difference {difference:+.4f}   "
            f"{'OK' if ok else 'MISMATCH'} (tolerance {tolerance})"
        )
        for name, value in report["per_class"].items() if parts.check_every_number else ():
            on_card = shipped["per_class"].get(name)
            if value is not None and on_card is not None and abs(value - on_card) > tolerance:
                failed += 1
                print(f"  MISMATCH {name}: {value:.4f}, card {on_card:.4f}")
    if parts.references is not None and card and card.get("references") and not args.no_references:
        failed += _check_references(parts.references(), card["references"], tolerance)
    return 1 if failed else 0


def _check_references(measured: dict, on_card: dict, tolerance: float) -> int:
    """Compare re-measured references with the card's (timings excepted); the number of mismatches."""
    failed = 0
    for method, values in measured.items():
        print(f"\nreference {method}:")
        for name, value in values.items():
            if "seconds" in name or name not in on_card.get(method, {}):
                continue
            ok = abs(value - on_card[method][name]) <= tolerance
            failed += not ok
            print(f"  {name:<14}{value:>10.4f}   card {on_card[method][name]:.4f}   {'OK' if ok else 'MISMATCH'}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
