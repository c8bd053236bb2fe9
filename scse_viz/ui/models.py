"""Models load once per process and are shared by every session (capture is safe for concurrent use)."""

from __future__ import annotations

import streamlit as st
from torch import nn

from scse_viz import zoo


@st.cache_resource(show_spinner="Loading the models…")
def family_models(family: str) -> dict[str, nn.Module]:
    """The four shipped variants of ``family`` in eval mode, loaded from safetensors once per process."""
    return {variant: zoo.load_model(family, variant) for variant in zoo.family(family).variants}
