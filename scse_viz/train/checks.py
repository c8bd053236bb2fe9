"""The numbers the cards quote for the Gate health checks, measured by a command anyone can rerun:

``python -m scse_viz.train.checks sanity --family NAME [--images 3] [--max-side N]``
    the sanity check by model randomisation (:mod:`scse_viz.sanity`, cascading mode) of every variant with gates on
    the first ``--images`` of the family's shipped samples (held-out images, so no data set is needed): per block,
    the mean over the images of ρ and SSIM between the trained and the fully random model's sSE map, ρ of the cSE
    gates, how many images' maps survive, and ρ of the trained map with the input's gradient magnitude.
``python -m scse_viz.train.checks specificity --family NAME [--images 2000]``
    SENet's protocol on the family's test set (its training parts' labelled test images): per variant and block,
    the share of the cSE gates' variance between classes and the saturated share
    (:func:`scse_viz.gate_health.class_specificity` on the rows the batch writes).

Both print Markdown tables to paste under the card's "Gate health checks" section.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from scse_viz import batch, explore, gate_health, samples, sanity, zoo
from scse_viz.capture import capture_attention, find_attention_blocks
from scse_viz.family import Family
from scse_viz.io import LoadedImage, load_any


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(kept)) if kept else None


def sample_inputs(family: Family, count: int, max_side: int | None) -> list[tuple[str, torch.Tensor]]:
    """The first ``count`` 2-D samples of the family, spread over its list, prepared as the app prepares them."""
    images = [s for s in samples.list_samples(family.name) if s.kind == "image"]
    chosen = images[:: max(1, len(images) // max(1, count))][:count]
    out = []
    for s in chosen:
        loaded = load_any(samples.sample_bytes(s), s.path.name)
        assert isinstance(loaded, LoadedImage)
        image = explore.input_from_image(loaded, max_side=max_side or family.max_side or explore.MAX_SIDE)
        if family.degradation is not None:
            from scse_viz.degradation import NoiseSetting

            image = explore.degraded_input(image, NoiseSetting(seed=0))
        out.append((s.name, family.prepare(image.pixels).tensor))
    return out


def sanity_table(family: Family, count: int, max_side: int | None) -> list[dict[str, Any]]:
    """Per gated variant and block: the cascading check's end point averaged over the sample images."""
    inputs = sample_inputs(family, count, max_side)
    summary = []
    for variant, model in zoo.models_of(family).items():
        if not find_attention_blocks(model):
            continue
        per_block: dict[str, list[dict[str, Any]]] = defaultdict(list)
        edges: dict[str, list[float | None]] = defaultdict(list)
        for _, x in inputs:
            rows = sanity.cascading_randomization(model, x, modes=("cascading",))
            for entry in sanity.survival(rows):
                per_block[entry["block"]].append(entry)
            for block, rho in sanity.trained_edge_rho(rows).items():
                edges[block].append(rho)
        for block, entries in per_block.items():
            verdicts = [e["survives"] for e in entries if e["survives"] is not None]
            summary.append(
                {
                    "variant": variant,
                    "block": block,
                    "sSE |ρ|": _mean([None if e["sse_rho"] is None else abs(e["sse_rho"]) for e in entries]),
                    "sSE SSIM": _mean([e["sse_ssim"] for e in entries]),
                    "cSE ρ": _mean([e["cse_rho"] for e in entries]),
                    "maps surviving": f"{sum(verdicts)}/{len(verdicts)}" if verdicts else "no sSE map",
                    "edge ρ (trained)": _mean(edges[block]),
                }
            )
    return summary


@torch.no_grad()
def specificity_table(family: Family, count: int, data_root: Any = None) -> list[dict[str, Any]]:
    """Per variant and block: class specificity and saturated share over the first ``count`` test images, from the
    rows the batch writes (``batch.block_rows``), the gates captured in batches of 250."""
    items = list(itertools.islice(batch.test_items(family, data_root, set()), count))
    x = torch.cat([family.prepare(item.pixels).tensor for item in items])
    rows: list[dict[str, Any]] = []
    for variant, model in zoo.models_of(family).items():
        for start in range(0, len(items), 250):
            records = capture_attention(model, x[start : start + 250]).records
            for offset, item in enumerate(items[start : start + 250]):
                rows.extend(batch.block_rows(item.name, variant, _one(records, offset), item.label))
    return gate_health.class_specificity(rows)


def _one(records: Sequence[Any], index: int) -> list[Any]:
    """The records of one image of a batch (gates N×… cut to image ``index``), for ``batch.block_rows``."""
    from dataclasses import replace

    return [
        replace(
            r,
            channel_gate=None if r.channel_gate is None else r.channel_gate[index : index + 1],
            spatial_gate=None if r.spatial_gate is None else r.spatial_gate[index : index + 1],
        )
        for r in records
    ]


def _markdown(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no rows)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = ["–" if r[c] is None else f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.train.checks", description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("sanity", "specificity"))
    parser.add_argument("--family", required=True, choices=list(zoo.FAMILIES))
    parser.add_argument("--images", type=int, help="sanity: samples (default 3); specificity: test images (2000)")
    parser.add_argument("--max-side", type=int, help="sanity: shrink the samples to this longer side first")
    parser.add_argument("--data-root", help="specificity: where the family's test data are")
    args = parser.parse_args(argv)
    family = zoo.family(args.family)
    started = time.perf_counter()
    if args.check == "sanity":
        rows = sanity_table(family, args.images or 3, args.max_side)
    else:
        rows = specificity_table(family, args.images or 2000, args.data_root)
    print(_markdown(rows))
    print(f"\n({args.check}, {args.family}, {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
