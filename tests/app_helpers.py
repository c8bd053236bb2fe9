"""Reading what a Streamlit page showed under AppTest: charts' data, errors, images; and counting model runs."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image
from streamlit.testing.v1 import AppTest
from torch import nn

from scse_viz.models import ResidualClassifier, UNet2D

REPO = Path(__file__).resolve().parent.parent
PAGES = REPO / "pages"
TIMEOUT = 180


def page(name: str | None, **state) -> AppTest:
    """An AppTest of the app opened on ``pages/<name>`` (None: the landing page), with session state set before the
    first run (not yet run). The app's own entry point runs the page, as the server does."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    if name is not None:
        at.switch_page(f"pages/{name}")
    return at


def ran(at: AppTest) -> AppTest:
    """Run and fail on any exception the script raised."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_tab(at: AppTest, label: str, key: str = "explore-tab") -> AppTest:
    """Open the tab ``label`` of the page's tabs (as a click on it does: the page reruns with only that tab) and run."""
    at.session_state[key] = label
    return ran(at)


def nodes(at: AppTest, kind: str) -> list:
    """Every element of ``kind`` (e.g. "vega_lite_chart") anywhere in the tree, in page order."""
    found = []

    def walk(node) -> None:
        if getattr(node, "type", None) == kind:
            found.append(node)
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else children or []:
            walk(child)

    walk(at._tree)
    return found


def chart_rows(element) -> list[dict]:
    """The data rows a Vega-Lite chart was given (Streamlit ships them as Arrow)."""
    table = pa.ipc.open_stream(element.proto.data.data).read_all()
    return table.to_pylist()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@contextmanager
def counting_forwards() -> Iterator[dict]:
    """Count forward passes of whole zoo networks (U-Nets and classifiers), whoever runs them, in any thread."""
    counts = {"forwards": 0}
    lock = threading.Lock()

    def hook(module: nn.Module, args, output) -> None:
        if isinstance(module, (UNet2D, ResidualClassifier)):
            with lock:
                counts["forwards"] += 1

    handle = nn.modules.module.register_module_forward_hook(hook)
    try:
        yield counts
    finally:
        handle.remove()
