"""What the Teach page shows, as sections: the block of a trained model that is walked through, its cSE, sSE and scSE
steps, the cost of the attention blocks, the ways of joining the two branches and the per-class excitation.

Every number comes from :mod:`scse_viz.teaching` (a block recomputed from its own weights and checked against
capture); this module only decides what is shown, in which order and with which words. Widgets stay on the page,
which passes what they chose (the channels picked, the join's channel). Figures are :class:`Plot` sections keyed by
the walk-through's key, so the page draws each once per setting.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from scse_viz import teaching, zoo
from scse_viz.excitation import ClassExcitation
from scse_viz.family import Family
from scse_viz.render import (
    channel_maps_figure,
    charts,
    class_excitation_figure,
    gain_figure,
    join_comparison_figure,
    raster,
    sse_map_figure,
    vector_figure,
)
from scse_viz.teaching import ModelWalkThrough, WalkThrough
from scse_viz.views.sections import (
    Caption,
    Charts,
    Column,
    Columns,
    Fold,
    Formula,
    Heading,
    Note,
    Notice,
    Plot,
    Section,
    Table,
    Text,
    Tiles,
)

PICK_A_CHANNEL = "Pick at least one channel above to see it before and after."
PERCENT = Column("number", "%.2f %%")
COUNT = Column("number", "localized")


def _plot_key(key: tuple[Hashable, ...], *parts: Hashable) -> tuple[Hashable, ...]:
    return ("teach", *key, *parts)


def _weights(steps: WalkThrough, name: str, expanded: bool) -> list[Section]:
    """One of the block's weight tables, folded (toy weights are short enough to show unfolded)."""
    tables = teaching.weight_tables(steps)
    if name not in tables:
        return []
    return [Fold(f"The block's weights: {name}", (Table(tuple(tables[name])),), expanded=expanded)]


def _before_after(
    steps: WalkThrough, key: tuple[Hashable, ...], picked: Sequence[int], name: str, after: Any, label: str
) -> list[Section]:
    """The picked channels of x and of the step's output, on one colour scale."""
    if not picked:
        return [Notice(PICK_A_CHANNEL)]
    return [
        Plot(
            _plot_key(key, name, *picked),
            lambda: channel_maps_figure(
                [("x (before)", steps.x), (f"{label} (after)", after)], picked, label="feature value"
            ),
            f"The chosen channels before the block (x) and after it ({label}), on one colour scale.",
        )
    ]


# ------------------------------------------------------------------------------------------------ the model's block
SEEN_WIDTH = 112  # on screen, pixels: the input beside the sentence on the block, small enough to leave it room


def model_shape(walked: ModelWalkThrough) -> tuple[int, int, int, int | None]:
    """C, H and W of the feature map entering the walked block and its cSE reduction ratio r (None: the block has no
    cSE bottleneck), for the cost section's "use this block" button."""
    steps = walked.walk
    height, width = steps.x.shape[1:]
    reduction = steps.channels // steps.hidden_channels if steps.hidden_channels else None
    return steps.channels, int(height), int(width), reduction


def model_intro(
    walked: ModelWalkThrough, pixels: np.ndarray, model_label: str, block: str, image_name: str
) -> list[Section]:
    """What the model sees beside one sentence on the block (its feature map's shape, stride and cSE bottleneck)
    and how far the recomputed gates are from what capture recorded in the same pass (``walked.differences``)."""
    steps = walked.walk
    channels, height, width, reduction = model_shape(walked)
    bottleneck = f"; its cSE bottleneck has C′ = {steps.hidden_channels} units (r = {reduction})" if reduction else ""
    gaps = ", ".join(f"{name}: {value:.1e}" for name, value in walked.differences.items())
    sentence = Text(
        f"**{model_label} model · {block}** on *{image_name}*. x is the feature map the network feeds this block: "
        f"**{channels} channels of {height}×{width}** (stride {walked.record.stride[0]:g}){bottleneck}."
    )
    checked = Note(
        f"Every number below is recomputed from this block's weights. Largest difference from the gates capture "
        f"recorded in the same forward pass — {gaps} (float32 rounding; at most {teaching.GATE_TOLERANCE:g} is "
        "accepted).",
        level="success",
    )
    seen = Tiles((("what the model sees", raster.to_rgb(pixels)),), width=SEEN_WIDTH)
    return [Columns((1, 3), ((seen,), (sentence, checked)))]


def toy_sections(steps: WalkThrough, key: tuple[Hashable, ...], differences: dict[str, float]) -> list[Section]:
    """The toy feature map x, and how far its recomputed gates are from what capture records."""
    gaps = ", ".join(f"{name}: {value:.1e}" for name, value in differences.items())
    return [
        Plot(
            _plot_key(key, "x"),
            lambda: channel_maps_figure(
                [("x", steps.x)],
                range(steps.channels),
                label="feature value",
                title="the toy feature map x, one colour scale",
            ),
            "The toy feature map x: one panel per channel, all on the colour scale at the right.",
        ),
        Caption(
            f"The toy block: an scSE block with weights in tenths (tables in each step), the same for the same C "
            f"and r. Its gates, recomputed step by step, differ from what capture records by {gaps}."
        ),
    ]


def walk_sections(
    steps: WalkThrough, key: tuple[Hashable, ...], picked: Sequence[int], weights_open: bool = False
) -> list[Section]:
    """cSE, sSE and scSE steps (those the block has), each with its formula, the weights it uses and its numbers;
    ``picked``: the channels shown before and after each scaling."""
    picked = sorted(picked)
    sections: list[Section] = []
    if steps.w is not None:
        sections += _channel_steps(steps, key, picked, weights_open)
    if steps.q is not None:
        sections += _spatial_steps(steps, key, picked, weights_open)
    if steps.kind == "scse":
        sections += [
            Heading("scSE: both recalibrations, summed", level=2),
            Formula(teaching.STEP_FORMULAS["scse"]),
            Formula(teaching.STEP_FORMULAS["gain"]),
        ]
        if picked:
            sections.append(
                Plot(
                    _plot_key(key, "gain", *picked),
                    lambda: gain_figure(steps.gain, picked),
                    "The scSE gain w_c + q_ij of the chosen channels: above 1 boosted, below 1 damped.",
                )
            )
        sections += _before_after(steps, key, picked, "scse", steps.scse_out, "x·w + x·q")
    return sections


def _hidden_caption(steps: WalkThrough) -> str:
    active = int((steps.hidden > 0).sum())
    if steps.activation != "ReLU":
        return (
            f"This block's activation is {steps.activation}, applied to each unit as the model does: "
            f"{active} of {steps.hidden_channels} units are positive on this input."
        )
    return f"The ReLU sets the negative (blue) units to 0: {active} of {steps.hidden_channels} pass on this input." + (
        ""
        if active
        else " With every unit at 0, w = σ(b2): on this input the gate does not depend on the squeezed values at all."
    )


def _channel_steps(
    steps: WalkThrough, key: tuple[Hashable, ...], picked: Sequence[int], weights_open: bool
) -> list[Section]:
    hidden_formula, excitation_formula = teaching.channel_formulas(steps)
    gate_chart = charts.channel_gate_chart(steps.w, "channel", title="channel gate w_c (0.5 dashed = σ(0))")
    return [
        Heading("cSE: squeeze the space, excite the channels", level=2),
        Heading("1 · Squeeze: one mean per channel"),
        Formula(teaching.STEP_FORMULAS["squeeze"]),
        Plot(
            _plot_key(key, "squeeze"),
            lambda: vector_figure(steps.squeeze, title="s_c = mean of channel c", xlabel="channel c", ylabel="s_c"),
            "Squeeze: each channel's mean over all pixels, one bar per channel.",
        ),
        Heading(
            f"2 · Excitation, first 1×1 conv and {steps.activation}: C = {steps.channels} → C′ = {steps.hidden_channels}"
        ),
        Formula(hidden_formula),
        *_weights(steps, "W1 (C → C') and b1", weights_open),
        Columns(
            (3, 2),
            (
                (
                    Plot(
                        _plot_key(key, "hidden"),
                        lambda: vector_figure(
                            steps.hidden_pre,
                            title=f"W1·s + b1, before the {steps.activation}",
                            xlabel="unit k",
                            ylabel="W1·s + b1",
                        ),
                        f"The bottleneck's units before the {steps.activation}.",
                    ),
                ),
                (Table(tuple(teaching.hidden_table(steps))), Caption(_hidden_caption(steps))),
            ),
        ),
        Heading(
            f"3 · Excitation, second 1×1 conv and {steps.gate}: C′ = {steps.hidden_channels} → C = {steps.channels}"
        ),
        Formula(excitation_formula),
        *_weights(steps, "W2 (C' → C) and b2", weights_open),
        Columns((3, 2), ((Charts((gate_chart,)),), (Table(tuple(teaching.excitation_table(steps))),))),
        Heading("4 · Scale: every pixel of channel c is multiplied by w_c"),
        Formula(teaching.STEP_FORMULAS["cse_scale"]),
        *_before_after(steps, key, picked, "cse-scale", steps.cse_out, "x · w"),
    ]


def _spatial_steps(
    steps: WalkThrough, key: tuple[Hashable, ...], picked: Sequence[int], weights_open: bool
) -> list[Section]:
    q = steps.q
    return [
        Heading("sSE: squeeze the channels, excite the pixels", level=2),
        Heading("1 · A 1×1 conv C → 1 and a sigmoid: one gate per pixel"),
        Formula(teaching.STEP_FORMULAS["sse"]),
        *_weights(steps, "sSE weights v and bias b", weights_open),
        Plot(
            _plot_key(key, "v"),
            lambda: vector_figure(
                steps.sse_weights, title=f"sSE weights v_c (b = {steps.sse_bias:.3f})", xlabel="channel c", ylabel="v_c"
            ),
            "The sSE 1×1 convolution's weight for each channel: how much it counts in q.",
        ),
        Columns(
            (3, 2),
            (
                (
                    Plot(
                        _plot_key(key, "q"),
                        lambda: sse_map_figure(q, title="sSE gate q_ij"),
                        "The sSE gate q on the feature map's grid, on the fixed 0–1 scale at its right.",
                    ),
                ),
                (
                    Text(
                        f"q lies between **{q.min():.3f}** and **{q.max():.3f}** on this {q.shape[0]}×"
                        f"{q.shape[1]} map. Bright pixels (q near 1) keep their features, dark ones (q near 0) are "
                        "damped; σ(0) = 0.5 is where the weighted sum Σ v_c x_c + b is 0. The same q multiplies "
                        "every channel at that pixel."
                    ),
                ),
            ),
        ),
        Heading("2 · Scale: every channel at pixel (i, j) is multiplied by q_ij"),
        Formula(teaching.STEP_FORMULAS["sse_scale"]),
        *_before_after(steps, key, picked, "sse-scale", steps.sse_out, "x · q"),
    ]


# ------------------------------------------------------------------------------------------------------ the cost
def cost_intro() -> list[Section]:
    return [
        Text(
            "What the attention blocks cost on a feature map of C channels of H×W with reduction ratio r, "
            "against the conv block they sit in. Parameters:"
        ),
        Formula(
            r"\text{cSE: } 2\,C\,C' + C' + C, \qquad \text{sSE: } C + 1, \qquad \text{scSE: both}, \qquad "
            r"C' = \max(\lfloor C / r \rfloor, 1)"
        ),
    ]


def cost_sections(rows: Sequence[dict[str, Any]], model_share: tuple[int, int] | None) -> list[Section]:
    """The cost table (``teaching.cost_table``), its notes, and the attention blocks' share of the chosen model."""
    percent = (
        teaching.COST_PARAMS_VS_CONV,
        teaching.COST_PARAMS_VS_UNET,
        teaching.COST_MACS_VS_CONV,
        teaching.COST_MACS_VS_UNET,
    )
    columns = (
        (teaching.COST_MODULE, Column("text", width=270)),
        (teaching.COST_PARAMS, COUNT),
        (teaching.COST_MACS, COUNT),
        (teaching.COST_NOT_COUNTED, Column("text", width="medium")),
        *((name, PERCENT) for name in percent),
    )
    sections: list[Section] = [Table(tuple(rows), columns), Caption(teaching.COST_NOTES)]
    if model_share is not None:
        inside, total = model_share
        sections.append(
            Text(
                f"In the whole model chosen above, the attention blocks hold **{inside:,} of {total:,} "
                f"parameters ({100 * inside / total:.2f} %)**; the papers report about 1.5 % for scSE in "
                "their U-Net-style networks."
            )
        )
    return sections


# ------------------------------------------------------------------------------------------------------ the joins
def has_joins(steps: WalkThrough) -> bool:
    """Joining needs both branches."""
    return steps.kind == "scse"


def join_intro(steps: WalkThrough) -> list[Section]:
    """What the joins are and their formulas (or why there is nothing to join)."""
    if not has_joins(steps):
        return [Notice("Joining needs both branches: choose the scSE model above, or the toy feature map.")]
    sections: list[Section] = [
        Text(
            "**Our models add the two branches** (the seed, MICCAI 2018). The journal version (IEEE TMI 2019) "
            "compares other ways to join x·w and x·q, and the authors' public code takes the element-wise "
            "maximum. Here each join is applied to this block's own x, w and q. The **alternatives are not what "
            "our models compute**: a network trained with another join would also have other weights."
        )
    ]
    for row in (teaching.JOINS[:2], teaching.JOINS[2:]):
        parts = tuple(
            (
                Text(f"**{name}** — {'what our models compute' if name == teaching.OUR_JOIN else 'alternative'}"),
                Formula(teaching.JOIN_FORMULAS[name]),
            )
            for name in row
        )
        sections.append(Columns((1, 1), parts))
    sections.append(
        Caption(
            "The concatenation's 1×1 conv is an illustration, [I | I] plus small fixed noise, not a trained "
            "layer; with [I | I] alone it would equal the sum."
        )
    )
    return sections


def join_sections(joins: dict[str, np.ndarray], channel: int, key: tuple[Hashable, ...]) -> list[Section]:
    """One channel after each join (``teaching.join_alternatives``), and the joins' numbers."""
    return [
        Plot(
            _plot_key(key, "joins", channel),
            lambda: join_comparison_figure(joins, channel, ours=teaching.OUR_JOIN),
            f"Channel {channel} after each way of joining the two gates, on one colour scale.",
        ),
        Table(tuple(teaching.join_table(joins, channel))),
    ]


# ------------------------------------------------------------------------------------------------------ per class
PER_CLASS_CAPTION = "Mean channel gate w per class (rows) and channel (columns), at three depths."
NO_CLASS_STATISTICS = "No family ships per-class statistics with this installation."
ClassStatistics = tuple[dict[str, ClassExcitation], tuple[str, ...]]  # (blocks by depth, class names)


def class_families() -> list[Family]:
    """The shipped families whose per-class statistics ship with their models (``Family.excitation_file``)."""
    return [family for family in zoo.list_families() if family.excitation_file is not None]


def class_intro(family: Family | None) -> list[Section]:
    """What the per-class section shows for ``family`` (None: no family ships the statistics)."""
    if family is None:
        return [Note(NO_CLASS_STATISTICS, level="warning")]
    return [
        Text(
            f"{family.title}: the channel gate w averaged over each class's test images, at an early, a middle "
            "and the last block, as in SE-Net (Hu et al., Fig. 6). These statistics were measured once over "
            "the test set and ship with the models; they do not depend on the input or the mode above."
        )
    ]


def class_variants(family: Family) -> list[str]:
    """The family's variants with per-class statistics (those with a channel gate)."""
    return teaching.class_excitation_variants(_statistics_file(family))


def class_statistics(family: Family, variant: str) -> ClassStatistics:
    """The early, middle and late blocks' per-class statistics of ``variant``, and the class names (read from the
    shipped file; the page keeps them for the process)."""
    return teaching.class_excitation(_statistics_file(family), variant)


def class_sections(statistics: ClassStatistics, key: tuple[Hashable, ...]) -> list[Section]:
    """How to read the per-class excitation, one row per depth (block, channels, spread across classes) and the
    class means at the three depths; ``key`` names the statistics (family, variant) so the figure is drawn once."""
    chosen, class_names = statistics
    return [
        Text(f"**What to look for.** {teaching.PER_CLASS_EXPLANATION}"),
        Table(tuple(teaching.depth_table(chosen))),
        Plot(
            _plot_key(key, "per-class"),
            lambda: class_excitation_figure(teaching.class_excitation_panels(chosen), class_names),
            PER_CLASS_CAPTION,
        ),
    ]


def _statistics_file(family: Family) -> str:
    if family.excitation_file is None:
        raise ValueError(f"the {family.title} family ships no per-class statistics")
    return str(family.excitation_file)
