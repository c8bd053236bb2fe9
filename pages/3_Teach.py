"""Teach: cSE, sSE and scSE one step at a time, on a block of a trained model or on a toy feature map one edits.

Every number comes from :mod:`scse_viz.teaching` (recomputed from the block's own weights and checked against
capture) and every section from :mod:`scse_viz.views.teaching`; this page holds the widgets and lays them out. A trained block is walked through once per (input, family, variant, block)
and every figure is drawn once per setting, so moving a widget redraws without running a model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import streamlit as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import teaching, zoo
from scse_viz.errors import ScseVizError
from scse_viz.ui import links
from scse_viz.ui.inputs import choose_family, choose_input
from scse_viz.ui.models import family_models
from scse_viz.ui.navigation import page_links
from scse_viz.ui.sections import show_sections
from scse_viz.ui.state import memo
from scse_viz.views import teaching as teaching_view

st.set_page_config(page_title="Teach · scSE Lens", layout="wide")
page_links()
MODEL_MODE, TOY_MODE = "A block of a trained model", "Toy feature map"
TOY_SIZES = (4, 6, 8, 10, 12, 16)
TOY_REDUCTIONS = (1, 2, 4, 8)
COST_KEYS = ("cost-c", "cost-h", "cost-w", "cost-r")


class Walk(NamedTuple):
    """A walk-through and what the rest of the page needs to know about it."""

    steps: teaching.WalkThrough  # every intermediate value of the block, recomputed from its weights
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
    blocks = {b.name: b for b in memo(("teach-blocks", family.name, variant), lambda: teaching.teaching_blocks(model))}
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
        ("teach-walk", *key), lambda: attempt(lambda: teaching.walk_through_model(model, prepared.tensor, block))
    )
    if status == "error":
        st.error(walked)
        return None
    show_sections(teaching_view.model_intro(walked, prepared.pixels, family.label(variant), block, image.name), right)
    channels, height, width, reduction = teaching_view.model_shape(walked)
    shape = (channels, height, width, reduction or st.session_state.get("cost-r", 16))
    return Walk(walked.walk, key, "-".join(map(str, key)), shape, False)


def toy_walk() -> Walk | None:
    """Toy controls (preset, size, brightness, r), then the toy block walked through on that map."""
    preset_col, channels_col, size_col, r_col, seed_col = st.columns([3, 2, 2, 2, 2])
    preset = links.select(preset_col, "Preset", list(teaching.PRESETS), key="toy-preset", param="preset")
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
    preset_col.caption(teaching.PRESETS[preset])
    st.markdown("**Brightness per channel**: channel c of the map is multiplied by its factor.")
    brightness = tuple(
        float(links.slider(column, f"channel {c}", 0.0, 3.0, 1.0, 0.1, key=f"toy-bright-{c}", param=f"b{c}"))
        for c, column in enumerate(st.columns(channels))
    )

    def compute() -> tuple[teaching.WalkThrough, dict[str, float]]:
        x = teaching.toy_feature_map(preset, channels, size, seed, brightness)
        block = teaching.toy_block(channels, reduction)
        steps = teaching.walk_through(block, x)
        return steps, teaching.capture_difference(block, steps)

    key = ("toy", preset, channels, size, seed, brightness, reduction)
    status, result = memo(("teach-walk", *key), lambda: attempt(compute))
    if status == "error":
        st.error(result)
        return None
    steps, differences = result
    show_sections(teaching_view.toy_sections(steps, key, differences))
    return Walk(steps, key, f"toy-{channels}", (channels, size, size, reduction), True)


# ------------------------------------------------------------------------------------------------------ sections
def show_walk(walk: Walk) -> None:
    """cSE, sSE and scSE steps, each with its formula, the weights it uses and its numbers."""
    picked = links.multiselect(
        st,
        "Channels shown before and after (default: the two highest and two lowest w)",
        list(range(walk.steps.channels)),
        teaching.pick_channels(walk.steps),
        key=f"teach-channels-{walk.channels_key}",
        param="channels",
    )
    show_sections(teaching_view.walk_sections(walk.steps, walk.key, picked, walk.weights_open))


def show_cost(walk: Walk | None, model_share: tuple[int, int] | None) -> None:
    show_sections(teaching_view.cost_intro())
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
    status, table = attempt(lambda: teaching.cost_table(*shape))
    if status == "error":
        st.error(table)
        return
    show_sections(teaching_view.cost_sections(table, model_share))


def show_joins(walk: Walk | None) -> None:
    if walk is None:
        st.info("Choose a block or a toy map above: the joins are computed on its x, w and q.")
        return
    steps = walk.steps
    show_sections(teaching_view.join_intro(steps))
    if not teaching_view.has_joins(steps):
        return
    joins = memo(("teach-joins", *walk.key), lambda: teaching.join_alternatives(steps.x, steps.w, steps.q))
    channel = links.select(
        st.columns(4)[0],
        "Channel",
        list(range(steps.channels)),
        param="join-channel",
        key=f"teach-join-channel-{walk.channels_key}",
    )
    show_sections(teaching_view.join_sections(joins, channel, walk.key))


@st.cache_resource(show_spinner=False)
def per_class(family_name: str, variant: str) -> teaching_view.ClassStatistics:
    return teaching_view.class_statistics(zoo.family(family_name), variant)


def show_per_class() -> None:
    shipped = teaching_view.class_families()
    if len(shipped) > 1:
        chosen = st.selectbox("Family", shipped, format_func=lambda f: f.title, key="teach-class-family")
    else:
        chosen = shipped[0] if shipped else None
    show_sections(teaching_view.class_intro(chosen))
    if chosen is None:
        return
    variant = links.select(
        st,
        "Model",
        teaching_view.class_variants(chosen),
        format_func=chosen.label,
        horizontal=True,
        kind="radio",
        key="teach-class-model",
        param="class-model",
    )
    show_sections(teaching_view.class_sections(per_class(chosen.name, variant), (chosen.name, variant)))


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
    share = memo(
        ("teach-share", family.name, variant), lambda: teaching.attention_share(family_models(family)[variant])
    )
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
