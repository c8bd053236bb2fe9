"""The three attention modules of Roy, Navab and Wachinger (MICCAI 2018), written as the seed defines them.

Each branch is a child named ``cSE`` / ``sSE`` that returns its *gate* (an ``nn.Sequential`` ending in
``nn.Sigmoid``), the same layout as segmentation_models_pytorch's ``SCSEModule``. The gate is therefore the output of
a module, which capture can hook and knock-out can replace without touching the maths.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

AttentionKind = Literal["none", "cse", "sse", "scse"]
ATTENTION_KINDS: tuple[AttentionKind, ...] = ("none", "cse", "sse", "scse")
DEFAULT_REDUCTION = 16


def hidden_channels(channels: int, reduction: int) -> int:
    """C/r of the cSE bottleneck, never below 1 (small layers would otherwise get zero channels)."""
    return max(channels // reduction, 1)


def channel_gate(channels: int, reduction: int = DEFAULT_REDUCTION) -> nn.Sequential:
    """w = sigmoid(Conv1x1(ReLU(Conv1x1_{C->C/r}(GAP(x))))), shape N×C×1×1."""
    hidden = hidden_channels(channels, reduction)
    return nn.Sequential(
        nn.AdaptiveAvgPool2d(1),
        nn.Conv2d(channels, hidden, kernel_size=1),
        nn.ReLU(),  # not in-place: the pre-activation stays inspectable for the teaching page
        nn.Conv2d(hidden, channels, kernel_size=1),
        nn.Sigmoid(),
    )


def spatial_gate(channels: int) -> nn.Sequential:
    """q = sigmoid(Conv1x1_{C->1}(x)), shape N×1×H×W."""
    return nn.Sequential(nn.Conv2d(channels, 1, kernel_size=1), nn.Sigmoid())


class ChannelSE(nn.Module):
    """cSE: spatial squeeze, channel excitation. Output ``x * w``."""

    def __init__(self, channels: int, reduction: int = DEFAULT_REDUCTION) -> None:
        super().__init__()
        self.cSE = channel_gate(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x)


class SpatialSE(nn.Module):
    """sSE: channel squeeze, spatial excitation. Output ``x * q``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.sSE = spatial_gate(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sSE(x)


class SCSE(nn.Module):
    """scSE: both recalibrations summed, ``x * w + x * q`` (the seed's join)."""

    def __init__(self, channels: int, reduction: int = DEFAULT_REDUCTION) -> None:
        super().__init__()
        self.cSE = channel_gate(channels, reduction)
        self.sSE = spatial_gate(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x) + x * self.sSE(x)


def make_attention(kind: AttentionKind, channels: int, reduction: int = DEFAULT_REDUCTION) -> nn.Module:
    """Build the attention block of ``kind`` for ``channels``; ``"none"`` gives an ``nn.Identity`` (the baseline)."""
    if kind == "none":
        return nn.Identity()
    if kind == "cse":
        return ChannelSE(channels, reduction)
    if kind == "sse":
        return SpatialSE(channels)
    if kind == "scse":
        return SCSE(channels, reduction)
    raise ValueError(f"unknown attention kind {kind!r}; expected one of {ATTENTION_KINDS}")


def attention_parameter_count(kind: AttentionKind, channels: int, reduction: int = DEFAULT_REDUCTION) -> int:
    """Weights a block adds: cSE 2·C·h + h + C (h = C/r), sSE C + 1, scSE both."""
    hidden = hidden_channels(channels, reduction)
    cse = 2 * channels * hidden + hidden + channels
    sse = channels + 1
    return {"none": 0, "cse": cse, "sse": sse, "scse": cse + sse}[kind]
