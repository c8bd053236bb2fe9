"""Gate health: are a family's gates still attending, over many images, or have they collapsed or saturated?"""

from __future__ import annotations

import io

import streamlit as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import gate_health
from scse_viz.render import charts
from scse_viz.ui import links
from scse_viz.ui.charts import show_chart
from scse_viz.ui.gates import batch_table, uploaded_table
from scse_viz.ui.inputs import choose_family
from scse_viz.ui.navigation import page_links
from scse_viz.ui.sanity import show_sanity_check
from scse_viz.ui.sections import show_sections
from scse_viz.views import gate_checks as checks


def _csv(rows: list[dict]) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


st.set_page_config(page_title="Gate health · scSE Lens", layout="wide")
page_links()
family = choose_family()
st.title("Gate health")
st.markdown(
    "Per block, how each gate behaves over many images (a table from `python -m scse_viz.batch`, or computed here "
    "on the family's test set). **Collapsed**: the gate gives about the same value for every image and every "
    "channel or pixel, a constant scaling the next layer could absorb: the block attends to nothing. **Saturated**: "
    "almost all values below 0.05 or above 0.95: the gate switches features off or on, and the sigmoid's flat ends "
    "give training almost no gradient to move it."
)
source = links.select(
    st,
    "Table",
    ["Compute on the family's test set", "Upload a batch table (Parquet)"],
    horizontal=True,
    kind="radio",
    key="gh-source",
    param="table",
    names=["compute", "upload"],
)
if source.startswith("Compute"):
    limit = links.slider(st, "Test images (the first N)", 5, 200, 40, 5, key="gh-limit", param="n")
    faithful = links.toggle(
        st,
        "Also measure faithfulness (deletion/insertion and channel knock-out; one forward "
        "pass per channel per block, so much slower)",
        key="gh-faithful",
        param="faithful",
    )
    table = batch_table(family, limit, faithful)
else:
    table = uploaded_table(st.file_uploader("Batch table", type=["parquet"], key="gh-upload"))
if table is None:
    show_sanity_check(family)  # needs no table: one input, one model
    links.finish()
    st.stop()

summary = gate_health.block_summary(table)
flagged = [e for e in summary if e["verdict"] != "healthy"]
for entry in flagged:
    st.warning(gate_health.verdict_text(entry))
if not flagged:
    st.success(f"No collapsed or saturated gate among {len(summary)} (model, block, gate) combinations.")
st.subheader("Per block")
st.dataframe(summary, hide_index=True)

models = gate_health.models_in(table)
for gate, title in gate_health.GATES.items():
    values = gate_health.distributions(table, gate)
    if not values:
        continue
    st.subheader(f"Each image's mean {title}, per block")
    show_chart(st, charts.gate_distribution_chart(values, title))
    profiles = gate_health.class_profiles(table, gate)
    if profiles:
        st.markdown(f"**Per class**: mean {title} of the images of each class")
        show_chart(st, charts.class_profile_chart(profiles, title))

specificity = checks.specificity_sections(table)
if specificity:
    st.subheader("Class-specific excitation across depth")
    show_sections(specificity)
    chosen = links.select(
        st, "Per-class gates of model", checks.specificity_models(table), key="gh-class-model", param="classes"
    )
    show_sections(checks.class_channel_sections(table, chosen))

faithfulness = gate_health.faithfulness_summary(table)
if faithfulness:
    st.subheader("Is the attention faithful?")
    st.markdown(
        "**Deletion / insertion**: pixels are removed from the input (set to black) or added to a black input in "
        "the order a ranking gives, and the task's objective is followed, normalised so black gives 0 and the input "
        "1; AUC is the area under that curve. Ranked by the block's sSE map q, by a random order and by |Integrated "
        "Gradients|: a faithful map has a lower deletion and a higher insertion AUC than random. **Channel ρ**: "
        "Spearman's rank correlation between each channel's w and the objective's drop when that channel's gate "
        "alone is set to 0; near 0, a high weight does not mean an important channel. Top-k / bottom-k drop: the "
        "three highest or lowest channels by w knocked out together."
    )
    st.dataframe(faithfulness, hide_index=True)
    pairs = [(e["model"], e["block"]) for e in faithfulness if e.get("sse_deletion_auc") is not None]
    if pairs:
        left, right = st.columns(2)
        model = links.select(
            left, "Curves of model", list(dict.fromkeys(m for m, _ in pairs)), key="gh-curve-model", param="curves"
        )
        block = links.select(right, "Block", [b for m, b in pairs if m == model], key="gh-curve-block", param="block")
        points = gate_health.perturbation_curves(table, model, block)
        if points:
            st.markdown(
                f"**Deletion and insertion curves** of {model} · {block}, mean over {points[0]['images']} images"
            )
            show_chart(st, charts.perturbation_chart(points))
            with st.expander("The curves' numbers"):
                st.dataframe(points, hide_index=True)
        else:
            st.caption("This table holds the areas only (written before the batch kept the curves).")

st.subheader("Compare two models")
if len(models) >= 2:
    left, right = st.columns(2)
    first = links.select(left, "Model A", models, index=0, key="gh-a", param="a")
    second = links.select(right, "Model B", models, index=len(models) - 1, key="gh-b", param="b")
    st.dataframe(
        gate_health.compare(gate_health.only(table, [first]), gate_health.only(table, [second]), (first, second)),
        hide_index=True,
    )
else:
    other = uploaded_table(
        st.file_uploader("A second batch table to compare with", type=["parquet"], key="gh-upload-b")
    )
    if other is not None:
        st.dataframe(gate_health.compare(table, other), hide_index=True)
st.download_button(
    "Summary as CSV",
    data=lambda: _csv(summary),
    file_name="gate-health.csv",
    mime="text/csv",
    on_click="ignore",
    key="gh-csv",
)
show_sanity_check(family)

links.finish()
