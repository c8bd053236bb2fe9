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
per session on the same two cores. Every forward pass of a shipped model goes there (``explore.run_model``), so all
of them, the intact runs, knock-outs, second images and volumes, are computed with the same thread count.
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


def _loaded_libraries() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            return sorted({line.split()[-1] for line in maps if ".so" in line and "/" in line})
    except OSError:
        return []


@lru_cache(maxsize=1)
def _openmp_runtime() -> ctypes.CDLL | None:
    """The OpenMP runtime torch's operators run on, as already loaded into this process: the one inside torch's own
    folder first (torch's Linux wheels bring their libgomp; scikit-learn's wheel brings another, which must not be
    the one lowered), else another GNU, LLVM or Intel runtime; None when torch's parallel backend is not OpenMP or
    no runtime with ``omp_set_num_threads`` is loaded."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    torch_folder = os.path.dirname(os.path.realpath(torch.__file__))
    runtimes = [
        path
        for path in _loaded_libraries()
        if os.path.basename(path).startswith(("libgomp", "libiomp5", "libomp."))  # not libomptarget
    ]
    runtimes.sort(key=lambda path: not os.path.realpath(path).startswith(torch_folder + os.sep))
    for path in runtimes:
        try:
            runtime = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(runtime, "omp_set_num_threads"):
            return runtime
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


def _forget_pool_in_child() -> None:  # a forked child has none of the parent's threads
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool_in_child)


def _torch_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=usable_cores(), thread_name_prefix="scse-torch", initializer=_one_torch_thread
            )
        return _pool


@lru_cache(maxsize=1)
def torch_workers() -> bool:
    """Whether torch work goes to the pool of one-thread workers: more than one usable core, an OpenMP runtime
    found, and a worker really seeing one torch thread (checked once per process). False: it runs on the caller."""
    if usable_cores() <= 1 or _openmp_runtime() is None:
        return False
    return _torch_pool().submit(torch.get_num_threads).result() == 1


def torch_map(
    work: Callable[[Item], Result], items: Iterable[Item], on_done: Callable[[int], None] | None = None
) -> list[Result]:
    """``[work(item) for item in items]`` for torch work (forward passes), one item per usable core at a time, each
    on one torch thread, in the process's one pool (shared by every caller, so concurrent callers queue).

    One item goes to the pool too, so that every forward pass of a shipped model runs with the same thread count
    (oneDNN's sums differ by about 1e-6 between counts: a knock-out compared with the intact run must not show that
    difference as an effect). On the caller's thread instead (with torch's own thread count) when
    :func:`torch_workers` is False, or when called from inside the pool itself (no deadlock: the item runs on the
    worker that asked). ``on_done(k)`` runs on the caller's thread after each item, with how many have finished (for
    a progress bar: Streamlit accepts calls only from the script's thread). Results come back in the items' order;
    if items fail, the first to fail raises here and the others' errors are dropped."""
    items = list(items)
    if getattr(_in_pool, "active", False) or not items or not torch_workers():
        return serial_map(work, items, on_done)
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


def serial_map(
    work: Callable[[Item], Result], items: Iterable[Item], on_done: Callable[[int], None] | None = None
) -> list[Result]:
    """``[work(item) for item in items]`` on the caller's thread, calling ``on_done(k)`` after the k-th item (what
    :func:`torch_map` does where it has no pool, for work that must stay on the caller's thread)."""
    results = []
    for count, item in enumerate(items, start=1):
        results.append(work(item))
        if on_done is not None:
            on_done(count)
    return results


def torch_call(work: Callable[[], Result]) -> Result:
    """``work()`` where :func:`torch_map` runs torch work: on one of the pool's one-thread workers when there is a
    pool, else on the caller's thread."""
    return torch_map(lambda _: work(), [None])[0]
