"""Attention-block layouts of other implementations, written here so capture can be tested against each.

These are our own minimal re-writings of the *module layouts* described in ../shared/SCSE.md (attribute names,
child order, gate shapes, join), not copies of anyone's code. segmentation_models_pytorch and MONAI are tested with
the real packages; the authors' package (``squeeze_and_excitation``) is not on PyPI, so its layout lives here.
"""

from __future__ import annotations

import torch
from torch import nn


class AuthorsChannelSE(nn.Module):
    """Authors' layout: ``fc1``/``fc2`` linear layers, ``relu`` and ``sigmoid`` modules; returns x·w; r = 2."""

    def __init__(self, channels: int, reduction: int = 2) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        weights = self.sigmoid(self.fc2(self.relu(self.fc1(x.reshape(n, c, -1).mean(dim=2)))))
        return torch.mul(x, weights.view(n, c, 1, 1))


class AuthorsSpatialSE(nn.Module):
    """Authors' layout: ``conv`` (C→1) and ``sigmoid``; returns x·q."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        return torch.mul(x, self.sigmoid(self.conv(x)).view(n, 1, h, w))


class AuthorsChannelSpatialSE(nn.Module):
    """Authors' layout: children ``cSE``/``sSE`` return the *recalibrated maps*; joined by element-wise max."""

    def __init__(self, channels: int, reduction: int = 2) -> None:
        super().__init__()
        self.cSE = AuthorsChannelSE(channels, reduction)
        self.sSE = AuthorsSpatialSE(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.max(self.cSE(x), self.sSE(x))


class FunctionalSigmoidSCSE(nn.Module):
    """Gates computed with ``torch.sigmoid`` inside forward (no Sigmoid module) and branches named the other way."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.spatial_first = nn.Conv2d(channels, 1, 1)  # the sSE projection, under a misleading name order
        self.squeeze = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(), nn.Conv2d(channels // reduction, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.squeeze(x.mean(dim=(2, 3), keepdim=True)))
        q = torch.sigmoid(self.spatial_first(x))
        return x * w + x * q


class EarlySmpSCSE(nn.Module):
    """Early segmentation_models_pytorch releases: the sSE branch made C maps (one per channel), not one."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.cSE = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // reduction, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )
        self.sSE = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x) + x * self.sSE(x)


class ResidualGatedSCSE(nn.Module):
    """Looks like the seed but adds the input back (x·w + x·q + x): its gates cannot explain its output."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.cSE = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, channels // reduction, 1),
            nn.ReLU(),
            nn.Conv2d(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )
        self.sSE = nn.Sequential(nn.Conv2d(channels, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x) + x * self.sSE(x) + x


class Host(nn.Module):
    """conv → block → conv, so every block sees a real feature map; ``repeat`` calls the block that many times."""

    def __init__(self, block: nn.Module, channels: int = 8, repeat: int = 1, spare: nn.Module | None = None) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.block = block
        self.spare = spare  # a block that forward never calls
        self.out = nn.Conv2d(channels, 2, 1)
        self.repeat = repeat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for _ in range(self.repeat):
            x = self.block(x)
        return self.out(x)
