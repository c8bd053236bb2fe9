"""Pieces every family's training shares: seeding, the optimiser, parameter counts, weight files and run records."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from scse_viz._torchvision import torchvision
from scse_viz.blocks import SCSE, ChannelSE, SpatialSE


@dataclass
class TrainResult:
    """Where a run wrote its files and what it measured."""

    weights_path: Path
    record_path: Path
    record: dict[str, Any]


def seed_everything(seed: int) -> None:
    """Seed every RNG a run touches and ask torch for deterministic kernels (warnings, not errors, where it has none)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS; harmless on CPU
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def start_run(config: Any, out_dir: str | Path) -> tuple[Path, torch.device]:
    """What every run does first: its output folder, its device (all CPU cores when on the CPU), its seeds."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(os.cpu_count() or 1)
    seed_everything(config.seed)
    return out_dir, device


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_optimizer(
    model: nn.Module, optimizer: str, lr: float, weight_decay: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """SGD (Nesterov) or AdamW; weight decay on conv/linear weights only, since decaying BN scales and biases hurts."""
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True)
    if optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    raise ValueError(f"unknown optimizer {optimizer!r}; choose 'sgd' or 'adamw'")


def one_cycle(
    optimizer: torch.optim.Optimizer, max_lr: float, total_steps: int, warmup_fraction: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """The one-cycle schedule of every recipe; warm-up stretched to 2 steps in tiny runs.

    torch's OneCycleLR divides by (warm-up steps − 1), so a run whose warm-up is exactly one step fails; runs that
    short (tests, smoke runs) get two warm-up steps, or a constant rate below 4 steps. The shipped recipes have
    hundreds of warm-up steps and are unaffected.
    """
    if total_steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    pct_start = max(warmup_fraction, 2.0 / total_steps) if warmup_fraction > 0 else warmup_fraction
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def attention_parameters(model: nn.Module) -> int:
    """Weights inside the model's attention blocks (zero for a baseline)."""
    blocks = [m for m in model.modules() if isinstance(m, (ChannelSE, SpatialSE, SCSE))]
    return sum(p.numel() for block in blocks for p in block.parameters())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(model: nn.Module, path: Path, metadata: dict[str, str]) -> None:
    """state_dict as safetensors: floating tensors as contiguous float32 on CPU (NCHW even after channels-last)."""
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        tensors[key] = (value.float() if value.is_floating_point() else value).contiguous()
    save_file(tensors, str(path), metadata=metadata)


def environment(device: torch.device) -> dict[str, Any]:
    """Where a run ran: device name, threads and library versions (stored in every run record)."""
    return {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "python_version": platform.python_version(),
    }


def shuffled_loader(dataset: Any, config: Any, device: torch.device) -> torch.utils.data.DataLoader:
    """The training DataLoader every recipe uses: seeded shuffling, full batches for BatchNorm unless the set is
    tiny, the recipe's number of workers (each draws its own augmentation stream)."""
    workers = config.workers(device.type)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=True,
        drop_last=len(dataset) >= 2 * config.batch_size,
        generator=torch.Generator().manual_seed(config.seed),
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )


def write_run(
    model: nn.Module, config: Any, out_dir: Path, device: torch.device, record: dict[str, Any]
) -> TrainResult:
    """Save the weights as ``<variant>-seed<k>.safetensors`` and the run record (``record`` plus what every run
    stores: recipe, parameter counts, environment, file name and hash) as ``<variant>-seed<k>.json``."""
    weights_path = out_dir / f"{config.run_name}.safetensors"
    save_weights(model, weights_path, {"family": config.family, "variant": config.variant, "seed": str(config.seed)})
    full = {
        "family": config.family,
        "variant": config.variant,
        "seed": config.seed,
        "config": config.to_dict(),
        **record,
        "parameters": count_parameters(model),
        "attention_parameters": attention_parameters(model),
        **environment(device),
        "weights_file": weights_path.name,
        "sha256": sha256_of(weights_path),
    }
    record_path = out_dir / f"{config.run_name}.json"
    record_path.write_text(json.dumps(full, indent=2) + "\n")
    return TrainResult(weights_path=weights_path, record_path=record_path, record=full)
