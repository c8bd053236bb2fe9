"""The one definition of gray from colour in scSE Lens: ITU-R BT.601 luma, the weights PIL's "L" mode uses.

Uploads, preprocessing, the overlays' gray background and the teaching figures' text colour all reduce colour with
these weights, so a colour screenshot of a scan reads as the same gray everywhere.
"""

from __future__ import annotations

import numpy as np

LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def luma(image: np.ndarray) -> np.ndarray:
    """…×3 colours (or more channels: the first three are used) -> … luma in the input's float dtype; a gray H×W
    image passes unchanged."""
    array = np.asarray(image)
    if array.ndim == 2:
        return array
    dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.float64
    gray = array[..., :3] @ np.asarray(LUMA_WEIGHTS, dtype=dtype)
    return np.ascontiguousarray(gray) if np.ndim(gray) else gray


COLOURFUL = 0.04  # mean chroma above which a picture counts as a colour photo (a gray scan saved as RGB: ~0)


def chroma(image: np.ndarray) -> float:
    """Mean over pixels of max(R, G, B) − min(R, G, B) on the 0–1 scale: 0 for gray, even when stored as RGB."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 2 or array.shape[-1] < 3:
        return 0.0
    rgb = array[..., :3]
    return float((rgb.max(axis=-1) - rgb.min(axis=-1)).mean())


def is_colour(image: np.ndarray) -> bool:
    """A picture with visible colour (mean chroma above :data:`COLOURFUL`), not a gray one stored as RGB."""
    return chroma(image) > COLOURFUL
