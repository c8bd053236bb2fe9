"""The sidebar's page list, drawn by us so the landing page is called "Home" (not "app", its file name).

Streamlit runs the files in ``pages/`` as the app's pages (its pages-directory mode, which also serves a page
opened directly by its URL) and its automatic list is switched off in ``.streamlit/config.toml``
(``client.showSidebarNavigation = false``). Every page calls :func:`page_links` first.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from scse_viz.ui import links
from scse_viz.ui.garbage import collect_now_and_then
from scse_viz.ui.presenter import presenter_toggle
from scse_viz.ui.state import admit

TIMING_LOG = "SCSE_TIMING_LOG"  # a file path: every page appends "<page> <seconds>" per script run (benchmarks)
STARTED = "scse_run_started"

PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Explore.py", "Explore", ":material/biotech:"),
    ("pages/2_Attribution.py", "Attribution", ":material/insights:"),
    ("pages/3_Teach.py", "Teach", ":material/school:"),
    ("pages/5_Gate_health.py", "Gate health", ":material/monitor_heart:"),
    ("pages/4_About.py", "About", ":material/info:"),
)


MOVED_NOTE = (
    "The server that held your session stopped, so you are now on another one. Files you uploaded (images, "
    "models) did not move with you: upload them again. Samples and the shipped models work as before."
)


def moved_from() -> str | None:
    """Behind ``python -m scse_viz.serve``: the replica this browser was on before, if it had to move here (the
    balancer's cookies; see ``scse_viz.serve``). None when served directly or never moved."""
    here = os.environ.get("SCSE_REPLICA")
    if not here:
        return None
    cookies = st.context.cookies
    before = cookies.get("scse_moved") or cookies.get("scse_replica")
    return before if before and before != here else None


def page_links() -> None:
    """One link per page at the top of the sidebar, and the note for a person whose replica stopped."""
    st.session_state[STARTED] = time.perf_counter()
    collect_now_and_then()  # the full GC pass Streamlit would run after every run (switched off), rate-limited
    admit()
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
    links.reserve()
    presenter_toggle()
    st.sidebar.divider()
    if moved_from() is not None:
        st.warning(MOVED_NOTE, icon=":material/sync_problem:")


def log_line(text: str) -> None:
    """With ``SCSE_TIMING_LOG`` set, append one line to it (benchmarks read it; nothing else does)."""
    path = os.environ.get(TIMING_LOG)
    if path:
        with open(path, "a") as log:
            log.write(f"{text}\n")


def log_run_time(page: str) -> None:
    """With ``SCSE_TIMING_LOG`` set, append how long this script run took on the server (from ``page_links``):
    the server's share of a person's wait, which a load benchmark tells apart from the browsers' share."""
    started = st.session_state.get(STARTED)
    if started is not None:
        log_line(f"{page} {time.perf_counter() - started:.4f}")
