"""A small residual classifier with attention on the residual branch before the addition (as in SE-Net)."""

from __future__ import annotations

import torch
from torch import nn

from scse_viz.blocks import DEFAULT_REDUCTION, AttentionKind, make_attention


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN, attention, + shortcut, ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, attention: AttentionKind, reduction: int
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.attention = make_attention(attention, out_channels, reduction)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.attention(self.bn2(self.conv2(out)))
        out += self.shortcut(x)  # in place on purpose: capture must survive it (it keeps copies)
        return self.relu(out)


class ResidualClassifier(nn.Module):
    """Stem conv, ``blocks_per_stage`` residual blocks per stage (stride 2 between stages), GAP, linear head."""

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: tuple[int, ...] = (32, 64, 128),
        blocks_per_stage: int = 2,
        attention: AttentionKind = "scse",
        reduction: int = DEFAULT_REDUCTION,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        )
        layers = []
        previous = widths[0]
        for stage, width in enumerate(widths):
            for index in range(blocks_per_stage):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(ResidualBlock(previous, width, stride, attention, reduction))
                previous = width
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(previous, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.stages(self.stem(x))), 1))
