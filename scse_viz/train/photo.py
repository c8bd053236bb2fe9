"""Train one photo denoiser (one variant, one seed): blind removal of noise whose σ varies across the image.

``python -m scse_viz.train photo --variant all --seed 0 1`` first installs nothing: the wallpapers come from
Debian's packages (``apt-get install plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds``, what
:func:`ensure_wallpapers` runs when they are missing). A run builds a pool of clean 96×96 images from its seed
(dead leaves and wallpaper crops, :mod:`scse_viz.data.photo`; cached per seed in the run folder, so the four
variants of a seed train on the same pool), then draws each batch from it: a random 64×64 crop, a random rotation
by 90° steps and flip, a σ map of a random pattern with its largest σ uniform in [0, 50/255], and
``clip(clean + σ·n, 0, 1)`` (clipped as a saved photo is). Loss: L1 between output and clean image.

The test numbers (:func:`measure_test`) go through the app's own path (the family's ``prepare`` and its task's
``read``) on scikit-image's colour photos, which no run trains on.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz.capture import capture_attention
from scse_viz.data import photo as data
from scse_viz.datasets.photos import TEST_PHOTOS, scikit_image_photo
from scse_viz.families.photo import ARCHITECTURE, FAMILY, prepare
from scse_viz.geometry import upsample_map
from scse_viz.metrics import psnr, spearman, ssim
from scse_viz.train.common import TrainResult, make_optimizer, one_cycle, start_run, write_run
from scse_viz.train.config import RunConfig
from scse_viz.train.parts import FamilyTraining
from scse_viz.train.samples.photo import write_photo

# (name, pattern, largest σ on the 0–255 scale): the test conditions of the card
UNIFORM_CONDITIONS = (("σ=15", "uniform", 15.0), ("σ=25", "uniform", 25.0), ("σ=50", "uniform", 50.0))
VARYING_CONDITIONS = tuple(("varying", pattern, 50.0) for pattern in ("half", "blob", "band", "smooth"))
EVAL_SIDE = 256  # central crop of each test photo (BM3D, the reference, takes about 4 s per crop on this CPU)


@dataclass
class PhotoConfig(RunConfig):
    """The recipe of the shipped denoisers (about 12 minutes per model on a 2-core CPU, pool included)."""

    family = "photo"
    epochs: int = 20  # passes over the pool of clean images
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    base_channels: int = ARCHITECTURE.base_channels  # the network's shape: the family's architecture
    depth: int = ARCHITECTURE.depth
    reduction: int = ARCHITECTURE.reduction
    patch: int = 64  # training crop side
    pool_side: int = 96  # side of each clean image of the pool
    dead_leaves: int = 800  # dead-leaves images in the pool
    photos: int = 1600  # wallpaper crops in the pool
    max_sigma: float = 50.0  # largest noise σ (0–255 scale)
    uniform_share: float = 0.4  # share of batches' images with uniform noise (the rest: half, blob, band, smooth)
    photo_dirs: tuple[str, ...] = data.WALLPAPER_DIRS  # where the photographs are (tests point elsewhere)

    def build_model(self) -> nn.Module:
        shape = replace(ARCHITECTURE, base_channels=self.base_channels, depth=self.depth, reduction=self.reduction)
        return shape.build(self.variant)


def ensure_wallpapers(dirs: tuple[str, ...] = data.WALLPAPER_DIRS) -> list[Path]:
    """The photographs under ``dirs``; for the default (Debian's wallpaper folders) Debian's packages are installed
    first when none are there (needs root and apt)."""
    try:
        return data.wallpaper_files(dirs)
    except data.WallpapersMissingError:
        if tuple(dirs) != data.WALLPAPER_DIRS or shutil.which("apt-get") is None:
            raise
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *data.WALLPAPER_PACKAGES], check=True)
        return data.wallpaper_files(dirs)


def build_pool(config: PhotoConfig, out_dir: Path | None = None) -> tuple[np.ndarray, float]:
    """N×side×side×3 clean images (dead leaves then wallpaper crops) from the run's seed, and the seconds it took
    to make them (also when read from the cache ``pool-seed<k>-<n>.npz`` that an earlier variant of this seed
    wrote: each model's training time counts the pool it trained on)."""
    started = time.perf_counter()
    count = config.dead_leaves + config.photos
    if config.max_train_items is not None:
        count = min(count, config.max_train_items)
    cache = out_dir / f"pool-seed{config.seed}-{count}.npz" if out_dir is not None else None
    if cache is not None and cache.is_file():
        with np.load(cache) as stored:
            return stored["pool"], float(stored["seconds"])
    rng = np.random.default_rng([config.seed, 96])
    photo_count = round(count * config.photos / (config.dead_leaves + config.photos))
    crops = data.photo_crops(ensure_wallpapers(config.photo_dirs), max(photo_count, 1), config.pool_side, rng)
    palette = data.palette_from(crops, 20000, rng)
    leaves = data.DeadLeaves(side=config.pool_side, max_radius=config.pool_side / 2)
    dead = [data.dead_leaves(leaves, palette, crops, rng) for _ in range(count - photo_count)]
    pool = np.concatenate([np.stack(dead), crops[:photo_count]]) if dead else crops[:photo_count]
    pool = np.ascontiguousarray(pool, dtype=np.float32)
    seconds = time.perf_counter() - started
    if cache is not None:
        np.savez(cache, pool=pool, seconds=seconds)
    return pool, seconds


class NoisyBatches:
    """Random crops of the pool with random noise, drawn from one seeded numpy generator (the run's seed)."""

    def __init__(self, pool: np.ndarray, config: PhotoConfig) -> None:
        self.pool = torch.from_numpy(pool).permute(0, 3, 1, 2).contiguous()  # N×3×S×S
        self.config = config
        self.rng = np.random.default_rng([config.seed, 64])
        self.noise = torch.Generator().manual_seed(config.seed)

    def sigma(self) -> np.ndarray:
        c = self.config
        pattern = "uniform" if self.rng.uniform() < c.uniform_share else self.rng.choice(data.NOISE_PATTERNS[1:])
        return data.sigma_map(str(pattern), (c.patch, c.patch), self.rng.uniform(0, c.max_sigma) / 255.0, self.rng)

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        c, side = self.config, self.pool.shape[-1]
        clean = torch.empty(c.batch_size, 3, c.patch, c.patch)
        sigmas = torch.empty(c.batch_size, 1, c.patch, c.patch)
        for i in range(c.batch_size):
            top, left = self.rng.integers(side - c.patch + 1, size=2)
            crop = self.pool[self.rng.integers(len(self.pool)), :, top : top + c.patch, left : left + c.patch]
            crop = torch.rot90(crop, int(self.rng.integers(4)), dims=(1, 2))
            clean[i] = crop.flip(2) if self.rng.uniform() < 0.5 else crop
            sigmas[i, 0] = torch.from_numpy(self.sigma())
        noisy = (clean + sigmas * torch.randn(clean.shape, generator=self.noise)).clamp(0.0, 1.0)
        return noisy, clean


def train_photo(config: PhotoConfig, out_dir: str | Path, data_root: Path | None = None) -> TrainResult:
    """Train ``config.variant`` with ``config.seed``; write ``<variant>-seed<k>.safetensors`` and ``.json``."""
    started = time.perf_counter()
    out_dir, device = start_run(config, out_dir)
    loop_started = time.perf_counter()
    pool, pool_seconds = build_pool(config, out_dir)
    setup_seconds = time.perf_counter() - loop_started
    batches = NoisyBatches(pool, config)
    steps_per_epoch = max(len(pool) // config.batch_size, 1)
    model = config.build_model().to(device)
    optimizer = make_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.momentum)
    scheduler = one_cycle(optimizer, config.lr, config.epochs * steps_per_epoch, config.warmup_fraction)
    history: list[dict[str, Any]] = []
    step_losses: list[float] = []
    for epoch in range(config.epochs):
        model.train()
        epoch_start, loss_sum = time.perf_counter(), 0.0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"{config.run_name} epoch {epoch + 1}/{config.epochs}",
            disable=not config.progress,
            leave=False,
        )
        for _ in bar:
            noisy, clean = (t.to(device) for t in batches())
            loss = (model(noisy) - clean).abs().mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step_losses.append(loss.item())
            loss_sum += step_losses[-1]
        history.append(
            {"epoch": epoch + 1, "train_l1": loss_sum / steps_per_epoch, "seconds": time.perf_counter() - epoch_start}
        )
        if config.progress:
            tqdm.write(
                f"{config.run_name} epoch {epoch + 1}: L1 {history[-1]['train_l1']:.5f} "
                f"({history[-1]['seconds']:.0f} s)"
            )
    # the pool's making counts even where this run read it from the cache
    train_time = time.perf_counter() - started - setup_seconds + pool_seconds
    report = measure_test(model.cpu() if device.type != "cpu" else model, torch.device("cpu"))
    return write_run(
        model,
        config,
        out_dir,
        device,
        {
            "test_psnr_25": report["metric"],
            "per_condition": report["per_class"],
            "train_items": len(pool),
            "pool_seconds": pool_seconds,
            "train_time_s": train_time,
            "history": history,
            "step_losses": [round(v, 5) for v in step_losses],
        },
    )


# ------------------------------------------------------------------------------------------------------ evaluation


def test_inputs() -> list[dict[str, Any]]:
    """Every (photo, condition) of the test: clean crop, σ map, clipped noisy crop; the noise seeded by position."""
    items = []
    for p, name in enumerate(TEST_PHOTOS):
        clean = data.evaluation_crop(scikit_image_photo(name), EVAL_SIDE)
        for c, (condition, pattern, sigma) in enumerate(UNIFORM_CONDITIONS + VARYING_CONDITIONS):
            rng = np.random.default_rng([2026, p, c])
            sigmas = data.sigma_map(pattern, clean.shape[:2], sigma / 255.0, rng)
            noisy = np.clip(data.add_noise(clean, sigmas, rng), 0.0, 1.0)
            items.append(
                {
                    "photo": name,
                    "condition": condition,
                    "pattern": pattern,
                    "clean": clean,
                    "sigma": sigmas,
                    "noisy": noisy,
                }
            )
    return items


def _pooled(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    conditions = dict.fromkeys(r["condition"] for r in rows)
    return {f"{key.upper()} {c}": float(np.mean([r[key] for r in rows if r["condition"] == c])) for c in conditions}


@torch.no_grad()
def measure_test(model: nn.Module, device: torch.device | None = None, data_root: Path | None = None) -> dict[str, Any]:
    """PSNR and SSIM per condition (mean over the test photos), and per block the Spearman correlation between its
    sSE map (upsampled onto the photo) and the true σ map, averaged over the varying-noise inputs. Headline: PSNR
    at σ = 25."""
    model = model.eval().cpu()
    rows, correlations = [], {}
    for item in test_inputs():
        prepared = prepare(item["noisy"])
        result = capture_attention(model, prepared.tensor)
        restored = FAMILY.task.read(result.output, prepared.geometry).image
        rows.append(
            {
                "condition": item["condition"],
                "psnr": psnr(restored, item["clean"]),
                "ssim": ssim(restored, item["clean"]),
            }
        )
        if item["condition"] != "varying":
            continue
        for record in result.records:
            if record.spatial_gate is not None:
                q = prepared.geometry.to_display(upsample_map(record.spatial_gate[0], prepared.grid, record.stride))
                correlations.setdefault(record.label, []).append(spearman(q, item["sigma"]))
    per_condition = {**_pooled(rows, "psnr"), **_pooled(rows, "ssim")}
    per_block = {f"ρ(q, σ) {label}": float(np.mean(values)) for label, values in correlations.items()}
    return {"metric": per_condition["PSNR σ=25"], "per_class": {**per_condition, **per_block}}


def references() -> dict[str, dict[str, float]]:
    """The same test inputs through the noisy input itself, BM3D (the ``bm3d`` package, told the mean σ of the
    image) and scikit-image's non-local means (h = 0.8σ with the mean σ, fast mode, 5×5 patches, 13×13 search):
    PSNR and SSIM per condition, and the seconds each took."""
    import bm3d
    from skimage.restoration import denoise_nl_means

    methods = {
        "noisy input": lambda noisy, sigma: noisy,
        "BM3D": lambda noisy, sigma: bm3d.bm3d_rgb(noisy, sigma),
        "non-local means": lambda noisy, sigma: denoise_nl_means(
            noisy, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1
        ),
    }
    items = test_inputs()
    table = {}
    for method, denoise in methods.items():
        started, rows = time.perf_counter(), []
        for item in items:
            sigma = float(item["sigma"].mean())
            restored = np.clip(np.asarray(denoise(item["noisy"], sigma), dtype=np.float32), 0.0, 1.0)
            rows.append(
                {
                    "condition": item["condition"],
                    "psnr": psnr(restored, item["clean"]),
                    "ssim": ssim(restored, item["clean"]),
                }
            )
        table[method] = {
            **_pooled(rows, "psnr"),
            **_pooled(rows, "ssim"),
            "seconds per image": (time.perf_counter() - started) / len(items),
        }
    return table


NOVELTY_SEEDS = {"fit": 2027, "calibrate": 2028}  # pools unlike any training run's (seeds 0, 1, ...)
NOVELTY_SIDE = 128  # the statistics' crops: larger than training's 64 (the app shows whole photos)


def novelty_inputs(split: str, count: int, data_root: Path | None = None) -> list[torch.Tensor]:
    """Photo-family inputs for the novelty statistics: to fit and to calibrate, ``count`` noisy crops drawn as
    training draws them (dead leaves and wallpaper crops, noise of a random pattern and σ up to 50/255) from a pool
    of its own seed; to test, the card's noisy test photos (scikit-image's, never trained on)."""
    if split == "test":
        return [torch.cat([prepare(item["noisy"]).tensor for item in test_inputs()])]
    thirds = max(count // 3, 1)
    config = PhotoConfig(
        seed=NOVELTY_SEEDS[split],
        dead_leaves=thirds,
        photos=count - thirds,
        pool_side=NOVELTY_SIDE,
        patch=NOVELTY_SIDE,
        batch_size=count,
    )
    pool, _ = build_pool(config)
    noisy, _ = NoisyBatches(pool, config)()
    return [noisy]


PARTS = FamilyTraining(
    config=PhotoConfig,
    train=train_photo,
    measure_test=measure_test,
    metric_name="test PSNR at σ = 25 (dB)",
    record_metric="test_psnr_25",
    # The same weights re-measured on a CPU agree to about 1e-4 dB (float sums in another order); the variants
    # differ by tenths of a dB.
    tolerance=0.01,
    write_samples=write_photo,
    references=references,
    check_every_number=True,  # PSNR, SSIM and every ρ(q, σ) of the card are re-measured
    novelty_inputs=novelty_inputs,
)
