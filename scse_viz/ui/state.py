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


def memo(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``key`` in this session (a bounded LRU), so a rerun that changes one widget redraws
    only what depends on it."""
    store: OrderedDict = st.session_state.setdefault(MEMO, OrderedDict())
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = compute()
    store[key] = value
    while len(store) > MEMO_SIZE:
        store.popitem(last=False)
    return value


def chosen_input(family: str) -> Any:
    """The InputImage this session chose for ``family`` (None before the first choice)."""
    return st.session_state.setdefault(INPUTS, {}).get(family)


def keep_input(family: str, image: Any) -> None:
    st.session_state.setdefault(INPUTS, {})[family] = image
