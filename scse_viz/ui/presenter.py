"""The presenter view: for a lecture hall, larger type and pictures, the sidebar folded, one idea per screen.

A toggle in the sidebar (``present=1`` in a link, so a slide can open the app already presenting) switches it on
for the session. Then every page is drawn with a larger root font size (Streamlit sizes its type and spacing in
rem, so everything grows together) across the full width, and the sidebar starts folded. A page that has several
ideas on one screen (Explore: the input, the models' outputs, a block's gates, a knock-out) shows them one at a time
through :func:`screens`, with Previous / Next and the screen's number in the link (``step=3``). Streamlit only.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from scse_viz.ui import links

KEY = "presenter"
STEP_KEY = "presenter-step"
ROOT_FONT_PX = 22  # Streamlit's default root is 16 px: type, spacing and widgets grow by 1.375 together
STYLE = f"""<style>
html {{ font-size: {ROOT_FONT_PX}px; }}
[data-testid="stMainBlockContainer"] {{ max-width: 100%; padding-left: 3rem; padding-right: 3rem; }}
[data-testid="stCaptionContainer"] {{ font-size: 0.95rem; }}
</style>"""


def presenter_toggle() -> bool:
    """The sidebar's toggle (every page, from ``page_links``); when on, the page's type grows and the sidebar
    starts folded."""
    on = links.toggle(
        st.sidebar,
        "Presenter view",
        key=KEY,
        param="present",
        help="For a projector: larger type and pictures, the sidebar folded, one idea per screen. "
        "Open the sidebar again (the arrow at the top left) to switch it off.",
    )
    if on:
        st.set_page_config(initial_sidebar_state="collapsed")
        st.html(STYLE)
    return on


CHART_TYPE = {
    "axis": {"labelFontSize": 17, "titleFontSize": 19},
    "legend": {"labelFontSize": 17, "titleFontSize": 19, "labelLimit": 480},
    "header": {"labelFontSize": 17, "titleFontSize": 19},
    "title": {"fontSize": 24},
}


def _merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def readable(spec: dict) -> dict:
    """A Vega-Lite spec with the presenter's type sizes when presenting (charts do not follow the page's rem)."""
    return {**spec, "config": _merged(spec.get("config", {}), CHART_TYPE)} if active() else spec


def active() -> bool:
    """Whether this session presents (the toggle's state, set on every page by ``page_links``)."""
    return bool(st.session_state.get(KEY, False))


def _move(by: int, count: int) -> None:
    st.session_state[STEP_KEY] = min(max(st.session_state.get(STEP_KEY, 0) + by, 0), count - 1)


def screens(titles: Sequence[str]) -> int:
    """The screen to show (0-based) of ``titles``: a numbered bar of the screens, with Previous and Next."""
    count = len(titles)
    back, bar, forward = st.columns([1.3, 7.4, 1.3], vertical_alignment="center")
    step = int(
        links.select(
            bar,
            "Screen",
            list(range(count)),
            kind="radio",
            horizontal=True,
            key=STEP_KEY,
            param="step",
            names=[str(n + 1) for n in range(count)],
            format_func=lambda n: f"{n + 1} · {titles[n]}",
            label_visibility="collapsed",
        )
    )
    back.button("◀ Back", key="presenter-back", on_click=_move, args=(-1, count), disabled=step == 0)
    forward.button("Next ▶", key="presenter-next", on_click=_move, args=(1, count), disabled=step >= count - 1)
    return step
