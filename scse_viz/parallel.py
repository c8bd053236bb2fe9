"""Independent work spread over the cores this process may use: numpy/scipy work (:func:`parallel_map`) and torch
forward passes (:func:`torch_map`).

Why threads: the restoration view's costly steps (scipy's Gaussian filtering for SSIM, the sSE maps' upsampling
and colouring) run in C code that releases the GIL, and they come after the forward passes, when torch's threads
are idle. Serial, they left one of the two cores here idle for most of the photo family's first result beyond its
forward passes (``python -m benchmarks.photo_latency``). Results come back in the order of the items, exactly as
a serial loop would compute them (each item is computed by the same code on its own).

Why torch work gets its own pool: a forward pass on torch's two threads here keeps both cores busy only in part
(the threads meet at every operator's end), so four models one after the other on two threads took more CPU than
the same four two at a time on one thread each: 0.16 against 0.13 s of CPU and 80 against 70 ms for the brain
family's four forwards on a 256×256 slice (measured on this 2-core machine). The pool is one per process with one
worker per usable core, so sessions running models at the same moment queue there instead of putting 2 threads
per session on the same two cores.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from functools import lru_cache
from typing import TypeVar

import torch

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


@lru_cache(maxsize=1)
def _openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP runtime torch's operators run on (GNU's libgomp in torch's Linux wheels, or LLVM's / Intel's), as
    already loaded into this process; None when torch was built without OpenMP or none is found."""
    if "OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if line.rstrip().endswith(".so") or ".so." in line}
    except OSError:
        return None
    for path in sorted(paths):
        name = os.path.basename(path)
        if name.startswith(("libgomp", "libiomp", "libomp")):
            try:
                return ctypes.CDLL(path)
            except OSError:
                continue
    return None


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_in_pool = threading.local()


def _one_torch_thread() -> None:
    """Pool worker start: torch's operators on this thread use one OpenMP thread, the process's other threads keep
    theirs. OpenMP's thread count is per thread; ``torch.get_num_threads()`` first makes torch set this thread's
    count from the process's (it does so once per thread), which the call after it then lowers for this thread."""
    _in_pool.active = True
    torch.get_num_threads()
    runtime = _openmp_runtime()
    if runtime is not None:
        runtime.omp_set_num_threads(1)


def _torch_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=usable_cores(), thread_name_prefix="scse-torch", initializer=_one_torch_thread
            )
        return _pool


def torch_map(
    work: Callable[[Item], Result], items: Iterable[Item], on_done: Callable[[int], None] | None = None
) -> list[Result]:
    """``[work(item) for item in items]`` for torch work (forward passes), one item per usable core at a time, each
    on one torch thread, in the process's one pool (shared by every caller, so concurrent callers queue).

    Serial on the caller's thread (with torch's own thread count) when there is one item or one usable core, when the
    OpenMP runtime cannot be reached, or when called from inside the pool itself. ``on_done(k)`` runs on the caller's
    thread after each item, with how many have finished (for a progress bar: Streamlit accepts calls only from the
    script's thread). Results come back in the items' order; an item's exception is raised here."""
    items = list(items)
    serial = len(items) <= 1 or usable_cores() <= 1 or _openmp_runtime() is None or getattr(_in_pool, "active", False)
    if serial:
        results = []
        for count, item in enumerate(items, start=1):
            results.append(work(item))
            if on_done is not None:
                on_done(count)
        return results
    futures: list[Future] = [_torch_pool().submit(work, item) for item in items]
    try:
        for count, future in enumerate(as_completed(futures), start=1):
            future.result()  # raises the item's exception now, before the rest are awaited
            if on_done is not None:
                on_done(count)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [future.result() for future in futures]
