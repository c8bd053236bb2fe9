"""Raster pictures the pages share: the colormaps offered for maps, colour bars, and pictures memoised per run and
settings."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import streamlit as st

from scse_viz.render import colorbars, colormaps
from scse_viz.render.encode import EncodedPicture, as_uint8, encode_picture, fit_width, shown_picture
from scse_viz.ui.state import memo

COLORMAPS = list(colormaps.SEQUENTIAL)  # offered for sSE maps (0 → 1): uniform, readable in colour-blind vision


def picture_memo(
    scope: str, run_key: str
) -> Callable[[tuple[Hashable, ...], Callable[[], np.ndarray]], EncodedPicture]:
    """``picture(key, make)``: what ``st.image`` sends for ``make()`` (``render.encode.shown_picture``: enlarged
    pixel by pixel when small, exact PNG then, else JPEG that keeps colours within 4/255), made once per (scope, run,
    key) in this session, so a rerun that changes one widget redraws only the pictures that depend on it; show it
    with ``show_encoded``."""

    def picture(key: tuple[Hashable, ...], make: Callable[[], np.ndarray]) -> EncodedPicture:
        return memo((scope, run_key, *key), lambda: shown_picture(make()))

    return picture


def show_encoded(where: Any, picture: EncodedPicture, caption: str | None = None) -> None:
    """An encoded picture in ``where``, with its own format named (Streamlit re-saves PNG bytes as 4:2:0 JPEG when
    it is left to guess)."""
    where.image(picture.data, caption=caption, output_format=picture.format)


def show_picture(where: Any, rgb: np.ndarray, caption: str | None = None) -> None:
    """One H×W×3 picture in ``where``, sent as ``render.encode.shown_picture`` makes it (never Streamlit's default
    JPEG, whose chroma subsampling moves a map's colours by up to 118/255); a gray H×W array is refused."""
    show_encoded(where, shown_picture(rgb), caption)


def show_tiles(where: Any, items: Sequence[tuple[str, np.ndarray]], width: int) -> None:
    """Small pictures in one wrapping row, each ``width`` pixels wide on screen (see ``tile_width``); one format for
    the row, as ``st.image`` takes one (JPEG for all when any tile is not an enlarged map)."""
    tiles = [shown_picture(rgb, width) for _, rgb in items]  # never wider than shown: Streamlit would re-save them
    if len({t.format for t in tiles}) > 1:
        tiles = [shown_picture(rgb, width, allow_png=False) for _, rgb in items]
    where.image(
        [t.data for t in tiles],
        caption=[caption for caption, _ in items],
        width=tile_width(tiles, width),
        output_format=tiles[0].format if tiles else "JPEG",
    )


def tile_width(pictures: Sequence[np.ndarray | EncodedPicture], width: int) -> int | str:
    """``width`` for pictures shown as tiles, or "stretch" where a picture would be under 2 px tall at that width
    (a strip of 1:200; Streamlit cannot draw an image 0 px tall)."""
    flattest = min(p.shape[0] / p.shape[1] for p in pictures) if len(pictures) else 1.0
    return width if flattest * width >= 2 else "stretch"


COLORBAR_WIDTH = 480  # on screen, pixels: readable ticks, narrower than a page column


@st.cache_data(show_spinner=False, max_entries=128)
def _colorbar(cmap: str, vmin: float, vmax: float, label: str) -> bytes:
    # drawn at exactly COLORBAR_WIDTH px (6.4 in at 75 dpi): a wider picture Streamlit would shrink and re-save 4:2:0
    picture = colorbars.colorbar(cmap, vmin, vmax, label, dpi=round(COLORBAR_WIDTH / 6.4)).picture
    return encode_picture(fit_width(as_uint8(picture), COLORBAR_WIDTH)).data


def show_colorbar(where: Any, cmap: str, vmin: float, vmax: float, label: str) -> None:
    """The colour bar of the maps just shown in ``where``: ``cmap`` from ``vmin`` to ``vmax``, ticked, with
    ``label`` saying what the colours mean (shared by every session: it depends on nothing else)."""
    where.image(_colorbar(cmap, float(vmin), float(vmax), label), width=COLORBAR_WIDTH, output_format="JPEG")
