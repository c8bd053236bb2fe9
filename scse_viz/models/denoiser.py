"""A residual colour denoiser: a U-Net estimates the noise, the output is the input minus that estimate.

Residual learning (Zhang et al., DnCNN, 2017) makes the network's job the noise, which is small where the image is
clean: an sSE gate that learns where the noise is can open there and close elsewhere. The U-Net is
:class:`~scse_viz.models.UNet2D` itself, so the four variants differ only in their attention blocks, as in the
other families.
"""

from __future__ import annotations

import torch
from torch import nn

from scse_viz.blocks import DEFAULT_REDUCTION, AttentionKind
from scse_viz.models.unet import UNet2D


class ResidualDenoiser(nn.Module):
    """``output = x − unet(x)``; x and output are RGB on the 0–1 scale, height and width multiples of 2^depth."""

    def __init__(
        self,
        base_channels: int = 32,
        depth: int = 3,
        attention: AttentionKind = "scse",
        reduction: int = DEFAULT_REDUCTION,
    ) -> None:
        super().__init__()
        self.unet = UNet2D(
            in_channels=3,
            num_classes=3,
            base_channels=base_channels,
            depth=depth,
            attention=attention,
            reduction=reduction,
        )

    @property
    def size_multiple(self) -> int:
        return self.unet.size_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.unet(x)
