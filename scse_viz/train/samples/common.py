"""What every family's sample writer shares: metadata-free PNGs and the ``index.json`` that lists the samples."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

GENERATOR = "python -m scse_viz.train.samples"


def png_bytes(array: np.ndarray) -> bytes:
    """An 8-bit gray PNG ("L") of a uint8 H×W array, without metadata (so the bytes depend on the pixels only)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def entry(
    name: str,
    title: str,
    file: str,
    kind: str,
    description: str,
    mask: str | None = None,
    label: int | None = None,
    source_index: int | None = None,
) -> dict[str, Any]:
    """One sample of ``index.json``; ``source_index`` is the Fashion-MNIST test image it was made from."""
    entry = {
        "name": name,
        "title": title,
        "file": file,
        "kind": kind,
        "mask": mask,
        "label": label,
        "description": description,
    }
    return entry if source_index is None else {**entry, "source_index": source_index}


def write_index(folder: Path, family: str, about: str, entries: list[dict[str, Any]]) -> Path:
    index = {"family": family, "generator": GENERATOR, "about": about, "samples": entries}
    path = folder / "index.json"
    path.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    return path
