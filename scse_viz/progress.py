"""How long work reports how far it got: one callback type for every slow call (runs, attributions, training)."""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]  # (fraction done in [0, 1], message for people)


def part_of(progress: ProgressCallback, index: int, count: int) -> ProgressCallback:
    """Progress of job ``index`` of ``count`` reported as a share of the whole."""
    return lambda fraction, message: progress((index + fraction) / count, message)
