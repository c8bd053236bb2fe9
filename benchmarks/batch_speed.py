"""Images per second of ``python -m scse_viz.batch`` against a bare loop of plain forward passes on the same images.

The images are the brain family's test slices (``python -m scse_viz.batch test --family brain``), all four variants.
"Bare" decodes nothing and computes no statistics: the same prepared tensors, four ``model(x)`` calls each under
``torch.no_grad()``. "Batch" is the command's own ``run_batch`` (app path, capture, statistics, Parquet parts).
Prints figures; asserts nothing. Run from the repository root: python -m benchmarks.batch_speed [--limit 60]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch

import scse_viz  # noqa: F401
from scse_viz import explore, zoo
from scse_viz.batch import Item, run_batch
from scse_viz.train.parts import parts_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--family", default="brain")
    args = parser.parse_args()
    family = zoo.family(args.family)
    items = [Item(n, p, label) for n, p, label in itertools.islice(parts_for(family).test_images(None), args.limit)]
    models = {v: zoo.load_model(family.name, v) for v in family.variants}
    tensors = [
        family.prepare(explore.InputImage(i.name, i.pixels, i.name, i.pixels.shape[:2]).pixels).tensor for i in items
    ]
    started = time.perf_counter()
    with torch.no_grad():
        for x in tensors:
            for model in models.values():
                model(x)
    bare = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as out:
        counts = run_batch(family, family.variants, iter(items), Path(out), progress=False)
    batch = counts["seconds"]
    n = len(items)
    print(f"{family.name}: {n} images × {len(models)} variants, {torch.get_num_threads()} threads")
    print(f"  bare forward loop: {n / bare:6.2f} images/s")
    print(f"  batch command:     {n / batch:6.2f} images/s ({counts['rows']} rows)")
    print(f"  ratio batch / bare: {bare / batch:.2f} (target at least 0.8)")


if __name__ == "__main__":
    main()
