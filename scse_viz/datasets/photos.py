"""The photo family's test set: the colour photographs inside the scikit-image wheel, never trained on.

Read here, below the app, because the batch and the Gate health page run a family's test set without the training
code (:attr:`scse_viz.family.Family.test_images`); the training pools are :mod:`scse_viz.data.photo`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

TEST_PHOTOS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")


def scikit_image_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled colour photographs as H×W×3 float32 in [0, 1] (read from the wheel)."""
    from skimage import data

    if name not in TEST_PHOTOS:
        raise ValueError(f"unknown test photo {name!r}; choose one of {TEST_PHOTOS}")
    image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    return np.ascontiguousarray(image[..., :3], dtype=np.float32) / 255.0


def test_images(data_root: Path | None = None) -> Iterator[tuple[str, np.ndarray, None]]:
    """The clean test photos (the batch adds the family's default noise, as the app does); ``data_root`` unused."""
    for name in TEST_PHOTOS:
        yield name, scikit_image_photo(name), None
