"""Links that reopen a view: widgets set a view, its URL is read, and a fresh session opened with those parameters
shows the same controls and the same numbers; bad or stale parameters give one note, never an exception."""

from __future__ import annotations

import scse_viz  # noqa: F401

from .app_helpers import chart_rows, nodes, open_tab, page, ran


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
    open_tab(at, "Attention")  # only the open tab runs (issue 24); the link names it
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
    assert at.selectbox(key="att-block")  # the link's first tab control opened the Attention tab
    open_tab(at, "Knock-out")  # a control is checked when its tab opens; the note keeps every finding
    open_tab(at, "Attention")
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


def flat_params(at) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in dict(at.query_params).items()}


def opened(name: str, **params):
    at = page(name)
    for key, value in params.items():
        at.query_params[key] = value
    return ran(at)


def test_a_control_changed_twice_keeps_the_second_choice():
    """The URL a control wrote never seeds it again: only the link a session was opened with does."""
    at = open_tab(explore(family="fashion"), "Attention")
    at.selectbox(key="att-cmap").select("viridis")
    ran(at)
    at.selectbox(key="att-cmap").select("inferno")
    ran(at)
    assert at.selectbox(key="att-cmap").value == "inferno"
    assert flat_params(at)["cmap"] == "inferno"
    at.selectbox(key="att-cmap").select("magma")  # back to the default: it leaves the URL
    ran(at)
    assert "cmap" not in flat_params(at)


def test_a_teach_toy_view_reopens_with_the_same_numbers():
    at = opened("3_Teach.py")
    at.radio(key="teach-mode").set_value("Toy feature map")
    ran(at)
    at.selectbox(key="toy-preset").select(list(at.selectbox(key="toy-preset").options)[1])
    at.slider(key="toy-channels").set_value(4)
    at.select_slider(key="toy-size").set_value(6)
    at.select_slider(key="toy-r").set_value(1)
    at.number_input(key="toy-seed").set_value(3)
    ran(at)
    at.slider(key="toy-bright-1").set_value(2.5)
    ran(at)
    flat = flat_params(at)
    assert flat["mode"] == "toy" and flat["C"] == "4" and flat["size"] == "6" and flat["r"] == "1"
    assert flat["seed"] == "3" and flat["b1"] == "2.5" and "b0" not in flat  # defaults stay out
    assert "variant" not in flat and "block" not in flat  # the model mode's controls are not on screen

    fresh = opened("3_Teach.py", **flat)
    assert fresh.radio(key="teach-mode").value == "Toy feature map"
    assert fresh.slider(key="toy-channels").value == 4 and fresh.slider(key="toy-bright-1").value == 2.5
    assert fresh.number_input(key="toy-seed").value == 3 and fresh.select_slider(key="toy-size").value == 6
    tables, again = [d.value for d in at.dataframe], [d.value for d in fresh.dataframe]
    assert len(tables) >= 5 and len(again) == len(tables)  # weights, squeeze, hidden units, cost …
    assert all(a.equals(b) for a, b in zip(again, tables))
    bounds = [m.value for m in at.markdown if m.value.startswith("q lies between")]
    assert bounds and bounds == [m.value for m in fresh.markdown if m.value.startswith("q lies between")]
    assert not [i for i in fresh.info if "could be restored" in i.value]


def test_a_teach_model_view_and_its_bad_parameters():
    at = opened("3_Teach.py", family="fashion", variant="sse", block="no-such-block", channels="1,999", C="99")
    notes = [i.value for i in at.info if "could be restored" in i.value]
    assert len(notes) == 1 and "block=no-such-block" in notes[0] and "channels=1,999" in notes[0]
    assert at.selectbox(key="teach-variant").value == "sse"
    assert "C" not in flat_params(at)  # a toy control, not on screen in the model mode: dropped from the view
    good = opened("3_Teach.py", family="fashion", variant="sse", channels="0,2")
    picked = next(m for m in good.multiselect if m.label.startswith("Channels shown"))
    assert picked.value == [0, 2]


def test_an_attribution_view_reopens_with_the_same_scores():
    at = opened("2_Attribution.py", family="fashion")
    target = next(s for s in at.selectbox if s.label == "Target class")
    target.set_value(3)
    at.select_slider(key="attr-steps").set_value(16)
    at.slider(key="attr-topk").set_value(20)
    at.selectbox(key="attr-cmap").select("viridis")
    ran(at)
    at.button(key="attr-compute").click()
    ran(at)
    flat = flat_params(at)
    assert flat["steps"] == "16" and flat["topk"] == "20" and flat["cmap"] == "viridis"
    assert flat["target"] == zoo_class_names("fashion")[3]
    scores = next(d.value for d in at.dataframe if "Spearman ρ" in d.value.columns).to_dict()

    fresh = opened("2_Attribution.py", **flat)
    assert next(s for s in fresh.selectbox if s.label == "Target class").value == 3
    assert fresh.select_slider(key="attr-steps").value == 16 and fresh.slider(key="attr-topk").value == 20
    fresh.button(key="attr-compute").click()
    ran(fresh)
    assert next(d.value for d in fresh.dataframe if "Spearman ρ" in d.value.columns).to_dict() == scores
    bad = opened("2_Attribution.py", family="fashion", methods="integrated_gradients,telepathy", steps="17")
    notes = [i.value for i in bad.info if "could be restored" in i.value]
    assert len(notes) == 1 and "telepathy" in notes[0] and "steps=17" in notes[0]
    assert bad.multiselect(key="attr-methods").value == ["integrated_gradients"]


def zoo_class_names(family: str) -> list[str]:
    from scse_viz import zoo

    return list(zoo.family(family).class_names)


def test_gate_health_and_photo_noise_settings_travel_in_the_link():
    at = opened("5_Gate_health.py", family="photo", n="15", faithful="1")
    assert at.slider(key="gh-limit").value == 15 and at.toggle(key="gh-faithful").value is True
    assert not [i for i in at.info if "could be restored" in i.value]

    by_hand = explore(family="photo")
    by_hand.sidebar.slider(key="sigma-photo").set_value(40)
    by_hand.sidebar.number_input(key="noise-seed-photo").set_value(7)
    ran(by_hand)
    flat = flat_params(by_hand)
    assert flat["sigma"] == "40" and flat["noise-seed"] == "7"
    linked = explore(**flat)
    assert linked.sidebar.slider(key="sigma-photo").value == 40
    scores = [d.value for d in by_hand.dataframe if "PSNR (dB)" in d.value.columns]
    assert scores and scores[0].equals(next(d.value for d in linked.dataframe if "PSNR (dB)" in d.value.columns))
    assert scores[0]["PSNR (dB)"][0] < 20  # σ 40 of 255 (the default 25 gives about 20.2 dB on the input)
    bad = opened("5_Gate_health.py", n="3", table="spreadsheet")
    notes = [i.value for i in bad.info if "could be restored" in i.value]
    assert len(notes) == 1 and "n=3" in notes[0] and "table=spreadsheet" in notes[0]


def test_every_page_has_the_link_box():
    for name in (None, "1_Explore.py", "2_Attribution.py", "3_Teach.py", "5_Gate_health.py", "4_About.py"):
        at = ran(page(name))
        assert [c for c in nodes(at, "code")], name  # the address in a code box, with its copy button
