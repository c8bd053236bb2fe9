"""The shape of each shipped network, as a small frozen record: what loading a shipped model and training one share.

A family's card stores the training recipe; the part of it that decides the network's layers lives here, so
``scse_viz.zoo`` builds the very architecture training built without importing any training code.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from scse_viz.blocks import AttentionKind
from scse_viz.models.denoiser import ResidualDenoiser
from scse_viz.models.resnet import ResidualClassifier
from scse_viz.models.unet import UNet2D


@dataclass(frozen=True)
class UNetArchitecture:
    """A :class:`~scse_viz.models.UNet2D`: depth pooling steps, widths base·2^i, attention after every block."""

    in_channels: int = 1
    num_classes: int = 4
    base_channels: int = 16
    depth: int = 4
    reduction: int = 8  # r of the cSE bottleneck, C/r = max(C // r, 1)

    def build(self, attention: AttentionKind | str) -> nn.Module:
        return UNet2D(
            in_channels=self.in_channels,
            num_classes=self.num_classes,
            base_channels=self.base_channels,
            depth=self.depth,
            attention=attention,
            reduction=self.reduction,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class ClassifierArchitecture:
    """A :class:`~scse_viz.models.ResidualClassifier`: stages of residual blocks with attention on the branch."""

    in_channels: int = 1
    num_classes: int = 10
    widths: tuple[int, ...] = (16, 32, 64)
    blocks_per_stage: int = 2
    reduction: int = 8

    def build(self, attention: AttentionKind | str) -> nn.Module:
        return ResidualClassifier(
            in_channels=self.in_channels,
            num_classes=self.num_classes,
            widths=tuple(self.widths),
            blocks_per_stage=self.blocks_per_stage,
            reduction=self.reduction,
            attention=attention,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class DenoiserArchitecture:
    """A :class:`~scse_viz.models.denoiser.ResidualDenoiser`: an RGB U-Net that estimates the noise it removes."""

    base_channels: int = 24
    depth: int = 3
    reduction: int = 8

    def build(self, attention: AttentionKind | str) -> nn.Module:
        return ResidualDenoiser(
            base_channels=self.base_channels, depth=self.depth, attention=attention, reduction=self.reduction
        )  # type: ignore[arg-type]
