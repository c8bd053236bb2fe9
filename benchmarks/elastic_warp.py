"""Time of one brain training sample's elastic warp parameters, torchvision's 2-D blur against the separable one.

Both draw the same random field (``tests/test_elastic.py`` checks they agree); this prints what the separable blur
saves per warp (median time of the warp's parameters), measured in one run, in turn, on one thread (as the recipe's
training runs go two at a time, one thread each). Prints figures; asserts nothing.
Run from the repository root: python -m benchmarks.elastic_warp [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz.train.config import BrainConfig
from scse_viz.train.elastic import SeparableElasticTransform


def median_ms(transform: SeparableElasticTransform, image: torch.Tensor, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        transform.make_params([image])
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    from torchvision.transforms import v2  # after scse_viz, which makes torchvision importable here

    torch.set_num_threads(1)
    config = BrainConfig()
    image = torch.rand(4, config.size, config.size)  # a plain tensor is an image to torchvision's v2
    kinds = {
        "torchvision ElasticTransform": v2.ElasticTransform(alpha=config.elastic_alpha, sigma=config.elastic_sigma),
        "SeparableElasticTransform": SeparableElasticTransform(alpha=config.elastic_alpha, sigma=config.elastic_sigma),
    }
    times = {name: median_ms(transform, image, args.repeats) for name, transform in kinds.items()}
    for name, ms in times.items():
        print(f"{name:30s} {ms:7.2f} ms per warp ({config.size}×{config.size}, σ={config.elastic_sigma}, one thread)")
    reference, separable = times.values()
    print(f"ratio torchvision / separable: {reference / separable:.1f}")


if __name__ == "__main__":
    main()
