"""The ways to join the two recalibrated maps that the journal version compares, on one tensor.

Roy et al. (IEEE TMI 2019) aggregate x̂_cSE = x·w and x̂_sSE = x·q by max-out, addition, multiplication or
concatenation. Our models use the sum (the seed, MICCAI 2018); the authors' public code uses the element-wise max.
The others are shown for comparison only and are labelled as alternatives.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from scse_viz.teaching.walk import conv_matrix, is_pointwise_conv

JOIN_SUM = "sum (ours, the seed)"
JOIN_MAX = "max-out (authors' code)"
JOIN_PRODUCT = "product"
JOIN_CONCAT = "concatenation + 1×1 conv"
JOINS = (JOIN_SUM, JOIN_MAX, JOIN_PRODUCT, JOIN_CONCAT)
OUR_JOIN = JOIN_SUM
JOIN_FORMULAS = {
    JOIN_SUM: r"\hat{x}_{c,ij} = x_{c,ij} \, w_c + x_{c,ij} \, q_{ij}",
    JOIN_MAX: r"\hat{x}_{c,ij} = \max(x_{c,ij} \, w_c,\; x_{c,ij} \, q_{ij})",
    JOIN_PRODUCT: r"\hat{x}_{c,ij} = (x_{c,ij} \, w_c) \cdot (x_{c,ij} \, q_{ij})",
    JOIN_CONCAT: r"\hat{x} = \mathrm{Conv}_{1\times1}^{2C \to C}\big([\,x \cdot w \,;\, x \cdot q\,]\big)",
}


def default_concat_conv(channels: int, seed: int = 0) -> nn.Conv2d:
    """The fixed 2C→C 1×1 conv of the concatenation join: [I | I] plus seeded noise (std 0.2, two decimals), bias 0.

    [I | I] alone would reproduce the sum; the noise shows that this join mixes channels. In a real network this
    conv is trained with the rest of the model (the journal feeds the 2C channels to the next layer); these weights
    are for illustration only.
    """
    conv = nn.Conv2d(2 * channels, channels, kernel_size=1)
    g = torch.Generator().manual_seed(seed)
    eye = torch.eye(channels)
    weight = torch.cat([eye, eye], dim=1) + torch.round(torch.randn(channels, 2 * channels, generator=g) * 20) / 100
    with torch.no_grad():
        conv.weight.copy_(weight.reshape(channels, 2 * channels, 1, 1))
        conv.bias.zero_()
    return conv.eval()


def join_alternatives(
    x: np.ndarray, w: np.ndarray, q: np.ndarray, concat_conv: nn.Conv2d | None = None
) -> dict[str, np.ndarray]:
    """x·w and x·q of one C×H×W map joined each way (float32 C×H×W, keys :data:`JOINS` in that order).

    "product" multiplies the two recalibrated maps element-wise, (x·w)·(x·q), as the journal does. ``concat_conv``
    (2C→C, 1×1) defaults to :func:`default_concat_conv` with seed 0.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must be C×H×W, got shape {x.shape}")
    c, h, w_px = x.shape
    by_w = x * np.asarray(w, dtype=np.float32).reshape(c, 1, 1)
    by_q = x * np.asarray(q, dtype=np.float32).reshape(1, h, w_px)
    conv = concat_conv if concat_conv is not None else default_concat_conv(c)
    if not is_pointwise_conv(conv) or conv.in_channels != 2 * c or conv.out_channels != c:
        raise ValueError(f"the concatenation conv must be 1×1 with {2 * c} → {c} channels")
    weight, bias = conv_matrix(conv)
    stacked = torch.from_numpy(np.concatenate([by_w, by_q]))
    joined = (torch.einsum("oi,ihw->ohw", weight, stacked) + bias[:, None, None]).numpy()
    return {JOIN_SUM: by_w + by_q, JOIN_MAX: np.maximum(by_w, by_q), JOIN_PRODUCT: by_w * by_q, JOIN_CONCAT: joined}


COL_JOIN, COL_JOIN_ROLE = "join", "role"
COL_JOIN_MIN, COL_JOIN_MEAN, COL_JOIN_MAX = "min", "mean", "max"
COL_JOIN_FROM_OURS = "largest |join − ours|"
ROLE_OURS, ROLE_ALTERNATIVE = "our models", "alternative"


def join_table(joins: dict[str, np.ndarray], channel: int, ours: str = OUR_JOIN) -> list[dict]:
    """Per join, channel ``channel``'s min, mean and max, and its largest distance from the join ``ours`` uses.

    The distance says how different a network would be if it joined its branches that way with the same x, w and q
    (it would not: trained with another join, its weights would differ too).
    """
    if ours not in joins:
        raise ValueError(f"{ours!r} is not among the joins {list(joins)}")
    reference = np.asarray(joins[ours], dtype=np.float64)
    if reference.ndim != 3 or not 0 <= channel < reference.shape[0]:
        raise ValueError(f"need C×H×W joins containing channel {channel}, got shape {reference.shape}")
    rows = []
    for name, joined in joins.items():
        m = np.asarray(joined, dtype=np.float64)[channel]
        rows.append(
            {
                COL_JOIN: name,
                COL_JOIN_ROLE: ROLE_OURS if name == ours else ROLE_ALTERNATIVE,
                COL_JOIN_MIN: float(m.min()),
                COL_JOIN_MEAN: float(m.mean()),
                COL_JOIN_MAX: float(m.max()),
                COL_JOIN_FROM_OURS: float(np.abs(m - reference[channel]).max()),
            }
        )
    return rows
