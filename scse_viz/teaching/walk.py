"""One attention block recomputed step by step from its own weight tensors, and the tables the page shows.

:func:`walk_through` takes any of our blocks (:class:`~scse_viz.blocks.SCSE`, :class:`~scse_viz.blocks.ChannelSE`,
:class:`~scse_viz.blocks.SpatialSE`) and the feature map it receives, and computes every intermediate vector with
plain matrix products in float32 (the block's precision), never by calling the branch modules. Before returning, it
checks the recomputed output against the block's own output, so a lecturer is never shown numbers the model did
not compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from scse_viz.capture import BlockRecord, capture_attention
from scse_viz.errors import UnsupportedBlockError

GATE_TOLERANCE = 1e-5  # largest |walk-through − capture| accepted for a gate in (0, 1); float32 reordering is ~1e-7

# LaTeX for st.latex, one per step, in the order the page walks through them.
STEP_FORMULAS: dict[str, str] = {
    "squeeze": r"s_c = \frac{1}{HW} \sum_{i=1}^{H} \sum_{j=1}^{W} x_{c,ij}",
    "hidden": r"h = \mathrm{ReLU}(W_1 s + b_1), \quad W_1 \in \mathbb{R}^{C' \times C},\ "
    r"C' = \max(\lfloor C / r \rfloor, 1)",
    "excitation": r"w = \sigma(W_2 h + b_2), \quad W_2 \in \mathbb{R}^{C \times C'}, \quad "
    r"\sigma(z) = \frac{1}{1 + e^{-z}} \in (0, 1)",
    "cse_scale": r"\hat{x}^{\mathrm{cSE}}_{c,ij} = w_c \, x_{c,ij}",
    "sse": r"q_{ij} = \sigma\Big(\sum_{c=1}^{C} v_c \, x_{c,ij} + b\Big)",
    "sse_scale": r"\hat{x}^{\mathrm{sSE}}_{c,ij} = q_{ij} \, x_{c,ij}",
    "scse": r"\hat{x}^{\mathrm{scSE}}_{c,ij} = w_c \, x_{c,ij} + q_{ij} \, x_{c,ij} = (w_c + q_{ij}) \, x_{c,ij}",
    "gain": r"g_{c,ij} = w_c + q_{ij} \in (0, 2), \quad g = 1 \text{: left as it was}",
}


GATE_LATEX = {
    "sigmoid": r"\sigma(z) = \frac{1}{1 + e^{-z}} \in (0, 1)",
    "hard sigmoid": r"\sigma(z) = \min\big(\max(z / 6 + 1/2,\ 0),\ 1\big) \in [0, 1] \text{ (hard sigmoid)}",
}


def channel_formulas(steps: WalkThrough) -> tuple[str, str]:
    """The LaTeX of the excitation's two steps with the block's own activation and gate (our blocks: ReLU and the
    sigmoid, as in :data:`STEP_FORMULAS`; MobileNetV3's SE: hard sigmoid; EfficientNet's: SiLU)."""
    if (steps.activation, steps.gate) == ("ReLU", "sigmoid"):
        return STEP_FORMULAS["hidden"], STEP_FORMULAS["excitation"]
    hidden = rf"h = \mathrm{{{steps.activation}}}(W_1 s + b_1), \quad W_1 \in \mathbb{{R}}^{{C' \times C}}"
    gate = GATE_LATEX.get(steps.gate, rf"\sigma = \text{{{steps.gate}}}")
    return hidden, rf"w = \sigma(W_2 h + b_2), \quad W_2 \in \mathbb{{R}}^{{C \times C'}}, \quad {gate}"


@dataclass
class WalkThrough:
    """Every intermediate value of one block on one image (float32 numpy; None where the block lacks a branch).

    cSE: ``squeeze`` s = GAP(x) (C,), ``hidden_pre`` = W1·s + b1 (C',), ``hidden`` = ReLU(hidden_pre),
    ``excitation_logits`` z = W2·hidden + b2 (C,), ``w`` = σ(z), ``cse_out`` = x·w.
    sSE: ``sse_weights`` v (C,), ``sse_bias`` b, ``sse_logits`` = Σ_c v_c x_c + b (H×W), ``q`` = σ(logits),
    ``sse_out`` = x·q.
    scSE: ``scse_out`` = x·w + x·q (the seed's sum) and ``gain`` = w_c + q_ij (C×H×W), so that scse_out = gain·x.
    """

    kind: str  # "cse", "sse" or "scse"
    x: np.ndarray  # C×H×W
    steps: tuple[str, ...] = ()  # the steps the page walks through (keys of STEP_FORMULAS), from the block's reader
    activation: str = "ReLU"  # the excitation's activation (an SE block of timm or torchvision may use SiLU)
    gate: str = "sigmoid"  # the channel gate's function ("hard sigmoid" in MobileNetV3's SE)
    squeeze: np.ndarray | None = None
    w1: np.ndarray | None = None  # C'×C, first 1×1 conv
    b1: np.ndarray | None = None  # C'
    hidden_pre: np.ndarray | None = None
    hidden: np.ndarray | None = None
    w2: np.ndarray | None = None  # C×C', second 1×1 conv
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


def is_pointwise_conv(layer: nn.Module) -> bool:
    """A plain 1×1 conv (stride 1, no padding, dilation or groups): a matrix applied at every pixel."""
    return (
        isinstance(layer, nn.Conv2d)
        and layer.kernel_size == (1, 1)
        and layer.stride == (1, 1)
        and layer.padding == (0, 0)
        and layer.dilation == (1, 1)
        and layer.groups == 1
    )


def conv_matrix(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(out×in weight matrix, bias vector) of a 1×1 conv, float32 on the CPU; a missing bias is zeros."""
    weight = conv.weight.detach().to("cpu", torch.float32).reshape(conv.out_channels, conv.in_channels)
    bias = conv.bias
    bias = torch.zeros(conv.out_channels) if bias is None else bias.detach().to("cpu", torch.float32)
    return weight, bias


@dataclass(frozen=True)
class _Steps:
    """The layers a walk-through recomputes, taken from capture's plan of the block (no second recogniser)."""

    kind: str  # "cse", "sse" or "scse": the reader's kind
    steps: tuple[str, ...]  # the reader's walk-through steps
    channel: tuple[nn.Conv2d, nn.Module, nn.Conv2d, nn.Module] | None  # first conv, activation, second conv, gate
    spatial: nn.Conv2d | None


_CHANNEL_LAYOUT = "GAP → 1×1 conv → activation → 1×1 conv → gate layer"
_SCSE_CHANNEL_LAYOUT = "GAP → 1×1 conv → ReLU → 1×1 conv → sigmoid"


def _channel_layers(branch, scse: bool) -> tuple[nn.Conv2d, nn.Module, nn.Conv2d, nn.Module]:
    """First conv, activation, second conv and gate layer of a channel branch, or UnsupportedBlockError.

    Inside an scSE block the page's formulas (ReLU, sigmoid; the gain w + q) are the only ones shown, so the branch
    must be exactly the seed's; an SE block on its own may use its own activation and gate (timm, torchvision).
    """
    pooling = [m for m in branch.others if isinstance(m, (nn.AdaptiveAvgPool2d, nn.Identity))]
    activations = [m for m in branch.others if m not in pooling]
    convs = branch.projections
    ok = (
        not branch.recomputed
        and not branch.norms
        and len(convs) == 2
        and all(is_pointwise_conv(c) for c in convs)
        and len(activations) == 1
        and all(isinstance(m, nn.Identity) or m.output_size in (1, (1, 1)) for m in pooling)
    )
    if ok and scse:
        ok = type(activations[0]) is nn.ReLU and branch.function == "sigmoid"
    if not ok:
        shown = _SCSE_CHANNEL_LAYOUT if scse else _CHANNEL_LAYOUT
        raise UnsupportedBlockError(f"this block's cSE branch is not {shown}; it cannot be walked through")
    return convs[0], activations[0], convs[1], branch.gate_module


def _spatial_layer(branch) -> nn.Conv2d:
    convs = branch.projections
    if not (
        branch.role == "spatial"
        and not branch.recomputed
        and branch.function == "sigmoid"
        and len(convs) == 1
        and is_pointwise_conv(convs[0])
        and convs[0].out_channels == 1
        and not branch.others
        and not branch.norms
    ):
        raise UnsupportedBlockError(
            "this block's sSE branch is not one 1×1 conv C→1 → sigmoid; it cannot be walked through"
        )
    return convs[0]


def _steps(block: nn.Module) -> _Steps:
    """What to recompute for ``block``, from capture's own plan of it: its reader says the kind and the steps."""
    from scse_viz.capture.discovery import plan_block

    plan = plan_block("block", block)
    if plan is None or not plan.info.readable or (plan.channel is None and plan.spatial is None):
        raise UnsupportedBlockError("this module has neither a cSE nor an sSE branch")
    if not plan.reader.steps:
        raise UnsupportedBlockError(f"a {plan.reader.name} block cannot be walked through step by step")
    scse = plan.channel is not None and plan.spatial is not None
    channel = None if plan.channel is None else _channel_layers(plan.channel, scse)
    spatial = None if plan.spatial is None else _spatial_layer(plan.spatial)
    if channel is not None and spatial is not None and channel[0].in_channels != spatial.in_channels:
        raise UnsupportedBlockError("this block's two branches expect different channel counts")
    return _Steps(plan.info.kind, plan.reader.steps, channel, spatial)


def can_walk_through(block: nn.Module) -> bool:
    """Whether :func:`walk_through` understands ``block``'s layout (our cSE/sSE/scSE children, smp's, or an SE
    block that is its own channel branch, as in timm and torchvision), as capture's reader of the block says."""
    try:
        _steps(block)
    except UnsupportedBlockError:
        return False
    return True


def walk_through(block: nn.Module, x: torch.Tensor | np.ndarray) -> WalkThrough:
    """Recompute ``block`` on the feature map ``x`` (1×C×H×W or C×H×W) one step at a time from its weights.

    Raises :class:`UnsupportedBlockError` for a block that is not one of ours (layout checked by structure), a map
    with the wrong channel count, or a block whose own output differs from the recomputed one.
    """
    x = torch.as_tensor(x)
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise UnsupportedBlockError(f"walk through one image at a time, got a batch of {x.shape[0]}")
        x = x[0]
    if x.dim() != 3:
        raise UnsupportedBlockError(f"the feature map must be C×H×W (or 1×C×H×W), got shape {tuple(x.shape)}")
    x = x.detach().to("cpu", torch.float32)
    plan = _steps(block)
    channel, spatial = plan.channel, plan.spatial
    expected = channel[0].in_channels if channel is not None else spatial.in_channels
    if x.shape[0] != expected:
        raise UnsupportedBlockError(f"the block expects {expected} channels, the feature map has {x.shape[0]}")
    steps = WalkThrough(kind=plan.kind, x=x.numpy().copy(), steps=plan.steps)
    if channel is not None:
        from scse_viz.capture.discovery import gate_function

        steps.activation, steps.gate = type(channel[1]).__name__, str(gate_function(channel[3]))
    with torch.no_grad():
        if channel is not None:
            first, activation, second, gate = channel
            w1, b1 = conv_matrix(first)
            w2, b2 = conv_matrix(second)
            s = x.mean(dim=(1, 2))  # squeeze: global average pooling
            hidden_pre = w1 @ s + b1
            hidden = activation(hidden_pre.clone())  # the block's own parameter-free layers, run as they are
            logits = w2 @ hidden + b2
            w = gate(logits.clone())
            cse_out = x * w[:, None, None]
            steps.squeeze, steps.w1, steps.b1, steps.hidden_pre, steps.hidden = (
                t.numpy() for t in (s, w1, b1, hidden_pre, hidden)
            )
            steps.w2, steps.b2, steps.excitation_logits, steps.w, steps.cse_out = (
                t.numpy() for t in (w2, b2, logits, w, cse_out)
            )
        if spatial is not None:
            v, b = conv_matrix(spatial)
            sse_logits = torch.einsum("c,chw->hw", v[0], x) + b[0]
            q = torch.sigmoid(sse_logits)
            steps.sse_weights, steps.sse_bias = v[0].numpy(), float(b[0])
            steps.sse_logits, steps.q, steps.sse_out = sse_logits.numpy(), q.numpy(), (x * q[None]).numpy()
        if plan.kind == "scse":
            steps.scse_out = steps.cse_out + steps.sse_out
            steps.gain = steps.w[:, None, None] + steps.q[None]
        device = next(block.parameters()).device
        own = block(x[None].to(device))[0].cpu().numpy()
    tolerance = 1e-6 + 1e-5 * float(np.abs(steps.x).max(initial=0.0))
    if own.shape != steps.output.shape or not np.allclose(steps.output, own, rtol=1e-5, atol=tolerance):
        raise UnsupportedBlockError(
            "the block's own output differs from the output recomputed from its weights: it joins its branches in "
            "another way, so its numbers cannot be explained here"
        )
    return steps


def gate_differences(steps: WalkThrough, record: BlockRecord, image: int = 0) -> dict[str, float]:
    """Largest |walk-through − capture| of each gate the block has: {"w": …, "q": …} (image ``image`` of the batch)."""
    if not (record.ran and record.readable):
        raise UnsupportedBlockError(f"capture could not read block {record.name!r}: {record.reason}")
    out = {}
    if steps.w is not None:
        out["w"] = float(np.abs(record.channel_gate[image] - steps.w).max())
    if steps.q is not None:
        out["q"] = float(np.abs(record.spatial_gate[image] - steps.q).max())
    return out


def capture_difference(block: nn.Module, steps: WalkThrough) -> dict[str, float]:
    """:func:`gate_differences` against ``capture_attention`` run on ``block`` alone (in a one-layer host model).

    For a block outside a network (the toy block); a zoo model's block is compared inside its network by
    :func:`scse_viz.teaching.walk_through_model`.
    """
    return gate_differences(steps, capture_attention(nn.Sequential(block), torch.from_numpy(steps.x)[None]).records[0])


def pick_channels(steps: WalkThrough, k: int = 4) -> list[int]:
    """A few channels worth showing: the ⌈k/2⌉ with the highest w and the ⌊k/2⌋ with the lowest, in channel order.

    Without a channel gate (sSE only) the k channels with the largest mean |x|. Ties go to the lower index.
    """
    c = steps.channels
    if c <= k:
        return list(range(c))
    if steps.w is None:
        return sorted(int(i) for i in np.argsort(-np.abs(steps.x).mean(axis=(1, 2)), kind="stable")[:k])
    high = [int(i) for i in np.argsort(-steps.w, kind="stable")[: (k + 1) // 2]]
    low = [int(i) for i in np.argsort(steps.w, kind="stable") if int(i) not in high][: k // 2]
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


def excitation_table(steps: WalkThrough) -> list[dict]:
    """One row per channel: squeeze s_c, logit z_c and gate w_c (empty without a cSE branch)."""
    if steps.w is None:
        return []
    return [
        {
            COL_CHANNEL: c,
            COL_SQUEEZE: float(steps.squeeze[c]),
            COL_LOGIT: float(steps.excitation_logits[c]),
            COL_GATE: float(steps.w[c]),
        }
        for c in range(steps.channels)
    ]


def hidden_table(steps: WalkThrough) -> list[dict]:
    """One row per bottleneck unit: W1·s + b1 before and after the ReLU (empty without a cSE branch)."""
    if steps.hidden is None:
        return []
    return [
        {COL_UNIT: k, COL_HIDDEN_PRE: float(p), COL_HIDDEN: float(h)}
        for k, (p, h) in enumerate(zip(steps.hidden_pre, steps.hidden))
    ]


def weight_tables(steps: WalkThrough) -> dict[str, list[dict]]:
    """The block's weights as small tables: W1 (C'×C) with b1, W2 (C×C') with b2, and the sSE weights v with b."""
    tables: dict[str, list[dict]] = {}
    if steps.w1 is not None:
        tables["W1 (C → C') and b1"] = [
            {COL_UNIT: k, **{f"c{c}": float(steps.w1[k, c]) for c in range(steps.channels)}, "b1": float(steps.b1[k])}
            for k in range(steps.w1.shape[0])
        ]
        tables["W2 (C' → C) and b2"] = [
            {
                COL_CHANNEL: c,
                **{f"k{k}": float(steps.w2[c, k]) for k in range(steps.w2.shape[1])},
                "b2": float(steps.b2[c]),
            }
            for c in range(steps.channels)
        ]
    if steps.sse_weights is not None:
        tables["sSE weights v and bias b"] = [
            {COL_CHANNEL: str(c), COL_SSE_WEIGHT: float(v)} for c, v in enumerate(steps.sse_weights)
        ] + [{COL_CHANNEL: "bias b", COL_SSE_WEIGHT: float(steps.sse_bias)}]  # one column type: text
    return tables
