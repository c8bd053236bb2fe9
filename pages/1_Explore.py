"""Explore: a family's four variants on one input, their outputs side by side, and every block's attention."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import export
from scse_viz.render import figure_bytes, raster
from scse_viz.ui import links, presenter
from scse_viz.ui.inputs import choose_family, choose_input, degraded, pick_input
from scse_viz.ui.navigation import log_run_time, page_links
from scse_viz.ui.pictures import COLORMAPS, picture_memo, show_encoded
from scse_viz.ui.runs import family_run, knockout_output, second_output
from scse_viz.ui.sections import show_sections
from scse_viz.ui.state import memo
from scse_viz.ui.volume3d import TAB as VOLUME_TAB
from scse_viz.ui.volume3d import default_tab as volume_default_tab
from scse_viz.ui.volume3d import volume_tab as show_volume
from scse_viz.views import attention, notes, view_for

st.set_page_config(page_title="Explore · scSE Lens", layout="wide")
page_links()
KNOCKOUT_VALUES = {
    0.5: "0.5 = σ(0), an untrained gate",
    0.0: "0 — gate shut (removes a branch of a sum)",
    1.0: "1 — gate fully open (removes a gate that multiplies)",
}

family = choose_family()
image = choose_input(family)
st.title("Explore")
if image is None:
    st.info("Choose a bundled sample or upload an image in the sidebar.")
    links.finish()
    st.stop()

run = family_run(family, image)
task_view = view_for(family.task)
attention_variants = attention.attention_variants(run)
picture = picture_memo("encoded-picture", run.key)


def download(label: str, make_bytes, file_name: str, mime: str, key: str) -> None:
    st.download_button(label, data=make_bytes, file_name=file_name, mime=mime, key=key, on_click="ignore")


def figure_downloads(name: str, make_figure, key: str) -> None:
    """PNG and SVG of a matplotlib figure, drawn only when someone clicks."""
    left, right = st.columns(2)
    with left:
        download("PNG", lambda: figure_bytes(make_figure(), "png"), f"{name}.png", "image/png", f"{key}-png")
    with right:
        download("SVG", lambda: figure_bytes(make_figure(), "svg"), f"{name}.svg", "image/svg+xml", f"{key}-svg")


# ------------------------------------------------------------------------------------------------------ the input
def show_input() -> None:
    left, middle, right = st.columns([1, 1, 2])
    show_encoded(left, picture(("input",), lambda: raster.to_rgb(image.pixels)), f"{image.name} — {image.note}")
    show_encoded(
        middle,
        picture(("model-input",), lambda: raster.to_rgb(run.prepared.pixels)),
        f"what the models see: {run.prepared.grid[0]}×{run.prepared.grid[1]}",
    )
    right.markdown(f"**{family.title}**")
    right.caption(
        f"These models were trained on {family.trained_on}. Any image runs; on images unlike those, read "
        "the results as a demonstration of the mechanism, not as a diagnosis."
    )
    if image.truth is not None:
        right.caption("This input comes with its ground truth: the outputs are scored against it.")


# ------------------------------------------------------------------------------------------------------ outputs
def show_outputs() -> None:
    show_sections(memo(("novelty-note", run.key), lambda: notes.novelty_sections(run)))
    show_sections(memo(("outputs-view", run.key), lambda: task_view.outputs(run)))


# ------------------------------------------------------------------------------------------------------ attention
def show_attention() -> attention.AttentionChoice:
    controls, view = st.columns([1, 3])
    variant = links.select(
        controls,
        "Model",
        attention_variants,
        index=len(attention_variants) - 1,
        format_func=lambda v: run.outputs[v].label,
        key="att-model",
        param="variant",
    )
    output = run.outputs[variant]
    block = links.select(controls, "Block", [r.label for r in output.shown()], key="att-block", param="block")
    order = links.select(
        controls, "Bar order", ["sorted", "channel"], kind="radio", horizontal=True, key="att-order", param="sort"
    )
    top_k = links.slider(controls, "Top-k channels (0 = all)", 0, 64, 0, key="att-topk", param="topk")
    cmap = links.select(controls, "Colormap", COLORMAPS, key="att-cmap", param="cmap")
    alpha = links.slider(controls, "Opacity", 0.0, 1.0, 0.5, 0.05, key="att-alpha", param="alpha")
    choice = attention.AttentionChoice(variant, block, order, top_k, cmap, alpha)
    with view:
        show_sections(notes.gate_notes(output.record(block), output.label))
        show_sections(memo(("attention-view", run.key, choice), lambda: attention.block_sections(run, choice)))
        channels = attention.gain_channels(output.record(block))
        if channels:
            channel = links.select(
                st,
                "Channel",
                channels,
                key="gain-c",
                param="channel",
                names=["mean", *map(str, channels[1:])],
            )
            choice = replace(choice, channel=channel)
            show_sections(memo(("gain-view", run.key, choice), lambda: attention.gain_sections(run, choice)))
    if not presenter.active():
        show_sections(memo(("every-map-view", run.key, choice), lambda: attention.every_map_sections(run, choice)))
    return choice


# ------------------------------------------------------------------------------------------------------ knock-out
def show_knockout() -> dict:
    controls, view = st.columns([1, 3])
    ko_variant = links.select(
        controls,
        "Model",
        attention_variants,
        index=len(attention_variants) - 1,
        format_func=lambda v: run.outputs[v].label,
        key="ko-model",
        param="ko-variant",
    )
    intact = run.outputs[ko_variant]
    branch = links.select(
        controls,
        "Switch off",
        attention.knockout_branches(intact),
        format_func=attention.BRANCH_NAMES.get,
        kind="radio",
        horizontal=True,
        key="ko-branch",
        param="ko-branch",
    )
    scopes = attention.knockout_scopes(intact)
    scope = links.select(controls, "In", scopes, key="ko-scope", param="ko-in", names=["all", *scopes[1:]])
    value = links.select(
        controls,
        "Replace the gate by",
        list(KNOCKOUT_VALUES),
        format_func=KNOCKOUT_VALUES.get,
        key="ko-value",
        param="ko-value",
        names=[f"{v:g}" for v in KNOCKOUT_VALUES],
    )
    knockout = attention.knockout_of(intact, branch, value, scope)
    if not links.toggle(controls, "Run with the branch switched off", key="ko-on", param="knockout"):
        view.info(
            "Choose a branch and switch it on the left: the model runs once more with that gate replaced by "
            "a constant, and the output is compared with the intact one."
        )
    else:
        knocked = knockout_output(run, ko_variant, knockout)
        setting = attention.knockout_setting(branch, value, scope)
        show_sections(
            memo(
                ("knockout-view", run.key, ko_variant, knockout),
                lambda: task_view.knockout(run, intact, knocked, setting),
            ),
            where=view,
        )
    return {"model": ko_variant, "branch": branch, "value": value, "scope": scope}


# ------------------------------------------------------------------------------------------------------ compare
def show_compare() -> attention.GateComparison | None:
    """Two images' channel gates; returns them for the export, or None."""
    st.markdown("cSE is input-dependent: the same model gives different channel weights to different images.")
    controls, view = st.columns([1, 3])
    with controls:
        chosen = st.toggle("Choose a second image", key="cmp-on", persist_state="page")
        other = pick_input(family, st, prefix="compare-") if chosen else None
        other = None if other is None else degraded(family, other)  # the sidebar's degradation, if any
        cmp_variant = st.selectbox(
            "Model",
            attention.channel_gate_variants(run),
            format_func=lambda v: run.outputs[v].label,
            key="cmp-model",
            persist_state="page",
        )
    if other is None:
        view.info("Choose a second image on the left.")
        return None
    second = second_output(family, other, cmp_variant)
    cmp_block = controls.selectbox(
        "Block", attention.channel_gate_blocks(run.outputs[cmp_variant]), key="cmp-block", persist_state="page"
    )
    comparison = attention.compare_gates(run, cmp_variant, cmp_block, second, other.name)
    show_sections(attention.comparison_sections(comparison), where=view)
    return comparison


# ------------------------------------------------------------------------------------------------------ export
def show_export(choice: attention.AttentionChoice, knockout: dict, comparison: attention.GateComparison | None) -> None:
    settings = attention.export_settings(choice, knockout)
    stem = f"scse-lens_{family.name}_{image.key}"
    st.markdown(
        "**All captured numbers** of this input (every model, every block), with model, input and settings "
        "recorded in the file."
    )
    left, right = st.columns(2)
    with left:
        download("CSV", lambda: export.to_csv(run, settings), f"{stem}.csv", "text/csv", "csv")
    with right:
        download("NPZ", lambda: export.to_npz(run, settings), f"{stem}.npz", "application/octet-stream", "npz")
    for number, (title, make) in enumerate(attention.export_figures(run, choice, comparison)):
        st.markdown(f"**{title}**")
        figure_downloads(f"{stem}_{number}", make, f"fig-{number}")


# ------------------------------------------------------------------------------------------------------ settings
# The export records the settings of the Attention and Knock-out tabs and draws the Compare tab's gates; those tabs
# run only while open, so each leaves what it showed here (per session and input) for the Export tab to read.
ATTENTION_PARAMS = ("variant", "block", "sort", "topk", "cmap", "alpha", "channel")
KNOCKOUT_PARAMS = ("knockout", "ko-variant", "ko-branch", "ko-in", "ko-value")
SETTINGS = "explore-tab-settings"


def remember(name: str, value) -> None:
    kept = {k: v for k, v in st.session_state.get(SETTINGS, {}).items() if k[0] == run.key}  # this input's only
    st.session_state[SETTINGS] = {**kept, (run.key, name): value}


def remembered(name: str):
    return st.session_state.get(SETTINGS, {}).get((run.key, name))


def remembered_attention() -> attention.AttentionChoice:
    """The Attention tab's settings as last shown for this input, or its defaults when it was not opened."""
    kept = remembered("attention")
    if kept is not None:
        return kept
    variant = attention_variants[-1]
    return attention.AttentionChoice(variant, run.outputs[variant].shown()[0].label, "sorted", 0, COLORMAPS[0], 0.5)


# ------------------------------------------------------------------------------------------------------ the page
if presenter.active():  # one idea per screen, for a projector
    SCREENS = {
        "The input": show_input,
        "What each model gives": show_outputs,
        "One block's gates": show_attention,
        "A gate switched off": show_knockout,
    }
    title = list(SCREENS)[presenter.screens(list(SCREENS))]
    st.header(title)
    SCREENS[title]()
else:
    show_input()
    # Only the open tab runs (issue 24): an upload computes and sends the Outputs view alone, the rest on demand.
    outputs_tab, attention_tab, knockout_tab, compare_tab, export_tab, volume_tab = links.tabs(
        ["Outputs", "Attention", "Knock-out", "Compare two images", "Export", VOLUME_TAB],
        key="explore-tab",
        names=["outputs", "attention", "knockout", "compare", "export", "3d"],
        implied={**dict.fromkeys(ATTENTION_PARAMS, "Attention"), **dict.fromkeys(KNOCKOUT_PARAMS, "Knock-out")},
        opening=volume_default_tab(),
    )
    if outputs_tab.open:
        with outputs_tab:
            show_outputs()
    if attention_tab.open:
        with attention_tab:
            remember("attention", show_attention())
    if knockout_tab.open:
        with knockout_tab:
            remember("knockout", show_knockout())
    if compare_tab.open:
        with compare_tab:
            remember("compared", show_compare())
    if export_tab.open:
        with export_tab:
            show_export(remembered_attention(), remembered("knockout"), remembered("compared"))
    if volume_tab.open:
        with volume_tab:
            show_volume(family, image)

links.finish()
log_run_time("explore")
