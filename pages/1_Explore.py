"""Explore: a family's four variants on one input, their outputs side by side, and every block's attention."""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import explore, export
from scse_viz.capture import Knockout
from scse_viz.render import (
    channel_gate_comparison_figure,
    channel_gate_figure,
    charts,
    effective_gain_figure,
    figure_bytes,
    raster,
    spatial_grid_figure,
    spatial_overlay_figure,
)
from scse_viz.render.spatial import GAIN_CMAP
from scse_viz.ui import links, presenter
from scse_viz.ui.charts import show_chart
from scse_viz.ui.inputs import choose_family, choose_input, degraded, pick_input
from scse_viz.ui.navigation import log_run_time, page_links
from scse_viz.ui.pictures import COLORMAPS, picture_memo, show_colorbar, tile_width
from scse_viz.ui.runs import family_run, knockout_output, second_output
from scse_viz.ui.sections import show_sections
from scse_viz.ui.state import memo
from scse_viz.ui.volume3d import TAB as VOLUME_TAB
from scse_viz.ui.volume3d import default_tab as volume_default_tab
from scse_viz.ui.volume3d import volume_tab as show_volume
from scse_viz.views import notes, view_for

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
attention_variants = [v for v in run.outputs if run.outputs[v].shown()]
shown = explore.display_image(run)
picture = picture_memo("picture", run.key)


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
    left.image(picture(("input",), lambda: raster.to_rgb(image.pixels)), caption=f"{image.name} — {image.note}")
    middle.image(
        picture(("model-input",), lambda: raster.to_rgb(run.prepared.pixels)),
        caption=f"what the models see: {run.prepared.grid[0]}×{run.prepared.grid[1]}",
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
class Attention(NamedTuple):
    """What the attention section shows (the export records it)."""

    variant: str
    block: str
    order: str
    top_k: int
    cmap: str
    alpha: float


def show_attention() -> Attention:
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
    labels = [r.label for r in output.shown()]
    block = links.select(controls, "Block", labels, key="att-block", param="block")
    record = output.record(block)
    order = links.select(
        controls, "Bar order", ["sorted", "channel"], kind="radio", horizontal=True, key="att-order", param="sort"
    )
    top_k = links.slider(controls, "Top-k channels (0 = all)", 0, 64, 0, key="att-topk", param="topk")
    cmap = links.select(controls, "Colormap", COLORMAPS, key="att-cmap", param="cmap")
    alpha = links.slider(controls, "Opacity", 0.0, 1.0, 0.5, 0.05, key="att-alpha", param="alpha")
    with view:
        st.markdown(
            f"**{output.label} · {block}** — {record.channels} channels, feature map "
            f"{record.feature_size[0]}×{record.feature_size[1]} (stride {record.stride[0]:g}), "
            f"branches joined by {record.join}"
        )
        show_sections(notes.gate_notes(record, output.label))
        if record.channel_gate is not None:
            show_chart(
                st, charts.channel_gate_chart(record.channel_gate[0], order, top_k or None, title="cSE channel gate w")
            )
        if record.spatial_gate is not None:
            q = memo(("q", run.key, variant, block), lambda: explore.spatial_map(run, record))
            st.image(
                picture(("sse", variant, block, cmap, alpha), lambda: raster.overlay(shown, q, cmap, alpha)),
                caption=f"sSE gate q over the image (0 → 1 on {cmap}); min {q.min():.3f}, max {q.max():.3f}",
            )
            show_colorbar(st, cmap, 0.0, 1.0, "sSE gate q: 0 shuts a pixel's features, 1 lets them through")
        if record.channel_gate is not None and record.spatial_gate is not None and record.join == "sum":
            st.markdown(
                "**Effective gain of the scSE sum**: x·w + x·q = (w_c + q_ij)·x; "
                "shown as w_c + q_ij − 1 (red boosted, blue damped, white unchanged)."
            )
            channel = links.select(
                st,
                "Channel",
                ["mean over channels", *range(record.channels)],
                key="gain-c",
                param="channel",
                names=["mean", *map(str, range(record.channels))],
            )
            gain = memo(
                ("gain", run.key, variant, block, channel),
                lambda: explore.displayed_gain(run, record, None if channel == "mean over channels" else channel),
            )
            st.image(
                picture(
                    ("gain", variant, block, channel, alpha),
                    lambda: raster.overlay(shown, gain, GAIN_CMAP, alpha, -1.0, 1.0),
                ),
                caption=f"w_c + q_ij − 1 for {channel if channel != 'mean over channels' else 'the mean w'} on [−1, 1]",
            )
            show_colorbar(
                st,
                GAIN_CMAP,
                -1.0,
                1.0,
                "w_c + q_ij − 1: below 0 damped (blue), 0 unchanged (white), above 0 boosted (red)",
            )
    if any(r.spatial_gate is not None for r in output.shown()) and not presenter.active():
        st.subheader(f"Every block's sSE map — {output.label}")
        maps = [r for r in output.shown() if r.spatial_gate is not None]
        tiles = [
            picture(
                ("sse", variant, r.label, cmap, alpha),
                lambda r=r: raster.overlay(
                    shown, memo(("q", run.key, variant, r.label), lambda: explore.spatial_map(run, r)), cmap, alpha
                ),
            )
            for r in maps
        ]
        st.image(tiles, caption=[f"{r.label} (stride {r.stride[0]:g})" for r in maps], width=tile_width(tiles, 180))
        show_colorbar(st, cmap, 0.0, 1.0, "sSE gate q of each block, upsampled onto the picture: 0 shuts, 1 opens")
    return Attention(variant, block, order, top_k, cmap, alpha)


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
    branches = [
        b
        for b in ("cse", "sse")
        if any(getattr(r, f"{'channel' if b == 'cse' else 'spatial'}_gate") is not None for r in intact.shown())
    ]
    branch = links.select(
        controls,
        "Switch off",
        branches,
        format_func=lambda b: {"cse": "cSE", "sse": "sSE"}[b],
        kind="radio",
        horizontal=True,
        key="ko-branch",
        param="ko-branch",
    )
    scope = links.select(
        controls,
        "In",
        ["all blocks", *[r.label for r in intact.shown()]],
        key="ko-scope",
        param="ko-in",
        names=["all", *[r.label for r in intact.shown()]],
    )
    value = links.select(
        controls,
        "Replace the gate by",
        list(KNOCKOUT_VALUES),
        format_func=KNOCKOUT_VALUES.get,
        key="ko-value",
        param="ko-value",
        names=[f"{v:g}" for v in KNOCKOUT_VALUES],
    )
    knockout = Knockout(branch, value, None if scope == "all blocks" else (scope.split(" (call")[0],))
    if not links.toggle(controls, "Run with the branch switched off", key="ko-on", param="knockout"):
        view.info(
            "Choose a branch and switch it on the left: the model runs once more with that gate replaced by "
            "a constant, and the output is compared with the intact one."
        )
    else:
        knocked = knockout_output(run, ko_variant, knockout)
        setting = f"{branch.upper()} gate = {value:g} in {scope}"
        show_sections(
            memo(
                ("knockout-view", run.key, ko_variant, knockout),
                lambda: task_view.knockout(run, intact, knocked, setting),
            ),
            where=view,
        )
    return {"model": ko_variant, "branch": branch, "value": value, "scope": scope}


# ------------------------------------------------------------------------------------------------------ compare
def show_compare():
    """Two images' channel gates; returns (gate A, gate B, their names) for the export, or None."""
    st.markdown("cSE is input-dependent: the same model gives different channel weights to different images.")
    controls, view = st.columns([1, 3])
    with controls:
        other = pick_input(family, st, prefix="compare-") if st.toggle("Choose a second image", key="cmp-on") else None
        other = None if other is None else degraded(family, other)  # the sidebar's degradation, if any
        cmp_variant = st.selectbox(
            "Model",
            [v for v in attention_variants if any(r.channel_gate is not None for r in run.outputs[v].shown())],
            format_func=lambda v: run.outputs[v].label,
            key="cmp-model",
        )
    if other is None:
        view.info("Choose a second image on the left.")
        return None
    second = second_output(family, other, cmp_variant)
    blocks = [r.label for r in run.outputs[cmp_variant].shown() if r.channel_gate is not None]
    cmp_block = controls.selectbox("Block", blocks, key="cmp-block")
    record_a, record_b = run.outputs[cmp_variant].record(cmp_block), second.record(cmp_block)
    gate_a, gate_b = record_a.channel_gate[0], record_b.channel_gate[0]
    pair = ("A: " + image.name, "B: " + other.name)
    change = explore.gate_change(record_a, record_b)
    with view:
        show_chart(st, charts.gate_comparison_chart(gate_a, gate_b, pair))
        show_chart(st, charts.gate_difference_chart(explore.gate_difference(record_a, record_b), pair))
        st.caption(
            f"mean |w(B) − w(A)| = {change['mean']:.4f}, largest {change['largest']:.4f} (channel {change['channel']})"
        )
    return gate_a, gate_b, pair


# ------------------------------------------------------------------------------------------------------ export
def show_export(attention: Attention, knockout: dict, compared) -> None:
    variant, block, order, top_k, cmap, alpha = attention
    output = run.outputs[variant]
    record = output.record(block)
    settings = {
        "attention_model": variant,
        "block": block,
        "order": order,
        "top_k": top_k,
        "colormap": cmap,
        "opacity": alpha,
        "knockout": knockout,
    }
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
    figures = {
        **dict(task_view.figures(run, variant)),
        f"cSE gate — {output.label} {block}": (
            lambda: channel_gate_figure(
                record.channel_gate[0], order=order, top_k=top_k or None, title=f"{output.label} · {block}"
            )
        )
        if record.channel_gate is not None
        else None,
        f"sSE map — {output.label} {block}": (
            lambda: spatial_overlay_figure(
                shown, explore.spatial_map(run, record), cmap=cmap, alpha=alpha, title=f"{output.label} · {block}"
            )
        )
        if record.spatial_gate is not None
        else None,
        f"every sSE map — {output.label}": (
            lambda: spatial_grid_figure(
                shown,
                [(r.label, explore.spatial_map(run, r), None) for r in output.shown() if r.spatial_gate is not None],
                cmap=cmap,
                alpha=alpha,
            )
        )
        if any(r.spatial_gate is not None for r in output.shown())
        else None,
        f"effective gain — {output.label} {block}": (
            lambda: effective_gain_figure(shown, record.channel_gate[0], explore.spatial_map(run, record), alpha=alpha)
        )
        if record.channel_gate is not None and record.spatial_gate is not None and record.join == "sum"
        else None,
        "two images' channel gates": (lambda: channel_gate_comparison_figure(*compared))
        if compared is not None
        else None,
    }
    for number, (title, make) in enumerate(f for f in figures.items() if f[1] is not None):
        st.markdown(f"**{title}**")
        figure_downloads(f"{stem}_{number}", make, f"fig-{number}")


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
    outputs_tab, attention_tab, knockout_tab, compare_tab, export_tab, volume_tab = st.tabs(
        ["Outputs", "Attention", "Knock-out", "Compare two images", "Export", VOLUME_TAB], default=volume_default_tab()
    )
    with outputs_tab:
        show_outputs()
    with attention_tab:
        attention = show_attention()
    with knockout_tab:
        knockout_settings = show_knockout()
    with compare_tab:
        compared = show_compare()
    with export_tab:
        show_export(attention, knockout_settings, compared)
    with volume_tab:
        show_volume(family, image)

links.finish()
log_run_time("explore")
