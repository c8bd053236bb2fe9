"""Results the pages reuse: a shipped family's run on an input is shared by the whole process
(``scse_viz.shared_runs``: a class opening the same sample runs the models once); a brought family's run, every
knock-out and every second image are kept per session, and reruns reuse them."""

from __future__ import annotations

import time

import streamlit as st

from scse_viz import explore, zoo
from scse_viz.capture import Knockout
from scse_viz.shared_runs import RUNS
from scse_viz.ui.models import family_models
from scse_viz.ui.navigation import log_line
from scse_viz.ui.state import MEMO, MEMO_SIZE, keep, memo, recall


def family_run(family: zoo.Family, image: explore.InputImage) -> explore.FamilyRun:
    """All four variants on ``image``, with a progress bar for whoever computes it.

    A shipped family's run comes from the process's shared runs (read-only, counted once for the process, not in
    this session's budget); a brought family's run, or one too large for the shared bound, is this session's own."""

    def compute() -> explore.FamilyRun:
        bar = st.progress(0.0, text="Preparing the input…")
        started = time.perf_counter()
        try:
            run = explore.run_family(
                family, family_models(family), image, progress=lambda f, text: bar.progress(f, text=text)
            )
        finally:
            bar.empty()
        log_line(f"models {time.perf_counter() - started:.4f}")  # a load benchmark counts how often models ran
        return run

    key = ("run", family.name, image.key)
    own = recall(MEMO, key)
    if own is not None:
        return own
    if family.loader is not None:  # a brought model: never shared
        return memo(key, compute)
    run = RUNS.get(key, compute)
    if not RUNS.holds(key):  # larger than the shared bound: kept (and counted) in this session
        keep(MEMO, key, run, MEMO_SIZE)
    return run


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
