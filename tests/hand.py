"""The seed's formulas written out with plain tensor algebra, independent of any module's forward()."""

from __future__ import annotations

import torch
from torch import nn


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


def _activation(t: torch.Tensor, name: str) -> torch.Tensor:
    """The excitation's inner activation, written out: ReLU max(t, 0) or SiLU t·σ(t)."""
    if name == "relu":
        return torch.clamp(t, min=0)
    if name == "silu":
        return t * torch.sigmoid(t)
    raise ValueError(name)


def _gate(t: torch.Tensor, name: str) -> torch.Tensor:
    """σ(t), or the hard sigmoid clamp(t/6 + 1/2, 0, 1)."""
    if name == "sigmoid":
        return torch.sigmoid(t)
    if name == "hard sigmoid":
        return torch.clamp(t / 6 + 0.5, 0, 1)
    raise ValueError(name)


def _matrix(w: torch.Tensor) -> torch.Tensor:
    return w.double().reshape(w.shape[0], -1)


def _bias(b: torch.Tensor | None, size: int) -> torch.Tensor:
    return torch.zeros(size, dtype=torch.float64) if b is None else b.double()


@torch.no_grad()
def se_gate(x, w1, b1, w2, b2, activation: str = "relu", gate: str = "sigmoid"):
    """SE with any inner activation and gate: w = gate(W2·act(W1·GAP(x) + b1) + b2); returns N×C (float64)."""
    squeezed = x.double().mean(dim=(2, 3))
    hidden = _activation(squeezed @ _matrix(w1).T + _bias(b1, w1.shape[0]), activation)
    return _gate(hidden @ _matrix(w2).T + _bias(b2, w2.shape[0]), gate)


@torch.no_grad()
def ese_gate(x, weight, bias, gate: str = "hard sigmoid"):
    """Effective SE (one C→C projection, no bottleneck): w = gate(W·GAP(x) + b); returns N×C."""
    return _gate(x.double().mean(dim=(2, 3)) @ _matrix(weight).T + _bias(bias, weight.shape[0]), gate)


@torch.no_grad()
def eca_gate(x, taps: torch.Tensor, gate: str = "sigmoid"):
    """ECA: w_c = gate(Σ_j k_j · GAP(x)_{c + j − p}), zero outside 0..C−1, p = (K − 1) / 2; returns N×C."""
    k = taps.double().reshape(-1)
    pooled = x.double().mean(dim=(2, 3))  # N×C
    n, c = pooled.shape
    p = (k.numel() - 1) // 2
    padded = torch.cat([torch.zeros(n, p, dtype=torch.float64), pooled, torch.zeros(n, p, dtype=torch.float64)], 1)
    return _gate(sum(k[j] * padded[:, j : j + c] for j in range(k.numel())), gate)


@torch.no_grad()
def cbam_spatial_gate(gated, conv_weight, bn: tuple, gate: str = "sigmoid"):
    """CBAM's spatial gate of the map it receives: q = gate(BN(conv_{k×k}([mean_c, max_c]))), zero padding
    (k − 1) / 2, BN in eval: (t − μ) / sqrt(σ² + ε) · γ + β; returns N×H×W (float64)."""
    gated = gated.double()
    maps = torch.stack([gated.mean(dim=1), gated.amax(dim=1)], dim=1)  # N×2×H×W
    kh, kw = conv_weight.shape[-2:]
    padded = torch.nn.functional.pad(maps, ((kw - 1) // 2, (kw - 1) // 2, (kh - 1) // 2, (kh - 1) // 2))
    h, wd = maps.shape[-2:]
    v = conv_weight.double()[0]  # 2×kh×kw
    t = sum(
        v[c, i, j] * padded[:, c, i : i + h, j : j + wd]
        for c in range(v.shape[0])
        for i in range(kh)
        for j in range(kw)
    )
    mean, var, gamma, beta, eps = bn
    return _gate((t - mean.double()) / torch.sqrt(var.double() + eps) * gamma.double() + beta.double(), gate)


@torch.no_grad()
def cbam_gates(x, w1, w2, conv_weight, bn: tuple, gate: str = "sigmoid"):
    """CBAM (channel gate, then the spatial gate of the channel-gated map); returns (w N×C, q N×H×W), float64.

    w = gate(W2·ReLU(W1·GAP(x)) + W2·ReLU(W1·GMP(x))) (no biases); q = :func:`cbam_spatial_gate` of x·w.
    """
    xd = x.double()

    def mlp(v: torch.Tensor) -> torch.Tensor:
        return _activation(v @ _matrix(w1).T, "relu") @ _matrix(w2).T

    w = _gate(mlp(xd.mean(dim=(2, 3))) + mlp(xd.amax(dim=(2, 3))), gate)
    return w, cbam_spatial_gate(xd * w[:, :, None, None], conv_weight, bn, gate)


def block_inputs(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, list[torch.Tensor]]:
    """Inputs each named module received in a plain eval forward pass (the test's own hooks, not capture's)."""
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    modules = dict(model.named_modules())
    handles = [
        modules[n].register_forward_pre_hook(lambda m, a, n=n: seen[n].append(a[0].detach().clone())) for n in names
    ]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return seen
