"""Keep the server's long-lived Python objects out of the garbage collector's full passes.

Streamlit runs ``gc.collect(2)`` after every script run (``runner.postScriptGC``), so memory that only the cycle
collector frees comes back between runs. A full pass visits every tracked object in the process: with torch,
Streamlit, matplotlib, pandas and our modules loaded that is over 400,000 objects, and profiling a server
(``py-spy`` during ``benchmarks.classroom_load``'s same-sample round, four sessions) found that pass in 36 % of the
server's samples, four times the models' convolutions. On this machine, with the app's libraries loaded, one pass
over 434,000 objects takes 0.19 s of CPU, after every run, widget reruns included; after the freeze, under 1 ms. Nearly all of those objects are modules, classes and functions, which live as
long as the process. :func:`freeze_loaded` imports the heavy libraries the pages use and moves every object tracked
at that moment into the permanent generation (``gc.freeze``), once per process, at the start of its first script
run: the pass after each run then visits only what was made since.

Frozen objects are still freed as soon as nothing refers to them (reference counting is untouched); only a
reference cycle among objects frozen then would stay. That is why it happens once, at the process's first run,
before any session has computed anything (a later freeze could pin another session's results for good).
"""

from __future__ import annotations

import gc
import importlib
import threading

# Imported before the freeze so that their objects are frozen too: what the pages load on their first use anyway
# (Streamlit's tables convert through pandas and pyarrow; the views draw with matplotlib and filter with scipy).
HEAVY_MODULES = ("pandas", "pyarrow", "matplotlib.pyplot", "scipy.ndimage", "scse_viz.explore", "scse_viz.views")

_frozen = False
_lock = threading.Lock()


def freeze_loaded() -> bool:
    """Import :data:`HEAVY_MODULES` and freeze every tracked object, the first time in this process (True then)."""
    global _frozen
    with _lock:
        if _frozen:
            return False
        for name in HEAVY_MODULES:
            importlib.import_module(name)
        gc.collect()  # what is garbage already goes now, not into the permanent generation
        gc.freeze()
        _frozen = True
        return True
