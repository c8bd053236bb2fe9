"""One small reader class per block layout: how it is recognised, where capture hooks, which joins it verifies.

Discovery (:mod:`.discovery`) turns modules into gate branches by structure and weight shapes; a reader decides
whether the branches a module has (the module itself being one branch, or its children being two) form its layout,
and then owns everything capture does differently for that layout: which gate layers to hook, which recombinations
of x with the gates may reproduce the block's output (checked against the block's own output on every new shape),
and which steps a walk-through of the block shows (the keys of ``teaching.walk.STEP_FORMULAS``; empty when the
teaching page cannot walk through it). A new layout is a new subclass in :data:`READERS`, not a new ``if`` in capture.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from torch import nn

from scse_viz.capture.records import Join, Kind


@dataclass(frozen=True)
class Layout:
    """What a reader found: the channel and spatial branch (``GateBranch`` or None) and why it cannot be read."""

    channel: object | None
    spatial: object | None
    reason: str = ""


class BlockReader:
    """Base of the readers. Subclasses set the class attributes and :meth:`recognise`."""

    kind: ClassVar[Kind]
    joins: ClassVar[tuple[Join, ...]]  # tried in this order against the block's own output
    steps: ClassVar[tuple[str, ...]] = ()  # walk-through steps; () when the teaching page cannot walk through it
    name: ClassVar[str]  # the layout, for people

    @classmethod
    def recognise(cls, itself, children: Sequence) -> Layout | None:
        """The layout if the module (one ``GateBranch`` itself, or ``children``: the branches of its children) is
        this reader's, else None."""
        raise NotImplementedError

    @staticmethod
    def hooks(layout: Layout) -> list[tuple[str, object]]:
        """(role, branch) whose gate layer capture hooks: the gates are those layers' outputs."""
        return [(role, b) for role, b in (("channel", layout.channel), ("spatial", layout.spatial)) if b is not None]

    @classmethod
    def rebuild(cls, join: Join, scaled_w: np.ndarray | None, scaled_q: np.ndarray | None, q: np.ndarray | None):
        """The block's output rebuilt with ``join`` from x·w, x·q and q (numpy, on capture's check grid)."""
        if join is Join.SCALE:
            return scaled_w if scaled_q is None else scaled_q
        if join is Join.SUM:
            return scaled_w + scaled_q
        if join is Join.MAX:
            return np.maximum(scaled_w, scaled_q)
        if join is Join.SEQUENTIAL:
            return scaled_w * q
        raise ValueError(f"no rebuild for join {join!r}")


class ChannelScaleReader(BlockReader):
    """SE / cSE: a module that is itself a channel branch C→h→C and returns x·w (timm's ``SEModule``, ReXNet's with
    a BatchNorm in the bottleneck, torchvision's ``SqueezeExcitation``, MONAI's ``ChannelSELayer``, our cSE)."""

    kind, joins, name = "cse", (Join.SCALE,), "SE (x·w)"
    steps = ("squeeze", "hidden", "excitation", "cse_scale")

    @classmethod
    def recognise(cls, itself, children):
        if itself is not None and itself.role == "channel" and itself.channels is not None:
            return Layout(itself, None, itself.reason)
        return None


class EcaReader(BlockReader):
    """ECA: a 1-D conv across the pooled channels, x·w; C is read from the input at run time."""

    kind, joins, name = "cse", (Join.SCALE,), "ECA (x·w)"

    @classmethod
    def recognise(cls, itself, children):
        if itself is not None and itself.role == "channel" and itself.channels is None:
            return Layout(itself, None, itself.reason)
        return None


class EffectiveSEReader(BlockReader):
    """ESE: one C→C projection and a gate layer applied by the module to x (timm's ``EffectiveSEModule``: to the
    pooled x, one weight per channel). The same layers on x itself give a weight per channel *and* pixel; capture
    checks the gate's size on every call and refuses that."""

    kind, joins, name = "cse", (Join.SCALE,), "effective SE (x·w, no bottleneck)"

    @classmethod
    def recognise(cls, itself, children):
        if itself is not None and itself.role == "spatial-multi":
            from dataclasses import replace

            return Layout(replace(itself, role="channel", layout=f"channel: {itself.layout}"), None)
        return None


class SpatialScaleReader(BlockReader):
    """sSE: a module that is itself a C→1 1×1 conv branch and returns x·q."""

    kind, joins, name = "sse", (Join.SCALE,), "sSE (x·q)"
    steps = ("sse", "sse_scale")

    @classmethod
    def recognise(cls, itself, children):
        if itself is not None and itself.role in ("spatial", "spatial-pooled"):
            return Layout(None, itself, itself.reason)
        return None


def _pair(children: Sequence, spatial_role: str):
    channel = next((b for b in children if b.role == "channel"), None)
    spatial = next((b for b in children if b.role != "channel"), None)
    if len(children) != 2 or channel is None or spatial is None or spatial.role != spatial_role:
        return None
    return channel, spatial


class ScseReader(BlockReader):
    """scSE: a channel and a spatial branch as children, joined by sum (the seed, smp) or max (the authors)."""

    kind, joins, name = "scse", (Join.SUM, Join.MAX), "scSE (x·w + x·q or max)"
    steps = ("squeeze", "hidden", "excitation", "cse_scale", "sse", "sse_scale", "scse", "gain")

    @classmethod
    def recognise(cls, itself, children):
        pair = _pair(children, "spatial")
        if pair is None:
            return None
        channel, spatial = pair
        reason = channel.reason or spatial.reason
        if not reason and channel.channels is not None and spatial.channels != channel.channels:
            reason = "its two branches see different channel counts"
        return Layout(channel, spatial, reason)


class MultiMapScseReader(BlockReader):
    """Early smp releases: a spatial branch with C maps instead of one. Listed, never read."""

    kind, joins, name = "scse", (), "scSE with one spatial map per channel"

    @classmethod
    def recognise(cls, itself, children):
        pair = _pair(children, "spatial-multi")
        if pair is None:
            return None
        return Layout(*pair, "its spatial branch makes one map per channel, not one N×H×W map")


class CbamReader(BlockReader):
    """CBAM: channel gate, then a spatial gate computed from the channel-gated map: (x·w)·q."""

    kind, joins, name = "cbam", (Join.SEQUENTIAL,), "CBAM ((x·w)·q)"

    @classmethod
    def recognise(cls, itself, children):
        pair = _pair(children, "spatial-pooled")
        return None if pair is None else Layout(*pair, pair[0].reason or pair[1].reason)


READERS: tuple[type[BlockReader], ...] = (
    ChannelScaleReader,
    EcaReader,
    EffectiveSEReader,
    SpatialScaleReader,
    ScseReader,
    MultiMapScseReader,
    CbamReader,
)


class NotReadableReader(BlockReader):
    """An attention-like module no reader above recognises (SKNet's ``SelectiveKernel``, ResNeSt's ``SplitAttn``,
    ``GatherExcite``, ``GlobalContext``, …). Listed with its reason so that a model is never said to have no
    attention blocks when it has some; never read, never hooked.

    Only here does a class name count: it decides whether a module is *listed* (a wrong guess lists a module that
    is not shown), never whether or how it is read. A module is listed only when nothing readable lies inside it
    (``SEResNetBottleneck`` holds a readable ``SEModule``).
    """

    kind, joins, name = "other", (), "not readable"
    _ATTENTION_LIKE = re.compile(  # the end of the class name (LightCbamModule, GatherExcite, EffectiveSEModule)
        r"(Squeeze\w*|Excit\w*|SE|SEModule|SELayer|SEBlock|EcaModule|CecaModule|Cbam\w*|SelectiveKernel|"
        r"SelectiveKernelAttn|SplitAttn|GlobalContext|ChannelAttn|SpatialAttn|CoordAttn|ChannelAttention|"
        r"SpatialAttention)$"
    )

    @classmethod
    def recognise(cls, itself, children):  # listing goes by attention_like() and reason()
        return None

    @classmethod
    def attention_like(cls, module: nn.Module) -> bool:
        return bool(cls._ATTENTION_LIKE.search(type(module).__name__))

    @classmethod
    def reason(cls, module: nn.Module) -> str:
        """Why the module cannot be read, from its structure."""
        own = type(module).__name__
        leaves = [m for m in module.modules() if not any(True for _ in m.children())]
        if any(isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1) and m.in_channels > 2 for m in leaves):
            why = (
                "it computes features with its own k×k convolutions and mixes them with weights made inside "
                "forward() (for example a softmax across paths), so its output is not x times a gate in [0, 1]"
            )
        elif any(isinstance(m, (nn.LayerNorm, nn.GroupNorm)) for m in leaves):
            why = "its gate branch holds a LayerNorm or GroupNorm, or adds a context term: not a gate times x"
        else:
            why = (
                "its gate is made inside forward() by operations that cannot be hooked (a softmax, a gather, an "
                "added context term), so what it multiplies by cannot be read and checked"
            )
        return f"{own} is attention-like but not a layout this app reads: {why}"
