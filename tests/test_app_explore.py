"""The Explore page under Streamlit's AppTest: real samples and uploads, real models, numbers checked against the
library run by the test itself."""

from __future__ import annotations

import gzip
import struct
import threading
import zlib

import nibabel as nib
import numpy as np
import pytest
import torch

import scse_viz
from scse_viz import capture_attention, samples, zoo
from scse_viz.datasets.brain import brain_slice
from scse_viz.io import load_any
from scse_viz.parallel import torch_call
from scse_viz.ui.state import FAMILY

from .app_helpers import chart_rows, counting_forwards, nodes, open_tab, page, png_bytes, ran

pytestmark = pytest.mark.slow
PAGE = "1_Explore.py"


def by_label(widgets, label: str):
    matches = [w for w in widgets if w.label == label]
    assert len(matches) == 1, f"{len(matches)} widgets labelled {label!r}"
    return matches[0]


def explorer(family: str = "brain") -> object:
    return ran(page(PAGE, **{FAMILY: family}))


def upload(at, name: str, data: bytes, mime: str = "application/octet-stream"):
    by_label(at.sidebar.radio, "Input").set_value("Upload your own")
    ran(at)
    at.sidebar.file_uploader[0].set_value((name, data, mime))
    return ran(at)


def expected_brain(pixels: np.ndarray, variant: str):
    """What the library captures for this input: the model's probabilities on the input's pixels and its records."""
    family = zoo.family("brain")
    prepared = family.prepare(pixels)
    model = zoo.load_model("brain", variant)
    # computed where the app computes every shipped forward pass (a one-thread pool worker where there is one:
    # oneDNN's sums differ by about 1e-6 between thread counts, and the gates are compared exactly)
    result = torch_call(lambda: capture_attention(model, prepared.tensor))
    probabilities = prepared.geometry.to_source(result.output.softmax(dim=1)[0].numpy())
    return np.argmax(probabilities, axis=0), result.shown()


def area_table(at) -> dict:
    frames = [d.value for d in at.dataframe if "class" in d.value.columns]
    assert len(frames) == 1
    return frames[0].set_index("class").to_dict()


def test_first_sample_numbers_equal_the_library(tmp_path):
    at = explorer("brain")
    sample = samples.list_samples("brain")[0]
    pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
    truth = samples.sample_truth_mask(sample)
    names = list(zoo.family("brain").class_names)
    areas = area_table(at)
    dice = {
        row["model"]: row
        for row in next(d.value for d in at.dataframe if "model" in d.value.columns).to_dict("records")
    }
    for variant, label in zoo.VARIANT_LABELS.items():
        mask, records = expected_brain(pixels, variant)
        for k, name in enumerate(names):
            assert areas[label][name] == pytest.approx(100.0 * np.mean(mask == k))
            if k:
                both = np.sum((mask == k) & (truth == k))
                assert dice[label][name] == pytest.approx(2 * both / (np.sum(mask == k) + np.sum(truth == k)))
    # the first chart is the cSE gate of the default model (scSE) and block (the first one)
    _, records = expected_brain(pixels, "scse")
    open_tab(at, "Attention")
    rows = chart_rows(nodes(at, "vega_lite_chart")[0])
    shown = {row["channel"]: row["w"] for row in rows}
    assert shown == {c: pytest.approx(float(w), abs=0) for c, w in enumerate(records[0].channel_gate[0])}


def test_widget_changes_redraw_without_running_a_model():
    at = explorer("brain")
    with counting_forwards() as counts:
        open_tab(at, "Attention")
        by_label(at.slider, "Opacity").set_value(0.8)
        ran(at)
        by_label(at.selectbox, "Colormap").set_value("viridis")
        ran(at)
        by_label(at.radio, "Bar order").set_value("channel")
        ran(at)
        by_label(at.slider, "Top-k channels (0 = all)").set_value(5)
        ran(at)
        block = at.selectbox(key="att-block")
        block.set_value(block.options[-1])
        ran(at)
        at.selectbox(key="att-model").set_value("sse")
        ran(at)
        assert counts["forwards"] == 0
        # a knock-out is a new setting: exactly one forward pass, and none when it is shown again
        open_tab(at, "Knock-out")
        at.toggle(key="ko-on").set_value(True)
        by_label(at.selectbox, "Replace the gate by").set_value(0.0)
        ran(at)
        assert counts["forwards"] == 1
        open_tab(at, "Attention")
        by_label(at.slider, "Opacity").set_value(0.3)
        ran(at)
        assert counts["forwards"] == 1


def test_knockout_numbers_equal_a_capture_with_that_knockout():
    at = open_tab(explorer("brain"), "Knock-out")
    at.toggle(key="ko-on").set_value(True)
    by_label(at.radio, "Switch off").set_value("sse")
    by_label(at.selectbox, "Replace the gate by").set_value(0.0)
    ran(at)
    sample = samples.list_samples("brain")[0]
    pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
    family = zoo.family("brain")
    prepared = family.prepare(pixels)
    model = zoo.load_model("brain", "scse")
    intact, _ = expected_brain(pixels, "scse")
    knocked = torch_call(lambda: capture_attention(model, prepared.tensor, knockout=scse_viz.Knockout("sse", 0.0)))
    knocked_mask = np.argmax(prepared.geometry.to_source(knocked.output.softmax(dim=1)[0].numpy()), axis=0)
    dice = []
    for k in (1, 2, 3):
        a, b = knocked_mask == k, intact == k
        dice.append(2 * np.sum(a & b) / (a.sum() + b.sum()))
    metric = next(m for m in at.metric if m.label.startswith("Mean Dice of the knocked-out mask"))
    assert float(metric.value) == pytest.approx(np.mean(dice), abs=5e-5)  # shown with 4 decimals
    changed = next(c for c in nodes(at, "image") if "changed:" in str(c.proto))
    assert f"{100 * np.mean(knocked_mask != intact):.2f} %" in str(changed.proto)


def nifti_bytes(data: np.ndarray, compress: bool = True) -> bytes:
    image = nib.Nifti1Image(data, np.eye(4))
    raw = image.to_bytes()
    return gzip.compress(raw) if compress else raw


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    good = png_bytes(np.random.default_rng(0).random((40, 40)))
    bomb = bytearray(good[:33])  # PNG signature + IHDR claiming 60000×60000 pixels
    bomb[16:24] = struct.pack(">II", 60000, 60000)
    bomb[29:33] = struct.pack(">I", zlib.crc32(bytes(bomb[12:29])))
    nan_volume = np.ones((8, 8, 8), dtype=np.float32)
    nan_volume[2, 3, 4] = np.nan
    return {
        "empty.png": (b"", "0 bytes"),
        "truncated.png": (good[: len(good) // 2], "truncated"),
        "report.png": (b"%PDF-1.7\n" + b"x" * 200, "PDF"),
        "huge.png": (bytes(bomb) + good[33:], "far more pixels"),
        "nan.nii.gz": (nifti_bytes(nan_volume), "NaN"),
        "series.nii.gz": (nifti_bytes(np.ones((8, 8, 8, 3), dtype=np.float32)), "4-D"),
    }


def test_bad_uploads_show_one_message_and_keep_the_previous_result():
    at = explorer("brain")
    item = brain_slice("axial", 70)
    upload(at, "axial-70.png", png_bytes(item.pixels), "image/png")
    before = area_table(at)
    captions = [c for c in nodes(at, "image") if "axial-70.png" in str(c.proto)]
    assert captions, "the uploaded image is shown"
    for name, (data, words) in bad_uploads().items():
        at.sidebar.file_uploader[0].set_value((name, data, "application/octet-stream"))
        ran(at)
        errors = [e.value for e in at.sidebar.error]
        assert len(errors) == 1, (name, errors)
        assert words.lower() in errors[0].lower(), (name, errors[0])
        assert area_table(at) == before, name  # the previous result stays on screen
        assert any("axial-70.png" in str(c.proto) for c in nodes(at, "image"))


def test_a_4d_volume_can_be_used_once_a_volume_is_chosen():
    at = explorer("brain")
    data = np.zeros((20, 24, 16, 2), dtype=np.float32)
    data[5:15, 6:18, 4:12, 1] = 1.0
    upload(at, "series.nii.gz", nifti_bytes(data))
    assert len(at.sidebar.error) == 1
    by_label(at.sidebar.number_input, "Volume (4th dimension) to use").set_value(1)
    ran(at)
    assert not at.sidebar.error
    assert by_label(at.sidebar.slider, "Slice").max == 15  # axial slices of a 20×24×16 volume


def test_volume_sample_slices_move_with_the_slider():
    at = explorer("brain")
    volume = next(s for s in samples.list_samples("brain") if s.kind == "volume")
    by_label(at.sidebar.selectbox, "Sample").set_value(volume.title)
    ran(at)
    slider = by_label(at.sidebar.slider, "Slice")
    with counting_forwards() as counts:
        slider.set_value(slider.value + 3)
        ran(at)
        assert counts["forwards"] == 4  # the new slice runs the four models once
    caption = [str(c.proto) for c in nodes(at, "image") if "axial slice" in str(c.proto)]
    assert caption and f"axial slice {slider.value} " in caption[0]


def test_fashion_probabilities_equal_the_model():
    at = explorer("fashion")
    sample = samples.list_samples("fashion")[0]
    pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
    prepared = zoo.family("fashion").prepare(pixels)
    charts = nodes(at, "vega_lite_chart")
    names = zoo.family("fashion").class_names
    for chart, variant in zip(charts[:4], zoo.family("fashion").variants):
        with torch.no_grad():
            p = zoo.load_model("fashion", variant)(prepared.tensor).softmax(dim=1)[0].numpy()
        rows = chart_rows(chart)
        top = np.argsort(-p, kind="stable")[:5]
        assert [r["class"] for r in rows] == [names[k] for k in top]
        assert [r["probability"] for r in rows] == pytest.approx(p[top].tolist(), abs=1e-7)
    assert f"Ground truth: **{names[sample.label]}**" in [m.value for m in at.markdown]


def test_two_people_at_once_get_their_own_results():
    slices = {"a": brain_slice("axial", 60), "b": brain_slice("coronal", 100)}
    apps = {key: explorer("brain") for key in slices}
    for key, item in slices.items():
        by_label(apps[key].sidebar.radio, "Input").set_value("Upload your own")
        ran(apps[key])
        apps[key].sidebar.file_uploader[0].set_value((f"{key}.png", png_bytes(item.pixels), "image/png"))
    errors = []

    def work(key: str) -> None:
        try:
            ran(apps[key])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in slices]
    # The second person starts once the first one's models run, so both sessions' model runs overlap. Starting both
    # AppTests at the same instant races inside AppTest itself (each run swaps the process-wide mock Runtime): with
    # only the open tab computed, runs got short enough that one run's page links met the other's set-up.
    models_running = threading.Event()
    handle = torch.nn.modules.module.register_module_forward_hook(lambda *_: models_running.set())
    try:
        threads[0].start()
        models_running.wait(timeout=120)
        threads[1].start()
        for t in threads:
            t.join()
    finally:
        handle.remove()
    assert not errors
    names = list(zoo.family("brain").class_names)
    for key, item in slices.items():
        pixels = np.round(item.pixels * 255) / 255  # what the PNG upload holds
        mask, records = expected_brain(pixels.astype(np.float32), "scse")
        assert area_table(apps[key])["scSE"]["GM"] == pytest.approx(100.0 * np.mean(mask == names.index("GM")))
        open_tab(apps[key], "Attention")
        rows = chart_rows(nodes(apps[key], "vega_lite_chart")[0])
        assert {r["channel"]: r["w"] for r in rows} == {
            c: pytest.approx(float(w), abs=0) for c, w in enumerate(records[0].channel_gate[0])
        }


def test_compare_two_images_shows_both_gates_and_their_difference():
    at = open_tab(explorer("brain"), "Compare two images")
    second = samples.list_samples("brain")[2]
    at.toggle(key="cmp-on").set_value(True)
    ran(at)
    compare_sample = next(s for s in at.selectbox if s.label == "Sample" and s.key == "compare-sample-brain")
    compare_sample.set_value(second.title)
    ran(at)
    charts = [chart_rows(c) for c in nodes(at, "vega_lite_chart")]
    comparison = next(rows for rows in charts if rows and "input" in rows[0])
    first = samples.list_samples("brain")[0]
    variant = at.selectbox(key="cmp-model").value
    block = at.selectbox(key="cmp-block").value
    gates = {}
    for sample in (first, second):
        pixels = load_any(samples.sample_bytes(sample), sample.path.name).pixels
        records = expected_brain(pixels, variant)[1]
        gates[sample.path.name] = next(r for r in records if r.label == block).channel_gate[0]
    for row in comparison:
        name = row["input"].split(": ", 1)[1]
        assert row["w"] == pytest.approx(float(gates[name][row["channel"]]), abs=0)
    difference = next(rows for rows in charts if rows and "difference" in rows[0])
    expected = gates[second.path.name] - gates[first.path.name]
    assert [r["difference"] for r in difference] == pytest.approx(expected.tolist(), abs=1e-7)


def test_landing_page_shows_the_cards_and_opens_the_explorer():
    at = ran(page(None))
    tables = [d.value for d in at.dataframe]
    assert len(tables) == len(zoo.FAMILIES)
    for table, spec in zip(tables, zoo.list_families()):
        card = spec.card()
        first = card["variants"]["none"]["metric"]
        assert table.iloc[0][card["metric"]] == f"{first['mean']:.4f} ± {first['std']:.4f}"
    at.button(key="open-fashion").click()
    ran(at)
    assert [t.value for t in at.title] == ["Explore"]
    assert at.session_state[FAMILY] == "fashion"
