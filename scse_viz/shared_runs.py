"""Runs a whole process shares: a sample or an identical upload is run once, whoever asks for it.

Why: when a class opens the same sample, every session used to run the same four models on the same pixels. A
shipped family's models are the same for every session (``ui.models``), and a :class:`~scse_viz.explore.FamilyRun`
depends only on the family and the input's content key (pixels, name and, for a degraded input, its noise setting:
``InputImage.key``), so one run can serve them all.

What keeps this safe:

- **Immutable records.** A shared run is frozen before anyone sees it: every numpy array inside it is made
  read-only (``writeable = False``) and its outputs mapping is a read-only view, so a session that tried to change a
  gate, a mask or the input pixels would get an error instead of changing what another session sees. The model
  input tensor (``prepared.tensor``) is torch's and cannot be frozen; nothing writes to it (capture and attribution
  read it or clone it).
- **Only shipped families.** A brought model lives in its own session (``ui.brought``) and is never run here, and
  knock-outs stay per session (``ui.runs.knockout_output``): the caller decides which runs may be shared.
- **Once, even at the same moment.** Sixteen sessions asking for the same key at once: the first computes, the
  others wait for its result (one lock per key), so the models run once.
- **A stated bound.** At most ``SCSE_SHARED_RUNS_MB`` (default 256 MB, sized with :func:`scse_viz.memory.nbytes`)
  is kept; the least recently used runs go first. A shared run is marked with :func:`scse_viz.memory.mark_shared`,
  so no session's budget counts it: the process counts it once, here.

No streamlit: the pages ask through ``ui.runs.family_run``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from scse_viz.explore import FamilyRun
from scse_viz.memory import mark_shared, nbytes

DEFAULT_BOUND_MB = 256.0


def bound_bytes() -> int:
    """The shared cache's bound in bytes (``SCSE_SHARED_RUNS_MB``; 0 turns sharing off)."""
    return int(float(os.environ.get("SCSE_SHARED_RUNS_MB", DEFAULT_BOUND_MB)) * 2**20)


def freeze(value: Any) -> Any:
    """Make every numpy array reachable from ``value`` read-only, in place, and return ``value``.

    Walks dataclasses, tuples, lists, dicts and our own plain objects (as :func:`scse_viz.memory.nbytes` does);
    arrays that are views get their base frozen too, so nobody can write through another view of the buffer."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (int, float, complex, bool, str, bytes)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            base = item
            while isinstance(base, np.ndarray):
                base.flags.writeable = False
                base = base.base
            continue
        if isinstance(item, (types.ModuleType, type)) or callable(item) and not dataclasses.is_dataclass(item):
            continue
        if isinstance(item, (dict, types.MappingProxyType)):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif dataclasses.is_dataclass(item):
            stack.extend(getattr(item, f.name, None) for f in dataclasses.fields(item))
        elif type(item).__module__.startswith("scse_viz.") and hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
    return value


def frozen_run(run: FamilyRun) -> FamilyRun:
    """``run`` made safe to share: read-only arrays everywhere in it, and a read-only mapping of its outputs."""
    freeze(run)
    object.__setattr__(run, "outputs", types.MappingProxyType(dict(run.outputs)))
    return run


class SharedRuns:
    """A process-wide, byte-bounded LRU of frozen runs, computed once per key even when asked for concurrently."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self._runs: OrderedDict[Hashable, tuple[FamilyRun, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self.computed = 0  # runs this cache has computed (for tests and benchmarks)
        self.served = 0  # times a run was handed out without computing it

    def get(self, key: Hashable, compute: Callable[[], FamilyRun]) -> FamilyRun:
        """The shared run for ``key``, computing it with ``compute()`` when no one has (or is doing so now)."""
        with self._lock:
            hit = self._hit(key)
            if hit is not None:
                return hit
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:  # whoever came first computes; the others wait here and then find its result
            with self._lock:
                hit = self._hit(key)
                if hit is not None:
                    return hit
            try:
                run = frozen_run(compute())
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            self._keep(key, run)
            return run

    def _hit(self, key: Hashable) -> FamilyRun | None:
        if key not in self._runs:
            return None
        self._runs.move_to_end(key)
        self.served += 1
        return self._runs[key][0]

    def _keep(self, key: Hashable, run: FamilyRun) -> None:
        size = nbytes(run)  # before marking it shared: marked values count nothing
        with self._lock:
            self.computed += 1
            if size > self.bound:
                return  # larger than the whole bound: not shared, the asking session keeps it in its own budget
            mark_shared(run)
            self._runs[key] = (run, size)
            while self.held_bytes() > self.bound:
                self._runs.popitem(last=False)

    def holds(self, key: Hashable) -> bool:
        """Whether ``key``'s run is kept here now (a run larger than the bound is computed but not kept)."""
        with self._lock:
            return key in self._runs

    def held_bytes(self) -> int:
        """Bytes the kept runs hold (what the bound limits)."""
        return sum(size for _, size in self._runs.values())

    def __len__(self) -> int:
        return len(self._runs)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self.computed = self.served = 0


RUNS = SharedRuns(bound_bytes())  # the process's one cache (Streamlit serves every session from one process)
