"""Links that reopen a view: widgets set a view, its URL is read, and a fresh session opened with those parameters
shows the same controls and the same numbers; bad or stale parameters give one note, never an exception."""

from __future__ import annotations

import scse_viz  # noqa: F401

from .app_helpers import chart_rows, nodes, page, ran


def explore(**params):
    at = page("1_Explore.py")
    for key, value in params.items():
        at.query_params[key] = value
    return ran(at)


def gate_numbers(at):
    """The cSE bar chart's numbers (channel, weight) as the page drew them."""
    rows = chart_rows(nodes(at, "vega_lite_chart")[0])
    assert rows
    return rows


def shown_heading(at):
    return next(m.value for m in at.markdown if m.value.startswith("**") and " · " in m.value)


def test_a_view_set_by_widgets_reopens_from_its_url():
    at = explore()
    family = at.sidebar.selectbox[0]
    family.select(next(o for o in family.options if o.startswith("Fashion")))
    ran(at)
    at.selectbox(key="att-model").select("cse")
    ran(at)
    blocks = at.selectbox(key="att-block").options
    at.selectbox(key="att-block").select(blocks[2])
    at.radio(key="att-order").set_value("channel")
    at.slider(key="att-topk").set_value(12)
    at.selectbox(key="att-cmap").select("viridis")
    at.slider(key="att-alpha").set_value(0.8)
    ran(at)
    flat = {k: v[0] if isinstance(v, list) else v for k, v in dict(at.query_params).items()}
    assert flat["family"] == "fashion"
    assert flat["block"] == blocks[2] and flat["sort"] == "channel" and flat["topk"] == "12"
    assert flat["cmap"] == "viridis" and flat["alpha"] == "0.8" and flat["variant"] == "cse"
    assert "att-order" not in flat  # parameters have their own short names

    fresh = explore(**flat)
    assert fresh.selectbox(key="att-model").value == "cse"
    assert fresh.selectbox(key="att-block").value == blocks[2]
    assert fresh.radio(key="att-order").value == "channel"
    assert fresh.slider(key="att-topk").value == 12 and fresh.slider(key="att-alpha").value == 0.8
    assert fresh.selectbox(key="att-cmap").value == "viridis"
    assert shown_heading(fresh) == shown_heading(at)
    assert gate_numbers(fresh) == gate_numbers(at)  # the same channel weights, in the same order
    assert not any("could be restored" in i.value for i in fresh.info)


def test_bad_and_stale_parameters_fall_back_with_one_note():
    at = explore(family="fashion", block="no-such-block", topk="999", alpha="lots", cmap="rainbow", knockout="maybe")
    assert at.selectbox(key="att-block").value == at.selectbox(key="att-block").options[0]
    assert at.slider(key="att-topk").value == 0 and at.slider(key="att-alpha").value == 0.5
    notes = [i.value for i in at.info if "could be restored" in i.value]
    assert len(notes) == 1
    for fragment in ("block=no-such-block", "topk=999", "alpha=lots", "cmap=rainbow", "knockout=maybe"):
        assert fragment in notes[0]
    assert explore(family="no-such-family").sidebar.selectbox[0].value.startswith("Brain")


def test_hide_keeps_the_linked_value_without_its_control():
    at = explore(family="fashion", cmap="viridis", hide="cmap,alpha")
    assert not [s for s in at.selectbox if s.key == "att-cmap"]
    assert not [s for s in at.slider if s.key == "att-alpha"]
    assert any("on viridis" in str(e.proto) for e in nodes(at, "image"))
    link = next(c.proto.code_text for c in nodes(at, "code"))
    assert "hide=cmap%2Calpha" in link and "cmap=viridis" in link


def test_a_link_made_on_an_upload_asks_for_the_file():
    at = explore(family="photo", input="upload", file="holiday.jpg", variant="sse")
    notes = [i.value for i in at.info if "could be restored" in i.value]
    assert len(notes) == 1 and "holiday.jpg" in notes[0] and "upload it" in notes[0]
    assert at.sidebar.radio(key="source-photo").value == "Upload your own"
