"""Time of ``upsample_map`` (numpy bilinear, the model's geometry) against ``torch.nn.functional.interpolate`` on the
same maps, at the sizes the app draws (one run, medians).

Cases: a 32×32 map to 256×256 (a stride-8 block of a 256×256 upload; the old unit test wanted this under 5 ms), the
brain U-Net's deepest and shallowest sSE maps on its 160×160 input (10×10 at stride 16, 80×80 at stride 2), a
Fashion-MNIST block's 7×7 map at stride 4 on 28×28, a stride-8 map on an input that is not a multiple of 8 (8×8 to
60×60: upsampled to 64×64, then cropped) and a map resized without a stride (37×23 to 300×200). The reference is
``F.interpolate(mode="bilinear", align_corners=False)`` at the same integer factor (or to the same size) on a float64
tensor, cropped the same way, including the numpy -> tensor -> numpy round trip, so both arms take and return the
same arrays. Also printed: the largest difference between the two results, so a speed-up never hides a different
map.

Ours and the reference alternate, so drift in machine load hits both alike. Prints figures; asserts nothing.
Run from the repository root: python -m benchmarks.upsample_speed [--repeats 201]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

import scse_viz  # noqa: F401
from scse_viz.geometry import upsample_map

# (label, map size, output size, stride or None)
CASES: list[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int] | None]] = [
    ("32×32 -> 256×256, stride 8", (32, 32), (256, 256), (8, 8)),
    ("brain deepest 10×10 -> 160×160, stride 16", (10, 10), (160, 160), (16, 16)),
    ("brain first 80×80 -> 160×160, stride 2", (80, 80), (160, 160), (2, 2)),
    ("fashion 7×7 -> 28×28, stride 4", (7, 7), (28, 28), (4, 4)),
    ("8×8 -> 60×60, stride 8 (cropped from 64)", (8, 8), (60, 60), (8, 8)),
    ("no stride 37×23 -> 300×200", (37, 23), (300, 200), None),
]


def reference(m: np.ndarray, out_size: tuple[int, int], stride: tuple[int, int] | None) -> np.ndarray:
    """torch's bilinear resize of ``m`` (by the integer ``stride``, cropped; or straight to ``out_size``)."""
    t = torch.from_numpy(m)[None, None]
    if stride is None:
        return F.interpolate(t, size=out_size, mode="bilinear", align_corners=False)[0, 0].numpy()
    up = F.interpolate(t, scale_factor=stride, mode="bilinear", align_corners=False)[0, 0].numpy()
    return up[: out_size[0], : out_size[1]]


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=201)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        f"upsample_map against torch.nn.functional.interpolate (bilinear, align_corners=False), float64, "
        f"torch threads {torch.get_num_threads()}, medians over {args.repeats} runs"
    )
    print(f"{'case':<44}{'ours ms':>10}{'torch ms':>10}{'ours/torch':>12}{'max |diff|':>12}")
    for label, map_size, out_size, stride in CASES:
        m = rng.random(map_size)
        arms: dict[str, Callable[[], np.ndarray]] = {
            "ours": lambda m=m, out_size=out_size, stride=stride: upsample_map(m, out_size, stride),
            "torch": lambda m=m, out_size=out_size, stride=stride: reference(m, out_size, stride),
        }
        for run in arms.values():  # warm-up: allocator, torch's thread pool
            for _ in range(3):
                run()
        times: dict[str, list[float]] = {name: [] for name in arms}
        for _ in range(args.repeats):
            for name, run in arms.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        diff = float(np.abs(arms["ours"]() - arms["torch"]()).max())
        ours_ms, torch_ms = median_ms(times["ours"]), median_ms(times["torch"])
        print(f"{label:<44}{ours_ms:>10.3f}{torch_ms:>10.3f}{ours_ms / torch_ms:>12.2f}{diff:>12.1e}")


if __name__ == "__main__":
    main()
