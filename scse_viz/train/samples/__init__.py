"""Write the shipped sample inputs (``assets/samples/<family>/``) and the Fashion card's preprocessing picture.

``python -m scse_viz.train.samples [--family NAME ...] [--out assets/samples] [--data-root DIR] [--card-assets DIR]``

Every sample is held-out test data (or made from it), chosen by a fixed rule, and every file is written byte for byte
the same on every run: PNGs carry no timestamps, the NIfTI volume is gzipped with mtime 0, and the synthetic photos
draw their noise from a seeded generator. Each family's ``index.json`` says what every file is. Each family's writer
is its ``PARTS.write_samples`` (:mod:`scse_viz.train.samples.brain`, :mod:`scse_viz.train.samples.fashion`):

- brain: two test slices per orientation (in each of the two test slabs, the slice with the most brain voxels) as
  8-bit gray PNGs of exactly what the app displays for that slice, with their tissue labels as PNGs of class indices;
  and the T1 template cropped to the brain and averaged to 2 mm as a small ``.nii.gz``.
- fashion: the first two official test images of every class (28×28 PNG, as stored), and three synthetic
  "photos" made from test garments (dark garment on a light, unevenly lit background, noise, JPEG) that exercise
  the photo preprocessing. Also the Fashion card's ``preprocessing.png``: before/after ``fashion_preprocess``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scse_viz import zoo
from scse_viz.train.parts import parts_for, trainable_families
from scse_viz.train.samples.common import GENERATOR


def main(argv: Sequence[str] | None = None) -> int:
    families = trainable_families()
    parser = argparse.ArgumentParser(prog=GENERATOR, description=__doc__.splitlines()[0])
    parser.add_argument("--family", nargs="+", default=families, choices=families)
    parser.add_argument("--out", type=Path, default=zoo.ASSETS / "samples")
    parser.add_argument("--data-root", type=Path, help="fashion: folder with the IDX files (default: Debian's)")
    parser.add_argument(
        "--card-assets",
        type=Path,
        help="where pictures for the cards go (default: each family's assets/models/<family>/)",
    )
    args = parser.parse_args(argv)
    for name in args.family:
        spec = zoo.family(name)
        index = parts_for(spec).write_samples(args.out, args.data_root, args.card_assets or spec.folder)
        files = [p for p in index.parent.iterdir() if p.is_file()]
        print(f"{name}: {len(files)} files, {sum(p.stat().st_size for p in files) / 1024:.0f} KiB in {index.parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
