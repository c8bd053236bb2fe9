"""The teaching page's numbers: one attention block walked through step by step, toy inputs, costs and joins.

Everything here is torch/numpy only (no streamlit, no plotting). :func:`walk_through` takes any of our blocks
(:class:`~scse_viz.blocks.SCSE`, :class:`~scse_viz.blocks.ChannelSE`, :class:`~scse_viz.blocks.SpatialSE`) and the
feature map it receives, and recomputes every intermediate vector from the block's own weight tensors, with matrix
products in float32 (the block's precision), never by calling the branch modules. The result is checked against the
block's own output before it is returned, so a lecturer can never be shown numbers the model did not compute.

The toy mode (:func:`toy_feature_map`, :func:`toy_block`) gives a small feature map and a block with short, readable
weights; a trained model's block and its real input feature map go through exactly the same :func:`walk_through`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scse_viz.blocks import SCSE, hidden_channels
from scse_viz.errors import UnsupportedBlockError

# ----------------------------------------------------------------------------------------------- walk-through


@dataclass
class WalkThrough:
    """Every intermediate value of one block on one image (float32 numpy; None where the block lacks a branch).

    cSE: ``squeeze`` s = GAP(x) (C,), ``hidden_pre`` = W1·s + b1 (h,), ``hidden`` = ReLU(hidden_pre),
    ``excitation_logits`` z = W2·hidden + b2 (C,), ``w`` = σ(z), ``cse_out`` = x·w.
    sSE: ``sse_weights`` v (C,), ``sse_bias`` b, ``sse_logits`` = Σ_c v_c x_c + b (H×W), ``q`` = σ(logits),
    ``sse_out`` = x·q.
    scSE: ``scse_out`` = x·w + x·q (the seed's sum) and ``gain`` = w_c + q_ij (C×H×W), so that scse_out = gain·x.
    """

    kind: str  # "cse", "sse" or "scse"
    x: np.ndarray  # C×H×W
    squeeze: np.ndarray | None = None
    w1: np.ndarray | None = None  # h×C, first 1×1 conv
    b1: np.ndarray | None = None  # h
    hidden_pre: np.ndarray | None = None
    hidden: np.ndarray | None = None
    w2: np.ndarray | None = None  # C×h, second 1×1 conv
    b2: np.ndarray | None = None  # C
    excitation_logits: np.ndarray | None = None
    w: np.ndarray | None = None
    sse_weights: np.ndarray | None = None
    sse_bias: float | None = None
    sse_logits: np.ndarray | None = None
    q: np.ndarray | None = None
    cse_out: np.ndarray | None = None
    sse_out: np.ndarray | None = None
    scse_out: np.ndarray | None = None
    gain: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return int(self.x.shape[0])

    @property
    def hidden_channels(self) -> int | None:
        return None if self.w1 is None else int(self.w1.shape[0])

    @property
    def output(self) -> np.ndarray:
        """What the block returns: x·w, x·q or x·w + x·q."""
        return {"cse": self.cse_out, "sse": self.sse_out, "scse": self.scse_out}[self.kind]


def _is_pointwise_conv(layer: nn.Module, cin: int | None = None) -> bool:
    return (
        isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.stride == (1, 1)
        and layer.padding == (0, 0) and layer.dilation == (1, 1) and layer.groups == 1
        and (cin is None or layer.in_channels == cin)
    )  # fmt: skip


def _weights(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(out×in weight matrix, bias vector) of a 1×1 conv, float32 on the CPU; a missing bias is zeros."""
    weight = conv.weight.detach().to("cpu", torch.float32).reshape(conv.out_channels, conv.in_channels)
    bias = conv.bias
    bias = torch.zeros(conv.out_channels) if bias is None else bias.detach().to("cpu", torch.float32)
    return weight, bias


def _channel_branch(block: nn.Module) -> tuple[nn.Conv2d, nn.Conv2d] | None:
    branch = getattr(block, "cSE", None)
    if branch is None:
        return None
    layers = list(branch.children()) if isinstance(branch, nn.Sequential) else []
    ok = (
        len(layers) == 5 and isinstance(layers[0], nn.AdaptiveAvgPool2d) and layers[0].output_size in (1, (1, 1))
        and _is_pointwise_conv(layers[1]) and type(layers[2]) is nn.ReLU and _is_pointwise_conv(layers[3])
        and isinstance(layers[4], nn.Sigmoid)
        and layers[3].in_channels == layers[1].out_channels and layers[3].out_channels == layers[1].in_channels
    )  # fmt: skip
    if not ok:
        raise UnsupportedBlockError(
            "this block's cSE branch is not GAP → 1×1 conv → ReLU → 1×1 conv → sigmoid; it cannot be walked through"
        )
    return layers[1], layers[3]


def _spatial_branch(block: nn.Module) -> nn.Conv2d | None:
    branch = getattr(block, "sSE", None)
    if branch is None:
        return None
    layers = list(branch.children()) if isinstance(branch, nn.Sequential) else []
    if not (len(layers) == 2 and _is_pointwise_conv(layers[0]) and layers[0].out_channels == 1
            and isinstance(layers[1], nn.Sigmoid)):  # fmt: skip
        raise UnsupportedBlockError(
            "this block's sSE branch is not one 1×1 conv C→1 → sigmoid; it cannot be walked through"
        )
    return layers[0]


def walk_through(block: nn.Module, x: torch.Tensor | np.ndarray) -> WalkThrough:
    """Recompute ``block`` on the feature map ``x`` (1×C×H×W or C×H×W) one step at a time from its weights.

    Raises :class:`UnsupportedBlockError` for a block that is not one of ours (layout checked by structure) or
    whose own output differs from the recomputed one.
    """
    x = torch.as_tensor(x)
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise UnsupportedBlockError(f"walk through one image at a time, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() != 3:
        raise UnsupportedBlockError(f"the feature map must be C×H×W (or 1×C×H×W), got shape {tuple(x.shape)}")
    x = x.detach().to("cpu", torch.float32)
    channel, spatial = _channel_branch(block), _spatial_branch(block)
    if channel is None and spatial is None:
        raise UnsupportedBlockError("this module has neither a cSE nor an sSE branch")
    c = x.shape[0]
    expected = channel[0].in_channels if channel is not None else spatial.in_channels
    if c != expected:
        raise UnsupportedBlockError(f"the block expects {expected} channels, the feature map has {c}")
    kind = "scse" if channel is not None and spatial is not None else ("cse" if channel is not None else "sse")
    wt = WalkThrough(kind=kind, x=x.numpy().copy())
    with torch.no_grad():
        if channel is not None:
            w1, b1 = _weights(channel[0])
            w2, b2 = _weights(channel[1])
            s = x.mean(dim=(1, 2))  # squeeze: global average pooling
            hidden_pre = w1 @ s + b1
            hidden = torch.clamp(hidden_pre, min=0.0)  # ReLU
            logits = w2 @ hidden + b2
            w = torch.sigmoid(logits)
            cse_out = x * w[:, None, None]
            wt.squeeze, wt.w1, wt.b1, wt.hidden_pre, wt.hidden = (t.numpy() for t in (s, w1, b1, hidden_pre, hidden))
            wt.w2, wt.b2, wt.excitation_logits, wt.w, wt.cse_out = (t.numpy() for t in (w2, b2, logits, w, cse_out))
        if spatial is not None:
            v, b = _weights(spatial)
            v = v[0]
            sse_logits = torch.einsum("c,chw->hw", v, x) + b[0]
            q = torch.sigmoid(sse_logits)
            wt.sse_weights, wt.sse_bias = v.numpy(), float(b[0])
            wt.sse_logits, wt.q, wt.sse_out = sse_logits.numpy(), q.numpy(), (x * q[None]).numpy()
        if kind == "scse":
            wt.scse_out = wt.cse_out + wt.sse_out
            wt.gain = wt.w[:, None, None] + wt.q[None]
        own = block(x[None])[0].numpy()
    tolerance = 1e-6 + 1e-5 * float(np.abs(wt.x).max(initial=0.0))
    if own.shape != wt.output.shape or not np.allclose(wt.output, own, rtol=1e-5, atol=tolerance):
        raise UnsupportedBlockError(
            "the block's own output differs from x·w + x·q recomputed from its weights: it joins its branches in "
            "another way, so its numbers cannot be explained here"
        )
    return wt


def capture_difference(block: nn.Module, wt: WalkThrough) -> dict[str, float]:
    """Largest |difference| between the walk-through's gates and what ``capture_attention`` records for the block.

    The block runs inside a one-layer host model, exactly as capture sees it in a network. Returns {"w": …, "q": …}
    for the branches the block has.
    """
    from scse_viz.capture import capture_attention  # local: capture imports nothing from here, keep it that way

    record = capture_attention(nn.Sequential(block), torch.from_numpy(wt.x)[None]).records[0]
    if not (record.ran and record.readable):
        raise UnsupportedBlockError(f"capture could not read this block: {record.reason}")
    out = {}
    if wt.w is not None:
        out["w"] = float(np.abs(record.channel_gate[0] - wt.w).max())
    if wt.q is not None:
        out["q"] = float(np.abs(record.spatial_gate[0] - wt.q).max())
    return out


def pick_channels(wt: WalkThrough, k: int = 4) -> list[int]:
    """A few channels worth showing: the ⌈k/2⌉ with the highest w and the ⌊k/2⌋ with the lowest, in channel order.

    Without a channel gate (sSE only) the channels with the largest mean |x|. Ties go to the lower index.
    """
    c = wt.channels
    if c <= k:
        return list(range(c))
    if wt.w is None:
        return sorted(int(i) for i in np.argsort(-np.abs(wt.x).mean(axis=(1, 2)), kind="stable")[:k])
    order = np.argsort(-wt.w, kind="stable")
    high = [int(i) for i in order[: (k + 1) // 2]]
    low = [int(i) for i in order[::-1] if int(i) not in high][: k // 2]
    return sorted(high + low)


# Column names of the tables the page shows (tests read the page's tables by these names).
COL_CHANNEL = "channel"
COL_SQUEEZE = "s_c = mean of x_c"
COL_LOGIT = "z_c = W2·h + b2"
COL_GATE = "w_c = σ(z_c)"
COL_UNIT = "unit k"
COL_HIDDEN_PRE = "W1·s + b1"
COL_HIDDEN = "h_k = ReLU(…)"
COL_SSE_WEIGHT = "v_c (sSE weight)"


def excitation_table(wt: WalkThrough) -> list[dict]:
    """One row per channel: squeeze s_c, logit z_c and gate w_c."""
    if wt.w is None:
        return []
    return [
        {COL_CHANNEL: c, COL_SQUEEZE: float(wt.squeeze[c]), COL_LOGIT: float(wt.excitation_logits[c]),
         COL_GATE: float(wt.w[c])}
        for c in range(wt.channels)
    ]  # fmt: skip


def hidden_table(wt: WalkThrough) -> list[dict]:
    """One row per bottleneck unit: W1·s + b1 before and after the ReLU."""
    if wt.hidden is None:
        return []
    return [{COL_UNIT: k, COL_HIDDEN_PRE: float(p), COL_HIDDEN: float(h)}
            for k, (p, h) in enumerate(zip(wt.hidden_pre, wt.hidden))]  # fmt: skip


def weight_tables(wt: WalkThrough) -> dict[str, list[dict]]:
    """The block's weights as small tables: W1 (h×C) with b1, W2 (C×h) with b2, and the sSE weights v with b."""
    tables: dict[str, list[dict]] = {}
    if wt.w1 is not None:
        tables["W1 (C → h) and b1"] = [
            {COL_UNIT: k, **{f"c{c}": float(wt.w1[k, c]) for c in range(wt.channels)}, "b1": float(wt.b1[k])}
            for k in range(wt.w1.shape[0])
        ]
        tables["W2 (h → C) and b2"] = [
            {COL_CHANNEL: c, **{f"k{k}": float(wt.w2[c, k]) for k in range(wt.w2.shape[1])}, "b2": float(wt.b2[c])}
            for c in range(wt.channels)
        ]
    if wt.sse_weights is not None:
        tables["sSE weights v and bias b"] = [
            {COL_CHANNEL: c, COL_SSE_WEIGHT: float(v)} for c, v in enumerate(wt.sse_weights)
        ] + [{COL_CHANNEL: "bias b", COL_SSE_WEIGHT: float(wt.sse_bias)}]
    return tables


# ------------------------------------------------------------------------------------------------- toy mode

PRESETS: dict[str, str] = {
    "random": "Uniform noise in [0, 1): a feature map without structure. Every channel's mean is near 0.5, so the "
    "differences between the channel gates come mostly from the block's weights.",
    "one bright channel": "Channel C//2 is bright (about 0.9), the others are dim (about 0.1): it has by far the "
    "largest squeeze mean s_c. With the toy block its gate w_c can only rise as it gets brighter (watch its slider).",
    "bright spot": "A dim map (values below 0.1) with a 2×2 spot, +1 in every channel, at rows and columns "
    "size//4 … size//4+1: the spot has the largest channel sum, so the toy block's sSE gate q is highest there. "
    "sSE says *where*, cSE barely notices a spot of 4 pixels.",
    "edge": "Left half 0, right half 1, in every channel: the sSE map q reproduces the edge with two levels, while "
    "cSE only sees that each channel is half bright. Global average pooling does not know where things are.",
    "checkerboard": "±a_c alternating pixel by pixel, with a_c = (c+1)/C: the channels have very different contrast "
    "but every mean is 0 (for even sizes), so cSE gives every channel the same gate (0.5 with the toy block). "
    "Averaging throws the pattern away.",
    "all equal": "Every value 0.5: all channels look alike and all pixels look alike. q is one constant, and any "
    "difference between the w_c comes from the weights alone.",
}


def bright_channel(channels: int) -> int:
    """The channel that the "one bright channel" preset lights up."""
    return channels // 2


def bright_spot(size: int) -> tuple[slice, slice]:
    """Rows and columns of the 2×2 spot of the "bright spot" preset."""
    start = size // 4
    return slice(start, start + 2), slice(start, start + 2)


def toy_feature_map(
    preset: str,
    channels: int = 6,
    size: int = 8,
    seed: int = 0,
    brightness: Sequence[float] | None = None,
) -> np.ndarray:
    """A small C×size×size float32 feature map from a preset (see :data:`PRESETS`), channel c scaled by brightness[c].

    ``seed`` only matters for presets with noise ("random", "one bright channel", "bright spot").
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
    if channels < 1 or size < 2:
        raise ValueError(f"need at least 1 channel and size 2, got {channels} channels of {size}×{size}")
    rng = np.random.default_rng(seed)
    shape = (channels, size, size)
    if preset == "random":
        x = rng.uniform(0.0, 1.0, shape)
    elif preset == "one bright channel":
        x = rng.uniform(0.0, 0.2, shape)
        x[bright_channel(channels)] += 0.8
    elif preset == "bright spot":
        x = rng.uniform(0.0, 0.1, shape)
        rows, cols = bright_spot(size)
        x[:, rows, cols] += 1.0
    elif preset == "edge":
        x = np.zeros(shape)
        x[:, :, size // 2:] = 1.0
    elif preset == "checkerboard":
        sign = np.where((np.arange(size)[:, None] + np.arange(size)[None, :]) % 2 == 0, 1.0, -1.0)
        x = (np.arange(1, channels + 1) / channels)[:, None, None] * sign[None]
    else:  # "all equal"
        x = np.full(shape, 0.5)
    if brightness is not None:
        factors = np.asarray(brightness, dtype=np.float64)
        if factors.shape != (channels,):
            raise ValueError(f"need one brightness factor per channel ({channels}), got {factors.shape}")
        x = x * factors[:, None, None]
    return x.astype(np.float32)


def toy_block(channels: int, reduction: int = 2, seed: int = 0) -> SCSE:
    """An scSE block with short, readable weights (one decimal), deterministic for (channels, reduction, seed).

    - cSE: W1 (h×C) is seeded normal with std 0.7, rounded to 0.1; W2 = W1ᵀ (tied). Then the logit of channel c grows
      with its own mean at rate Σ_k W1[k,c]² over the active ReLU units, which is ≥ 0: making one channel brighter
      never lowers its own gate, while its effect on the other channels can go either way (the bottleneck mixes
      them). Both biases are 0, so an all-zero input gives w = σ(0) = 0.5.
    - sSE: weights v_c seeded uniform in [0.2, 1.0], rounded to 0.1, all positive except (for C ≥ 3) the last
      channel, which gets minus the smallest of the others: a pixel is excited where the positive channels are
      bright and held back where the last channel is bright. The weights sum to more than 0, so a pixel bright in
      every channel is excited. Bias 0: a zero pixel gets q = 0.5.
    A trained block's weights are whatever training made them; this block exists to make the arithmetic visible.
    """
    block = SCSE(channels, reduction)
    hidden = hidden_channels(channels, reduction)
    g = torch.Generator().manual_seed(seed)
    w1 = torch.round(torch.randn(hidden, channels, generator=g) * 7.0) / 10.0
    magnitudes = torch.round((0.2 + 0.8 * torch.rand(channels, generator=g)) * 10.0) / 10.0
    v = magnitudes.clone()
    if channels >= 3:
        v[-1] = -magnitudes[:-1].min()
    _, conv1, _, conv2, _ = block.cSE
    conv_v = block.sSE[0]
    with torch.no_grad():
        conv1.weight.copy_(w1.reshape(hidden, channels, 1, 1))
        conv1.bias.zero_()
        conv2.weight.copy_(w1.T.reshape(channels, hidden, 1, 1))
        conv2.bias.zero_()
        conv_v.weight.copy_(v.reshape(1, channels, 1, 1))
        conv_v.bias.zero_()
    return block.eval()


# ---------------------------------------------------------------------------------------------------- cost

COST_MODULE = "module"
COST_PARAMS = "parameters"
COST_MACS = "multiply-adds"
COST_PARAMS_VS_CONV = "parameters, % of one 3×3 conv"
COST_PARAMS_VS_UNET = "parameters, % of the U-Net unit"
COST_MACS_VS_CONV = "multiply-adds, % of one 3×3 conv"
COST_MACS_VS_UNET = "multiply-adds, % of the U-Net unit"
COST_NOT_COUNTED = "not counted"
ROW_CSE, ROW_SSE, ROW_SCSE = "cSE", "sSE", "scSE (sum)"
ROW_CONV = "host: one 3×3 conv C→C with bias"
ROW_UNET = "host: U-Net unit = 2 × (3×3 conv C→C without bias + BatchNorm), as in our U-Net"

COST_NOTES = (
    "A multiply-add (MAC) is one multiplication, optionally added to a running sum. Counted: the weights of every "
    "conv (a 3×3 conv C→C with padding 1 costs 9·C² MACs per output pixel); global average pooling as "
    "Σ x·(1/HW), one MAC per element (C·H·W); the recalibrations x·w and x·q, one each per element; in eval mode "
    "BatchNorm as one MAC per element (x·γ' + β'; it could be folded into the conv). The scSE sum x·w + x·q is one "
    "multiply and one multiply-add per element, so scSE costs exactly cSE + sSE. Not counted: bias additions, "
    "sigmoids and ReLUs (listed per row). Parameters are trainable weights; BatchNorm's running mean and variance "
    "are buffers and not counted."
)


def _positive_int(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def cost_table(channels: int, height: int, width: int, reduction: int) -> list[dict]:
    """Parameters and multiply-adds of cSE, sSE and scSE for C, H, W and r, against the conv block they sit in.

    See :data:`COST_NOTES` for what is counted. h = max(C // r, 1) as in our blocks. Rows: cSE, sSE, scSE, then the
    two hosts (one 3×3 conv C→C with bias; the U-Net unit of our U-Net), each attention row with its overhead in %
    of both hosts (None on the host rows).
    """
    c, hh, ww, r = (_positive_int(n, v) for n, v in
                    (("channels", channels), ("height", height), ("width", width), ("r", reduction)))  # fmt: skip
    h = hidden_channels(c, r)
    chw = c * hh * ww
    rows = [
        (ROW_CSE, 2 * c * h + h + c, chw + 2 * c * h + chw, f"{h} ReLU + {c} sigmoids, {h + c} bias adds"),
        (ROW_SSE, c + 1, chw + chw, f"{hh * ww} sigmoids and bias adds"),
    ]
    rows.append((ROW_SCSE, rows[0][1] + rows[1][1], rows[0][2] + rows[1][2], "the union of both rows above"))
    conv = (ROW_CONV, 9 * c * c + c, 9 * c * c * hh * ww, f"{chw} bias adds")
    unet = (ROW_UNET, 2 * 9 * c * c + 2 * 2 * c, 2 * 9 * c * c * hh * ww + 2 * chw, f"{2 * chw} ReLUs")
    table = []
    for name, params, macs, skipped in rows:
        table.append({
            COST_MODULE: name, COST_PARAMS: params, COST_MACS: macs,
            COST_PARAMS_VS_CONV: 100.0 * params / conv[1], COST_PARAMS_VS_UNET: 100.0 * params / unet[1],
            COST_MACS_VS_CONV: 100.0 * macs / conv[2], COST_MACS_VS_UNET: 100.0 * macs / unet[2],
            COST_NOT_COUNTED: skipped,
        })  # fmt: skip
    for name, params, macs, skipped in (conv, unet):
        table.append({COST_MODULE: name, COST_PARAMS: params, COST_MACS: macs, COST_PARAMS_VS_CONV: None,
                      COST_PARAMS_VS_UNET: None, COST_MACS_VS_CONV: None, COST_MACS_VS_UNET: None,
                      COST_NOT_COUNTED: skipped})  # fmt: skip
    return table


# --------------------------------------------------------------------------------------- joining the branches

JOIN_SUM = "sum (ours, the seed)"
JOIN_MAX = "max-out (authors' code)"
JOIN_PRODUCT = "product"
JOIN_CONCAT = "concatenation + 1×1 conv"
JOINS = (JOIN_SUM, JOIN_MAX, JOIN_PRODUCT, JOIN_CONCAT)
JOIN_FORMULAS = {
    JOIN_SUM: r"x_c \, w_c + x_c \, q_{ij}",
    JOIN_MAX: r"\max(x_c \, w_c,\; x_c \, q_{ij})",
    JOIN_PRODUCT: r"x_c \, w_c \, q_{ij}",
    JOIN_CONCAT: r"\mathrm{Conv}_{1\times1}^{2C \to C}\big([\,x \cdot w \,;\, x \cdot q\,]\big)",
}


def default_concat_conv(channels: int, seed: int = 0) -> nn.Conv2d:
    """The fixed 2C→C 1×1 conv of the concatenation join: [I | I] plus seeded noise (std 0.2, two decimals), bias 0.

    [I | I] alone would reproduce the sum; the noise shows that this join mixes channels. In a real network this
    conv is trained with the rest of the model; these weights are for illustration only.
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
    """The journal version's ways to join x·w and x·q, on one C×H×W map (float32, keys :data:`JOINS`).

    Only the sum is what our models compute; the others are alternatives for comparison. "product" applies both
    gates to x once (x·w·q). ``concat_conv`` (2C→C, 1×1) defaults to :func:`default_concat_conv` with seed 0.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must be C×H×W, got shape {x.shape}")
    c, h, w_px = x.shape
    w = np.asarray(w, dtype=np.float32).reshape(c, 1, 1)
    q = np.asarray(q, dtype=np.float32).reshape(1, h, w_px)
    by_w, by_q = x * w, x * q
    conv = concat_conv if concat_conv is not None else default_concat_conv(c)
    if not _is_pointwise_conv(conv, 2 * c) or conv.out_channels != c:
        raise ValueError(f"the concatenation conv must be 1×1 with {2 * c} → {c} channels")
    weight, bias = _weights(conv)
    with torch.no_grad():
        stacked = torch.from_numpy(np.concatenate([by_w, by_q]))
        joined = (torch.einsum("oi,ihw->ohw", weight, stacked) + bias[:, None, None]).numpy()
    return {JOIN_SUM: by_w + by_q, JOIN_MAX: np.maximum(by_w, by_q), JOIN_PRODUCT: by_w * q,
            JOIN_CONCAT: joined}  # fmt: skip
