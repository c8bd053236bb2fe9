"""Gate health: a collapsed block (constant gates) and a saturated one are flagged and a healthy one is not;
per-class profiles and comparisons are plain means of the rows; the page computes a table or reads one."""

from __future__ import annotations

import io

import numpy as np
import pytest

import scse_viz  # noqa: F401
from scse_viz import gate_health as G
from scse_viz.ui.state import FAMILY

from .app_helpers import page, ran


def rows(block: str, means, stds, below=0.0, above=0.0, model="scse", labels=None):
    labels = labels or ["x"] * len(means)
    return [
        {
            "image": f"{i}.png",
            "label": lab,
            "model": model,
            "block": block,
            "w_mean": m,
            "w_std": s,
            "w_share_below_0.05": below,
            "w_share_above_0.95": above,
            "q_mean": None,
        }
        for i, (m, s, lab) in enumerate(zip(means, stds, labels))
    ]


def test_a_constant_gate_is_collapsed_a_saturated_one_saturated_and_a_varying_one_healthy():
    rng = np.random.default_rng(0)
    table = (
        rows("stuck", 0.65 + 1e-4 * rng.standard_normal(30), [0.001] * 30)
        + rows("switch", rng.uniform(0.3, 0.7, 30), [0.45] * 30, below=0.5, above=0.45)
        + rows("alive", rng.uniform(0.3, 0.8, 30), [0.2] * 30)
    )
    verdicts = {e["block"]: e["verdict"] for e in G.block_summary(table)}
    assert verdicts == {"stuck": "collapsed", "switch": "saturated", "alive": "healthy"}
    stuck = next(e for e in G.block_summary(table) if e["block"] == "stuck")
    assert stuck["mean"] == pytest.approx(0.65, abs=1e-3) and stuck["images"] == 30
    assert "attends to nothing" in G.verdict_text(stuck)
    # a gate that varies across images but not within one is not collapsed: it depends on its input
    per_image = G.block_summary(rows("per-image", rng.uniform(0.2, 0.9, 30), [0.001] * 30))
    assert per_image[0]["verdict"] == "healthy"


def test_class_profiles_and_comparisons_are_plain_means():
    table = rows("b", [0.2, 0.4, 0.9], [0.1] * 3, labels=["Bag", "Bag", "Coat"])
    profiles = {p["label"]: p["mean"] for p in G.class_profiles(table, "w")}
    assert profiles == pytest.approx({"Bag": 0.3, "Coat": 0.9})
    other = rows("b", [0.6, 0.7, 0.8], [0.1] * 3, model="cse")
    (row,) = G.compare(table, other, ("scse", "cse"))
    # means (0.2 + 0.4 + 0.9) / 3 = 0.5 and (0.6 + 0.7 + 0.8) / 3 = 0.7: the second minus the first
    assert row["mean scse"] == pytest.approx(0.5) and row["mean cse"] == pytest.approx(0.7)
    assert row["difference"] == pytest.approx(0.2)


@pytest.mark.slow
def test_the_page_computes_the_photo_test_set_and_reads_an_uploaded_table(tmp_path):
    from scse_viz.batch import main, read_table

    at = ran(page("5_Gate_health.py", **{FAMILY: "photo"}))
    at.slider(key="gh-limit").set_value(5)
    ran(at)
    at.button(key="gh-compute").click()
    ran(at)
    summary = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert set(summary["model"]) == {"cse", "sse", "scse"}  # the baseline has no gates
    assert len(summary) == 7 * (1 + 1 + 2)  # cSE: w; sSE: q; scSE: w and q; seven blocks each
    out = tmp_path / "out"
    main(["test", "--family", "photo", "--variant", "sse", "--out", str(out), "--quiet"])
    buffer = io.BytesIO()
    import pyarrow.parquet as pq

    pq.write_table(read_table(out), buffer)
    at.radio(key="gh-source").set_value("Upload a batch table (Parquet)")
    ran(at)
    at.file_uploader(key="gh-upload").set_value(("gates.parquet", buffer.getvalue(), "application/octet-stream"))
    ran(at)
    summary = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert set(summary["model"]) == {"sse"} and len(summary) == 7


def test_faithfulness_summary_is_the_mean_per_block_and_absent_without_the_columns():
    table = [
        {"model": "sse", "block": "b", "image": f"{i}", "sse_deletion_auc": v, "channel_rho": None}
        for i, v in enumerate([0.2, 0.4])
    ]
    (entry,) = G.faithfulness_summary(table)
    assert entry["sse_deletion_auc"] == pytest.approx(0.3) and entry["channel_rho"] is None and entry["images"] == 2
    assert G.faithfulness_summary(rows("b", [0.5], [0.1])) == []


def curve_rows(model="sse", block="b"):
    """Two images with planted curves (3 points: 0, 50, 100 % of the pixels) for the sSE and the random order."""
    base = {"model": model, "block": block, "w_mean": None, "q_mean": 0.5, "channel_rho": None}
    return [
        {
            **base,
            "image": "1.png",
            "sse_deletion_auc": 0.25,
            "sse_deletion_curve": [1.0, 0.0, 0.0],
            "random_deletion_curve": [1.0, 0.5, 0.0],
            "sse_insertion_curve": [0.0, 0.5, 1.0],
        },
        {
            **base,
            "image": "2.png",
            "sse_deletion_auc": 0.5,
            "sse_deletion_curve": [1.0, 0.5, 0.0],
            "random_deletion_curve": [1.0, 0.5, 0.0],
            "sse_insertion_curve": [0.0, 1.0, 1.0],
        },
    ]


def test_perturbation_curves_are_the_mean_curve_per_ranking():
    points = G.perturbation_curves(curve_rows() + curve_rows(model="scse"), "sse", "b")
    by = {(p["curve"], p["ranking"], p["share of pixels"]): p["objective"] for p in points}
    assert by[("deletion", "sSE map q", 0.5)] == pytest.approx(0.25)
    assert by[("deletion", "random order", 0.5)] == pytest.approx(0.5)
    assert by[("insertion", "sSE map q", 0.5)] == pytest.approx(0.75)
    assert ("insertion", "random order", 0.5) not in by  # no such column: no line
    assert {p["images"] for p in points} == {2} and len(points) == 3 * 3
    assert G.perturbation_curves(rows("b", [0.5], [0.1]), "scse", "b") == []


def test_the_page_draws_the_curves_of_an_uploaded_table():
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(curve_rows()), buffer)
    at = ran(page("5_Gate_health.py"))
    at.radio(key="gh-source").set_value("Upload a batch table (Parquet)")
    ran(at)
    at.file_uploader(key="gh-upload").set_value(("gates.parquet", buffer.getvalue(), "application/octet-stream"))
    ran(at)
    assert at.selectbox(key="gh-curve-block").value == "b"
    numbers = next(d.value for d in at.dataframe if "share of pixels" in d.value.columns)
    middle = numbers[(numbers["curve"] == "deletion") & (numbers["share of pixels"] == 0.5)]
    assert dict(zip(middle["ranking"], middle["objective"])) == pytest.approx({"sSE map q": 0.25, "random order": 0.5})
    assert any("Deletion and insertion curves" in m.value for m in at.markdown)
