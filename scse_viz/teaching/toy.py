"""The toy mode: a small feature map the lecturer edits and an scSE block with short, readable weights.

Both go through the same :func:`~scse_viz.teaching.walk_through` as a trained block on its real input. Every claim
in :data:`PRESETS` and in :func:`toy_block`'s docstring is checked by ``tests/test_teaching.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from scse_viz.blocks import SCSE, hidden_channels

PRESETS: dict[str, str] = {
    "random": "Uniform noise in [0, 1): a feature map without structure, every channel's mean close to 0.5. Start "
    "here, then move one channel's brightness slider and watch its gate.",
    "one bright channel": "Channel C//2 is bright (values 0.8–1.0), the others are dim (0–0.2): it has by far the "
    "largest squeeze mean s_c. With the toy block its gate w_c never falls as it gets brighter (move its "
    "brightness slider up).",
    "bright spot": "A dim map (values 0–0.1) with a 2×2 spot, +1 in every channel, at rows and columns size//4 and "
    "size//4 + 1. sSE says *where*: with the toy block q is highest on the spot. cSE hardly notices: the spot "
    "raises each channel's mean by only 4/size² (1/16 on 8×8).",
    "edge": "Left half 0, right half 1, in every channel. With the toy block q takes two values: σ(0) = 0.5 on the "
    "left and a higher one on the right. cSE only sees that every channel has mean 0.5; the mirrored edge gives "
    "exactly the same w: global average pooling does not know where things are.",
    "checkerboard": "±a_c alternating pixel by pixel, with a_c = (c+1)/C: the channels differ in contrast, but "
    "every mean is 0, so with the toy block every channel gets the same gate w_c = σ(0) = 0.5. Averaging throws "
    "the pattern away.",
    "all equal": "Every value 0.5: all channels look alike and all pixels look alike. q is one constant over the "
    "map, and any difference between the w_c comes from the weights alone.",
}
MIN_SIZE, MAX_SIZE = 4, 32


def bright_channel(channels: int) -> int:
    """The channel that the "one bright channel" preset lights up."""
    return channels // 2


def bright_spot(size: int) -> tuple[slice, slice]:
    """Rows and columns of the 2×2 spot of the "bright spot" preset."""
    start = size // 4
    return slice(start, start + 2), slice(start, start + 2)


def toy_feature_map(
    preset: str,
    channels: int = 6,
    size: int = 8,
    seed: int = 0,
    brightness: Sequence[float] | None = None,
) -> np.ndarray:
    """A C×size×size float32 feature map from a preset (see :data:`PRESETS`), channel c multiplied by brightness[c].

    ``size`` is even, from 4 to 32 (the presets' claims about means rely on equal halves). ``seed`` only matters for
    the presets with noise ("random", "one bright channel", "bright spot").
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    if channels < 1 or not (MIN_SIZE <= size <= MAX_SIZE and size % 2 == 0):
        raise ValueError(f"need at least 1 channel and an even size {MIN_SIZE}–{MAX_SIZE}, got {channels} and {size}")
    rng = np.random.default_rng(seed)
    shape = (channels, size, size)
    if preset == "random":
        x = rng.uniform(0.0, 1.0, shape)
    elif preset == "one bright channel":
        x = rng.uniform(0.0, 0.2, shape)
        x[bright_channel(channels)] += 0.8
    elif preset == "bright spot":
        x = rng.uniform(0.0, 0.1, shape)
        rows, cols = bright_spot(size)
        x[:, rows, cols] += 1.0
    elif preset == "edge":
        x = np.zeros(shape)
        x[:, :, size // 2 :] = 1.0
    elif preset == "checkerboard":
        sign = np.where((np.arange(size)[:, None] + np.arange(size)[None, :]) % 2 == 0, 1.0, -1.0)
        x = (np.arange(1, channels + 1) / channels)[:, None, None] * sign[None]
    else:  # "all equal"
        x = np.full(shape, 0.5)
    if brightness is not None:
        factors = np.asarray(brightness, dtype=np.float64)
        if factors.shape != (channels,) or not np.all(np.isfinite(factors)):
            raise ValueError(f"need one finite brightness factor per channel ({channels}), got {factors.shape}")
        x = x * factors[:, None, None]
    return x.astype(np.float32)


def toy_block(channels: int, reduction: int = 2, seed: int = 0) -> SCSE:
    """An scSE block with short, readable weights (multiples of 0.1), the same for the same arguments.

    - cSE: W1 (C'×C, C' = max(C // r, 1)) is seeded normal with std 0.7, rounded to 0.1, and W2 = W1ᵀ (tied); both
      biases are 0. The logit of channel c then grows with its own squeeze mean s_c at rate Σ_k W1[k,c]² over the
      active ReLU units, which is ≥ 0: raising s_c (a brighter channel with positive mean) never lowers w_c, while
      its effect on the other channels can go either way (the bottleneck mixes them). An input with every mean 0
      gives w = σ(0) = 0.5 in every channel.
    - sSE: weights v_c seeded uniform in [0.2, 1.0], rounded to 0.1, all positive except (for C ≥ 3) the last,
      which is minus the smallest of the others: a pixel is excited where the positive channels are bright and held
      back where the last channel is bright. The weights sum to more than 0, so a pixel equally bright in every
      channel is excited (q > 0.5). Bias 0: a zero pixel gets q = 0.5.

    A trained block's weights are whatever training made them; this block exists to make the arithmetic visible.
    """
    block = SCSE(channels, reduction)
    hidden = hidden_channels(channels, reduction)
    g = torch.Generator().manual_seed(seed)
    w1 = torch.round(torch.randn(hidden, channels, generator=g) * 7.0) / 10.0
    v = torch.round((0.2 + 0.8 * torch.rand(channels, generator=g)) * 10.0) / 10.0
    if channels >= 3:
        v[-1] = -v[:-1].min()
    _, conv1, _, conv2, _ = block.cSE
    with torch.no_grad():
        conv1.weight.copy_(w1.reshape(hidden, channels, 1, 1))
        conv1.bias.zero_()
        conv2.weight.copy_(w1.T.reshape(channels, hidden, 1, 1))
        conv2.bias.zero_()
        block.sSE[0].weight.copy_(v.reshape(1, channels, 1, 1))
        block.sSE[0].bias.zero_()
    return block.eval()
