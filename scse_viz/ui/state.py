"""Per-person state: the chosen family and input (shared by every page), kept results and memoised pictures.

Everything lives in ``st.session_state``, which Streamlit keeps per browser session, so two people never see each
other's inputs or results; the models themselves are shared (``ui.models``) and capture is safe for that.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")

FAMILY = "scse_family"  # the chosen family's name
INPUTS = "scse_inputs"  # family name -> the InputImage last chosen for it
MEMO = "scse_memo"
MEMO_SIZE = 256  # pictures and runs kept per session (oldest dropped first)


def recall(store: str, key: Hashable, default: Any = None) -> Any:
    """The value kept under ``key`` in this session's bounded ``store`` (marked recently used), or ``default``."""
    kept: OrderedDict = st.session_state.setdefault(store, OrderedDict())
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    return default


def keep(store: str, key: Hashable, value: Any, size: int) -> None:
    """Keep ``value`` under ``key`` in this session's ``store``, dropping the oldest entries beyond ``size``."""
    kept: OrderedDict = st.session_state.setdefault(store, OrderedDict())
    kept[key] = value
    while len(kept) > size:
        kept.popitem(last=False)


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
    return st.session_state.setdefault(INPUTS, {}).get(family)


def keep_input(family: str, image: Any) -> None:
    st.session_state.setdefault(INPUTS, {})[family] = image
