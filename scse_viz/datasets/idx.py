"""Read and write IDX files (the MNIST family's format) with numpy alone, gzipped or raw.

Layout: two zero bytes, one dtype code, one byte with the number of dimensions, then one big-endian uint32 per
dimension, then the values in C order, big-endian. We validate every part instead of trusting the file, so a
truncated download or a wrong file gives a clear ``ValueError`` rather than a silently mis-shaped array.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

# IDX dtype codes -> big-endian numpy dtypes.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the file starts with the gzip magic (the name's suffix is not trusted)."""
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: gzip data is corrupt or truncated ({error})") from error
    return raw


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array in native byte order; ``source`` names the data in error messages."""
    if len(data) < 4:
        raise ValueError(f"{source}: not an IDX file (only {len(data)} bytes, a header needs at least 4)")
    zero1, zero2, code, ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0:
        raise ValueError(f"{source}: not an IDX file (bad magic number {data[:4].hex()}: must start with 0000)")
    if code not in IDX_DTYPES:
        raise ValueError(f"{source}: unknown IDX dtype code 0x{code:02x} (expected one of 08, 09, 0b, 0c, 0d, 0e)")
    if ndim == 0:
        raise ValueError(f"{source}: IDX header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{source}: IDX header truncated ({len(data)} bytes, {header_size} needed for {ndim} dims)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_size
    if actual != expected:
        raise ValueError(
            f"{source}: IDX payload has {actual} bytes but the header's shape {shape} of {dtype.name} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)  # native order, writable, detached from the buffer


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw); raises ``ValueError`` naming the file and what is wrong with it."""
    path = Path(path)
    return parse_idx(_read_bytes(path), source=str(path))


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX (gzipped when ``compress`` or, by default, when the name ends in ``.gz``).

    Used by the tests to build tiny real datasets, and by anyone who wants to hand us their own images in this format.
    """
    path = Path(path)
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise ValueError(f"IDX cannot store dtype {array.dtype} (use uint8, int8, int16, int32, float32 or float64)")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, codes[native], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[codes[native]]).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path
