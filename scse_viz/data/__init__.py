"""Datasets read from local files (IDX parsing, Fashion-MNIST splits); numpy only, no downloads."""

from scse_viz.data.fashion import CLASS_NAMES, FASHION_DIR, DatasetMissingError, load_fashion, pixel_stats
from scse_viz.data.idx import parse_idx, read_idx, write_idx

__all__ = [
    "CLASS_NAMES",
    "FASHION_DIR",
    "DatasetMissingError",
    "load_fashion",
    "parse_idx",
    "pixel_stats",
    "read_idx",
    "write_idx",
]
