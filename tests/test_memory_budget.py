"""Memory that cannot grow without bound (issue 25): what a kept value holds is counted exactly, a session keeps at
most its budget (least recently used entries go first), shipped models count for no session, and a replica tells a
new session it is full once every admitted session's budget would no longer fit."""

from __future__ import annotations

import gc

import numpy as np
import torch

import scse_viz  # noqa: F401
from scse_viz.memory import mark_shared, nbytes
from scse_viz.ui import state

from .app_helpers import page, png_bytes, ran


def test_nbytes_counts_every_buffer_once():
    array = np.zeros((100, 100), np.float32)  # 40,000 bytes
    tensor = torch.zeros(1000, dtype=torch.float64)  # 8,000 bytes
    record = {"a": array, "view": array[10:20], "again": [array, tensor, tensor[:5]], "raw": b"x" * 500}
    counted = nbytes(record)
    assert 40_000 + 8_000 + 500 <= counted <= 40_000 + 8_000 + 500 + 4_000  # containers: a few hundred bytes each
    model = torch.nn.Linear(100, 10)  # 1,010 float32 parameters
    assert nbytes({"model": model}) >= 4_040
    mark_shared(model)
    assert nbytes({"model": model}) < 1_000


def test_a_session_keeps_at_most_its_budget(monkeypatch):
    """Uploads of 1.2 MB pictures under an 8 MB budget: older entries go, the newest input stays, and what the
    session keeps (counted independently here) never passes the budget. (8 MB: with only the open tab computed,
    the newest entry is the Outputs view, 6.4 MB of 640×480 pictures, and the entry just kept always stays.)"""
    monkeypatch.setattr(state, "SESSION_BYTES", 8 * 2**20)
    at = ran(page("1_Explore.py"))
    rng = np.random.default_rng(0)
    for k in range(4):
        source = next(r for r in at.sidebar.radio if r.label == "Input")
        source.set_value("Upload your own")
        ran(at)
        upload = next(u for u in at.sidebar.file_uploader if u.label == "Image, NIfTI volume or DICOM")
        upload.set_value((f"scan{k}.png", png_bytes(rng.random((640, 480))), "image/png"))
        ran(at)
        kept = at.session_state[state.SIZES]
        assert sum(size for size, _ in kept.values()) <= 8 * 2**20
        independent = sum(
            nbytes(at.session_state[store].get(key)) for store, key in kept if key in at.session_state[store]
        )
        assert independent <= 8 * 2**20
    shown = [str(e.proto) for e in at.main]
    assert any("scan3.png" in text for text in shown) and not any("scan0.png" in text for text in shown)


def test_a_full_replica_tells_a_new_session_and_admits_again_when_one_ends(monkeypatch):
    monkeypatch.setattr(state, "_ADMITTED", __import__("weakref").WeakKeyDictionary())
    monkeypatch.setattr(state, "SESSION_BYTES", 2**20)
    monkeypatch.setattr(state, "REPLICA_BYTES", 2 * 2**20)
    first, second = ran(page("4_About.py")), ran(page("4_About.py"))
    third = ran(page("4_About.py"))
    assert len(third.error) == 1 and "This server is full" in third.error[0].value
    assert not third.title  # the page stopped before drawing anything
    assert first.title[0].value == "About scSE Lens"
    assert not [e for e in first.error if "full" in e.value] and not [e for e in second.error if "full" in e.value]
    del first
    gc.collect()
    fourth = ran(page("4_About.py"))
    assert not [e for e in fourth.error if "full" in e.value]
