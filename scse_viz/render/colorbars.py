"""Colour bars as pictures: the range and meaning of a map drawn on screen, with numbers on ticks.

The pages show maps as RGB arrays (``raster``); each map gets one of these beside it, so nobody has to guess what a
colour means. Drawn with matplotlib once per (scale, limits, label) and then kept (the page memoises it); the bar's
pixels are :func:`raster.colorize` of evenly spaced values, the same lookup the maps use, so a colour on the bar at a
tick is exactly the colour of that value on the map.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np

from scse_viz.render import raster
from scse_viz.render.export import new_figure

BAR_WIDTH = 512  # pixels of colour along the bar
LABEL_CHARACTERS = 90  # a longer label wraps onto further lines (at 6.4 inches it would be cut off)


@dataclass(frozen=True)
class ColorBar:
    """A labelled colour bar: ``picture`` (H×W×3 uint8) with the bar's colours in columns ``left``..``right``
    (exclusive) and rows ``top``..``bottom``; ``ticks`` the numbers written under it."""

    picture: np.ndarray
    left: int
    right: int
    top: int
    bottom: int
    ticks: tuple[float, ...]


def _ticks(vmin: float, vmax: float) -> tuple[float, ...]:
    """The ends, and the middle (0 of a symmetric scale), and the quarters."""
    return tuple(float(t) for t in np.linspace(vmin, vmax, 5))


def colorbar(cmap: str, vmin: float, vmax: float, label: str, dpi: int = 100) -> ColorBar:
    """A horizontal bar from ``vmin`` (left) to ``vmax`` (right) on ``cmap``, ticked, with ``label`` under it."""
    ramp = raster.colorize(np.linspace(vmin, vmax, BAR_WIDTH)[None, :], cmap, vmin, vmax)
    lines = textwrap.wrap(label, LABEL_CHARACTERS) or [""]
    fig = new_figure((6.4, 0.7 + 0.2 * len(lines)))
    fig.set_dpi(dpi)
    ax = fig.add_subplot()
    ax.imshow(ramp, aspect="auto", extent=(vmin, vmax, 0, 1), interpolation="nearest")
    ticks = _ticks(vmin, vmax)
    ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks])
    ax.set_yticks([])
    ax.set_xlim(vmin, vmax)
    ax.set_xlabel("\n".join(lines))
    fig.canvas.draw()
    picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    box = ax.get_window_extent()  # display pixels, origin at the bottom left
    height = picture.shape[0]
    left, right = int(np.ceil(box.x0)), int(np.floor(box.x1))
    top, bottom = int(np.ceil(height - box.y1)), int(np.floor(height - box.y0))
    fig.clear()
    return ColorBar(picture, left, right, top, bottom, ticks)
