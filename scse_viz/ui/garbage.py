"""The cycle collector's full pass, at most once every few seconds instead of after every script run.

Streamlit runs ``gc.collect(2)`` after every script run by default (``runner.postScriptGC``), so memory that only the
cycle collector frees (a closed session's objects, which refer to each other) comes back between runs. A full pass
visits every tracked object in the process: with torch, Streamlit, pandas, matplotlib and our modules loaded,
434,000 objects, 0.19 s of CPU on this machine, after every run, widget reruns included. A py-spy profile of a
server during ``benchmarks.classroom_load``'s same-sample round found it in 36 % of the samples, four times the
models' convolutions.

So ``.streamlit/config.toml`` turns that option off and every page calls :func:`collect_now_and_then` first: the
same full pass, but at most once every :data:`INTERVAL_S` seconds in the process, however many sessions run. Cyclic
garbage waits that long at most (or until the next run after it), and Python's own generational collection keeps
running as always. (Freezing the libraries' objects with ``gc.freeze`` would make every pass cheap, but a freeze
during a script run also freezes the sessions alive at that moment, whose state would then never be collected.)
"""

from __future__ import annotations

import gc
import threading
import time

INTERVAL_S = 10.0

_last = float("-inf")
_lock = threading.Lock()


def collect_now_and_then(interval_s: float = INTERVAL_S) -> bool:
    """Run a full collection if none ran in the last ``interval_s`` seconds in this process (True when it ran)."""
    global _last
    now = time.monotonic()
    if now - _last < interval_s or not _lock.acquire(blocking=False):  # another session is collecting right now
        return False
    try:
        gc.collect(2)
        _last = time.monotonic()
        return True
    finally:
        _lock.release()
