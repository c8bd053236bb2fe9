"""A block's map at stride s back onto the model input: :func:`upsample_map`, feature pixel i over input pixels
[i·s, (i+1)·s).

Plain numpy (torch's bilinear ``interpolate`` rebuilt to the last digit), so figures (:mod:`scse_viz.render`) can
place a map without importing torch; :mod:`scse_viz.geometry` re-exports it with the rest of the alignment geometry.
"""

from __future__ import annotations

import numpy as np


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
