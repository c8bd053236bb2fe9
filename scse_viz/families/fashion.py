"""Fashion-MNIST garment classification: residual networks on 28×28 gray garments, light on black."""

from __future__ import annotations

import numpy as np

from scse_viz.color import is_colour
from scse_viz.datasets.fashion import test_images
from scse_viz.families.classes import FASHION_CLASSES as CLASS_NAMES
from scse_viz.family import Family
from scse_viz.geometry import ModelGrid
from scse_viz.io import Volume
from scse_viz.models.architectures import ClassifierArchitecture
from scse_viz.preprocess import Prepared, fashion_preprocess, fashion_tensor
from scse_viz.tasks import ClassificationTask

# reduction 8 keeps C/r >= 2 even in the 16-channel stage (r = 16 would leave a 1-unit bottleneck there)
ARCHITECTURE = ClassifierArchitecture(
    in_channels=1, num_classes=len(CLASS_NAMES), widths=(16, 32, 64), blocks_per_stage=2, reduction=8
)


def prepare(image: np.ndarray) -> Prepared:
    """Any photo -> a centred 28×28 light-on-black garment; results are shown on that crop (no inverse is kept)."""
    pixels = fashion_preprocess(image)
    return Prepared(pixels, fashion_tensor(pixels), ModelGrid(pixels.shape))


def suits(loaded: object) -> bool:
    """Gray garment pictures and small images; not volumes, and not large colour photos (which the photo family
    denoises), although the preprocessing does turn a photo of one garment into a 28×28 garment."""
    if isinstance(loaded, Volume):
        return False
    pixels = loaded.pixels
    return max(pixels.shape[:2]) <= 64 or not is_colour(pixels)


FAMILY = Family(
    name="fashion",
    title="Fashion-MNIST garment classification (residual network)",
    task=ClassificationTask(CLASS_NAMES),
    prepare=prepare,
    build=ARCHITECTURE.build,
    trained_on="Fashion-MNIST: 28×28 gray photos of single garments, light on a black background",
    suits=suits,
    test_images=test_images,
)
