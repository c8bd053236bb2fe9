"""scSE Lens: see what the cSE and sSE gates of a CNN computed for one image.

Importing the package makes torchvision importable on CPU-only torch builds (see ``_torchvision``).
"""

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
