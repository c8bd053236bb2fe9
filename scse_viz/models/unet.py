"""A 2D U-Net with an attention block after every encoder and decoder block (as in Roy et al., 2018).

The four variants (``none | cse | sse | scse``) differ only in those blocks, so the baseline and the attention
models share every other layer's shape and name.
"""

from __future__ import annotations

import torch
from torch import nn

from scse_viz.blocks import DEFAULT_REDUCTION, AttentionKind, make_attention


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3×3 conv + BatchNorm + ReLU layers: the U-Net's unit of work."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class EncoderBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, attention: AttentionKind, reduction: int) -> None:
        super().__init__()
        self.conv = conv_block(in_channels, out_channels)
        self.attention = make_attention(attention, out_channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(self.conv(x))


class DecoderBlock(nn.Module):
    """Upsample ×2, concatenate the skip connection, conv block, attention."""

    def __init__(
        self, in_channels: int, skip_channels: int, out_channels: int, attention: AttentionKind, reduction: int
    ) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.conv = conv_block(out_channels + skip_channels, out_channels)
        self.attention = make_attention(attention, out_channels, reduction)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.attention(self.conv(torch.cat([self.up(x), skip], dim=1)))


class UNet2D(nn.Module):
    """U-Net whose input height and width must be multiples of ``2 ** depth`` (preprocessing pads to that)."""

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 4,
        base_channels: int = 16,
        depth: int = 4,
        attention: AttentionKind = "scse",
        reduction: int = DEFAULT_REDUCTION,
    ) -> None:
        super().__init__()
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.encoders = nn.ModuleList()
        previous = in_channels
        for width in widths[:-1]:
            self.encoders.append(EncoderBlock(previous, width, attention, reduction))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = EncoderBlock(widths[-2], widths[-1], attention, reduction)
        self.decoders = nn.ModuleList(
            DecoderBlock(widths[i + 1], widths[i], widths[i], attention, reduction) for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    @property
    def size_multiple(self) -> int:
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for decoder, skip in zip(self.decoders, reversed(skips)):
            x = decoder(x, skip)
        return self.head(x)
