"""How long the Explore page takes on this CPU, against the time of the bare model runs (one run, medians).

Figures printed:

- bare: the four brain U-Nets' plain forward passes (eval, no grad) on one prepared 256×256 upload;
- first result: a script run of the Explore page (Streamlit's AppTest, in this process) right after a new 256×256
  PNG is uploaded: decoding, preprocessing, the four models with capture, and the open tab (Outputs) drawn;
  target: at most 1.5 × bare + 300 ms;
- widget rerun: a script run after moving one display widget of the Attention tab (opacity, colormap, bar order):
  no model runs;
  target: under 150 ms;
- server CPU per upload: the process's CPU seconds (every thread) of the first result's script run;
  target: at most 0.15 s; split into the shared pool's threads (the four models' forward passes with capture,
  ``scse_viz.parallel``), AppTest's own thread (a benchmark cost, not a server's) and the rest (the script: reading
  the upload, drawing, encoding pictures, Streamlit's messages).

AppTest runs the page script as the server does but sends nothing over a websocket and draws nothing in a browser;
the browser's own drawing comes on top. Prints figures; asserts nothing.
Run from the repository root: python -m benchmarks.app_latency [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import streamlit  # noqa: F401  (first, as in the app: scse_viz then lets torch's threads sleep, see its __init__)
from PIL import Image
from streamlit.testing.v1 import AppTest

import scse_viz  # noqa: F401  (after streamlit and before torch, as in the app)
from scse_viz import zoo
from scse_viz.datasets.brain import brain_slice

SIZE = 256
TAB_KEY = "explore-tab"  # the Explore page's st.tabs key: setting it opens that tab, as a click does
APP = Path(__file__).resolve().parent.parent / "app.py"


def upload_png(index: int) -> bytes:
    """A 256×256 brain slice (a different one each time, so every upload is a new input)."""
    pixels = brain_slice("axial", 60 + index).pixels
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8)).resize((SIZE, SIZE), Image.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def bare_forward_ms(data: bytes, repeats: int) -> float:
    import torch  # loaded by scse_viz already; imported here so that this module never loads it first

    family = zoo.family("brain")
    pixels = np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32) / 255.0
    x = family.prepare(pixels).tensor
    models = [zoo.load_model("brain", v) for v in family.variants]
    times = []
    with torch.no_grad():
        for m in models:
            m(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for m in models:
                m(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of two groups of this process's threads (each thread's own CPU clock,
    ``pthread_getcpuclockid``): "pool" (the ``scse-torch`` workers) and "AppTest" (the main thread, which drives the
    page). Everything else (the script's thread, which ends with its run, short-lived helper threads and OpenMP's) is
    the process total minus these two."""
    groups = {"pool": 0.0, "AppTest": 0.0}
    for thread in threading.enumerate():
        group = "pool" if thread.name.startswith("scse-torch") else "AppTest" if thread.name == "MainThread" else None
        if group is None or thread.ident is None:
            continue
        try:
            groups[group] += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except OSError:
            continue  # the thread ended between the listing and the read
    return groups


def timed_run(at: AppTest, cpu: list[float] | None = None, split: list[dict[str, float]] | None = None) -> float:
    """Milliseconds of one script run; ``cpu``: gets the process's CPU seconds of the run appended (every thread:
    the script's and torch's); ``split``: gets them per group of threads (:func:`thread_cpu`) appended."""
    before = thread_cpu() if split is not None else {}
    start, cpu_start = time.perf_counter(), time.process_time()
    at.run()
    elapsed = (time.perf_counter() - start) * 1e3
    total = time.process_time() - cpu_start
    if cpu is not None:
        cpu.append(total)
    if split is not None:
        after = thread_cpu()
        parts = {group: after[group] - before[group] for group in after}
        split.append({**parts, "rest": total - sum(parts.values())})
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.session_state["scse_family"] = "brain"
    at.switch_page("pages/1_Explore.py")
    timed_run(at)  # loads the models (once per process), runs the default sample
    next(r for r in at.sidebar.radio if r.label == "Input").set_value("Upload your own")
    timed_run(at)
    uploader = at.sidebar.file_uploader[0]
    uploader.set_value(("warm-up.png", upload_png(0), "image/png"))
    timed_run(at)

    first, rerun, cpu, split = [], [], [], []
    widgets = [
        lambda: next(s for s in at.slider if s.label == "Opacity").set_value(0.3),
        lambda: next(s for s in at.selectbox if s.label == "Colormap").set_value("viridis"),
        lambda: next(r for r in at.radio if r.label == "Bar order").set_value("channel"),
        lambda: next(s for s in at.slider if s.label == "Opacity").set_value(0.6),
        lambda: next(s for s in at.selectbox if s.label == "Colormap").set_value("magma"),
        lambda: next(r for r in at.radio if r.label == "Bar order").set_value("sorted"),
    ]
    for i in range(1, args.repeats + 1):
        at.session_state[TAB_KEY] = "Outputs"  # an upload lands on the Outputs tab (only the open tab runs)
        timed_run(at)
        at.sidebar.file_uploader[0].set_value((f"upload-{i}.png", upload_png(i), "image/png"))
        first.append(timed_run(at, cpu, split))
        at.session_state[TAB_KEY] = "Attention"  # the display widgets live on the Attention tab
        timed_run(at)
        for change in widgets:
            change()
            rerun.append(timed_run(at))
    bare = bare_forward_ms(upload_png(0), max(5, args.repeats))
    import torch

    first_ms, rerun_ms = statistics.median(first), statistics.median(rerun)
    target = 1.5 * bare + 300.0
    print(
        f"torch threads {torch.get_num_threads()}, brain family, {SIZE}×{SIZE} PNG uploads, {args.repeats} uploads, "
        f"{len(rerun)} widget reruns"
    )
    print(f"bare: 4 plain forward passes        median {bare:8.1f} ms")
    print(
        f"first full result after an upload   median {first_ms:8.1f} ms   target <= 1.5 × bare + 300 = "
        f"{target:.1f} ms   ratio to target {first_ms / target:.2f}"
    )
    print(f"widget-only rerun                   median {rerun_ms:8.1f} ms   target < 150 ms")
    print(
        f"server CPU per upload (the first result's run, every thread) median {statistics.median(cpu):.3f} s   "
        f"target <= 0.15 s   OMP_WAIT_POLICY {os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    medians = {group: statistics.median(s[group] for s in split) for group in ("pool", "rest", "AppTest")}
    print(
        f"  of which (medians): the shared pool (forwards with capture, outputs read) {medians['pool']:.3f} s, "
        f"the script and Streamlit {medians['rest']:.3f} s, AppTest driving the page {medians['AppTest']:.3f} s"
    )


if __name__ == "__main__":
    main()
