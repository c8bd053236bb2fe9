"""Photo denoising: residual U-Nets that remove Gaussian noise whose strength varies across a colour photo.

Blind: the models are not told σ, so finding where the noise is falls to them (and to their spatial gates). The
models are fully convolutional and see the photo at its own resolution, padded at the bottom and right to a
multiple of 8; the app first fits a photo into 512×512 (:data:`WORKING_SIDE`), then adds the noise.
"""

from __future__ import annotations

import numpy as np
import torch

from scse_viz.datasets.photos import test_images
from scse_viz.degradation import AddedNoise
from scse_viz.family import Family
from scse_viz.geometry import PaddedGeometry
from scse_viz.io import Volume
from scse_viz.models.architectures import DenoiserArchitecture
from scse_viz.preprocess import Prepared
from scse_viz.tasks import RestorationTask

ARCHITECTURE = DenoiserArchitecture(base_channels=24, depth=3, reduction=8)
MULTIPLE = 2**ARCHITECTURE.depth
# Longest side the models run at in the app: 512 keeps a photo's texture at the scale the models were trained on;
# four variants' forward passes on 512×512 take 1.2 s on a quiet 2-core CPU (benchmarks/photo_latency.py).
WORKING_SIDE = 512


def as_rgb(image: np.ndarray) -> np.ndarray:
    """H×W gray or H×W×3 (H×W×4: alpha dropped) -> H×W×3 float32."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    raise ValueError(f"expected an H×W or H×W×3 image, got shape {image.shape}")


def prepare(image: np.ndarray) -> Prepared:
    """Photo (0–1) -> RGB, mirrored out at the bottom and right to a multiple of 8; results are cropped back."""
    pixels = as_rgb(image)
    h, w = pixels.shape[:2]
    padded = (-(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE)
    model_pixels = np.pad(pixels, ((0, padded[0] - h), (0, padded[1] - w), (0, 0)), mode="symmetric")
    tensor = torch.from_numpy(np.ascontiguousarray(model_pixels.transpose(2, 0, 1)))[None]
    return Prepared(model_pixels, tensor, PaddedGeometry((h, w), padded))


def suits(loaded: object) -> bool:
    """Any 2-D picture (colour or gray) can be denoised; a volume cannot."""
    return not isinstance(loaded, Volume)


FAMILY = Family(
    name="photo",
    title="Photo denoising (residual U-Net)",
    task=RestorationTask(),
    prepare=prepare,
    build=ARCHITECTURE.build,
    trained_on="synthetic 'dead leaves' images and crops of Debian's wallpaper photographs, with Gaussian noise of "
    "σ 0–50 (of 255) that varies across the image",
    degradation=AddedNoise(),
    max_side=WORKING_SIDE,
    suits=suits,
    test_images=test_images,
)
