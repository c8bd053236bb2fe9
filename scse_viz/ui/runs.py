"""Results kept per session: each (input, family) is run once, each knock-out once; reruns reuse them."""

from __future__ import annotations

import streamlit as st

from scse_viz import explore, zoo
from scse_viz.capture import Knockout
from scse_viz.ui.models import family_models
from scse_viz.ui.state import memo


def family_run(family: zoo.Family, image: explore.InputImage) -> explore.FamilyRun:
    """All four variants on ``image``, with a progress bar the first time."""

    def compute() -> explore.FamilyRun:
        bar = st.progress(0.0, text="Preparing the input…")
        try:
            return explore.run_family(
                family, family_models(family), image, progress=lambda f, text: bar.progress(f, text=text)
            )
        finally:
            bar.empty()

    return memo(("run", family.name, image.key), compute)


def knockout_output(run: explore.FamilyRun, variant: str, knockout: Knockout) -> explore.ModelOutput:
    """``variant`` on the run's input with one branch knocked out (run once per setting)."""
    key = ("knockout", run.key, variant, knockout)
    model = family_models(run.family)[variant]
    return memo(key, lambda: explore.run_model(run.family, model, variant, run.prepared, (knockout,)))


def second_output(family: zoo.Family, image: explore.InputImage, variant: str) -> explore.ModelOutput:
    """One variant on a second input (for comparing two images)."""
    model = family_models(family)[variant]

    def compute() -> explore.ModelOutput:
        return explore.run_model(family, model, variant, family.prepare(image.pixels))

    return memo(("second", family.name, image.key, variant), compute)
