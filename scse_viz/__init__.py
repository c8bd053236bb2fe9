"""scSE Lens: see what the cSE and sSE gates of a CNN computed for one image.

Importing the package makes torchvision importable on CPU-only torch builds (see ``_torchvision``).
"""

import os
import sys

if "streamlit" in sys.modules and "torch" not in sys.modules:
    # In the app (Streamlit imports first), torch's OpenMP threads sleep when a parallel region ends instead of
    # spinning for the next: between the short layers of one forward pass and after it, spinning threads kept both
    # cores busy, so a class's sessions and their browsers waited on CPU that did no work (four brain forwards beside
    # other load: 0.68 s of CPU and 0.68 s wall spinning, 0.16 s and 0.24 s sleeping; python -m benchmarks.app_latency
    # prints the process's CPU per upload). It must be set before torch loads OpenMP; training keeps the default.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from scse_viz._torchvision import torchvision as _torchvision  # noqa: F401  (must precede any torchvision import)
from scse_viz.bring import load_user_model
from scse_viz.capture import (
    BlockInfo,
    BlockRecord,
    CaptureResult,
    CaptureSession,
    Join,
    Knockout,
    capture_attention,
    find_attention_blocks,
)
from scse_viz.errors import ScseVizError

__all__ = [
    "BlockInfo",
    "BlockRecord",
    "CaptureResult",
    "CaptureSession",
    "Join",
    "Knockout",
    "ScseVizError",
    "capture_attention",
    "find_attention_blocks",
    "load_user_model",
]
