"""Sidebar controls of added noise (a family whose ``degradation`` is :class:`scse_viz.degradation.AddedNoise`).

σ and a pattern, or a brush: ``streamlit-drawable-canvas`` (a maintained Fabric.js canvas component, version 0.13
on Streamlit's components v2) shows the clean picture, and where the person paints, noise of the chosen σ goes
(the rim of a stroke fades). The painted strokes are kept per picture in the session as a 0–1 mask, so reruns and
other pages see the same noise; a test can set that mask directly (:data:`PAINTED_KEY`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from scse_viz.degradation import AS_IS, PAINTED, PATTERN_TITLES, AddedNoise, NoiseSetting
from scse_viz.explore import InputImage
from scse_viz.render.restoration import image_picture
from scse_viz.ui import links

CANVAS_WIDTH = 280  # fits the sidebar
STROKE_OPACITY = 0.9  # the picture shows through the brush
PAINTED_KEY = "scse_painted"  # session key: picture key -> painted mask (H×W float in [0, 1], canvas pixels)
SETTING_KEY = "scse_noise"  # session key: family name -> the last NoiseSetting (the second image of Compare)


def noise_controls(degradation: AddedNoise, image: InputImage, family: str, where: Any = st.sidebar) -> NoiseSetting:
    """The person's noise setting for ``image``: pattern, σ, seed, and for the painted pattern the canvas."""
    where.markdown("**Noise added to the picture**")
    pattern = links.select(
        where,
        "Noise",
        degradation.patterns,
        format_func=PATTERN_TITLES.get,
        key=f"noise-{family}",
        param="noise",
        index=degradation.patterns.index(degradation.first_pattern),
    )
    if pattern == AS_IS:
        where.caption("The picture goes to the models as it is: no ground truth, so no PSNR or SSIM.")
        setting = NoiseSetting(AS_IS, 0.0)
    else:
        sigma = links.slider(
            where,
            "σ (of 255)",
            0.0,
            degradation.max_sigma,
            25.0,
            1.0,
            key=f"sigma-{family}",
            param="sigma",
            help="The noise's standard deviation where it is strongest; the models "
            f"were trained on 0 to {degradation.max_sigma:g}.",
        )
        seed = links.number(
            where,
            "Noise seed",
            0,
            9999,
            0,
            key=f"noise-seed-{family}",
            param="noise-seed",
            help="Another seed draws other noise (and places a random pattern elsewhere).",
        )
        painted = _canvas(image, where) if pattern == PAINTED else None
        setting = NoiseSetting(pattern, float(sigma), seed, painted)
    st.session_state.setdefault(SETTING_KEY, {})[family] = setting
    return setting


def last_setting(family: str) -> NoiseSetting:
    """The setting last chosen for ``family`` in this session (the app's first pattern, σ 25, before any)."""
    return st.session_state.get(SETTING_KEY, {}).get(family, NoiseSetting())


def _canvas(image: InputImage, where: Any) -> np.ndarray | None:
    """The brush over the clean picture; returns the painted mask (None before the first stroke)."""
    from streamlit_drawable_canvas import st_canvas

    h, w = image.size
    height = max(1, round(CANVAS_WIDTH * h / w))
    brush = where.slider("Brush size", 5, 60, 25, key="noise-brush")
    where.caption("Paint where the noise goes:")
    with where:
        result = st_canvas(
            stroke_width=brush,
            stroke_color=f"rgba(255, 60, 0, {STROKE_OPACITY})",
            background_image=_background(image),
            height=height,
            width=CANVAS_WIDTH,
            drawing_mode="freedraw",
            key=f"noise-canvas-{image.key}",
            return_image_data=True,
        )
    painted = st.session_state.setdefault(PAINTED_KEY, {})
    data = _image_data(result)
    if data is not None and data[..., 3].any():
        # strokes are drawn at opacity 0.9: full strength inside a stroke, its antialiased rim in between
        painted[image.key] = np.clip(data[..., 3].astype(np.float32) / (STROKE_OPACITY * 255.0), 0.0, 1.0)
    mask = painted.get(image.key)
    if mask is None and links.linked("noise") == PAINTED:
        links.note(
            "painted",
            "The noise of this link was painted by hand: strokes cannot travel in a link, so "
            "paint where the noise goes in the sidebar.",
        )
    where.caption(
        "Paint on the picture: noise of the chosen σ goes where you paint (none elsewhere)."
        if mask is None
        else f"Painted: {100 * float((mask > 0).mean()):.0f} % of the picture."
    )
    return mask


def _image_data(result: Any) -> np.ndarray | None:
    """The canvas as RGBA (H×W×4), or None before its first stroke."""
    data = None if result is None else result.image_data
    return None if data is None else np.asarray(data)


def _background(image: InputImage) -> Image.Image:
    return Image.fromarray(image_picture(image.pixels))
