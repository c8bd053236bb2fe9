"""Drawing an image pixel-aligned (the geometry of where maps land is core: ``scse_viz.geometry``).

A faithful picture puts feature pixel (i, j) of a block at stride s over input pixels [i·s, (i+1)·s) and array pixel
(i, j) of anything drawn at image pixel (i, j). Everything here is plain numpy so it can be tested to the last digit
against the geometry the model itself used (``torch.nn.functional.interpolate``, bilinear, ``align_corners=False``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

IMAGE_CMAP = "gray"  # grey images are shown on this map with fixed limits 0..1 (no silent contrast stretch)


def pixel_extent(height: int, width: int) -> tuple[float, float, float, float]:
    """imshow extent (left, right, bottom, top) that puts array pixel (i, j) centred on data point (x=j, y=i)."""
    return (-0.5, width - 0.5, height - 0.5, -0.5)


def check_image(image: np.ndarray) -> np.ndarray:
    """Return the image as float in [0, 1], H×W or H×W×3; uint8 is divided by 255, anything else out of range fails.

    We refuse rather than rescale: a silently stretched image would misrepresent what the model saw.
    """
    img = np.asarray(image)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)):
        raise ValueError(f"image must be H×W or H×W×3, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    img = img.astype(np.float64)
    if not np.all(np.isfinite(img)) or img.min() < 0.0 or img.max() > 1.0:
        raise ValueError("image values must be finite and lie in [0, 1] (or be uint8)")
    return img


def show_image(ax: Any, image: np.ndarray) -> tuple[int, int]:
    """Draw the (checked) image on ``ax`` pixel-aligned, origin upper; return its (H, W)."""
    img = check_image(image)
    h, w = img.shape[:2]
    ax.imshow(
        img, cmap=IMAGE_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest", origin="upper", extent=pixel_extent(h, w)
    )
    ax.set_xticks([])
    ax.set_yticks([])
    return h, w
