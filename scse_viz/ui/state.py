"""Per-person state: the chosen family and input (shared by every page), kept results and memoised pictures.

Everything lives in ``st.session_state``, which Streamlit keeps per browser session, so two people never see each
other's inputs or results; the models themselves are shared (``ui.models``) and capture is safe for that.
"""

from __future__ import annotations

import itertools
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import streamlit as st

from scse_viz.memory import nbytes

T = TypeVar("T")

FAMILY = "scse_family"  # the chosen family's name
INPUTS = "scse_inputs"  # family name -> the InputImage last chosen for it
MEMO = "scse_memo"
MEMO_SIZE = 256  # pictures and runs kept per session (oldest dropped first)
SIZES = "scse_kept_bytes"  # (store, key) -> (bytes, last use): what the session's budget counts


def _megabytes(variable: str, default: float) -> int:
    return int(float(os.environ.get(variable, default)) * 2**20)


def _physical_megabytes() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError):
        return 8192.0


# The bounds (issue 25). A session keeps at most SESSION_BYTES (inputs, pictures, runs, attributions, 3-D runs and
# brought models, sized by scse_viz.memory.nbytes; the least recently used entries go first). A replica admits a new
# session only while every admitted session's full budget still fits in REPLICA_BYTES, so a replica's memory stays
# below its shared models plus REPLICA_BYTES whatever its sessions do. `python -m scse_viz.serve` gives each replica
# its share of 75 % of the machine's memory; a lone `streamlit run` takes 75 % of it.
SESSION_BYTES = _megabytes("SCSE_SESSION_MB", 1024)
REPLICA_BYTES = _megabytes("SCSE_REPLICA_MB", 0.75 * _physical_megabytes())
FULL_NOTE = (
    "This server is full: it is holding {sessions} sessions, as many as its memory allows "
    "({budget:.1f} GB each). Please try again in a few minutes; closing unused tabs frees places."
)
_ADMITTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # live session -> bytes it keeps now
_TICKS = itertools.count()


class _Seat:
    """A session's place on this replica: kept in its session state, so it lives exactly as long as the session
    (Streamlit's session state itself cannot be weakly referenced)."""

    def __init__(self, session_id: str | None) -> None:
        self.session_id = session_id

    def connected(self) -> bool:
        """Whether a browser is still connected to the session. A reloaded or closed tab leaves its session kept
        for reconnection (``server.disconnectedSessionTTL``, 120 s): it holds no seat, or one person reloading a
        few times would fill a replica (seen in the soak: "server is full" after 4 browsers' reloads)."""
        try:
            from streamlit.runtime import Runtime

            if self.session_id is None or not Runtime.exists():
                return True
            return Runtime.instance()._session_mgr.is_active_session(self.session_id)
        except Exception:  # noqa: BLE001  (an older or newer Streamlit: count the seat)
            return True


SEAT = "scse_seat"


def _seated() -> int:
    return sum(1 for seat in list(_ADMITTED) if seat.connected())


def admit() -> None:
    """Called first by every page: a session is admitted once; a new one is told the server is full (and stopped)
    when admitting it could take the replica's connected sessions past REPLICA_BYTES."""
    if st.session_state.get(SEAT) in _ADMITTED:
        return
    if (_seated() + 1) * SESSION_BYTES > REPLICA_BYTES:
        import gc

        gc.collect()  # sessions that ended may still wait for the collector
    if (_seated() + 1) * SESSION_BYTES > REPLICA_BYTES:
        st.error(FULL_NOTE.format(sessions=_seated(), budget=SESSION_BYTES / 2**30), icon=":material/block:")
        st.stop()
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    seat = _Seat(None if context is None else context.session_id)
    st.session_state[SEAT] = seat
    _ADMITTED[seat] = 0


def replica_report() -> dict[str, float]:
    """Admitted sessions and the bytes they keep now, for benchmarks and the soak."""
    return {
        "sessions": _seated(),
        "kept_bytes": float(sum(_ADMITTED.values())),
        "session_budget": float(SESSION_BYTES),
        "replica_budget": float(REPLICA_BYTES),
    }


def session_bytes() -> int:
    """Bytes this session keeps in its stores (what its budget counts)."""
    return sum(size for size, _ in st.session_state.get(SIZES, {}).values())


def _touch(store: str, key: Hashable) -> None:
    sizes = st.session_state.get(SIZES, {})
    if (store, key) in sizes:
        sizes[(store, key)] = (sizes[(store, key)][0], next(_TICKS))


def _forget(store: str, key: Hashable) -> None:
    st.session_state.setdefault(SIZES, {}).pop((store, key), None)


def _within_budget(protected: tuple[str, Hashable]) -> None:
    """Drop the least recently used entries of any store until the session keeps at most SESSION_BYTES (the entry
    just kept stays, even alone over the budget: it is what the person is looking at)."""
    sizes: dict = st.session_state.setdefault(SIZES, {})
    while sum(size for size, _ in sizes.values()) > SESSION_BYTES and len(sizes) > 1:
        store, key = min((k for k in sizes if k != protected), key=lambda k: sizes[k][1])
        kept = st.session_state.get(store)
        if isinstance(kept, dict):
            kept.pop(key, None)
        sizes.pop((store, key))
    seat = st.session_state.get(SEAT)
    if seat in _ADMITTED:
        _ADMITTED[seat] = sum(size for size, _ in sizes.values())


def recall(store: str, key: Hashable, default: Any = None) -> Any:
    """The value kept under ``key`` in this session's bounded ``store`` (marked recently used), or ``default``."""
    kept: OrderedDict = st.session_state.setdefault(store, OrderedDict())
    if key in kept:
        kept.move_to_end(key)
        _touch(store, key)
        return kept[key]
    return default


def keep(store: str, key: Hashable, value: Any, size: int) -> None:
    """Keep ``value`` under ``key`` in this session's ``store``, dropping the oldest entries beyond ``size`` and,
    across all stores, the least recently used beyond the session's byte budget."""
    kept: OrderedDict = st.session_state.setdefault(store, OrderedDict())
    kept[key] = value
    st.session_state.setdefault(SIZES, {})[(store, key)] = (nbytes(value), next(_TICKS))
    while len(kept) > size:
        dropped, _ = kept.popitem(last=False)
        _forget(store, dropped)
    _within_budget((store, key))


_MISSING = object()


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``key`` in this session (a bounded LRU), so a rerun that changes one widget redraws
    only what depends on it."""
    value = recall(MEMO, key, _MISSING)
    if value is _MISSING:
        value = compute()
        keep(MEMO, key, value, MEMO_SIZE)
    return value


def chosen_input(family: str) -> Any:
    """The InputImage this session chose for ``family`` (None before the first choice)."""
    _touch(INPUTS, family)
    return st.session_state.setdefault(INPUTS, {}).get(family)


def keep_input(family: str, image: Any) -> None:
    """Keep the input chosen for ``family``; it counts against the session's budget like every kept value."""
    st.session_state.setdefault(INPUTS, {})[family] = image
    st.session_state.setdefault(SIZES, {})[(INPUTS, family)] = (nbytes(image), next(_TICKS))
    _within_budget((INPUTS, family))
