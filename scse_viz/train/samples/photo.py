"""The photo family's samples: four colour photographs from scikit-image's wheel, free of copyright restrictions.

They are also the family's test photos (the models never trained on them), stored clean: the app adds the noise
the visitor chooses, so it knows the clean picture and the σ map and can score every model against them.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from scse_viz.datasets.photos import scikit_image_photo
from scse_viz.train.samples.common import entry, write_index

PHOTOS = (
    ("chelsea", "Chelsea the cat", "CC0, by the photographer Stefan van der Walt"),
    ("coffee", "A cup of coffee", "CC0, by the photographer Rachel Michetti (courtesy of Pikolo Espresso Bar)"),
    ("astronaut", "Astronaut Eileen Collins", "public domain (NASA Great Images database)"),
    ("rocket", "Falcon 9 launch", "public domain (SpaceX Photos)"),
)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(pixels * 255.0).astype(np.uint8), mode="RGB").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_photo(out: Path, data_root: Path | None = None, card_assets: Path | None = None) -> Path:
    folder = out / "photo"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, title, licence in PHOTOS:
        pixels = scikit_image_photo(name)
        file = f"{name}.png"
        (folder / file).write_bytes(_png(pixels))
        entries.append(
            entry(
                name,
                title,
                file,
                "image",
                f"scikit-image's '{name}' photograph, {pixels.shape[1]}×{pixels.shape[0]} px, "
                f"clean as shipped in its wheel ({licence}); the app adds the noise.",
            )
        )
    about = (
        "Colour photographs from scikit-image's wheel (copyright-free), never trained on; the noise is added "
        "in the app, so every result is scored against the clean photo."
    )
    return write_index(folder, "photo", about, entries)
