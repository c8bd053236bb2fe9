"""Plain records that capture hands to rendering and pages: numbers and names, no modules, no hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np

# cbam: channel gate, then spatial gate on the channel-gated map; other: attention-like, listed as not readable
Kind = Literal["cse", "sse", "scse", "cbam", "other"]
BranchName = Literal["cse", "sse"]  # which gate a knock-out replaces


class Join(StrEnum):
    """How a block combined its input x with its gates, as verified against the block's own output.

    A ``StrEnum``: ``Join.SUM == "sum"``, so code that still compares the old strings keeps working, while pages ask
    the join what it means (``has_gain``, ``formula``) instead of branching on its name.
    """

    SUM = "sum"  # x·w + x·q (the seed's scSE)
    MAX = "max"  # max(x·w, x·q) (the authors' public code)
    SEQUENTIAL = "sequential"  # (x·w)·q, q computed from x·w (CBAM)
    SCALE = "scale"  # x·w or x·q: one gate (cSE, sSE, SE, ECA, ESE)

    @property
    def has_gain(self) -> bool:
        """Whether the output is one gain per element times x that adds the two gates, g = w_c + q_ij in (0, 2)
        (1: left as it was). Only the sum has it; max picks a branch per element, CBAM's q depends on x·w."""
        return self is Join.SUM

    @property
    def formula(self) -> str:
        """The join as people read it (plain text)."""
        return _JOIN_FORMULAS[self]

    @property
    def gates(self) -> int:
        """How many gates the join combines (1 for a single-gate block, 2 otherwise)."""
        return 1 if self is Join.SCALE else 2


_JOIN_FORMULAS = {
    Join.SUM: "x·w + x·q",
    Join.MAX: "max(x·w, x·q)",
    Join.SEQUENTIAL: "(x·w)·q, with q computed from x·w",
    Join.SCALE: "x·gate",
}


@dataclass(frozen=True)
class BlockInfo:
    """One attention block found in a model, described from its structure alone (no forward pass)."""

    name: str  # qualified module name, as in ``model.named_modules()``
    kind: Kind
    implementation: str  # which implementation's layout was recognised
    channels: int | None  # C, read from the weight shapes; None when they do not fix it (ECA: see ``layout``)
    hidden: int | None  # C/r of the channel branch (None without one, or without a bottleneck: ESE, ECA)
    readable: bool
    reason: str = ""  # why the block is not readable ("" when it is)
    gate_function: str = "sigmoid"  # what its gate layers compute: "sigmoid" (values in (0, 1)), "hard sigmoid"
    # (values in [0, 1]), a functional sigmoid recomputed and checked, or "channel: …; spatial: …" when they differ
    layout: str = ""  # the branches' layers as read from the weights, for people (e.g. ECA's taps, CBAM's k×k conv)

    @property
    def reduction(self) -> float | None:
        """r = C / hidden, read from the weights (never from a default)."""
        return None if self.hidden is None else self.channels / self.hidden


@dataclass
class BlockRecord:
    """What one call of one attention block computed during a captured forward pass.

    A block that did not run in the pass gets one record with ``ran=False`` and no gates. A block called twice gets
    two records (``call`` 0 and 1). Gates are float32 copies of exactly the values the model used.
    """

    info: BlockInfo
    call: int = 0
    ran: bool = False
    channel_gate: np.ndarray | None = None  # N×C, the cSE gate w
    spatial_gate: np.ndarray | None = None  # N×H×W, the sSE gate q
    feature_size: tuple[int, int] | None = None  # (H, W) of the block's input feature map
    stride: tuple[float, float] | None = None  # input size / feature size, per axis
    join: Join | None = None  # how the block combined its gates with x (a plain string given here becomes a Join)
    knocked_out: dict[str, float] = field(default_factory=dict)  # branch -> constant that replaced its gate
    readable: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        if self.join is not None and not isinstance(self.join, Join):
            self.join = Join(self.join)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> Kind:
        return self.info.kind

    @property
    def channels(self) -> int | None:
        """C of this call: from the captured channel gate when there is one (ECA's C is known only at run time)."""
        if self.channel_gate is not None:
            return int(self.channel_gate.shape[1])
        return self.info.channels

    @property
    def label(self) -> str:
        """Name for people: the module name, with the call number when the block ran more than once."""
        return self.info.name if self.call == 0 else f"{self.info.name} (call {self.call + 1})"


@dataclass
class CaptureResult:
    """The model's output of one captured forward pass and one record per block call."""

    output: Any  # exactly what the model returned (detached)
    input_size: tuple[int, int]  # (H, W) of the input tensor
    records: list[BlockRecord]
    # block name -> the feature map entering each of its calls (tensor copies), for blocks a session was asked to keep
    inputs: dict[str, list[Any]] = field(default_factory=dict)

    def shown(self) -> list[BlockRecord]:
        """Records that have gates to show: the block ran and its gates were read and verified."""
        return [r for r in self.records if r.ran and r.readable]

    def record(self, name: str, call: int = 0) -> BlockRecord:
        for r in self.records:
            if r.info.name == name and r.call == call:
                return r
        raise KeyError(f"no record for block {name!r} call {call}")
