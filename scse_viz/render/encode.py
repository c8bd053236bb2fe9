"""Pictures as bytes for the browser: JPEG that keeps every colour within 4/255, at JPEG's cost.

Measured (``python -m benchmarks.picture_cost``): an RGB array handed to ``st.image`` is sent as Streamlit's "auto"
format, JPEG at quality 100 with 4:2:0 chroma subsampling, which moves the colours of a map's edges by up to 52/255
on the brain's outputs and 118/255 on the photo's: a gate of 0.2 next to one of 0.9 bleeds into it, which a
visualiser must not do. Without subsampling (4:4:4) the largest change is 4/255 on every picture the benchmark sends
(1.6 % of a colormap's range); PNG would be exact, but took 4.6 times the encoding time on the photo family's
Outputs tab (320 against 70 ms, 2 quiet cores).

So the format is picked per picture: a picture enlarged pixel by pixel (a map or an input at the model's
resolution, each pixel a block of 2×2 or more) is sent as PNG at zlib level 1, exact and smaller, because PNG's row
filters see the repeated pixels (a brain slice enlarged 2×: 53 KiB in 4 ms against JPEG's 126 KiB in 2 ms; at
level 6, 46 KiB in 18 ms); anything else (a photograph, an overlay on one) as JPEG as above, where PNG costs 10-40
times the time for more bytes (the 512×512 astronaut: PNG 455 KiB in 30 ms at level 1, JPEG 351 KiB in 3 ms).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

from scse_viz.render.raster import enlarge

JPEG_QUALITY = 100
JPEG_MAX_ERROR = 4  # of 255: the largest colour change measured on the shipped families' pictures (4:4:4, q 100)
STREAMLIT_MAX_WIDTH = 1460  # streamlit.elements.lib.image_utils.MAXIMUM_CONTENT_WIDTH: wider pictures it re-saves
CACHE_BYTES = 64 * 1024 * 1024  # encoded pictures kept per process (a photo upload's 26 pictures take about 4.5 MB)


PNG_LEVEL = 1  # zlib level: most of level 6's saving on enlarged maps at a quarter of its time


@dataclass(frozen=True)
class EncodedPicture:
    """A picture's bytes, size and format ("JPEG" or "PNG"): ``st.image`` must be told the format, or it re-encodes
    PNG bytes without an alpha channel as JPEG with 4:2:0 subsampling."""

    data: bytes
    width: int
    height: int
    format: str = "JPEG"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(height, width, 3), as the array it came from (what layout helpers such as ``tile_width`` read)."""
        return (self.height, self.width, 3)


def as_uint8(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 uint8, or float in [0, 1] (as ``raster.to_rgb`` makes) rounded to uint8; anything else is refused, as
    ``st.image`` refused it (a NaN or an out-of-range float is a bug upstream, not a colour)."""
    pixels = np.asarray(rgb)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError(f"expected an H×W×3 picture, got shape {pixels.shape}")
    if np.issubdtype(pixels.dtype, np.floating):
        if not np.isfinite(pixels).all() or pixels.min() < -1e-6 or pixels.max() > 1 + 1e-6:
            raise ValueError("a float picture must hold finite values in [0, 1]")
        return np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    if pixels.dtype != np.uint8:
        raise ValueError(f"expected uint8 or float pixels, got {pixels.dtype}")
    return pixels


def fit_width(pixels: np.ndarray, width: int) -> np.ndarray:
    """``pixels`` (uint8 H×W×3) no wider than ``width``: averaged over boxes (what a browser shows when it shrinks
    a picture), at least 1 px tall. Streamlit shrinks a picture wider than the width it is shown at (or than 1460 px)
    itself and re-saves it as JPEG with 4:2:0 subsampling, so the app never hands it one."""
    if pixels.shape[1] <= width:
        return pixels
    height = max(1, round(pixels.shape[0] * width / pixels.shape[1]))
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BOX))


def encode_picture(rgb: np.ndarray, lossless: bool = False) -> EncodedPicture:
    """A picture (see ``as_uint8``) -> JPEG at quality 100, no chroma subsampling; or, ``lossless``, PNG."""
    pixels = as_uint8(rgb)
    buffer = io.BytesIO()
    if lossless:
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=PNG_LEVEL)
    else:
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    return EncodedPicture(buffer.getvalue(), pixels.shape[1], pixels.shape[0], "PNG" if lossless else "JPEG")


_CACHE: OrderedDict[bytes, EncodedPicture] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_cached_bytes = 0


def _digest(pixels: np.ndarray) -> bytes:
    """Every byte of the picture, its shape and dtype: two pictures that differ in one pixel never share bytes
    (unlike a cache that hashes a sample of a large array)."""
    contiguous = np.ascontiguousarray(pixels)
    digest = hashlib.blake2b(contiguous.data, digest_size=20)
    digest.update(repr((contiguous.shape, contiguous.dtype.str)).encode())
    return digest.digest()


def shown_picture(rgb: np.ndarray, width: int = STREAMLIT_MAX_WIDTH, allow_png: bool = True) -> EncodedPicture:
    """What the app sends for ``rgb`` shown at most ``width`` px wide: enlarged pixel by pixel when small
    (``raster.enlarge``), shrunk to ``width`` when wider (``fit_width``), then encoded, as PNG when it was enlarged
    (and ``allow_png``), else as JPEG; once per process for the same pixels, width and choice (the reruns of a
    session and every session on a shared sample reuse it), the least recently shown dropped beyond ``CACHE_BYTES``
    (a single picture larger than that is still kept while shown)."""
    global _cached_bytes
    pixels = as_uint8(rgb)
    key = _digest(pixels) + width.to_bytes(4, "little") + bytes([allow_png])
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    enlarged = enlarge(pixels, max_width=width)
    lossless = allow_png and enlarged.shape[1] >= 2 * pixels.shape[1]  # every pixel a block of 2×2 or more
    encoded = encode_picture(fit_width(enlarged, width), lossless)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = encoded
            _cached_bytes += len(encoded.data)
            while _cached_bytes > CACHE_BYTES and len(_CACHE) > 1:
                _, dropped = _CACHE.popitem(last=False)
                _cached_bytes -= len(dropped.data)
    return encoded
