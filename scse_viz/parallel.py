"""Independent numpy/scipy work spread over the cores this process may use.

Why threads: the restoration view's costly steps (scipy's Gaussian filtering for SSIM, the sSE maps' upsampling
and colouring) run in C code that releases the GIL, and they come after the forward passes, when torch's threads
are idle. Serial, they left one of the two cores here idle for most of the photo family's first result beyond its
forward passes (``python -m benchmarks.photo_latency``). Results come back in the order of the items, exactly as
a serial loop would compute them (each item is computed by the same code on its own).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, so a ``taskset``-pinned server counts only its own)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity
        return max(1, os.cpu_count() or 1)


def parallel_map(work: Callable[[Item], Result], items: Iterable[Item], workers: int | None = None) -> list[Result]:
    """``[work(item) for item in items]``, with up to ``workers`` (default: the usable cores) items at a time.

    Serial when there is one item or one worker, so nothing changes on a single core. An exception raised by any
    item is raised here, as the serial loop would raise it."""
    items = list(items)
    workers = min(len(items), usable_cores() if workers is None else max(1, workers))
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scse-parallel") as pool:
        return list(pool.map(work, items))
