"""A bright spot planted at input pixel (i, j) must show up at (i, j) in the upsampled sSE map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from scse_viz import capture_attention
from scse_viz.blocks import SpatialSE
from scse_viz.geometry import upsample_map


def planted_spot_model(pool: nn.Module) -> nn.Sequential:
    """Downsample, then an sSE whose gate is σ(10·x − 5): bright where the input is bright, dark elsewhere."""
    block = SpatialSE(2)
    with torch.no_grad():
        block.sSE[0].weight.copy_(torch.tensor([5.0, 5.0]).view(1, 2, 1, 1))
        block.sSE[0].bias.fill_(-5.0)
    return nn.Sequential(nn.Conv2d(1, 2, 1, bias=False).requires_grad_(False), pool, block).eval()


@pytest.mark.parametrize(
    "pool,cell,size,spot",
    [
        (nn.AvgPool2d(8), 8, (64, 64), (40, 16)),
        (nn.MaxPool2d(4), 4, (48, 80), (4, 73)),
        (nn.Sequential(nn.MaxPool2d(2), nn.MaxPool2d(2), nn.MaxPool2d(2)), 8, (70, 70), (57, 8)),  # 70 = 8·8 + 6
        (nn.Identity(), 1, (20, 30), (19, 0)),
    ],
)
def test_planted_spot_lands_on_its_input_pixels(pool, cell, size, spot):
    model = planted_spot_model(pool)
    nn.init.ones_(model[0].weight)
    image = torch.zeros(1, 1, *size)
    i, j = spot
    image[0, 0, i, j] = float(cell * cell)  # survives average pooling as 1.0
    record = capture_attention(model, image).records[0]
    upsampled = upsample_map(record.spatial_gate[0], size, stride=record.stride)
    assert upsampled.shape == size
    peak = np.unravel_index(np.argmax(upsampled), size)
    # the peak lies in the stride×stride cell of input pixels that the spot's feature pixel covers
    assert peak[0] // cell == i // cell and peak[1] // cell == j // cell
    far = upsampled[(i + size[0] // 2) % size[0], (j + size[1] // 2) % size[1]]
    assert upsampled[i, j] > 0.25 and far < 0.01
