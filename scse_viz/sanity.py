"""Sanity check by model randomisation (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

An attention map that explains *the model* must change when the model's weights are replaced by random ones. If a
block's sSE map stays the same after every layer up to and including the block was re-initialised, the map follows
the image (its edges, its bright parts), not anything the model learned: it would look the same in an untrained
network. Two modes, as in the paper:

- **cascading**: re-initialise the layers one after the other from the output towards the input, keeping the
  earlier ones random (step k: the last k layers, in the order they run, are random);
- **independent**: re-initialise one layer at a time, the others trained.

After each step the model runs once under :func:`scse_viz.capture.capture_attention`, and each block's gates are
compared with the trained model's: Spearman's ρ and SSIM between the sSE maps, ρ between the cSE gates. Each row
also holds ρ between the block's sSE map and the input's gradient magnitude (is the gate an edge detector?).

Everything happens on a private ``copy.deepcopy`` of the model: a model the app caches and shares between sessions
is never touched. Layers are re-initialised with their own ``reset_parameters()`` (the initialiser PyTorch would
use for an untrained layer) under a fixed seed per layer, so both modes give a layer the same random weights.

``python -m scse_viz.sanity --family NAME`` measures the shipped family's variants on a few of its samples and prints
the Markdown the cards quote.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scse_viz.capture import BlockRecord, capture_attention
from scse_viz.geometry import upsample_map
from scse_viz.metrics import spearman, ssim

MODES = ("cascading", "independent")
SURVIVES_RHO = 0.5  # a map whose |ρ| with the trained map stays at or above this on a fully random model survives
# (absolute: an inverted map follows the image as much as the map itself, as Adebayo et al. count it)
SEED = 0


@dataclass(frozen=True)
class Layer:
    """A module with weights of its own, and where it first runs in a forward pass (0: first)."""

    name: str
    position: int


def execution_order(model: nn.Module, x: torch.Tensor) -> list[Layer]:
    """Modules with their own parameters, in the order they first run on ``x`` (modules that never run are left
    out: re-initialising them changes nothing). Hooks live on ``model`` for this one pass only."""
    order: list[str] = []
    handles = []
    for name, module in model.named_modules():
        if any(True for _ in module.parameters(recurse=False)):

            def seen(_module: nn.Module, _args: Any, name: str = name) -> None:
                if name not in order:
                    order.append(name)

            handles.append(module.register_forward_pre_hook(seen))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [Layer(name, i) for i, name in enumerate(order)]


def reinitialise(module: nn.Module, seed: int) -> None:
    """Replace ``module``'s own weights by fresh random ones from its initialiser (``reset_parameters``); a module
    without one gets normal values with its weights' own spread. Seeded, so a layer gets the same values every time."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        else:
            for parameter in module.parameters(recurse=False):
                spread = float(parameter.std()) if parameter.numel() > 1 else 0.0
                parameter.normal_(0.0, spread or 0.02)
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()


def gradient_magnitude(x: torch.Tensor) -> np.ndarray:
    """|∇I| of the first input of ``x`` (its channels averaged), central differences, H×W float64."""
    image = x[0].detach().double().mean(dim=0).cpu().numpy()
    gy, gx = np.gradient(image)
    return np.hypot(gx, gy)


def edge_rho(spatial_gate: np.ndarray, edges: np.ndarray) -> float:
    """Spearman's ρ between a block's sSE map (h×w) and the input's gradient magnitude averaged onto the map's
    grid: near 1, the gate mostly marks the image's edges."""
    pooled = F.adaptive_avg_pool2d(torch.from_numpy(edges)[None, None], spatial_gate.shape[-2:])[0, 0].numpy()
    return spearman(spatial_gate, pooled)


def _unit(m: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] (zeros for a constant map), so SSIM compares the maps' structure, not their offset."""
    low, high = float(m.min()), float(m.max())
    return np.zeros_like(m) if high - low < 1e-12 else (m - low) / (high - low)


def map_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two maps on the model input's grid, each scaled to [0, 1] first; NaN below SSIM's 11×11 window."""
    if min(a.shape) < 11:
        return float("nan")
    return ssim(_unit(a), _unit(b), data_range=1.0)


def _by_label(records: Sequence[BlockRecord]) -> dict[str, BlockRecord]:
    return {r.label: r for r in records if r.ran and r.readable}


def _block_end(block: str, layers: Sequence[Layer]) -> int:
    """Position of the block's last layer with weights (the block's output depends on every layer up to it)."""
    inside = [layer.position for layer in layers if layer.name == block or layer.name.startswith(f"{block}.")]
    return max(inside) if inside else -1


def _compare(
    trained: dict[str, BlockRecord],
    changed: dict[str, BlockRecord],
    size: tuple[int, int],
    edges: np.ndarray,
) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for label, before in trained.items():
        after = changed.get(label)
        row: dict[str, float | None] = {"sse_rho": None, "sse_ssim": None, "cse_rho": None, "edge_rho": None}
        if after is not None and before.spatial_gate is not None and after.spatial_gate is not None:
            qa, qb = before.spatial_gate[0], after.spatial_gate[0]
            row["sse_rho"] = spearman(qa, qb)
            row["sse_ssim"] = map_ssim(upsample_map(qa, size, before.stride), upsample_map(qb, size, after.stride))
            row["edge_rho"] = edge_rho(qb, edges)
        if after is not None and before.channel_gate is not None and after.channel_gate is not None:
            row["cse_rho"] = spearman(before.channel_gate[0], after.channel_gate[0])
        out[label] = row
    return out


@torch.no_grad()
def cascading_randomization(
    model: nn.Module,
    x: torch.Tensor,
    modes: Sequence[str] = MODES,
    layers: Sequence[str] | None = None,
    seed: int = SEED,
) -> list[dict[str, Any]]:
    """One plain row per (mode, step, block): the gates of the trained model against those after the step's layers
    were re-initialised, on a deep copy of ``model`` (``model`` itself is never changed).

    Row fields: ``mode``, ``step`` (0: nothing random yet, the reference), ``layer`` (re-initialised at this step),
    ``randomised`` (how many layers are random now), ``randomised_layers`` (their names, comma-separated),
    ``block``, ``depth`` (the block's index, input first), ``reached`` (a random layer runs at or before the block's
    last layer, so its gates can have changed), ``sse_rho``, ``sse_ssim``, ``cse_rho`` (None where the block has
    no such gate), and ``edge_rho`` (the step's sSE map against the input's gradient magnitude).
    ``layers`` restricts the layers re-initialised (names from :func:`execution_order`), e.g. for a quick check.
    """
    unknown = set(modes) - set(MODES)
    if unknown:
        raise ValueError(f"unknown mode(s) {sorted(unknown)}; choose from {MODES}")
    private = copy.deepcopy(model).eval()
    order = execution_order(private, x)
    if layers is not None:
        wanted = set(layers)
        missing = wanted - {layer.name for layer in order}
        if missing:
            raise ValueError(f"no layer with weights named {sorted(missing)} runs in this model")
        order = [layer for layer in order if layer.name in wanted]
    trained_state = copy.deepcopy(private.state_dict())
    size = (int(x.shape[-2]), int(x.shape[-1]))
    edges = gradient_magnitude(x)
    trained = _by_label(capture_attention(private, x).records)
    blocks = list(trained)
    every_layer = execution_order(private, x)
    ends = {label: _block_end(trained[label].name, every_layer) for label in blocks}
    seeds = {layer.name: seed + layer.position for layer in order}
    modules = dict(private.named_modules())
    rows: list[dict[str, Any]] = []

    def emit(mode: str, step: int, layer: str, random: list[Layer]) -> None:
        changed = trained if not random else _by_label(capture_attention(private, x).records)
        compared = _compare(trained, changed, size, edges)
        first = min((r.position for r in random), default=None)
        for depth, label in enumerate(blocks):
            rows.append(
                {
                    "mode": mode,
                    "step": step,
                    "layer": layer,
                    "randomised": len(random),
                    "randomised_layers": ", ".join(r.name for r in random),
                    "block": label,
                    "depth": depth,
                    "reached": first is not None and first <= ends[label],
                    **compared[label],
                }
            )

    for mode in modes:
        emit(mode, 0, "", [])
        if mode == "cascading":
            random: list[Layer] = []
            for step, layer in enumerate(reversed(order), start=1):
                reinitialise(modules[layer.name], seeds[layer.name])
                random.append(layer)
                emit(mode, step, layer.name, random)
        else:
            for step, layer in enumerate(reversed(order), start=1):
                reinitialise(modules[layer.name], seeds[layer.name])
                emit(mode, step, layer.name, [layer])
                private.load_state_dict(trained_state)
        private.load_state_dict(trained_state)
    return rows


def survival(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per block, from the cascading rows: ρ and SSIM of its sSE map (and ρ of its cSE gate) once every layer is
    random, and whether the map survives (|ρ| ≥ ``SURVIVES_RHO``: it follows the image, not the model)."""
    cascading = [r for r in rows if r["mode"] == "cascading"]
    if not cascading:
        return []
    last = max(r["step"] for r in cascading)
    summary = []
    for r in (r for r in cascading if r["step"] == last):
        rho = r["sse_rho"]
        summary.append(
            {
                "block": r["block"],
                "depth": r["depth"],
                "sse_rho": rho,
                "sse_ssim": r["sse_ssim"],
                "cse_rho": r["cse_rho"],
                "edge_rho_random": r["edge_rho"],
                "survives": None if rho is None or not np.isfinite(rho) else bool(abs(rho) >= SURVIVES_RHO),
            }
        )
    return summary


def trained_edge_rho(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Per block: ρ between the trained model's sSE map and the input's gradient magnitude (the step-0 rows)."""
    return {r["block"]: r["edge_rho"] for r in rows if r["step"] == 0 and r["mode"] == rows[0]["mode"]}
