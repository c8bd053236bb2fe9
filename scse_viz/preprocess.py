"""Turn a person's picture into what a model family was trained on: one function per family, shared everywhere.

The same function runs in training, in evaluation and in the app, so a model never sees one kind of picture at
training time and another at use time. Each family keeps its own section below; nothing here needs a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from scse_viz.color import luma
from scse_viz.errors import ImageTooSmallError, InputError, NonFiniteValuesError
from scse_viz.geometry import DisplayGeometry, SquareGeometry


@dataclass(frozen=True)
class Prepared:
    """An image made ready for one family's models.

    ``pixels`` is what the model sees (in [0, 1], before the network's own normalisation), ``tensor`` the model's
    1×C×H×W input, and ``geometry`` puts maps on the model's grid onto the picture the app draws them over
    (the original image for the brain slices, the model input itself for the classifier's crop).
    """

    pixels: np.ndarray
    tensor: torch.Tensor
    geometry: DisplayGeometry

    @property
    def grid(self) -> tuple[int, int]:
        """(H, W) of the model input: the grid sSE maps are upsampled onto and attributions are computed on."""
        return int(self.tensor.shape[-2]), int(self.tensor.shape[-1])


# --------------------------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------------------------

MIN_SIDE = 5  # a 2-pixel border ring around at least one interior pixel


def as_float_image(image: np.ndarray) -> np.ndarray:
    """H×W, H×W×3 or H×W×4 (uint8 or float in [0, 1]) -> float64 H×W×{1,3}; RGBA is composited over white.

    Compositing over white (not black) matters for cut-out product photos: their transparent background then reads
    as the light background that the background detection expects.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"expected a grayscale (H×W) or colour (H×W×3/4) image, got an array of shape {array.shape}")
    if array.dtype == np.uint8:
        array = array.astype(np.float64) / 255.0
    elif np.issubdtype(array.dtype, np.integer) or array.dtype == bool:
        raise InputError(f"integer images must be uint8 (0..255), got {array.dtype}; scale to floats in [0, 1]")
    else:
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise NonFiniteValuesError("the image holds NaN or infinite values")
    if min(array.shape[:2]) < MIN_SIDE:
        raise ImageTooSmallError(f"the image is {array.shape[0]}×{array.shape[1]} pixels; at least 5×5 is needed")
    array = np.clip(array, 0.0, 1.0)
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[:, :, 3:4]
        array = array[:, :, :3] * alpha + (1.0 - alpha)
    return array


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Luma of an H×W×3 float image (an H×W image is returned as is)."""
    return luma(image)


def border_ring(image: np.ndarray, width: int = 2) -> np.ndarray:
    """The pixels within ``width`` of the image's edge, flattened: where the background of a photo shows."""
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[:width, :] = mask[-width:, :] = True
    mask[:, :width] = mask[:, -width:] = True
    return image[mask]


def occupied_span(mask: np.ndarray, axis: int) -> tuple[int, int] | None:
    """First and last index (inclusive) along the other axis whose line holds enough object pixels, or None.

    A line counts when at least 1 % of its pixels (and at least one) are object: isolated sensor-noise specks in a
    large photo then do not stretch the box, while a 28-pixel dataset image needs only one pixel per line.
    """
    counts = mask.sum(axis=axis)
    needed = max(1, int(0.01 * mask.shape[axis]))
    occupied = np.flatnonzero(counts >= needed)
    if occupied.size == 0:
        return None
    return int(occupied[0]), int(occupied[-1])


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Centre ``image`` on a black square whose side is its longer side.

    An odd leftover pixel goes before the image (top/left): that is how Fashion-MNIST centred its items, so a
    dataset image cropped to its box and padded back lands on exactly the pixels it came from.
    """
    h, w = image.shape
    side = max(h, w)
    out = np.zeros((side, side), dtype=image.dtype)
    top, left = (side - h + 1) // 2, (side - w + 1) // 2
    out[top : top + h, left : left + w] = image
    return out


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a square float image to size×size with Lanczos (antialiased when shrinking); a no-op at that size."""
    if image.shape == (size, size):
        return image.astype(np.float32)
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.LANCZOS)
    return np.asarray(resized, dtype=np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Fashion-MNIST: light garment on black, 28×28, the object fills the frame along its longer side
# --------------------------------------------------------------------------------------------------------------------

FASHION_SIZE = 28
FASHION_OBJECT_THRESHOLD = 0.05  # normalised intensity above which a pixel counts as garment when finding the box
# Mean and standard deviation of the training pixels *after* fashion_preprocess (the 55,000-image train split, values
# in [0, 1]); computed once with ``scse_viz.datasets.fashion.pixel_stats(preprocess_fashion_images(load_fashion("train")[0]))``
# and hard-coded so the app needs no dataset. (Raw Fashion-MNIST: 0.2860 / 0.3530.)
FASHION_MEAN = 0.2879
FASHION_STD = 0.3532


def object_threshold(ring: np.ndarray, peak: float) -> float:
    """Threshold on the levelled, stretched image above which a pixel is object.

    0.05 on a clean background (a dataset image's border is exactly 0); on a photo's grainy background four robust
    standard deviations of the border ring (1.4826 · MAD), so sensor noise and JPEG ripples do not count as garment.
    """
    noise = 1.4826 * float(np.median(np.abs(ring - np.median(ring))))
    return max(FASHION_OBJECT_THRESHOLD, 4.0 * noise / peak)


def fashion_preprocess(image: np.ndarray) -> np.ndarray:
    """Any photo -> float32 28×28 in [0, 1] that looks like a Fashion-MNIST item (light garment on black, centred).

    Steps, each there because Fashion-MNIST images were made that way:

    1. grayscale (BT.601 luma);
    2. background level = median of the 2-pixel border ring; when it is lighter than 0.5 *and* the image is darker on
       average than its border (a dark object on a light background) the image is inverted. The second condition
       keeps the few dataset items that fill the whole frame with light fabric from being inverted;
    3. the background level is subtracted and the result stretched so its brightest pixel is 1 (every Fashion-MNIST
       item has a maximum of 254 or 255, so dataset images are left as they are);
    4. the object's bounding box is found by thresholding at 0.05, or higher on a noisy background (see
       ``object_threshold``; whole image when nothing exceeds it), cropped,
       centred on a black square and resized to 28×28 with Lanczos: Fashion-MNIST items touch the frame along
       their longer side, unlike MNIST digits which sit in a 20×20 box.

    Dataset images come through nearly unchanged, so evaluation and training can use this very function.
    """
    gray = to_grayscale(as_float_image(image))
    background = float(np.median(border_ring(gray)))
    if background > 0.5 and gray.mean() < background:
        gray, background = 1.0 - gray, 1.0 - background
    levelled = np.clip(gray - background, 0.0, None)
    peak = float(levelled.max())
    if peak <= 1e-6:  # a flat picture: nothing to find, return black
        return np.zeros((FASHION_SIZE, FASHION_SIZE), dtype=np.float32)
    levelled /= peak
    mask = levelled > object_threshold(border_ring(gray), peak)
    rows, cols = occupied_span(mask, axis=1), occupied_span(mask, axis=0)
    if rows is not None and cols is not None:
        levelled = levelled[rows[0] : rows[1] + 1, cols[0] : cols[1] + 1]
    square = resize_square(pad_to_square(levelled), FASHION_SIZE)
    return np.clip(square, 0.0, 1.0).astype(np.float32)


def preprocess_fashion_images(images: np.ndarray) -> np.ndarray:
    """``fashion_preprocess`` over a stack (N×H×W uint8 or float) -> float32 N×28×28; training and evaluation use it."""
    return (
        np.stack([fashion_preprocess(image) for image in images])
        if len(images)
        else np.zeros((0, FASHION_SIZE, FASHION_SIZE), dtype=np.float32)
    )


def fashion_tensor(pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
    """28×28 (or N×28×28) preprocessed pixels in [0, 1] -> float32 tensor 1×1×28×28 (or N×1×28×28), normalised
    with the training set's mean and standard deviation, ready for a Fashion-MNIST model."""
    tensor = torch.as_tensor(np.asarray(pixels, dtype=np.float32))
    if tensor.shape[-2:] != (FASHION_SIZE, FASHION_SIZE) or tensor.dim() not in (2, 3):
        raise InputError(f"expected 28×28 or N×28×28 preprocessed pixels, got shape {tuple(tensor.shape)}")
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    return ((tensor - FASHION_MEAN) / FASHION_STD).unsqueeze(1).contiguous()


# --------------------------------------------------------------------------------------------------------------------
# Brain MRI: one gray slice, robustly normalised, padded to a square and resized to BRAIN_SIZE×BRAIN_SIZE
# --------------------------------------------------------------------------------------------------------------------

BRAIN_SIZE = 160  # model input side: 1.46 mm per pixel for the template's 233 mm field of view
BRAIN_LOW_PERCENTILE = 0.5  # of all pixels: the background level (0 for a skull-stripped scan)
BRAIN_HIGH_PERCENTILE = 99.5  # of the pixels above the background level: the brightest tissue


def normalise_intensity(gray: np.ndarray) -> np.ndarray:
    """Robust [0, 1] scaling: background level (0.5th percentile) -> 0, the 99.5th percentile of the brighter pixels
    -> 1, clipped. Percentiles rather than min/max so a few hot pixels or a bright label burnt into a screenshot do
    not squash the tissue contrast; "of the brighter pixels" so a slice that is mostly background still scales by its
    tissue."""
    values = np.asarray(gray, dtype=np.float32)
    if not np.isfinite(values).all():
        raise NonFiniteValuesError("the image holds NaN or infinite values")
    low = float(np.percentile(values, BRAIN_LOW_PERCENTILE))
    above = values[values > low]
    high = float(np.percentile(above, BRAIN_HIGH_PERCENTILE)) if above.size else low
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)


def brain_preprocess(image: np.ndarray, size: int = BRAIN_SIZE) -> tuple[np.ndarray, SquareGeometry]:
    """A gray (H×W) or colour (H×W×3) slice -> (size×size float32 in [0, 1], geometry for mapping results back).

    The same function prepares training slices, evaluation slices and uploads. Colour is reduced to BT.601 luma
    (screenshots of scans are gray images stored as RGB).
    """
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = luma(array)
    if array.ndim != 2:
        raise InputError(f"expected a gray (H×W) or colour (H×W×3) slice, got an array of shape {array.shape}")
    if min(array.shape) < MIN_SIDE:
        raise ImageTooSmallError(f"the image is {array.shape[0]}×{array.shape[1]} pixels; at least 5×5 is needed")
    geometry = SquareGeometry.for_image(*array.shape, size)
    return np.clip(geometry.to_model(normalise_intensity(array)), 0.0, 1.0), geometry


def brain_tensor(pixels: np.ndarray) -> torch.Tensor:
    """size×size (or N×size×size) preprocessed pixels -> float32 N×1×size×size, what the brain U-Nets take."""
    tensor = torch.as_tensor(np.asarray(pixels, dtype=np.float32))
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 3 or tensor.shape[-1] != tensor.shape[-2]:
        raise InputError(f"expected size×size or N×size×size preprocessed pixels, got shape {tuple(tensor.shape)}")
    return tensor.unsqueeze(1).contiguous()
