"""The Gate health page's tables: a batch computed here on the family's test set (kept per session), or a Parquet
table someone uploads (one clear message when it is not a batch table)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from scse_viz import batch
from scse_viz.family import Family
from scse_viz.ui.state import memo

COLUMNS = {"image", "model", "block", "w_mean", "q_mean"}


def batch_table(family: Family, limit: int, faithfulness: bool = False) -> list[dict[str, Any]] | None:
    """The first ``limit`` test images through every variant (a button starts it; kept for the session)."""
    key = ("gate-health", family.name, limit, faithfulness)
    done = f"gh-done-{family.name}-{limit}-{faithfulness}"
    if not st.session_state.get(done) and not st.button(
        f"Compute on {limit} test images", type="primary", key="gh-compute"
    ):
        st.info("Press the button: every variant runs on the test images once and the table is kept.")
        return None

    def compute() -> list[dict[str, Any]]:
        import itertools

        items = itertools.islice(batch.test_items(family, None, set()), limit)
        bar = st.progress(0.0, text="running the test images…")
        counted = _counting(items, limit, bar)
        with tempfile.TemporaryDirectory() as out:
            batch.run_batch(family, family.variants, counted, Path(out), progress=False, faithfulness=faithfulness)
            rows = batch.read_table(Path(out)).to_pylist()
        bar.empty()
        return rows

    try:
        rows = memo(key, compute)
    except batch.NoTestSetError as error:
        st.error(str(error))
        return None
    st.session_state[done] = True
    return rows


def _counting(items: Any, total: int, bar: Any) -> Any:
    for i, item in enumerate(items):
        bar.progress(min(i / total, 1.0), text=f"image {i + 1} of {total}")
        yield item


def uploaded_table(upload: Any) -> list[dict[str, Any]] | None:
    """The rows of an uploaded batch table; None (with one message) when there is none or it is no batch table."""
    if upload is None:
        return None
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(io.BytesIO(upload.getvalue())).to_pylist()
    except Exception as error:  # noqa: BLE001  (pyarrow raises many kinds on a file that is not Parquet)
        st.error(f"{upload.name} is not a Parquet table: {error}")
        return None
    if not rows or not COLUMNS <= set(rows[0]):
        st.error(
            f"{upload.name} is not a table written by `python -m scse_viz.batch` (it needs the columns "
            f"{', '.join(sorted(COLUMNS))})."
        )
        return None
    return rows
