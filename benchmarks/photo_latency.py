"""First full result of the photo family on a 512×512 photo, against the bare forward passes it contains.

"First result" is what the Explore page computes before it can show the Outputs tab for a new photo: the noise
added (uniform σ = 25), the photo prepared, all four variants run with capture, and the outputs view built (PSNR,
SSIM, removed noise, every sSE map and its correlation with σ). "Bare" is four plain ``model(x)`` calls under
``torch.no_grad()`` on the same tensor. Both start from loaded models (the app loads them once per process).
Arms alternate, so drift in machine load hits both alike; medians of ``--repeats`` runs. Prints figures; asserts
nothing. Run from the repository root: python -m benchmarks.photo_latency [--repeats 5] [--side 512]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import scse_viz  # noqa: F401
from scse_viz import explore, zoo
from scse_viz.datasets.photos import scikit_image_photo
from scse_viz.degradation import NoiseSetting
from scse_viz.views import view_for


def photo(side: int) -> np.ndarray:
    """The astronaut photo (512×512 in scikit-image's wheel), resized to side×side when another side is asked."""
    pixels = scikit_image_photo("astronaut")
    if pixels.shape[:2] == (side, side):
        return pixels
    t = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    resized = torch.nn.functional.interpolate(t, size=(side, side), mode="bilinear", antialias=True)
    return resized[0].permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    family = zoo.family("photo")
    models = {v: zoo.load_model("photo", v) for v in family.variants}
    clean = photo(args.side)
    image = explore.InputImage("astronaut", clean, "astronaut", clean.shape[:2])

    def first_result(seed: int) -> None:
        noisy = explore.degraded_input(image, NoiseSetting("uniform", 25.0, seed))
        run = explore.run_family(family, models, noisy)
        view_for(family.task).outputs(run)

    tensor = family.prepare(clean).tensor

    def bare(seed: int) -> None:
        with torch.no_grad():
            for model in models.values():
                model(tensor)

    first_result(0), bare(0)  # warm-up: oneDNN picks its kernels on the first call of a shape
    times: dict[str, list[float]] = {"first result": [], "bare forwards": []}
    for i in range(args.repeats):
        for name, step in (("first result", first_result), ("bare forwards", bare)):
            started = time.perf_counter()
            step(i + 1)
            times[name].append(time.perf_counter() - started)
    medians = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.side}×{args.side} photo, four variants, {torch.get_num_threads()} threads, median of {args.repeats}:")
    for name, value in medians.items():
        print(f"  {name:<14} {value:6.3f} s")
    print(f"  ratio first result / bare forwards: {medians['first result'] / medians['bare forwards']:.2f}")


if __name__ == "__main__":
    main()
