"""The Gate health page's sanity check by model randomisation: choose a model with gates, a randomisation mode and
one input; a button runs both modes once (kept for the session) and the view's sections are shown."""

from __future__ import annotations

import streamlit as st

from scse_viz.family import Family
from scse_viz.sanity import MODES
from scse_viz.ui import links
from scse_viz.ui.inputs import pick_input
from scse_viz.ui.models import family_models
from scse_viz.ui.sections import show_sections
from scse_viz.ui.state import MEMO, memo, recall
from scse_viz.views import gate_checks as checks


def show_sanity_check(family: Family) -> None:
    st.subheader("Sanity check: randomise the model")
    models = family_models(family)
    gated = checks.gated_variants(models)
    if not gated:
        st.info("None of this family's models has an attention block to check.")
        return
    left, right = st.columns(2)
    variant = links.select(left, "Model", gated, key="gh-sanity-model", param="sanity", format_func=family.label)
    mode = links.select(
        right, "Randomisation", list(MODES), key="gh-sanity-mode", param="mode", kind="radio", horizontal=True
    )
    image = pick_input(family, st.container(), prefix="gh-sanity-")
    if image is None:
        return
    key = ("gh-sanity", family.name, variant, image.key)
    if recall(MEMO, key) is None and not st.button("Randomise and compare", type="primary", key="gh-sanity-run"):
        st.caption("Each layer with weights is re-initialised in turn on a private copy of the model (both modes).")
        return
    with st.spinner("re-initialising the layers one by one…"):
        rows = memo(key, lambda: checks.randomisation_rows(family, models[variant], image))
    show_sections(checks.sanity_sections(rows, mode, family.label(variant)))
