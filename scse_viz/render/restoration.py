"""Pictures of a restoration: images side by side, the noise a model removed, and σ against the sSE maps.

On-screen pictures are numpy (``raster``); the figures here are drawn only for downloads, with the same limits:
removed noise on a diverging scale centred on 0, σ on 0 … the largest σ the models know, q on 0 … 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from scse_viz.render import colormaps
from scse_viz.render.export import new_figure
from scse_viz.render.raster import _to_uint8, colorize_uint8, to_rgb

NOISE_CMAP = colormaps.DIVERGING  # centred on 0: red where the model took brightness away, blue where it added
SIGMA_CMAP = colormaps.NOISE_LEVEL
NOISE_RANGE = 0.25  # ± this much (0–1 scale) fills the diverging scale: about 2.5 σ of the strongest noise


def removed_noise(noisy: np.ndarray, output: np.ndarray) -> np.ndarray:
    """noisy − output, H×W×3 (what the model took out), float32."""
    return (np.asarray(noisy, dtype=np.float32) - np.asarray(output, dtype=np.float32)).astype(np.float32)


def noise_picture(difference: np.ndarray, scale: float = NOISE_RANGE) -> np.ndarray:
    """A residual (H×W×3, or H×W) as a picture: its mean over colours on the diverging scale ±``scale`` -> uint8."""
    plane = difference.mean(axis=-1) if difference.ndim == 3 else difference
    return colorize_uint8(plane, NOISE_CMAP, -scale, scale)


def sigma_picture(sigma: np.ndarray, max_sigma: float) -> np.ndarray:
    """σ map (0–1 scale) on 0 … max_sigma -> uint8."""
    return colorize_uint8(sigma, SIGMA_CMAP, 0.0, max_sigma)


def image_picture(image: np.ndarray) -> np.ndarray:
    return _to_uint8(to_rgb(np.clip(image, 0.0, 1.0)))


def restoration_figure(pictures: Sequence[tuple[str, np.ndarray]], ncols: int = 3) -> Figure:
    """The clean, noisy and restored images (title, H×W×3 in [0, 1]) in a grid."""
    ncols = max(1, min(ncols, len(pictures)))
    nrows = math.ceil(len(pictures) / ncols)
    fig = new_figure((3.2 * ncols, 3.2 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (title, image) in zip(axes, pictures):
        ax.imshow(np.clip(image, 0.0, 1.0), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    for ax in axes[len(pictures) :]:
        ax.set_visible(False)
    return fig


def sigma_and_gates_figure(
    sigma: np.ndarray, max_sigma: float, maps: Sequence[tuple[str, np.ndarray]], ncols: int = 4
) -> Figure:
    """The true σ map and each block's sSE map q (title with its correlation), each with its own colour bar."""
    cells = [("true σ (0–1 scale)", sigma, SIGMA_CMAP, 0.0, max_sigma)]
    cells += [(title, q, colormaps.LEVEL, 0.0, 1.0) for title, q in maps]
    ncols = max(1, min(ncols, len(cells)))
    nrows = math.ceil(len(cells) / ncols)
    fig = new_figure((3.0 * ncols, 2.9 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (title, values, cmap, vmin, vmax) in zip(axes, cells):
        image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    for ax in axes[len(cells) :]:
        ax.set_visible(False)
    return fig
