"""What the app does to a clean picture before a restoration family's models see it: noise of a chosen σ map.

A family whose models undo a degradation names one here (``Family.degradation``); the sidebar then offers the
controls registered for its type (``scse_viz.ui.degradations``, the pages layer) and the input goes through
:func:`degrade`, which returns the degraded picture with what is known of it: the clean picture and the σ map, so
the task can score the outputs and the sSE maps can be set against the true noise. "Already noisy" passes the
picture on untouched and with no ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scse_viz.geometry import resize_nearest
from scse_viz.noise import MAX_SIGMA, NOISE_PATTERNS, add_noise, sigma_map
from scse_viz.tasks.restoration import RestorationTruth

PAINTED, AS_IS = "painted", "already noisy"
# The noise the app opens on (and the batch adds): one that varies across the picture, so the spatial gates have
# something to find; with uniform noise every map's ρ with σ is undefined and the family's lesson stays hidden.
FIRST_PATTERN = "half"
PATTERN_TITLES: dict[str, str] = {
    "uniform": "uniform (the same σ everywhere)",
    "half": "half (one side clean)",
    "blob": "blob (a noisy spot)",
    "band": "band (a noisy stripe)",
    "smooth": "smooth (a random smooth field)",
    PAINTED: "painted by hand",
    AS_IS: "none: my photo is already noisy",
}


@dataclass(frozen=True)
class NoiseSetting:
    """Noise of largest σ ``sigma`` (0–255 scale) in ``pattern``; ``painted`` (H×W in [0, 1]) scales σ per pixel
    for the painted pattern; ``seed`` fixes the random pattern's placement and the noise itself."""

    pattern: str = FIRST_PATTERN
    sigma: float = 25.0
    seed: int = 0
    painted: np.ndarray | None = field(default=None, compare=False)

    @property
    def adds_noise(self) -> bool:
        return self.pattern != AS_IS

    def key(self) -> str:
        """Identifies the setting (and so the degraded picture) for memoised results."""
        mark = "" if self.painted is None else f":{hash(np.round(self.painted, 3).tobytes()) & 0xFFFFFFFF:08x}"
        return f"{self.pattern}:{self.sigma:g}:{self.seed}{mark}"


@dataclass(frozen=True)
class AddedNoise:
    """The degradation of the photo denoisers: additive Gaussian noise of σ up to :data:`MAX_SIGMA`."""

    patterns: tuple[str, ...] = (*NOISE_PATTERNS, PAINTED, AS_IS)
    max_sigma: float = MAX_SIGMA * 255.0  # the slider's end: the largest σ the models were trained on
    first_pattern: str = FIRST_PATTERN  # what the app opens on


def painted_sigma(painted: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A painted strength mask (any size, 0–1) resized onto the picture (nearest), times σ."""
    painted = np.clip(np.asarray(painted, dtype=np.float32), 0.0, 1.0)
    return (resize_nearest(painted, shape) * sigma).astype(np.float32)


def degrade(clean: np.ndarray, setting: NoiseSetting) -> tuple[np.ndarray, RestorationTruth | None]:
    """The noisy picture (clipped to [0, 1], as a saved photo is) and its truth; a gray picture becomes RGB first.

    With the painted pattern and nothing painted yet, σ is 0 everywhere (the picture stays clean until painted).
    """
    clean = np.asarray(clean, dtype=np.float32)
    if clean.ndim == 2:
        clean = np.repeat(clean[..., None], 3, axis=-1)
    clean = np.ascontiguousarray(clean[..., :3])
    if not setting.adds_noise:
        return clean, None
    if setting.sigma < 0:
        raise ValueError("σ must not be negative")
    rng = np.random.default_rng([setting.seed, 255])
    shape = clean.shape[:2]
    if setting.pattern == PAINTED:
        sigmas = (
            np.zeros(shape, np.float32)
            if setting.painted is None
            else painted_sigma(setting.painted, shape, setting.sigma / 255.0)
        )
    else:
        sigmas = sigma_map(setting.pattern, shape, setting.sigma / 255.0, rng)
    noisy = np.clip(add_noise(clean, sigmas, rng), 0.0, 1.0)
    return noisy, RestorationTruth(clean, sigmas)
