"""Where a number computed on the model's grid lands on the picture a person sees: the alignment geometry.

Two steps, both core (no rendering): a block's map at stride s goes back onto the model input with
:func:`upsample_map` (feature pixel i over input pixels [i·s, (i+1)·s)), and the model input goes back onto the
displayed image with the input's :class:`DisplayGeometry` (:class:`SquareGeometry` undoes the brain slices' pad and
resize; :class:`ModelGrid` is for preprocessing without an inverse, whose results are shown on the model input
itself). Everything is plain numpy or torch's own ``interpolate``, so tests can check it to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from scse_viz.upsample import upsample_map

__all__ = [
    "DisplayGeometry",
    "ModelGrid",
    "PaddedGeometry",
    "SquareGeometry",
    "resize_image",
    "resize_nearest",
    "upsample_map",
]


def resize_image(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A gray H×W or colour H×W×C picture resized to ``size`` (antialiased bilinear, pixel centres aligned), float32:
    the one resize of pictures (uploads fitted for display, photos shrunk for training crops)."""
    t = torch.from_numpy(np.array(pixels, dtype=np.float32))  # a copy: decoded images are read-only
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)[0]
    return (out[0] if pixels.ndim == 2 else out.permute(1, 2, 0)).numpy()


def resize_nearest(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An array resized to ``size`` (H, W) on its first two axes by nearest neighbour, pixel centre to pixel centre:
    for class masks, painted masks and stacked slices, whose values must not be blended."""
    rows = np.minimum((np.arange(size[0]) + 0.5) * values.shape[0] / size[0], values.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(size[1]) + 0.5) * values.shape[1] / size[1], values.shape[1] - 1).astype(int)
    return values[rows][:, cols]


# ------------------------------------------------------------------------------------------ model input -> display


class DisplayGeometry(Protocol):
    """How maps on the model input's grid are put onto the picture the app draws them over."""

    def to_display(self, maps: np.ndarray) -> np.ndarray:
        """(…, model H, model W) float maps -> (…, H, W) on the displayed picture's pixels (float32)."""
        ...

    def display_image(self, source: np.ndarray, model_pixels: np.ndarray) -> np.ndarray:
        """The picture maps are drawn over: the input (``source``) or what the model saw (``model_pixels``)."""
        ...


@dataclass(frozen=True)
class SquareGeometry:
    """How an H×W image was placed on the model's size×size input: centred on a side×side square, then resized.

    ``to_model`` and ``to_source`` are each other's inverse up to resampling, so a mask or an sSE map computed at the
    model's resolution lands on the pixels of the image the person uploaded.
    """

    source_size: tuple[int, int]  # (H, W) of the image as given
    side: int  # side of the padded square (max(H, W))
    top: int  # rows of padding above the image
    left: int  # columns of padding left of the image
    size: int  # model input side

    @classmethod
    def for_image(cls, height: int, width: int, size: int) -> SquareGeometry:
        side = max(height, width)
        return cls((height, width), side, (side - height) // 2, (side - width) // 2, size)

    def to_model(self, maps: np.ndarray, antialias: bool = True) -> np.ndarray:
        """(…, H, W) float maps -> (…, size, size): zero-pad to the square, then bilinear resize (antialiased)."""
        maps = np.asarray(maps, dtype=np.float32)
        h, w = self.source_size
        if maps.shape[-2:] != (h, w):
            raise ValueError(f"expected maps of size {h}×{w}, got {maps.shape[-2:]}")
        lead = maps.shape[:-2]
        square = np.zeros((*lead, self.side, self.side), dtype=np.float32)
        square[..., self.top : self.top + h, self.left : self.left + w] = maps
        return _resize_maps(square, self.size, antialias)

    def to_source(self, maps: np.ndarray) -> np.ndarray:
        """(…, size, size) float maps at the model's resolution -> (…, H, W) on the original image's pixels.

        Bilinear with ``align_corners=False`` (pixel centres map to pixel centres), then the padding is cut off.
        """
        maps = np.asarray(maps, dtype=np.float32)
        if maps.shape[-2:] != (self.size, self.size):
            raise ValueError(f"expected maps of size {self.size}×{self.size}, got {maps.shape[-2:]}")
        square = _resize_maps(maps, self.side, antialias=False)
        h, w = self.source_size
        return np.ascontiguousarray(square[..., self.top : self.top + h, self.left : self.left + w])

    def to_display(self, maps: np.ndarray) -> np.ndarray:
        """Results go back onto the input's own pixels."""
        return self.to_source(maps)

    def display_image(self, source: np.ndarray, model_pixels: np.ndarray) -> np.ndarray:
        return source


@dataclass(frozen=True)
class ModelGrid:
    """Preprocessing that keeps no inverse (the classifier's crop-and-resize): results are shown on the model input.

    ``size`` is the model input's (H, W); ``to_display`` checks the grid and hands back an unchanged float copy.
    """

    size: tuple[int, int]

    def to_display(self, maps: np.ndarray) -> np.ndarray:
        maps = np.array(maps, dtype=np.result_type(np.asarray(maps).dtype, np.float32), copy=True)
        if maps.shape[-2:] != tuple(self.size):
            raise ValueError(f"expected maps of size {self.size[0]}×{self.size[1]}, got {maps.shape[-2:]}")
        return maps

    def display_image(self, source: np.ndarray, model_pixels: np.ndarray) -> np.ndarray:
        return model_pixels


@dataclass(frozen=True)
class PaddedGeometry:
    """An image padded at the bottom and right to the model's size multiple (fully convolutional models, which see
    the image at its own resolution): results are cropped back to the image's own pixels.

    Padding only at the far sides keeps feature pixel i over input pixels [i·s, (i+1)·s), the convention of
    :func:`upsample_map`, so the crop is the whole inverse.
    """

    source_size: tuple[int, int]  # (H, W) of the image as given
    padded_size: tuple[int, int]  # (H, W) of the model input

    def to_display(self, maps: np.ndarray) -> np.ndarray:
        maps = np.asarray(maps)
        if maps.shape[-2:] != tuple(self.padded_size):
            raise ValueError(
                f"expected maps of size {self.padded_size[0]}×{self.padded_size[1]}, got {maps.shape[-2:]}"
            )
        h, w = self.source_size
        return np.ascontiguousarray(maps[..., :h, :w], dtype=np.result_type(maps.dtype, np.float32))

    def display_image(self, source: np.ndarray, model_pixels: np.ndarray) -> np.ndarray:
        return source


def _resize_maps(maps: np.ndarray, size: int, antialias: bool) -> np.ndarray:
    lead = maps.shape[:-2]
    if maps.shape[-2:] == (size, size):
        return maps.astype(np.float32, copy=True)
    flat = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32)).reshape(-1, 1, *maps.shape[-2:])
    resized = torch.nn.functional.interpolate(
        flat, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias and size < maps.shape[-1]
    )
    return resized.reshape(*lead, size, size).numpy()
