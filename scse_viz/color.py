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
