"""Seconds per slice and for a whole 2 mm volume: each brain variant over every slice of the bundled MNI152 2 mm
T1 volume (91×109×91), along each axis, through ``scse_viz.volume_run.run_volume`` (the 3-D tab's path: per slice
the app's windowing, preprocessing, capture and every sSE map put back into the voxel grid). Also printed: the bare
forward passes of the same slices batched, so the overhead of the app's path is visible.
Prints figures; asserts nothing. Run from the repository root: python -m benchmarks.volume_speed
"""

from __future__ import annotations

import time

import torch

import scse_viz  # noqa: F401
from scse_viz import explore, samples, zoo
from scse_viz.io import ORIENTATIONS, load_any, slice_count
from scse_viz.volume_run import run_volume


def main() -> None:
    family = zoo.family("brain")
    sample = next(s for s in samples.list_samples("brain") if s.kind == "volume")
    volume = load_any(samples.sample_bytes(sample), sample.path.name)
    print(f"{sample.path.name}: {volume.shape} voxels, {torch.get_num_threads()} threads")
    for variant in family.variants:
        model = zoo.load_model("brain", variant)
        for orientation in ORIENTATIONS:
            result = run_volume(family, model, variant, volume, orientation)
            count = slice_count(volume, orientation)
            batch = torch.cat(
                [family.prepare(explore.input_from_volume(volume, orientation, i).pixels).tensor for i in range(count)]
            )
            started = time.perf_counter()
            with torch.no_grad():
                model(batch)
            bare = time.perf_counter() - started
            print(
                f"  {family.label(variant):<8} {orientation:<8} {count:>3} slices: {result.seconds:6.2f} s "
                f"({result.seconds / count * 1000:5.1f} ms per slice); bare batched forward {bare:5.2f} s"
            )
    print("(the whole volume is one orientation's line: every slice along that axis)")


if __name__ == "__main__":
    main()
