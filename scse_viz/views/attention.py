"""What the Explore page's Attention, Knock-out, Compare and Export tabs show, as sections and figures.

The tab and the export make the same decisions here, once: which gates a block has, whether its branches join into
one gain (:func:`scse_viz.explore.join_has_gain`), and which maps on the displayed picture (``explore.spatial_map``,
``explore.displayed_gain``) are drawn; the pictures on screen and the downloadable figures are drawn from the same
arrays. Widgets stay on the page: it passes what they chose in an :class:`AttentionChoice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scse_viz import explore
from scse_viz.capture import BlockRecord, Knockout
from scse_viz.explore import FamilyRun, ModelOutput
from scse_viz.render import (
    channel_gate_comparison_figure,
    channel_gate_figure,
    charts,
    effective_gain_figure,
    raster,
    spatial_grid_figure,
    spatial_overlay_figure,
)
from scse_viz.render.spatial import GAIN_CMAP
from scse_viz.views.base import view_for
from scse_viz.views.sections import Caption, Charts, FigureMaker, Heading, Pictures, Scale, Section, Text, Tiles

MEAN_OVER_CHANNELS = "mean over channels"  # the gain picker's first choice
ALL_BLOCKS = "all blocks"  # the knock-out's scope over every block
BRANCH_NAMES = {"cse": "cSE", "sse": "sSE"}
GAIN_INTRO = (
    "**Effective gain of the scSE sum**: x·w + x·q = (w_c + q_ij)·x; "
    "shown as w_c + q_ij − 1 (red boosted, blue damped, white unchanged)."
)
GAIN_SCALE = Scale(
    GAIN_CMAP, -1.0, 1.0, "w_c + q_ij − 1: below 0 damped (blue), 0 unchanged (white), above 0 boosted (red)"
)


@dataclass(frozen=True)
class AttentionChoice:
    """What the Attention tab's widgets chose (the export draws and records the same)."""

    variant: str
    block: str
    order: str  # bar order of the channel gate: "sorted" or "channel"
    top_k: int  # 0: every channel
    cmap: str
    alpha: float
    channel: int | str = MEAN_OVER_CHANNELS  # the gain's channel, or MEAN_OVER_CHANNELS


def _spatial(output: ModelOutput) -> list[BlockRecord]:
    return [r for r in output.shown() if r.spatial_gate is not None]


def _gain_channel(channel: int | str) -> int | None:
    return None if channel == MEAN_OVER_CHANNELS else int(channel)


# ------------------------------------------------------------------------------------------------------ choices
def attention_variants(run: FamilyRun) -> list[str]:
    """The variants with gates to show (the baseline has none)."""
    return [v for v in run.outputs if run.outputs[v].shown()]


def channel_gate_variants(run: FamilyRun) -> list[str]:
    """The variants with at least one channel gate (what two images' gates can be compared on)."""
    return [v for v in attention_variants(run) if channel_gate_blocks(run.outputs[v])]


def channel_gate_blocks(output: ModelOutput) -> list[str]:
    return [r.label for r in output.shown() if r.channel_gate is not None]


def gain_channels(record: BlockRecord) -> list[int | str]:
    """The gain picker's choices: the mean, then every channel (none when the block has no single gain)."""
    return [MEAN_OVER_CHANNELS, *range(record.channels)] if explore.join_has_gain(record) else []


def knockout_branches(output: ModelOutput) -> list[str]:
    """The branches ("cse", "sse") some block of this model has, so there is a gate to switch off."""
    has = {"cse": any(r.channel_gate is not None for r in output.shown()), "sse": bool(_spatial(output))}
    return [branch for branch, present in has.items() if present]


def knockout_scopes(output: ModelOutput) -> list[str]:
    """Where a knock-out can apply: every block, or one block's call (labels as the records name them)."""
    return [ALL_BLOCKS, *[r.label for r in output.shown()]]


def knockout_of(output: ModelOutput, branch: str, value: float, scope: str) -> Knockout:
    """The knock-out the tab asks for; a scope names a record, whose module the knock-out replaces in every call."""
    blocks = None if scope == ALL_BLOCKS else (output.record(scope).name,)
    return Knockout(branch, value, blocks)  # type: ignore[arg-type]


def knockout_setting(branch: str, value: float, scope: str) -> str:
    """The knock-out in words, for captions."""
    return f"{branch.upper()} gate = {value:g} in {scope}"


# ------------------------------------------------------------------------------------------------------ the tab
def block_sections(run: FamilyRun, choice: AttentionChoice) -> list[Section]:
    """One block: what it is, its channel gate as bars, its sSE map over the picture, and (for a block whose
    branches sum) the introduction of its gain, whose channel the page asks for next."""
    output = run.outputs[choice.variant]
    record = output.record(choice.block)
    sections: list[Section] = [
        Text(
            f"**{output.label} · {choice.block}** — {record.channels} channels, feature map "
            f"{record.feature_size[0]}×{record.feature_size[1]} (stride {record.stride[0]:g}), "
            f"branches joined by {record.join}"
        )
    ]
    if record.channel_gate is not None:
        gate = record.channel_gate[0]
        chart = charts.channel_gate_chart(gate, choice.order, choice.top_k or None, title="cSE channel gate w")
        sections.append(Charts((chart,)))
    if record.spatial_gate is not None:
        q = explore.spatial_map(run, record)
        sections += [
            Pictures(
                (
                    (
                        f"sSE gate q over the image (0 → 1 on {choice.cmap}); min {q.min():.3f}, max {q.max():.3f}",
                        raster.overlay(explore.display_image(run), q, choice.cmap, choice.alpha),
                    ),
                )
            ),
            Scale(choice.cmap, 0.0, 1.0, "sSE gate q: 0 shuts a pixel's features, 1 lets them through"),
        ]
    if explore.join_has_gain(record):
        sections.append(Text(GAIN_INTRO))
    return sections


def gain_sections(run: FamilyRun, choice: AttentionChoice) -> list[Section]:
    """The block's gain w_c + q_ij − 1 over the picture for the chosen channel (or the mean w), and its scale."""
    record = run.outputs[choice.variant].record(choice.block)
    gain = explore.displayed_gain(run, record, _gain_channel(choice.channel))
    which = "the mean w" if choice.channel == MEAN_OVER_CHANNELS else choice.channel
    picture = raster.overlay(explore.display_image(run), gain, GAIN_CMAP, choice.alpha, -1.0, 1.0)
    return [Pictures(((f"w_c + q_ij − 1 for {which} on [−1, 1]", picture),)), GAIN_SCALE]


def every_map_sections(run: FamilyRun, choice: AttentionChoice) -> list[Section]:
    """Every block's sSE map of the chosen model as tiles (none when the model has no spatial gate)."""
    output = run.outputs[choice.variant]
    records = _spatial(output)
    if not records:
        return []
    display = explore.display_image(run)
    tiles = tuple(
        (_map_title(r), raster.overlay(display, explore.spatial_map(run, r), choice.cmap, choice.alpha))
        for r in records
    )
    return [
        Heading(f"Every block's sSE map — {output.label}"),
        Tiles(tiles, width=180),
        Scale(choice.cmap, 0.0, 1.0, "sSE gate q of each block, upsampled onto the picture: 0 shuts, 1 opens"),
    ]


def _map_title(record: BlockRecord) -> str:
    return f"{record.label} (stride {record.stride[0]:g})"


# ------------------------------------------------------------------------------------------------------ compare
@dataclass(frozen=True)
class GateComparison:
    """One block's channel gate on the run's input (A) and on a second image (B), same model."""

    first: BlockRecord
    second: BlockRecord
    pair: tuple[str, str]  # "A: <name>", "B: <name>"


def compare_gates(run: FamilyRun, variant: str, block: str, second: ModelOutput, second_name: str) -> GateComparison:
    pair = ("A: " + run.image.name, "B: " + second_name)
    return GateComparison(run.outputs[variant].record(block), second.record(block), pair)


def comparison_sections(comparison: GateComparison) -> list[Section]:
    """Both gates as bars, their difference w(B) − w(A), and how far the gate moved."""
    first, second, pair = comparison.first, comparison.second, comparison.pair
    change = explore.gate_change(first, second)
    return [
        Charts((charts.gate_comparison_chart(first.channel_gate[0], second.channel_gate[0], pair),)),
        Charts((charts.gate_difference_chart(explore.gate_difference(first, second), pair),)),
        Caption(
            f"mean |w(B) − w(A)| = {change['mean']:.4f}, largest {change['largest']:.4f} (channel {change['channel']})"
        ),
    ]


# ------------------------------------------------------------------------------------------------------ export
def export_settings(choice: AttentionChoice, knockout: dict[str, Any]) -> dict[str, Any]:
    """The tab's settings as the exported files record them."""
    return {
        "attention_model": choice.variant,
        "block": choice.block,
        "order": choice.order,
        "top_k": choice.top_k,
        "colormap": choice.cmap,
        "opacity": choice.alpha,
        "knockout": knockout,
    }


def export_figures(
    run: FamilyRun, choice: AttentionChoice, comparison: GateComparison | None = None
) -> list[FigureMaker]:
    """The figures the Export tab offers: the task's output figures, then what the Attention tab shows for the
    chosen block and model (same maps, colours and channel), then the two images' gates where they were compared."""
    output = run.outputs[choice.variant]
    record = output.record(choice.block)
    label, block, display = output.label, choice.block, explore.display_image(run)
    makers: list[FigureMaker] = list(view_for(run.family.task).figures(run, choice.variant))
    if record.channel_gate is not None:
        gate = record.channel_gate[0]
        makers.append(
            (
                f"cSE gate — {label} {block}",
                lambda: channel_gate_figure(
                    gate, order=choice.order, top_k=choice.top_k or None, title=f"{label} · {block}"
                ),
            )
        )
    if record.spatial_gate is not None:
        makers.append(
            (
                f"sSE map — {label} {block}",
                lambda: spatial_overlay_figure(
                    display,
                    explore.spatial_map(run, record),
                    cmap=choice.cmap,
                    alpha=choice.alpha,
                    title=f"{label} · {block}",
                ),
            )
        )
    records = _spatial(output)
    if records:
        makers.append(
            (
                f"every sSE map — {label}",
                lambda: spatial_grid_figure(
                    display,
                    [(_map_title(r), explore.spatial_map(run, r), None) for r in records],
                    cmap=choice.cmap,
                    alpha=choice.alpha,
                ),
            )
        )
    if explore.join_has_gain(record):
        channel = _gain_channel(choice.channel)
        which = f"mean over {record.channels} channels" if channel is None else f"channel {channel}"
        makers.append(
            (
                f"effective gain — {label} {block}",
                lambda: effective_gain_figure(
                    display, explore.displayed_gain(run, record, channel), which, alpha=choice.alpha
                ),
            )
        )
    if comparison is not None:
        first, second = comparison.first.channel_gate[0], comparison.second.channel_gate[0]
        makers.append(
            ("two images' channel gates", lambda: channel_gate_comparison_figure(first, second, comparison.pair))
        )
    return makers
