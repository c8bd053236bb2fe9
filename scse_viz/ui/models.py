"""Models for the pages: shipped ones load once per process and are shared by every session (capture is safe for
concurrent use); a brought model lives in its own session (``ui.brought``) and is handed out by its family."""

from __future__ import annotations

import streamlit as st
from torch import nn

from scse_viz import zoo
from scse_viz.memory import mark_shared


@st.cache_resource(show_spinner="Loading the models…")
def _shipped_models(family: str) -> dict[str, nn.Module]:
    """The shipped variants of ``family`` in eval mode, loaded from safetensors once per process (held once for
    every session: no session's memory budget counts them)."""
    models = zoo.models_of(zoo.family(family))
    mark_shared(*models.values())
    return models


def family_models(family: zoo.Family) -> dict[str, nn.Module]:
    """Every variant of ``family`` in eval mode: a brought family's own models, or the shared shipped ones."""
    return zoo.models_of(family) if family.loader is not None else _shipped_models(family.name)
