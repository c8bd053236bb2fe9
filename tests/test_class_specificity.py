"""SENet's protocol: the share of the cSE gates' variance between classes has known answers on planted gates; the
batch reads an image-folder layout's classes; the Gate health page draws the depth profile and the randomisation
check; its small multiples are wide enough to see each box."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scse_viz  # noqa: F401
from scse_viz import capture_attention, zoo
from scse_viz import gate_health as G
from scse_viz.batch import main, read_table
from scse_viz.render import charts, gate_checks
from scse_viz.ui.state import FAMILY

from .app_helpers import nodes, page, png_bytes, ran


def test_gates_that_differ_only_between_classes_are_fully_class_specific():
    rng = np.random.default_rng(0)
    centres = {"Bag": rng.random(6), "Coat": rng.random(6), "Shirt": rng.random(6)}
    labels = [k for k in centres for _ in range(5)]
    gates = np.array([centres[k] for k in labels])  # every image of a class: its class's gates exactly
    assert G.between_class_share(gates, labels) == pytest.approx(1.0)


def test_gates_that_differ_only_within_a_class_are_not_class_specific():
    rng = np.random.default_rng(1)
    spread = rng.random((4, 6))  # the same four images' gates in each class: equal class means
    labels = ["Bag"] * 4 + ["Coat"] * 4
    assert G.between_class_share(np.vstack([spread, spread]), labels) == pytest.approx(0.0, abs=1e-12)


def test_a_hand_computed_share_and_the_per_block_summary():
    # one channel: class a {0, 2} (mean 1), class b {4, 6} (mean 5); grand mean 3
    # between: 2·(1−3)² + 2·(5−3)² = 16; total: 9 + 1 + 1 + 9 = 20
    assert G.between_class_share(np.array([[0.0], [2.0], [4.0], [6.0]]), ["a", "a", "b", "b"]) == pytest.approx(0.8)
    table = [
        {"image": f"{i}", "model": "cse", "block": block, "label": lab, "w_values": values, **shares}
        for block, values_of in (("early", lambda i: [0.5, 0.5 + 0.01 * i]), ("late", lambda i: [i % 2, 0.5]))
        for i, lab in enumerate(["a", "b", "a", "b"])
        for values, shares in [(values_of(i), {"w_share_below_0.05": 0.25, "w_share_above_0.95": 0.25})]
    ]
    early, late = G.class_specificity(table)
    assert (early["block"], early["depth"], late["block"], late["depth"]) == ("early", 0, "late", 1)
    # early: channel 2 is 0.50, 0.51, 0.52, 0.53 for a, b, a, b: class means 0.51 and 0.52, grand 0.515
    # between 4·0.005² = 1e-4, total (0.015² + 0.005²)·2 = 5e-4: a share of 0.2
    assert early["class specificity"] == pytest.approx(0.2)
    assert late["class specificity"] == pytest.approx(1.0)  # label a is 0, label b is 1: all between
    assert late["saturated share"] == pytest.approx(0.5) and late["images"] == 4 and late["classes"] == 2
    assert G.class_specificity([{**r, "w_values": None} for r in table]) == []  # an older table: nothing


def test_the_batch_reads_an_image_folder_layout_with_its_classes(tmp_path):
    root = tmp_path / "garments"
    rng = np.random.default_rng(2)
    for label in ("Bag", "Coat"):
        (root / label).mkdir(parents=True)
        for name in ("1.png", "2.png"):
            (root / label / name).write_bytes(png_bytes(rng.random((28, 28))))
    out = tmp_path / "out"
    argv = [str(root), "--family", "fashion", "--variant", "cse", "--out", str(out), "--workers", "0", "--quiet"]
    assert main([*argv, "--labels-from-folders"]) == 0
    rows = read_table(out).to_pylist()
    assert {(r["image"], r["label"]) for r in rows} == {
        ("Bag/1.png", "Bag"),
        ("Bag/2.png", "Bag"),
        ("Coat/1.png", "Coat"),
        ("Coat/2.png", "Coat"),
    }
    from scse_viz.io import load_any

    family = zoo.family("fashion")
    x = family.prepare(load_any((root / "Coat" / "2.png").read_bytes(), "2.png").pixels).tensor
    records = {r.label: r for r in capture_attention(zoo.load_model("fashion", "cse"), x).records}
    for row in (r for r in rows if r["image"] == "Coat/2.png"):
        assert row["w_values"] == pytest.approx(records[row["block"]].channel_gate[0].tolist(), abs=1e-7)
    summary = G.class_specificity(rows)
    assert [e["depth"] for e in summary] == list(range(len(summary))) and {e["classes"] for e in summary} == {2}
    assert main([*argv, "--labels-from-folders"]) == 0  # resumes: every image done, nothing twice
    assert len(read_table(out).to_pylist()) == len(rows)
    with pytest.raises(SystemExit):
        main([str(root / "Bag" / "1.png"), *argv[1:], "--labels-from-folders"])  # a file is no class layout


def test_a_folder_without_class_folders_is_a_typed_error_and_one_message(tmp_path):
    from scse_viz.batch import NoClassFoldersError, labelled_folder_items

    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "1.png").write_bytes(png_bytes(np.zeros((28, 28))))  # an image, but in no class folder
    with pytest.raises(NoClassFoldersError, match="no FOLDER/<class>/<image> files"):
        labelled_folder_items(tmp_path / "flat", 28, 0, set())  # at once, before any item is asked for
    argv = [str(tmp_path / "flat"), "--family", "fashion", "--out", str(tmp_path / "out"), "--labels-from-folders"]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--workers", "0", "--quiet"])
    assert "no FOLDER/<class>/<image> files" in str(stopped.value.code)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing written


def test_small_multiples_give_each_box_room_at_the_page_width():
    values = [
        {"model": m, "block": f"decoder.{b}", "image": "x", "value": 0.5}
        for m in ("cse", "sse", "scse")
        for b in range(9)
    ]
    spec = charts.gate_distribution_chart(values, "gate")
    width, columns = spec["spec"]["width"], spec["columns"]
    assert width / 9 >= gate_checks.MIN_STEP and spec["spec"]["mark"]["size"] >= 0.5 * gate_checks.MIN_STEP
    assert columns * (width + 60) <= gate_checks.PAGE_WIDTH  # what does not fit wraps instead of shrinking
    assert spec["height"] >= gate_checks.PANEL_HEIGHT * -(-3 // columns)  # each wrapped row gets its height


def labelled_table() -> bytes:
    """Two blocks of one cSE model over six images of two classes: 'early' gates differ only within a class,
    'late' gates only between classes."""
    rows = []
    for i, label in enumerate(["Bag", "Coat"] * 3):
        for block, w in (("early", [0.2 + 0.1 * (i // 2), 0.5]), ("late", [0.1 if label == "Bag" else 0.9, 0.4])):
            rows.append(
                {
                    "image": f"{i}.png",
                    "label": label,
                    "model": "cse",
                    "block": block,
                    "w_mean": float(np.mean(w)),
                    "w_std": float(np.std(w)),
                    "w_share_below_0.05": 0.0,
                    "w_share_above_0.95": 0.0,
                    "q_mean": None,
                    "w_values": w,
                }
            )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def test_the_page_draws_the_depth_profile_of_an_uploaded_labelled_table():
    at = ran(page("5_Gate_health.py"))
    at.radio(key="gh-source").set_value("Upload a batch table (Parquet)")
    ran(at)
    at.file_uploader(key="gh-upload").set_value(("gates.parquet", labelled_table(), "application/octet-stream"))
    ran(at)
    table = next(d.value for d in at.dataframe if "class specificity" in d.value.columns)
    assert dict(zip(table["block"], table["class specificity"])) == pytest.approx({"early": 0.0, "late": 1.0})
    assert any("share of a block's cSE-gate variance" in m.value for m in at.markdown)
    assert at.selectbox(key="gh-class-model").value == "cse"
    titles = [n.proto.spec for n in nodes(at, "vega_lite_chart")]
    assert any("class specificity of the cSE gates across depth" in t for t in titles)
    assert any("each class's mean cSE gate per channel" in t for t in titles)


@pytest.mark.slow
def test_the_page_runs_the_randomisation_check_on_a_sample():
    at = ran(page("5_Gate_health.py", **{FAMILY: "fashion"}))
    at.selectbox(key="gh-sanity-model").set_value("scse")
    ran(at)
    at.button(key="gh-sanity-run").click()
    ran(at)
    verdicts = next(d.value for d in at.dataframe if "survives" in d.value.columns)
    blocks = [r.label for r in capture_attention(zoo.load_model("fashion", "scse"), _sample_tensor()).shown()]
    assert list(verdicts["block"]) == blocks
    assert set(verdicts["survives"]) <= {"yes: follows the image", "no: follows the model"}
    assert any("A faithful map explains the model" in m.value for m in at.markdown)
    at.radio(key="gh-sanity-mode").set_value("independent")
    ran(at)  # the other mode is drawn from the same, kept run: no button press needed
    assert any("survives" in d.value.columns for d in at.dataframe)


def _sample_tensor():
    from scse_viz import samples
    from scse_viz.io import load_any

    family = zoo.family("fashion")
    sample = samples.list_samples("fashion")[0]
    return family.prepare(load_any(samples.sample_bytes(sample), sample.path.name).pixels).tensor


def test_the_share_from_batch_rows_equals_the_one_from_per_class_sums():
    """The same test images two ways: the batch's rows through class_specificity, and excitation_statistics' per-class
    means and spreads (one-hot sums, another code path) through the law of total variance."""
    import torch

    from scse_viz.batch import block_rows
    from scse_viz.excitation import excitation_statistics

    from .fashion_data import fashion_test_set

    images, labels = fashion_test_set()
    family, model = zoo.family("fashion"), zoo.load_model("fashion", "scse")
    x = torch.cat([family.prepare(im.astype(np.float32) / 255.0).tensor for im in images[:300]])
    rows = []
    for i in range(len(x)):
        rows += block_rows(f"{i}", "scse", capture_attention(model, x[i : i + 1]).records, int(labels[i]))
    shares = {e["block"]: e["class specificity"] for e in G.class_specificity(rows)}
    for stat in excitation_statistics(model, x, labels[:300], 10):
        n, mean, std = stat.count.astype(float)[:, None], stat.mean.astype(float), stat.std.astype(float)
        present = stat.count > 0
        n, mean, std = n[present], mean[present], std[present]
        grand = (n * mean).sum(axis=0) / n.sum()
        between, within = (n * (mean - grand) ** 2).sum(), (n * std**2).sum()
        assert shares[stat.block] == pytest.approx(between / (between + within), abs=1e-4)
