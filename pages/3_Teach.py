"""Teach: cSE, sSE and scSE one step at a time, on a block of a trained model or on a toy feature map one edits.

Every number comes from :mod:`scse_viz.teaching` (recomputed from the block's own weights and checked against
capture); this page only lays them out. A trained block is walked through once per (input, family, variant, block)
and every figure is drawn once per setting, so moving a widget redraws without running a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import streamlit as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import teaching as T
from scse_viz import zoo
from scse_viz.errors import ScseVizError
from scse_viz.render import (
    channel_maps_figure,
    charts,
    class_excitation_figure,
    figure_bytes,
    gain_figure,
    join_comparison_figure,
    raster,
    sse_map_figure,
    vector_figure,
)
from scse_viz.ui import links
from scse_viz.ui.charts import show_chart
from scse_viz.ui.inputs import choose_family, choose_input
from scse_viz.ui.models import family_models
from scse_viz.ui.navigation import page_links
from scse_viz.ui.pictures import tile_width
from scse_viz.ui.state import memo

st.set_page_config(page_title="Teach · scSE Lens", layout="wide")
page_links()
MODEL_MODE, TOY_MODE = "A block of a trained model", "Toy feature map"
TOY_SIZES = (4, 6, 8, 10, 12, 16)
TOY_REDUCTIONS = (1, 2, 4, 8)
COST_KEYS = ("cost-c", "cost-h", "cost-w", "cost-r")
PERCENT = st.column_config.NumberColumn(format="%.2f %%")
COUNT = st.column_config.NumberColumn(format="localized")


class Walk(NamedTuple):
    """A walk-through and what the rest of the page needs to know about it."""

    wt: T.WalkThrough
    key: tuple  # identifies the numbers: figures are memoised under it
    channels_key: str  # the channel picker keeps its choice while this stays the same
    shape: tuple[int, int, int, int]  # C, H, W, r for the cost section
    weights_open: bool  # toy weights are short enough to show unfolded


def attempt(compute: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", value) or ("error", message): a failure a person can cause is kept and shown once, in words."""
    try:
        return "ok", compute()
    except (ScseVizError, ValueError) as error:
        return "error", str(error)


def png(key: tuple, make: Callable[[], Any]) -> bytes:
    """A matplotlib figure drawn once per key in this session."""
    return memo(("teach-png", *key), lambda: figure_bytes(make(), "png"))


def use_shape(shape: tuple[int, int, int, int]) -> None:
    st.session_state.update(dict(zip(COST_KEYS, shape)))


def next_seed() -> None:
    st.session_state["toy-seed"] = st.session_state.get("toy-seed", 0) + 1


# ------------------------------------------------------------------------------------------------------ choosing
def model_walk(family, image) -> Walk | None:
    """Model and block controls, then that block walked through on the shared input (None: a message was shown)."""
    left, middle, right = st.columns([1, 2, 3])
    variants = [v for v in family.variants if v != family.baseline]  # the models with attention blocks
    variant = links.select(
        left, "Model", variants, index=len(variants) - 1, format_func=family.label, key="teach-variant", param="variant"
    )
    model = family_models(family)[variant]
    blocks = {b.name: b for b in memo(("teach-blocks", family.name, variant), lambda: T.teaching_blocks(model))}
    if not blocks:
        st.error(f"The {family.label(variant)} model has no block this page can walk through.")
        return None
    block = links.select(
        middle,
        "Block",
        list(blocks),
        key=f"teach-block-{family.name}",
        param="block",
        format_func=lambda n: f"{n} ({blocks[n].channels} channels)",
    )
    if image is None:
        right.info("Choose a bundled sample or upload an image in the sidebar.")
        return None
    prepared = memo(("teach-prepared", family.name, image.key), lambda: family.prepare(image.pixels))
    key = ("model", image.key, family.name, variant, block)
    status, walked = memo(
        ("teach-walk", *key), lambda: attempt(lambda: T.walk_through_model(model, prepared.tensor, block))
    )
    if status == "error":
        st.error(walked)
        return None
    wt, record = walked.walk, walked.record
    (h, w), stride = wt.x.shape[1:], record.stride[0]
    picture, text = right.columns([1, 3])
    seen = raster.enlarge(raster.to_rgb(prepared.pixels), 112)
    picture.image(seen, caption="what the model sees", width=tile_width([seen], 112))
    bottleneck = (
        f"; its cSE bottleneck has C′ = {wt.hidden_channels} units (r = {wt.channels // wt.hidden_channels})"
        if wt.hidden_channels
        else ""
    )
    text.markdown(
        f"**{family.label(variant)} model · {block}** on *{image.name}*. x is the feature map the "
        f"network feeds this block: **{wt.channels} channels of {h}×{w}** (stride {stride:g}){bottleneck}."
    )
    gaps = ", ".join(f"{name}: {value:.1e}" for name, value in walked.differences.items())
    text.success(
        f"Every number below is recomputed from this block's weights. Largest difference from the gates "
        f"capture recorded in the same forward pass — {gaps} (float32 rounding; at most "
        f"{T.GATE_TOLERANCE:g} is accepted)."
    )
    r = wt.channels // wt.hidden_channels if wt.hidden_channels else st.session_state.get("cost-r", 16)
    return Walk(wt, key, "-".join(map(str, key)), (wt.channels, h, w, r), False)


def toy_walk() -> Walk | None:
    """Toy controls (preset, size, brightness, r), then the toy block walked through on that map."""
    preset_col, channels_col, size_col, r_col, seed_col = st.columns([3, 2, 2, 2, 2])
    preset = links.select(preset_col, "Preset", list(T.PRESETS), key="toy-preset", param="preset")
    channels = links.slider(channels_col, "Channels C", 3, 8, 6, key="toy-channels", param="C")
    size = links.select(
        size_col, "Size H = W", TOY_SIZES, index=TOY_SIZES.index(8), kind="select_slider", key="toy-size", param="size"
    )
    reduction = links.select(
        r_col,
        "Reduction r",
        TOY_REDUCTIONS,
        index=TOY_REDUCTIONS.index(2),
        kind="select_slider",
        key="toy-r",
        param="r",
    )
    seed = links.number(seed_col, "Seed", 0, 1_000_000, 0, key="toy-seed", param="seed")
    seed_col.button("New noise", on_click=next_seed, help="The next seed: new noise for the presets that have some.")
    preset_col.caption(T.PRESETS[preset])
    st.markdown("**Brightness per channel**: channel c of the map is multiplied by its factor.")
    brightness = tuple(
        float(links.slider(column, f"channel {c}", 0.0, 3.0, 1.0, 0.1, key=f"toy-bright-{c}", param=f"b{c}"))
        for c, column in enumerate(st.columns(channels))
    )

    def compute() -> tuple[T.WalkThrough, dict[str, float]]:
        x = T.toy_feature_map(preset, channels, size, seed, brightness)
        block = T.toy_block(channels, reduction)
        wt = T.walk_through(block, x)
        return wt, T.capture_difference(block, wt)

    key = ("toy", preset, channels, size, seed, brightness, reduction)
    status, result = memo(("teach-walk", *key), lambda: attempt(compute))
    if status == "error":
        st.error(result)
        return None
    wt, differences = result
    st.image(
        png(
            (*key, "x"),
            lambda: channel_maps_figure(
                [("x", wt.x)], range(channels), label="feature value", title="the toy feature map x, one colour scale"
            ),
        ),
        caption="The toy feature map x: one panel per channel, all on the colour scale at the right.",
    )
    gaps = ", ".join(f"{name}: {value:.1e}" for name, value in differences.items())
    st.caption(
        f"The toy block: an scSE block with weights in tenths (tables in each step), the same for the same C "
        f"and r. Its gates, recomputed step by step, differ from what capture records by {gaps}."
    )
    return Walk(wt, key, f"toy-{channels}", (channels, size, size, reduction), True)


# ------------------------------------------------------------------------------------------------------ sections
def weights(tables: dict[str, list[dict]], name: str, expanded: bool) -> None:
    if name in tables:
        with st.expander(f"The block's weights: {name}", expanded=expanded):
            st.dataframe(tables[name], hide_index=True)


def show_walk(walk: Walk) -> None:
    """cSE, sSE and scSE steps, each with its formula, the weights it uses and its numbers."""
    wt, key = walk.wt, walk.key
    tables = T.weight_tables(wt)
    picked = links.multiselect(
        st,
        "Channels shown before and after (default: the two highest and two lowest w)",
        list(range(wt.channels)),
        T.pick_channels(wt),
        key=f"teach-channels-{walk.channels_key}",
        param="channels",
    )
    picked = sorted(picked)

    def before_after(name: str, after: Any, label: str) -> None:
        if not picked:
            st.info("Pick at least one channel above to see it before and after.")
            return
        st.image(
            png(
                (*key, name, *picked),
                lambda: channel_maps_figure(
                    [("x (before)", wt.x), (f"{label} (after)", after)], picked, label="feature value"
                ),
            ),
            caption=f"The chosen channels before the block (x) and after it ({label}), on one colour scale.",
        )

    if wt.w is not None:
        st.header("cSE: squeeze the space, excite the channels")
        st.subheader("1 · Squeeze: one mean per channel")
        st.latex(T.STEP_FORMULAS["squeeze"])
        st.image(
            png(
                (*key, "squeeze"),
                lambda: vector_figure(wt.squeeze, title="s_c = mean of channel c", xlabel="channel c", ylabel="s_c"),
            ),
            caption="Squeeze: each channel's mean over all pixels, one bar per channel.",
        )
        hidden_formula, excitation_formula = T.channel_formulas(wt)
        st.subheader(
            f"2 · Excitation, first 1×1 conv and {wt.activation}: C = {wt.channels} → C′ = {wt.hidden_channels}"
        )
        st.latex(hidden_formula)
        weights(tables, "W1 (C → C') and b1", walk.weights_open)
        left, right = st.columns([3, 2])
        left.image(
            png(
                (*key, "hidden"),
                lambda: vector_figure(
                    wt.hidden_pre, title=f"W1·s + b1, before the {wt.activation}", xlabel="unit k", ylabel="W1·s + b1"
                ),
            ),
            caption=f"The bottleneck's units before the {wt.activation}.",
        )
        right.dataframe(T.hidden_table(wt), hide_index=True)
        active = int((wt.hidden > 0).sum())
        if wt.activation == "ReLU":
            right.caption(
                f"The ReLU sets the negative (blue) units to 0: {active} of {wt.hidden_channels} pass on "
                "this input."
                + (
                    ""
                    if active
                    else " With every unit at 0, w = σ(b2): on this input the "
                    "gate does not depend on the squeezed values at all."
                )
            )
        else:
            right.caption(
                f"This block's activation is {wt.activation}, applied to each unit as the model does: "
                f"{active} of {wt.hidden_channels} units are positive on this input."
            )
        st.subheader(f"3 · Excitation, second 1×1 conv and {wt.gate}: C′ = {wt.hidden_channels} → C = {wt.channels}")
        st.latex(excitation_formula)
        weights(tables, "W2 (C' → C) and b2", walk.weights_open)
        left, right = st.columns([3, 2])
        show_chart(left, charts.channel_gate_chart(wt.w, "channel", title="channel gate w_c (0.5 dashed = σ(0))"))
        right.dataframe(T.excitation_table(wt), hide_index=True)
        st.subheader("4 · Scale: every pixel of channel c is multiplied by w_c")
        st.latex(T.STEP_FORMULAS["cse_scale"])
        before_after("cse-scale", wt.cse_out, "x · w")

    if wt.q is not None:
        st.header("sSE: squeeze the channels, excite the pixels")
        st.subheader("1 · A 1×1 conv C → 1 and a sigmoid: one gate per pixel")
        st.latex(T.STEP_FORMULAS["sse"])
        weights(tables, "sSE weights v and bias b", walk.weights_open)
        st.image(
            png(
                (*key, "v"),
                lambda: vector_figure(
                    wt.sse_weights, title=f"sSE weights v_c (b = {wt.sse_bias:.3f})", xlabel="channel c", ylabel="v_c"
                ),
            ),
            caption="The sSE 1×1 convolution's weight for each channel: how much it counts in q.",
        )
        left, right = st.columns([3, 2])
        left.image(
            png((*key, "q"), lambda: sse_map_figure(wt.q, title="sSE gate q_ij")),
            caption="The sSE gate q on the feature map's grid, on the fixed 0–1 scale at its right.",
        )
        right.markdown(
            f"q lies between **{wt.q.min():.3f}** and **{wt.q.max():.3f}** on this {wt.q.shape[0]}×"
            f"{wt.q.shape[1]} map. Bright pixels (q near 1) keep their features, dark ones (q near 0) are "
            "damped; σ(0) = 0.5 is where the weighted sum Σ v_c x_c + b is 0. The same q multiplies "
            "every channel at that pixel."
        )
        st.subheader("2 · Scale: every channel at pixel (i, j) is multiplied by q_ij")
        st.latex(T.STEP_FORMULAS["sse_scale"])
        before_after("sse-scale", wt.sse_out, "x · q")

    if wt.kind == "scse":
        st.header("scSE: both recalibrations, summed")
        st.latex(T.STEP_FORMULAS["scse"])
        st.latex(T.STEP_FORMULAS["gain"])
        if picked:
            st.image(
                png((*key, "gain", *picked), lambda: gain_figure(wt.gain, picked)),
                caption="The scSE gain w_c + q_ij of the chosen channels: above 1 boosted, below 1 damped.",
            )
        before_after("scse", wt.scse_out, "x·w + x·q")


def show_cost(walk: Walk | None, model_share: tuple[int, int] | None) -> None:
    st.markdown(
        "What the attention blocks cost on a feature map of C channels of H×W with reduction ratio r, "
        "against the conv block they sit in. Parameters:"
    )
    st.latex(
        r"\text{cSE: } 2\,C\,C' + C' + C, \qquad \text{sSE: } C + 1, \qquad \text{scSE: both}, \qquad "
        r"C' = \max(\lfloor C / r \rfloor, 1)"
    )
    for name, value in zip(COST_KEYS, (64, 40, 40, 16)):
        st.session_state.setdefault(name, value)
    shape = [
        column.number_input(label, min_value=1, max_value=100_000, step=1, key=name)
        for column, label, name in zip(st.columns(4), ("Channels C", "Height H", "Width W", "Reduction r"), COST_KEYS)
    ]
    if walk is not None:
        st.button(
            f"Use the block walked through above: C = {walk.shape[0]}, H×W = {walk.shape[1]}×{walk.shape[2]}, "
            f"r = {walk.shape[3]}",
            on_click=use_shape,
            args=(walk.shape,),
        )
    status, table = attempt(lambda: T.cost_table(*shape))
    if status == "error":
        st.error(table)
        return
    percent = (T.COST_PARAMS_VS_CONV, T.COST_PARAMS_VS_UNET, T.COST_MACS_VS_CONV, T.COST_MACS_VS_UNET)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            T.COST_MODULE: st.column_config.TextColumn(width=270),
            T.COST_PARAMS: COUNT,
            T.COST_MACS: COUNT,
            T.COST_NOT_COUNTED: st.column_config.TextColumn(width="medium"),
            **{name: PERCENT for name in percent},
        },
    )
    st.caption(T.COST_NOTES)
    if model_share is not None:
        inside, total = model_share
        st.markdown(
            f"In the whole model chosen above, the attention blocks hold **{inside:,} of {total:,} "
            f"parameters ({100 * inside / total:.2f} %)**; the papers report about 1.5 % for scSE in "
            "their U-Net-style networks."
        )


def show_joins(walk: Walk | None) -> None:
    if walk is None:
        st.info("Choose a block or a toy map above: the joins are computed on its x, w and q.")
        return
    wt = walk.wt
    if wt.kind != "scse":
        st.info("Joining needs both branches: choose the scSE model above, or the toy feature map.")
        return
    st.markdown(
        "**Our models add the two branches** (the seed, MICCAI 2018). The journal version (IEEE TMI 2019) "
        "compares other ways to join x·w and x·q, and the authors' public code takes the element-wise "
        "maximum. Here each join is applied to this block's own x, w and q. The **alternatives are not what "
        "our models compute**: a network trained with another join would also have other weights."
    )
    for row in (T.JOINS[:2], T.JOINS[2:]):
        for column, name in zip(st.columns(2), row):
            column.markdown(f"**{name}** — {'what our models compute' if name == T.OUR_JOIN else 'alternative'}")
            column.latex(T.JOIN_FORMULAS[name])
    st.caption(
        "The concatenation's 1×1 conv is an illustration, [I | I] plus small fixed noise, not a trained "
        "layer; with [I | I] alone it would equal the sum."
    )
    joins = memo(("teach-joins", *walk.key), lambda: T.join_alternatives(wt.x, wt.w, wt.q))
    channel = links.select(
        st.columns(4)[0],
        "Channel",
        list(range(wt.channels)),
        param="join-channel",
        key=f"teach-join-channel-{walk.channels_key}",
    )
    st.image(
        png((*walk.key, "joins", channel), lambda: join_comparison_figure(joins, channel, ours=T.OUR_JOIN)),
        caption=f"Channel {channel} after each way of joining the two gates, on one colour scale.",
    )
    st.dataframe(T.join_table(joins, channel), hide_index=True)


@st.cache_resource(show_spinner=False)
def per_class(path: str, variant: str) -> tuple[dict, tuple[str, ...]]:
    return T.class_excitation(path, variant)


@st.cache_data(show_spinner=False)
def per_class_png(path: str, variant: str) -> bytes:
    chosen, names = per_class(path, variant)
    return figure_bytes(class_excitation_figure(T.class_excitation_panels(chosen), names))


def show_per_class() -> None:
    shipped = [f for f in zoo.list_families() if f.excitation_file is not None]
    if not shipped:
        st.warning("No family ships per-class statistics with this installation.")
        return
    spec = (
        shipped[0]
        if len(shipped) == 1
        else st.selectbox("Family", shipped, format_func=lambda f: f.title, key="teach-class-family")
    )
    st.markdown(
        f"{spec.title}: the channel gate w averaged over each class's test images, at an early, a middle "
        "and the last block, as in SE-Net (Hu et al., Fig. 6). These statistics were measured once over "
        "the test set and ship with the models; they do not depend on the input or the mode above."
    )
    path = str(spec.excitation_file)
    variants = T.class_excitation_variants(path)
    variant = links.select(
        st,
        "Model",
        variants,
        format_func=spec.label,
        horizontal=True,
        kind="radio",
        key="teach-class-model",
        param="class-model",
    )
    chosen, _ = per_class(path, variant)
    st.markdown(f"**What to look for.** {T.PER_CLASS_EXPLANATION}")
    st.dataframe(T.depth_table(chosen), hide_index=True)
    st.image(
        per_class_png(path, variant),
        caption="Mean channel gate w per class (rows) and channel (columns), at three depths.",
    )


# ------------------------------------------------------------------------------------------------------ the page
family = choose_family()
image = choose_input(family)
st.title("Teach")
st.markdown("How cSE, sSE and scSE recalibrate a feature map, one step at a time, on numbers you can change.")
mode = links.select(
    st,
    "Walk through",
    [MODEL_MODE, TOY_MODE],
    horizontal=True,
    kind="radio",
    key="teach-mode",
    param="mode",
    names=["model", "toy"],
)
if mode == MODEL_MODE:
    walk = model_walk(family, image)
    variant = st.session_state["teach-variant"]
    share = memo(("teach-share", family.name, variant), lambda: T.attention_share(family_models(family)[variant]))
else:
    st.sidebar.caption("The family and input above are used in the model mode.")
    walk, share = toy_walk(), None

walk_tab, cost_tab, join_tab, class_tab = st.tabs(
    ["Walk-through", "Reduction ratio r: the cost", "Joining the branches", "Per-class excitation"]
)
with walk_tab:
    if walk is None:
        st.info("Nothing to walk through yet: see the message above.")
    else:
        show_walk(walk)
with cost_tab:
    show_cost(walk, share)
with join_tab:
    show_joins(walk)
with class_tab:
    show_per_class()

links.finish()
