"""The seed's formulas written out with plain tensor algebra, independent of any module's forward()."""

from __future__ import annotations

import torch


@torch.no_grad()
def channel_gate(x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor):
    """w = σ(W2·ReLU(W1·GAP(x) + b1) + b2) for weights given as matrices (h×C, C×h); returns N×C."""
    squeezed = x.double().mean(dim=(2, 3))  # N×C
    hidden = torch.clamp(squeezed @ w1.double().reshape(w1.shape[0], -1).T + b1.double(), min=0)
    return torch.sigmoid(hidden @ w2.double().reshape(w2.shape[0], -1).T + b2.double())


@torch.no_grad()
def spatial_gate(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor):
    """q = σ(Σ_c v_c x_c + b); returns N×H×W."""
    v = weight.double().reshape(-1)
    return torch.sigmoid(torch.einsum("nchw,c->nhw", x.double(), v) + bias.double().reshape(()))
