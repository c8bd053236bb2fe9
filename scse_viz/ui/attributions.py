"""Attribution results kept per session: computed only when asked, then reused by every rerun.

Attributions cost seconds to minutes (all four models, several methods), so they are kept in their own bounded
store rather than the picture memo (whose entries come and go with every colormap change) and are looked up
without computing: a page shows what is kept and computes only when its button is pressed.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import streamlit as st

from scse_viz import compare_attribution, explore
from scse_viz.ui.models import family_models
from scse_viz.ui.state import keep, recall

KEPT = "scse_attributions"
KEPT_SIZE = 96  # method runs kept per session (oldest dropped first)


def result_key(
    run: explore.FamilyRun, job: compare_attribution.Job, class_index: int, settings: compare_attribution.Settings
) -> Hashable:
    return (
        "attribution",
        run.key,
        job.variant,
        job.method,
        class_index,
        compare_attribution.settings_for(job.method, settings),
    )


def kept(
    run: explore.FamilyRun, job: compare_attribution.Job, class_index: int, settings: compare_attribution.Settings
) -> compare_attribution.MethodRun | None:
    """The kept result of ``job``, or None if it was not computed (or was dropped)."""
    return recall(KEPT, result_key(run, job, class_index, settings))


def compute(
    run: explore.FamilyRun,
    todo: Sequence[compare_attribution.Job],
    class_index: int,
    settings: compare_attribution.Settings,
) -> None:
    """Run the jobs not kept yet, with one progress bar over all of them, and keep their results."""
    missing = [job for job in todo if kept(run, job, class_index, settings) is None]
    if not missing:
        return
    bar = st.progress(0.0, text="Starting the attributions…")
    try:
        results = compare_attribution.run_jobs(
            run,
            family_models(run.family),
            missing,
            class_index,
            settings,
            progress=lambda f, text: bar.progress(min(max(f, 0.0), 1.0), text=text),
        )
    finally:
        bar.empty()
    for job, result in zip(missing, results):
        keep(KEPT, result_key(run, job, class_index, settings), result, KEPT_SIZE)
