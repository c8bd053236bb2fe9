"""Find attention blocks in any model and capture their gates for one forward pass."""

from scse_viz.capture.capture import CaptureSession, Knockout, capture_attention
from scse_viz.capture.discovery import find_attention_blocks
from scse_viz.capture.records import BlockInfo, BlockRecord, CaptureResult, Join

__all__ = [
    "BlockInfo",
    "BlockRecord",
    "CaptureResult",
    "CaptureSession",
    "Join",
    "Knockout",
    "capture_attention",
    "find_attention_blocks",
]
