"""Raster pictures the pages share: the colormaps offered for maps, and pictures memoised per run and settings."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np

from scse_viz.render import raster
from scse_viz.ui.state import memo

COLORMAPS = ["magma", "viridis", "inferno", "plasma", "gray", "jet"]  # for sSE maps (0 → 1)


def picture_memo(scope: str, run_key: str) -> Callable[[tuple[Hashable, ...], Callable[[], np.ndarray]], np.ndarray]:
    """``picture(key, make)``: ``make()`` enlarged pixel by pixel when small, computed once per (scope, run, key)
    in this session, so a rerun that changes one widget redraws only the pictures that depend on it."""

    def picture(key: tuple[Hashable, ...], make: Callable[[], np.ndarray]) -> np.ndarray:
        return memo((scope, run_key, *key), lambda: raster.enlarge(make()))

    return picture
