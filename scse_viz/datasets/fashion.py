"""Fashion-MNIST as Debian's ``dataset-fashion-mnist`` installs it: read from disk, never downloaded.

Splits (all deterministic, nothing shuffled here):

- ``"train"``: the first 55,000 images of the official training file (what the models are trained on);
- ``"val"``: the last 5,000 images of the official training file (monitoring during training; never tested on);
- ``"train-full"``: all 60,000 training images;
- ``"test"``: the official 10,000-image test file (the accuracy on the cards).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from scse_viz.datasets.idx import read_idx
from scse_viz.families.classes import FASHION_CLASSES as CLASS_NAMES

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
VALIDATION_SIZE = 5_000
SPLITS = ("train", "val", "train-full", "test")
_FILES = {
    "train-full": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class DatasetMissingError(FileNotFoundError):
    """The Fashion-MNIST files are not where we look for them."""


def _find(root: Path, name: str) -> Path:
    """``name`` in ``root``, also accepted without its ``.gz`` suffix (an unpacked copy)."""
    for candidate in (root / name, root / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise DatasetMissingError(
        f"Fashion-MNIST file {name} not found in {root}. Install the dataset with "
        "`apt-get install dataset-fashion-mnist` (it puts the four IDX files in /usr/share/datasets/fashion-mnist/), "
        "or pass root= pointing at a folder that holds them."
    )


def load_fashion(split: str, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 N×28×28, light garment on black) and labels (int64 N) of ``split``.

    ``root`` defaults to :data:`FASHION_DIR`, read at call time so tests can point it at a tiny copy.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    root = Path(FASHION_DIR if root is None else root)
    image_file, label_file = _FILES["test" if split == "test" else "train-full"]
    images = read_idx(_find(root, image_file))
    labels = read_idx(_find(root, label_file))
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"{image_file}: expected uint8 N×H×W images, got {images.dtype} of shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{label_file}: expected {len(images)} labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise ValueError(f"{label_file}: labels must lie in 0..{len(CLASS_NAMES) - 1}")
    labels = labels.astype(np.int64)
    if split in ("train", "val"):
        if len(images) <= VALIDATION_SIZE:  # a tiny copy (tests): keep a fifth for validation instead
            cut = len(images) - max(1, len(images) // 5)
        else:
            cut = len(images) - VALIDATION_SIZE
        part = slice(None, cut) if split == "train" else slice(cut, None)
        images, labels = images[part], labels[part]
    return np.ascontiguousarray(images), np.ascontiguousarray(labels)


def pixel_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of all pixels (float images in [0, 1]), computed in float64."""
    values = np.asarray(images, dtype=np.float64)
    return float(values.mean()), float(values.std())


def test_images(data_root: str | Path | None = None) -> Iterator[tuple[str, np.ndarray, str]]:
    """The fashion family's test set: the 10,000 official test images as stored (light garment on black, 0–1),
    with their class names (``data_root``: where the IDX files are; default :data:`FASHION_DIR`)."""
    images, labels = load_fashion("test", root=data_root)
    for i, (image, label) in enumerate(zip(images, labels)):
        yield f"test-{i:05d}", image.astype(np.float32) / 255.0, CLASS_NAMES[int(label)]
