"""What the attention blocks cost: parameters and multiply-adds for a chosen C, H, W and r, against their host."""

from __future__ import annotations

from torch import nn

from scse_viz.blocks import attention_parameter_count, hidden_channels
from scse_viz.capture import find_attention_blocks

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
    "conv (a 3×3 conv C→C with padding 1 costs 9·C² MACs per output pixel, padded border taps included); global "
    "average pooling as Σ x·(1/HW), one MAC per element (C·H·W); the recalibrations x·w and x·q, one each per "
    "element; in eval mode BatchNorm as one MAC per element (x·γ' + β'; it could be folded into the conv). The scSE "
    "sum x·w + x·q is one multiply and one multiply-add per element, so scSE costs exactly cSE + sSE. Not counted: "
    "bias additions, sigmoids and ReLUs (listed per row). Parameters are trainable weights; BatchNorm's running "
    "mean and variance are buffers and not counted. C' = max(C // r, 1), as in our blocks."
)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def attention_macs(kind: str, channels: int, height: int, width: int, reduction: int) -> int:
    """Multiply-adds of one block on a C×H×W map, counted as :data:`COST_NOTES` says (0 for "none")."""
    chw = channels * height * width
    cse = chw + 2 * channels * hidden_channels(channels, reduction) + chw  # GAP, W1 and W2, x·w
    sse = chw + chw  # the 1×1 conv C→1 at every pixel, x·q
    return {"none": 0, "cse": cse, "sse": sse, "scse": cse + sse}[kind]


def cost_table(channels: int, height: int, width: int, reduction: int) -> list[dict]:
    """Parameters and multiply-adds of cSE, sSE and scSE for C, H, W and r, against the conv block they sit in.

    See :data:`COST_NOTES` for what is counted. Rows: cSE, sSE, scSE, then the two hosts (one 3×3 conv C→C with
    bias; the U-Net unit of our U-Net), each attention row with its overhead in % of both hosts (None on the host
    rows). Keys: the ``COST_*`` constants.
    """
    c, hh, ww, r = (
        _positive_int(n, v) for n, v in (("channels", channels), ("height", height), ("width", width), ("r", reduction))
    )
    h, chw = hidden_channels(c, r), c * hh * ww
    skipped = {
        ROW_CSE: f"{h} ReLU(s), {c} sigmoids, {h + c} bias adds",
        ROW_SSE: f"{hh * ww} sigmoids and bias adds",
        ROW_SCSE: "the union of both rows above",
    }
    rows = [
        (name, attention_parameter_count(kind, c, r), attention_macs(kind, c, hh, ww, r), skipped[name])
        for name, kind in ((ROW_CSE, "cse"), (ROW_SSE, "sse"), (ROW_SCSE, "scse"))
    ]
    conv = (ROW_CONV, 9 * c * c + c, 9 * c * c * hh * ww, f"{chw} bias adds")
    unet = (ROW_UNET, 2 * 9 * c * c + 2 * 2 * c, 2 * 9 * c * c * hh * ww + 2 * chw, f"{2 * chw} ReLUs")
    table = []
    for name, params, macs, not_counted in rows:
        table.append(
            {
                COST_MODULE: name,
                COST_PARAMS: params,
                COST_MACS: macs,
                COST_PARAMS_VS_CONV: 100.0 * params / conv[1],
                COST_PARAMS_VS_UNET: 100.0 * params / unet[1],
                COST_MACS_VS_CONV: 100.0 * macs / conv[2],
                COST_MACS_VS_UNET: 100.0 * macs / unet[2],
                COST_NOT_COUNTED: not_counted,
            }
        )
    for name, params, macs, not_counted in (conv, unet):
        table.append(
            {
                COST_MODULE: name,
                COST_PARAMS: params,
                COST_MACS: macs,
                COST_PARAMS_VS_CONV: None,
                COST_PARAMS_VS_UNET: None,
                COST_MACS_VS_CONV: None,
                COST_MACS_VS_UNET: None,
                COST_NOT_COUNTED: not_counted,
            }
        )
    return table


def attention_share(model: nn.Module) -> tuple[int, int]:
    """(parameters inside the attention blocks capture finds, all parameters) of a whole network."""
    blocks = [model.get_submodule(info.name) for info in find_attention_blocks(model)]
    inside = sum(p.numel() for block in blocks for p in block.parameters())
    return inside, sum(p.numel() for p in model.parameters())
