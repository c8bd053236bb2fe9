"""The noise of the photo denoisers: σ(x, y) maps of a few patterns, and additive Gaussian noise of that σ.

Core (numpy only): the app adds it to a clean picture (:mod:`scse_viz.degradation`) and the training data add the
same noise (:mod:`scse_viz.data.photo` uses these functions), so the app never needs the training code to make the
noise its models were trained on. ``noisy = clean + σ(x, y) · n``, n standard normal per pixel and colour, σ on the
0–1 scale.
"""

from __future__ import annotations

import math

import numpy as np

NOISE_PATTERNS: tuple[str, ...] = ("uniform", "half", "blob", "band", "smooth")
MAX_SIGMA = 50.0 / 255.0  # the largest noise level the models were trained on (0–1 scale)


def sigma_map(pattern: str, shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """An H×W map of noise standard deviations in [0, sigma] (0–1 scale), of one of :data:`NOISE_PATTERNS`.

    ``uniform``: σ everywhere. ``half``: σ on one side of a random straight line, clean on the other (a soft edge
    of a few pixels). ``blob``: a Gaussian bump of σ, clean far from it. ``band``: a stripe of σ across the image.
    ``smooth``: a random smooth field between 0 and σ (sum of a few low-frequency waves).
    """
    h, w = shape
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    if pattern == "uniform":
        field = np.ones(shape)
    elif pattern in ("half", "band"):
        angle = rng.uniform(0, 2 * math.pi)
        distance = xx * math.cos(angle) + yy * math.sin(angle) - rng.uniform(-0.5, 0.5)
        edge = 0.03
        if pattern == "half":
            field = 0.5 * (1 + np.tanh(distance / edge))
        else:
            half_width = rng.uniform(0.15, 0.4)
            field = 0.5 * (1 + np.tanh((half_width - np.abs(distance)) / edge))
    elif pattern == "blob":
        cy, cx = rng.uniform(-0.6, 0.6, size=2)
        radius = rng.uniform(0.25, 0.6)
        field = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))
    elif pattern == "smooth":
        field = np.zeros(shape)
        for _ in range(4):
            fy, fx = rng.uniform(0.3, 2.0, size=2)
            field += np.sin(math.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * math.pi))
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    else:
        raise ValueError(f"unknown noise pattern {pattern!r}; choose one of {NOISE_PATTERNS}")
    return (sigma * field).astype(np.float32)


def add_noise(clean: np.ndarray, sigmas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """clean (H×W×3 in [0, 1]) + σ(x, y) · n, n ~ N(0, 1) per pixel and colour; not clipped (the noise stays
    zero-mean and of the stated σ; the app clips only for display)."""
    if sigmas.shape != clean.shape[:2]:
        raise ValueError(f"sigma map {sigmas.shape} does not match the image {clean.shape[:2]}")
    noise = rng.standard_normal(clean.shape).astype(np.float32)
    return (clean + sigmas[..., None] * noise).astype(np.float32)
