"""Find attention blocks in any model and capture their gates for one forward pass."""

from scse_viz.capture.capture import Knockout, capture_attention
from scse_viz.capture.discovery import find_attention_blocks
from scse_viz.capture.records import BlockInfo, BlockRecord, CaptureResult

__all__ = ["BlockInfo", "BlockRecord", "CaptureResult", "Knockout", "capture_attention", "find_attention_blocks"]
