"""``python -m scse_viz.train <family> --variant scse --seed 0 [--epochs N] [--out DIR] [--set key=value ...]``

``--variant all`` and several seeds (``--seed 0 1 2``) train the whole grid one run after another, which is how the
shipped families are made: ``python -m scse_viz.train brain --variant all --seed 0 1 2``. Every field of the
family's recipe (its ``PARTS.config``, ``scse_viz/train/config.py``) can be changed with ``--set``, e.g. ``--set widths=24,48,96``;
the run's JSON records the recipe it used.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from scse_viz.train.config import RunConfig
from scse_viz.train.parts import parts_for, trainable_families


def _parse_value(text: str, default: Any) -> Any:
    """Convert ``text`` to the type of the field's default (tuples from comma-separated numbers)."""
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if isinstance(default, tuple):
        kind = type(default[0]) if default else float
        return tuple(kind(part) for part in text.split(","))
    if default is None:
        return None if text.lower() == "none" else int(text)
    return type(default)(text)


def overrides(config_class: type[RunConfig], pairs: Sequence[str]) -> dict[str, Any]:
    """``["epochs=5", "widths=16,32"]`` -> typed values for ``config_class``; unknown keys are an error."""
    defaults = {f.name: getattr(config_class(), f.name) for f in fields(config_class)}
    values = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        if key not in defaults or not _:
            raise SystemExit(f"--set {pair!r}: expected key=value with key one of {sorted(defaults)}")
        values[key] = _parse_value(text, defaults[key])
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.train", description="Train a model family's variants.")
    parser.add_argument("family", choices=trainable_families())
    parser.add_argument("--variant", default="scse", help="one of the family's variants, or all")
    parser.add_argument("--seed", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, help="default: the family's recipe")
    parser.add_argument("--out", type=Path, help="default: runs/<family>")
    parser.add_argument("--max-train-items", type=int, default=None, help="a few training items only (tiny runs)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    parser.add_argument("--workers", type=int, default=-1, help="DataLoader workers (-1: none on CPU, 4 on GPU)")
    parser.add_argument("--data-root", type=Path, default=None, help="fashion: folder with the IDX files")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="change any recipe field")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    from scse_viz import zoo

    spec = zoo.family(args.family)
    parts = parts_for(spec)
    if args.variant != "all" and args.variant not in spec.variants:
        parser.error(f"--variant must be all or one of {', '.join(spec.variants)}")
    config_class = parts.config
    values = overrides(config_class, args.set)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    out = args.out or Path("runs") / args.family
    variants = spec.variants if args.variant == "all" else (args.variant,)
    for seed in args.seed:
        for variant in variants:
            config = config_class(
                **values,
                variant=variant,
                seed=seed,
                max_train_items=args.max_train_items,
                device=args.device,
                num_workers=args.workers,
                progress=not args.quiet,
            )
            result = parts.train(config, out, args.data_root)
            score = f"{parts.metric_name} {result.record[parts.record_metric]:.4f}"
            print(
                f"{config.run_name}: {score}, {result.record['train_time_s'] / 60:.1f} min on "
                f"{result.record['device']} -> {result.weights_path}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
