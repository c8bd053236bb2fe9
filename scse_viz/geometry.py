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

# ------------------------------------------------------------------------------------------ stride upsampling


def _axis_weights(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lo, hi) and weight of hi for each output index, as torch computes them.

    ``scale`` is output / input. Source coordinate = (dst + 0.5) / scale - 0.5, clamped at 0 below; the upper
    neighbour is clamped to the last pixel (``align_corners=False`` semantics).
    """
    src = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) / scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo


def _resize(m: np.ndarray, out_h: int, out_w: int, scale_h: float, scale_w: float) -> np.ndarray:
    y0, y1, wy = _axis_weights(m.shape[0], out_h, scale_h)
    x0, x1, wx = _axis_weights(m.shape[1], out_w, scale_w)
    rows = m[y0] * (1.0 - wy)[:, None] + m[y1] * wy[:, None]  # out_h × w
    return rows[:, x0] * (1.0 - wx) + rows[:, x1] * wx


def _axis_stride(n_map: int, n_out: int) -> int | None:
    """The integer stride s with floor(n_out/s) == n_map (pooling) or ceil(n_out/s) == n_map (padded strided conv).

    Both can hold for two values of s (70 px → 8 cells: s = 8 by floor, s = 9 by ceil); networks downsample by
    powers of two, so a power of two wins, then the smaller s.
    """
    candidates = [s for s in range(1, n_out + 1) if n_out // s == n_map or -(-n_out // s) == n_map]
    if not candidates:
        return None
    powers = [s for s in candidates if s & (s - 1) == 0]
    return min(powers or candidates)


def _integer_stride(
    stride: tuple[float, float] | None, map_size: tuple[int, int], out_size: tuple[int, int]
) -> tuple[int, int] | None:
    if stride is None:
        return None
    ints = tuple(int(round(s)) for s in stride)
    if all(i >= 1 and abs(s - i) < 1e-9 for s, i in zip(stride, ints)):
        return ints  # type: ignore[return-value]
    inferred = tuple(_axis_stride(m, o) for m, o in zip(map_size, out_size))
    return None if None in inferred else inferred  # type: ignore[return-value]


def upsample_map(m: np.ndarray, out_size: tuple[int, int], stride: tuple[float, float] | None = None) -> np.ndarray:
    """Bilinearly resample a 2-D map to ``out_size`` (H, W) with the model's own geometry; returns float64.

    With an integer stride (s_h, s_w) the map is upsampled by exactly that factor, to (h·s_h, w·s_w), and then
    cropped at the bottom/right (or padded there with edge values) to ``out_size``. That keeps feature pixel i over
    input pixels [i·s, (i+1)·s) even when the input size is not a multiple of s (the network padded or floored).
    A fractional ``stride`` (input / feature size, as capture records it) is replaced by the integer stride that the
    sizes imply (see ``_axis_stride``). Without a stride, or when no integer stride fits, the map is resized straight
    to ``out_size`` (exactly ``torch.nn.functional.interpolate``).
    """
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        raise ValueError(f"upsample_map needs a non-empty 2-D map, got shape {m.shape}")
    out_h, out_w = (int(v) for v in out_size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"out_size must be positive, got {out_size}")
    h, w = m.shape
    ints = _integer_stride(stride, (h, w), (out_h, out_w))
    if ints is None:
        return _resize(m, out_h, out_w, out_h / h, out_w / w)
    sh, sw = ints
    up = _resize(m, h * sh, w * sw, float(sh), float(sw))[:out_h, :out_w]
    pad = ((0, out_h - up.shape[0]), (0, out_w - up.shape[1]))
    return np.pad(up, pad, mode="edge") if any(p[1] for p in pad) else up


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
