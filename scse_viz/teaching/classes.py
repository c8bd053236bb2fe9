"""Per-class excitation for the teaching page (SE-Net, Hu et al., Fig. 6): the mean cSE gate per class, by depth.

The statistics are measured once over a family's test set by :mod:`scse_viz.excitation` and shipped as
``assets/models/<family>/excitation.npz`` (``Family.excitation_file``: the classifier family has them); this module
only picks blocks and summarises them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scse_viz.excitation import ClassExcitation, load_statistics

DEPTHS = ("early", "middle", "late")

PER_CLASS_EXPLANATION = (
    "Each line is one class: the channel gate w_c averaged over that class's test images, at one block. Where the "
    "lines lie on top of each other, the block excites the same channels whatever the picture shows: it computes "
    "general features. Where they separate, the gate depends on the class: the block has become class-specific. "
    "SE-Net (Hu et al., Fig. 6) found early blocks shared across classes and late blocks class-specific; compare "
    "the spread printed above each panel (the standard deviation across classes, averaged over channels). A gate "
    "near 0.5 in every class means the block hardly recalibrates that channel."
)


def depth_blocks(stats: Sequence[ClassExcitation]) -> dict[str, ClassExcitation]:
    """The first, middle and last block of ``stats`` (network order) as {"early": …, "middle": …, "late": …}.

    With fewer than three blocks a block is listed once, under its first depth (two blocks: "early" and "late").
    """
    n = len(stats)
    if n == 0:
        raise ValueError("no blocks with a channel gate in these statistics")
    chosen: dict[str, ClassExcitation] = {}
    used: set[int] = set()
    for depth, index in zip(DEPTHS, (0, (n - 1) // 2, n - 1)):
        if index not in used:
            chosen[depth] = stats[index]
            used.add(index)
    return chosen


def class_spread(stat: ClassExcitation) -> np.ndarray:
    """Per channel, the standard deviation across classes of the class-mean gate (0: every class alike)."""
    present = stat.count > 0
    return stat.mean[present].astype(np.float64).std(axis=0)


def class_specificity(stat: ClassExcitation) -> float:
    """:func:`class_spread` averaged over channels: one number per block, larger = more class-specific."""
    return float(class_spread(stat).mean())


def class_excitation(path: str | Path, variant: str = "scse") -> tuple[dict[str, ClassExcitation], tuple[str, ...]]:
    """The per-class statistics in ``path`` of ``variant`` ("cse" or "scse") at early/middle/late blocks, and the
    class names.

    Raises ValueError for a variant the file does not hold (sSE and the baseline have no channel gate).
    """
    by_variant, class_names = load_statistics(path)
    if variant not in by_variant:
        raise ValueError(f"no per-class statistics for variant {variant!r}; available: {sorted(by_variant)}")
    return depth_blocks(by_variant[variant]), class_names


def class_excitation_variants(path: str | Path) -> list[str]:
    """The variants whose per-class statistics ``path`` holds (those with a channel gate)."""
    return sorted(load_statistics(path)[0])


def class_excitation_panels(chosen: dict[str, ClassExcitation]) -> list[tuple[str, np.ndarray]]:
    """(title, K×C class means) per depth, for :func:`scse_viz.render.class_excitation_figure`."""
    return [
        (
            (
                f"{depth}: {stat.block} ({stat.mean.shape[1]} channels), spread across classes "
                f"{class_specificity(stat):.4f}"
            ),
            stat.mean,
        )
        for depth, stat in chosen.items()
    ]


COL_DEPTH, COL_BLOCK, COL_CHANNELS, COL_SPREAD = "depth", "block", "channels", "spread across classes"


def depth_table(chosen: dict[str, ClassExcitation]) -> list[dict]:
    """One row per depth of :func:`class_excitation`: block, channel count and :func:`class_specificity`."""
    return [
        {
            COL_DEPTH: depth,
            COL_BLOCK: stat.block,
            COL_CHANNELS: int(stat.mean.shape[1]),
            COL_SPREAD: class_specificity(stat),
        }
        for depth, stat in chosen.items()
    ]
