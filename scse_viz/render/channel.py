"""Bar charts of one image's cSE channel gate w (and of two images' gates side by side).

The y axis is fixed to the gate's range [0, 1] and a dashed line marks 0.5 = σ(0), where an untrained gate sits, so
boosts and suppressions read off the picture without any rescaling.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from scse_viz.render.export import new_figure

Order = Literal["sorted", "channel"]

REFERENCE = 0.5  # σ(0): what an untrained gate gives
GATE_LABEL = "gate w_c (0–1)"
REFERENCE_LABEL = "0.5 = σ(0), untrained gate"
BAR_COLOR = "#9aa5b1"
BOOST_COLOR = "#d62728"
SUPPRESS_COLOR = "#1f77b4"
REFERENCE_COLOR = "0.25"
COMPARE_COLORS = ("#4c72b0", "#dd8452")
MAX_TICK_LABELS = 64  # beyond this, every k-th channel is labelled (the table has all of them)


def _check_gate(gate: np.ndarray) -> np.ndarray:
    g = np.asarray(gate, dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)):
        raise ValueError(f"a channel gate must be a non-empty finite 1-D vector, got shape {g.shape}")
    return g


def _shown_channels(g: np.ndarray, order: Order, top_k: int | None, reference: float) -> np.ndarray:
    """Channel indices in bar order: top_k keeps the largest |w - reference| (ties: lower index first)."""
    if order not in ("sorted", "channel"):
        raise ValueError(f"order must be 'sorted' or 'channel', got {order!r}")
    idx = np.arange(g.size)
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        idx = np.sort(np.argsort(-np.abs(g - reference), kind="stable")[:top_k])
    if order == "sorted":
        idx = idx[np.argsort(-g[idx], kind="stable")]
    return idx


def _roles(g: np.ndarray, highlight: int) -> dict[int, str]:
    """The ``highlight`` highest-w channels are boosts, the lowest (not already boosts) suppressions."""
    if highlight <= 0:
        return {}
    boosts = np.argsort(-g, kind="stable")[:highlight]
    lows = [c for c in np.argsort(g, kind="stable")[:highlight] if c not in set(boosts)]
    return {**{int(c): "boost" for c in boosts}, **{int(c): "suppression" for c in lows}}


def channel_gate_table(
    gate: np.ndarray,
    order: Order = "sorted",
    top_k: int | None = None,
    highlight: int = 3,
    reference: float = REFERENCE,
) -> list[dict]:
    """Rows {rank, channel, value, role} in exactly the order of the bars of :func:`channel_gate_figure`.

    ``role`` is "boost" (among the ``highlight`` highest w), "suppression" (lowest w) or "".
    """
    g = _check_gate(gate)
    roles = _roles(g, highlight)
    return [
        {"rank": r + 1, "channel": int(c), "value": float(g[c]), "role": roles.get(int(c), "")}
        for r, c in enumerate(_shown_channels(g, order, top_k, reference))
    ]


def _channel_ticks(ax: Axes, channels: np.ndarray) -> None:
    step = max(1, math.ceil(len(channels) / MAX_TICK_LABELS))
    pos = np.arange(0, len(channels), step)
    ax.set_xticks(pos, [str(int(c)) for c in channels[pos]], rotation=90 if len(pos) > 16 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(channels) - 0.4)


def _reference_line(ax: Axes, reference: float = REFERENCE) -> None:
    label = REFERENCE_LABEL if reference == REFERENCE else f"reference {reference:g}"
    ax.axhline(reference, color=REFERENCE_COLOR, linestyle="--", linewidth=1.0, label=label)


def channel_gate_figure(
    gate: np.ndarray,
    *,
    order: Order = "sorted",
    top_k: int | None = None,
    title: str = "",
    reference: float = REFERENCE,
    highlight: int = 3,
) -> Figure:
    """One bar per channel of one image's gate w, on a fixed [0, 1] axis with the 0.5 reference dashed.

    ``order="sorted"`` sorts by w descending (tick labels keep the original channel index); ``top_k`` keeps the k
    channels farthest from ``reference`` (0.5) and says so in the title. The ``highlight`` highest and lowest w are
    coloured. The rows behind the bars are :func:`channel_gate_table` with the same arguments.
    """
    g = _check_gate(gate)
    rows = channel_gate_table(g, order, top_k, highlight, reference)
    channels = np.array([r["channel"] for r in rows])
    colors = [{"boost": BOOST_COLOR, "suppression": SUPPRESS_COLOR}.get(r["role"], BAR_COLOR) for r in rows]
    fig = new_figure((max(6.0, min(16.0, 2.0 + 0.18 * len(rows))), 4.0))
    ax = fig.add_subplot()
    ax.bar(np.arange(len(rows)), [r["value"] for r in rows], color=colors, width=0.8)
    _reference_line(ax, reference)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel(GATE_LABEL)
    _channel_ticks(ax, channels)
    ax.set_xlabel("channel (sorted by w, descending)" if order == "sorted" else "channel")
    handles = [ax.lines[0]]
    if highlight > 0:
        handles += [
            Patch(color=BOOST_COLOR, label="highest w (strongest boost)"),
            Patch(color=SUPPRESS_COLOR, label="lowest w (strongest suppression)"),
        ]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    lines = [title] if title else []
    if top_k is not None and top_k < g.size:
        lines.append(f"top {top_k} of {g.size} channels by |w − {reference:g}|")
    ax.set_title("\n".join(lines) or f"cSE channel gate w ({g.size} channels)")
    return fig


def channel_gate_comparison_figure(
    gate_a: np.ndarray, gate_b: np.ndarray, labels: tuple[str, str] = ("A", "B")
) -> Figure:
    """Two images' gates of one block as grouped bars, and their difference b − a: cSE is input-dependent."""
    a, b = _check_gate(gate_a), _check_gate(gate_b)
    if a.shape != b.shape:
        raise ValueError(f"both gates must have the same channels, got {a.size} and {b.size}")
    x, channels = np.arange(a.size), np.arange(a.size)
    fig = new_figure((max(6.0, min(16.0, 2.0 + 0.25 * a.size)), 6.0))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    top.bar(x - 0.2, a, width=0.4, color=COMPARE_COLORS[0], label=labels[0])
    top.bar(x + 0.2, b, width=0.4, color=COMPARE_COLORS[1], label=labels[1])
    _reference_line(top)
    top.set_ylim(0.0, 1.0)
    top.set_ylabel(GATE_LABEL)
    top.legend(loc="upper right", fontsize=8)
    top.set_title(f"cSE gate w for {labels[0]} and {labels[1]}")
    d = b - a
    bottom.bar(x, d, width=0.8, color=np.where(d >= 0, BOOST_COLOR, SUPPRESS_COLOR))
    bottom.axhline(0.0, color=REFERENCE_COLOR, linewidth=1.0)
    lim = max(0.05, float(np.abs(d).max()) * 1.1)
    bottom.set_ylim(-lim, lim)
    bottom.set_ylabel(f"w({labels[1]}) − w({labels[0]})")
    bottom.set_xlabel("channel")
    _channel_ticks(bottom, channels)
    return fig
