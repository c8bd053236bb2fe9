"""The presenter view: larger type, the sidebar folded, one idea per screen, and all of it in the link."""

from __future__ import annotations

import scse_viz  # noqa: F401
from scse_viz.ui.presenter import ROOT_FONT_PX

from .app_helpers import nodes, page, ran


def explore(**params):
    at = page("1_Explore.py")
    for key, value in params.items():
        at.query_params[key] = value
    return ran(at)


def styles(at) -> list[str]:
    return [str(n.proto) for n in nodes(at, "html") if "font-size" in str(n.proto)]


def screen_titles(at) -> list[str]:
    return [h.value for h in at.header]


def flat(at) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in dict(at.query_params).items()}


def test_without_it_the_page_has_its_tabs_and_its_own_type():
    at = explore(family="fashion")
    assert at.sidebar.toggle(key="presenter").value is False
    assert not styles(at) and len(at.tabs) >= 6 and not at.header


def test_a_presenting_link_shows_one_screen_at_a_time_in_larger_type():
    at = explore(family="fashion", present="1", step="3")
    assert at.sidebar.toggle(key="presenter").value is True
    assert any(f"font-size: {ROOT_FONT_PX}px" in s for s in styles(at))
    assert screen_titles(at) == ["One block's gates"] and not at.tabs
    assert nodes(at, "vega_lite_chart")  # the block's cSE gates …
    assert not [d for d in at.dataframe if "class" in d.value.columns]  # … and not the outputs' table
    at.button(key="presenter-next").click()
    ran(at)
    assert screen_titles(at) == ["A gate switched off"] and flat(at)["step"] == "4"
    assert at.button(key="presenter-next").disabled  # the last screen
    for _ in range(3):
        at.button(key="presenter-back").click()
        ran(at)
    assert screen_titles(at) == ["The input"] and "step" not in flat(at)  # the first screen is the default
    assert at.button(key="presenter-back").disabled
    at.sidebar.toggle(key="presenter").set_value(False)
    ran(at)
    assert not styles(at) and len(at.tabs) >= 6 and "present" not in flat(at) and "step" not in flat(at)


def test_other_pages_present_too_and_a_bad_step_falls_back():
    teach = ran(page("3_Teach.py"))
    teach.sidebar.toggle(key="presenter").set_value(True)
    ran(teach)
    assert styles(teach) and flat(teach)["present"] == "1"
    bad = explore(family="fashion", present="1", step="9")
    assert screen_titles(bad) == ["The input"]
    notes = [i.value for i in bad.info if "could be restored" in i.value]
    assert len(notes) == 1 and "step=9" in notes[0]
