"""Seconds per Fashion-MNIST training epoch on this machine, per model size, from a short timed run (medians).

It runs the real training step (augmentation in the DataLoader, forward, backward, SGD, one-cycle schedule) on the
first ``--items`` training images and extrapolates the *median* step time to the 55,000-image train split, so that
bursts of load from other processes on a shared machine do not decide the recipe. Data loading (augmentation) and
compute are timed separately. Prints figures; asserts nothing. Needs the installed dataset.
Run from the repository root: python -m benchmarks.train_epoch_time [--items 5000] [--variants none scse]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

import scse_viz  # noqa: F401
from scse_viz.datasets.fashion import load_fashion
from scse_viz.preprocess import preprocess_fashion_images
from scse_viz.train.common import make_optimizer
from scse_viz.train.config import FashionConfig
from scse_viz.train.fashion import AugmentedImages, augmentation, normalise_batch, quantise

TRAIN_ITEMS = 55_000


def time_config(config: FashionConfig, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Median seconds of data loading and of compute per step, and the extrapolated epoch time."""
    torch.manual_seed(0)
    loader = DataLoader(
        AugmentedImages(images, labels, augmentation(config)),
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(0),
    )
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = config.build_model().to(memory_format=memory_format).train()
    optimizer = make_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.momentum)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    data_times, step_times = [], []
    iterator = iter(loader)
    for step in range(len(loader)):
        start = time.perf_counter()
        batch, target = next(iterator)
        loaded = time.perf_counter()
        loss = criterion(model(normalise_batch(batch).contiguous(memory_format=memory_format)), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        done = time.perf_counter()
        if step >= 3:  # warm-up: oneDNN primitive creation, allocator
            data_times.append(loaded - start)
            step_times.append(done - loaded)
    data, compute = statistics.median(data_times), statistics.median(step_times)
    steps = TRAIN_ITEMS // config.batch_size
    return {"data_s": data, "compute_s": compute, "epoch_s": steps * (data + compute)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--variants", nargs="+", default=["none", "scse"])
    parser.add_argument("--widths", nargs="+", default=["16,32,64", "24,48,96"])
    parser.add_argument("--blocks", type=int, nargs="+", default=[2])
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    raw, labels = load_fashion("train")
    images = quantise(preprocess_fashion_images(raw[: args.items]))
    labels_t = torch.from_numpy(labels[: args.items])
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, "
        f"{args.items} images timed, extrapolated to {TRAIN_ITEMS}"
    )
    print(f"{'widths':<12}{'blocks':>7}{'variant':>8}{'layout':>9}{'data ms':>9}{'step ms':>9}{'s/epoch':>9}")
    for text in args.widths:
        widths = tuple(int(w) for w in text.split(","))
        for blocks in args.blocks:
            for variant in args.variants:
                for channels_last in (False, True):
                    config = FashionConfig(
                        variant=variant,
                        widths=widths,
                        blocks_per_stage=blocks,
                        batch_size=args.batch_size,
                        channels_last=channels_last,
                    )
                    r = time_config(config, images, labels_t)
                    print(
                        f"{text:<12}{blocks:>7}{variant:>8}{'NHWC' if channels_last else 'NCHW':>9}"
                        f"{r['data_s'] * 1e3:>9.1f}{r['compute_s'] * 1e3:>9.1f}{r['epoch_s']:>9.0f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
