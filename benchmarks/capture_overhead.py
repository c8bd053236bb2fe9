"""Ratio of capture time to plain forward time for the scSE U-Net at 256×256 on this CPU (one run, medians).

Plain and captured passes alternate, so drift in machine load hits both alike. Prints figures; asserts nothing.
Run from the repository root: python -m benchmarks.capture_overhead [--repeats 41] [--size 256]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import scse_viz  # noqa: F401
from scse_viz import capture_attention
from scse_viz.models import UNet2D


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = UNet2D(in_channels=1, num_classes=4, base_channels=16, depth=4, attention="scse").eval()
    x = torch.randn(1, 1, args.size, args.size)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def captured() -> None:
        capture_attention(model, x)

    for _ in range(3):  # warm-up: allocator, thread pool, plan cache
        plain(), captured()
    times: dict[str, list[float]] = {"plain": [], "capture": []}
    for _ in range(args.repeats):
        for name, run in (("plain", plain), ("capture", captured)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    plain_ms = statistics.median(times["plain"]) * 1e3
    capture_ms = statistics.median(times["capture"]) * 1e3
    print(f"U-Net (scSE, base 16, depth 4), input 1×1×{args.size}×{args.size}, torch threads {torch.get_num_threads()}")
    print(f"plain forward   median {plain_ms:8.2f} ms over {args.repeats} runs")
    print(f"capture_attention median {capture_ms:8.2f} ms over {args.repeats} runs")
    print(f"ratio capture / plain: {capture_ms / plain_ms:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
