"""What a student waits for (issue 24): Explore computes only the open tab, a link naming a tab opens it, and a
shipped family's run on one input is computed once per process and shared read-only; knock-outs stay per session.

Behaviour only (what is computed when, what is shared, what is not); the benchmarks print the times."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

import scse_viz  # noqa: F401
from scse_viz import explore, samples, zoo
from scse_viz.io import load_any
from scse_viz.memory import nbytes
from scse_viz.shared_runs import RUNS, SharedRuns, frozen_run
from scse_viz.ui.state import FAMILY, MEMO, SIZES

from .app_helpers import counting_forwards, open_tab, page, png_bytes, ran

pytestmark = pytest.mark.slow
PAGE = "1_Explore.py"


def explorer(family: str = "brain", **params):
    at = page(PAGE, **{FAMILY: family})
    for key, value in params.items():
        at.query_params[key] = value
    return ran(at)


def memo_kinds(at) -> set[str]:
    """What the session computed and kept: the first part of each memo key ("outputs-view", "q", "knockout", …)
    and, for pictures, the picture's own kind ("input", "sse", "gain", …)."""
    kinds = set()
    for key in at.session_state[MEMO]:
        kinds.add(key[2] if key[0] == "picture" else key[0])
    return kinds


def area_table(at) -> dict:
    frames = [d.value for d in at.dataframe if "class" in d.value.columns]
    assert len(frames) == 1
    return frames[0].set_index("class").to_dict()


def shared_arrays(run: explore.FamilyRun) -> list[np.ndarray]:
    arrays = [run.image.pixels, run.prepared.pixels]
    for output in run.outputs.values():
        for record in output.records:
            arrays += [a for a in (record.channel_gate, record.spatial_gate) if a is not None]
        arrays += [v for v in vars(output.prediction).values() if isinstance(v, np.ndarray)]
    return arrays


# ------------------------------------------------------------------------------------------------------ lazy tabs
def test_an_upload_computes_and_sends_only_the_outputs_tab_and_the_rest_on_demand():
    at = explorer("brain")
    at.sidebar.radio(key="source-brain").set_value("Upload your own")
    ran(at)
    with counting_forwards() as counts:
        at.sidebar.file_uploader[0].set_value(
            ("mine.png", png_bytes(np.random.default_rng(3).random((96, 96))), "image/png")
        )
        ran(at)
        assert counts["forwards"] == 4  # the four variants, once
        assert "outputs-view" in memo_kinds(at) and area_table(at)
        closed = {"attention-view", "gain-view", "every-map-view", "knockout-view"}
        assert not closed & memo_kinds(at)  # nothing of the closed tabs
        assert not [s for s in at.selectbox if s.key in ("att-model", "att-block", "ko-model", "cmp-model")]
        assert not [b for b in at.download_button]  # the Export tab built nothing
        open_tab(at, "Attention")
        assert {"attention-view", "every-map-view"} <= memo_kinds(at) and at.selectbox(key="att-block")
        assert not [d for d in at.dataframe if "class" in d.value.columns]  # the Outputs tab is not sent now
        open_tab(at, "Export")
        assert len(at.download_button) >= 4  # CSV, NPZ and the figures' PNG and SVG
        assert counts["forwards"] == 4  # opening tabs ran no model


def test_the_export_records_the_attention_tabs_settings_made_while_it_was_open():
    at = open_tab(explorer("fashion"), "Attention")
    at.selectbox(key="att-cmap").select("viridis")
    at.slider(key="att-alpha").set_value(0.8)
    ran(at)
    open_tab(at, "Export")
    titles = [m.value for m in at.markdown if m.value.startswith("**sSE map — ")]
    assert titles  # the figure of the block chosen on the Attention tab
    open_tab(at, "Attention")
    assert at.selectbox(key="att-cmap").value == "viridis" and at.slider(key="att-alpha").value == 0.8  # kept


@pytest.mark.parametrize(
    ("params", "tab", "widget"),
    [
        ({"tab": "knockout"}, "knockout", "ko-on"),
        ({"tab": "compare"}, "compare", "cmp-on"),
        ({"knockout": "1"}, "knockout", "ko-on"),  # a link made before tabs were named: its control's tab opens
        ({"cmap": "viridis"}, "attention", "att-cmap"),
    ],
)
def test_a_link_naming_a_tab_opens_it(params, tab, widget):
    at = explorer("fashion", **params)
    keys = {w.key for kind in (at.toggle, at.selectbox) for w in kind}
    assert widget in keys
    assert ("att-model" in keys) == (tab == "attention")  # only the named tab ran
    assert dict(at.query_params)["tab"] in (tab, [tab])
    assert not any("could be restored" in i.value for i in at.info)


def test_a_bad_tab_in_a_link_opens_the_outputs_tab_with_one_note():
    at = explorer("fashion", tab="nowhere")
    assert any("tab=nowhere" in i.value for i in at.info if "could be restored" in i.value)
    assert not [s for s in at.selectbox if s.key == "att-model"] and "tab" not in dict(at.query_params)


# ------------------------------------------------------------------------------------------------------ shared runs
def test_sessions_opening_the_same_sample_run_the_models_once_and_see_the_same_numbers():
    with counting_forwards() as counts:
        first = explorer("brain")
        assert counts["forwards"] == 4
        others = [explorer("brain") for _ in range(3)]
        assert counts["forwards"] == 4  # three more sessions, no model ran
    assert all(area_table(at) == area_table(first) for at in others)
    assert len(RUNS) == 1 and RUNS.computed == 1 and RUNS.served >= 3
    for at in (first, *others):  # no session's budget counts the shared run
        assert not any(key[0] == "run" for _, key in at.session_state[SIZES])


def test_sessions_asking_at_the_same_moment_run_the_models_once():
    """Eight threads ask for one key at once: one computes, the others wait for its result."""
    cache = SharedRuns(bound=2**30)
    family = zoo.family("fashion")
    models = {v: zoo.load_model("fashion", v) for v in family.variants}
    sample = samples.list_samples("fashion")[0]
    image = explore.input_from_image(load_any(samples.sample_bytes(sample), sample.path.name))
    gate = threading.Barrier(8)
    runs, errors = [], []

    def ask() -> None:
        try:
            gate.wait()
            runs.append(cache.get(("run", family.name, image.key), lambda: explore.run_family(family, models, image)))
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    with counting_forwards() as counts:
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(runs) == 8 and all(r is runs[0] for r in runs)
    assert counts["forwards"] == len(family.variants) and cache.computed == 1


def test_an_identical_upload_is_shared_and_a_different_name_or_picture_is_not():
    picture = png_bytes(np.random.default_rng(11).random((64, 64)))

    def uploaded(name: str, data: bytes):
        at = explorer("brain")
        at.sidebar.radio(key="source-brain").set_value("Upload your own")
        ran(at)
        at.sidebar.file_uploader[0].set_value((name, data, "image/png"))
        return ran(at)

    explorer("brain")  # the default sample, computed once for everyone below
    with counting_forwards() as counts:
        uploaded("scan.png", picture)
        uploaded("scan.png", picture)
        assert counts["forwards"] == 4  # same bytes, same name, same settings: run once
        uploaded("other.png", picture)
        assert counts["forwards"] == 8  # another file's name is shown with its results: its own run
        uploaded("scan.png", png_bytes(np.random.default_rng(12).random((64, 64))))
        assert counts["forwards"] == 12


def test_one_session_cannot_change_what_another_sees():
    first, second = explorer("brain"), explorer("brain")
    (run,) = [r for r, _ in RUNS._runs.values()]
    arrays = shared_arrays(run)
    assert len(arrays) > 20
    before = [a.copy() for a in arrays]
    for array in arrays:
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0  # what a careless session might do to "its" record
    with pytest.raises(TypeError):
        run.outputs["scse"] = None  # the outputs mapping is read-only too
    assert all(np.array_equal(a, b) for a, b in zip(arrays, before))
    assert area_table(second) == area_table(first)


def test_knockouts_stay_in_their_own_session():
    mine, theirs = open_tab(explorer("brain"), "Knock-out"), open_tab(explorer("brain"), "Knock-out")
    with counting_forwards() as counts:
        mine.toggle(key="ko-on").set_value(True)
        ran(mine)
        assert counts["forwards"] == 1
        ran(theirs)
        assert not [key for key in theirs.session_state[MEMO] if key[0] in ("knockout", "knockout-view")]
        assert not [m for m in theirs.metric if "knocked-out" in m.label]  # they see no knock-out
        theirs.toggle(key="ko-on").set_value(True)
        ran(theirs)
        assert counts["forwards"] == 2  # the same knock-out in another session is that session's own run
    assert len(RUNS) == 1  # only the intact run is shared
    mine_ko = next(v for k, v in mine.session_state[MEMO].items() if k[0] == "knockout")
    theirs_ko = next(v for k, v in theirs.session_state[MEMO].items() if k[0] == "knockout")
    assert mine_ko is not theirs_ko


def test_the_shared_cache_keeps_at_most_its_bound():
    family = zoo.family("fashion")
    models = {v: zoo.load_model("fashion", v) for v in family.variants}
    sample = samples.list_samples("fashion")[0]
    image = explore.input_from_image(load_any(samples.sample_bytes(sample), sample.path.name))
    images = [replace(image, name=f"copy-{i}", key=f"copy-{i}") for i in range(3)]  # three inputs of one size
    one = nbytes(explore.run_family(family, models, images[0]))
    cache = SharedRuns(bound=int(2.5 * one))
    for image in images:
        cache.get(("run", image.key), lambda image=image: explore.run_family(family, models, image))
        assert cache.held_bytes() <= cache.bound
    assert len(cache) == 2 and not cache.holds(("run", images[0].key))  # the oldest went first
    tiny = SharedRuns(bound=one // 2)
    run = tiny.get(("run", images[0].key), lambda: explore.run_family(family, models, images[0]))
    assert not tiny.holds(("run", images[0].key)) and nbytes(run) >= one // 2  # too large: not shared, not marked


def test_freezing_reaches_views_of_a_buffer():
    family = zoo.family("fashion")
    models = {v: zoo.load_model("fashion", v) for v in family.variants}
    sample = samples.list_samples("fashion")[0]
    run = explore.run_family(family, models, explore.input_from_image(load_any(samples.sample_bytes(sample), "s")))
    gate = next(r.channel_gate for r in run.outputs["scse"].records if r.channel_gate is not None)
    frozen_run(run)
    with pytest.raises(ValueError):
        gate[0, 0] = 1.0
    base = gate
    while base.base is not None and isinstance(base.base, np.ndarray):
        base = base.base
    assert not base.flags.writeable  # no other view can write into the buffer either
