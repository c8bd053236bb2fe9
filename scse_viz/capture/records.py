"""Plain records that capture hands to rendering and pages: numbers and names, no modules, no hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Kind = Literal["cse", "sse", "scse", "cbam"]  # cbam: channel gate, then spatial gate on the channel-gated map
BranchName = Literal["cse", "sse"]  # which gate a knock-out replaces


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
    join: str | None = None  # how the block combined its gates with x: "sum" (x·w + x·q), "max" (max(x·w, x·q)),
    # "sequential" ((x·w)·q, CBAM: q is computed from x·w), or "scale" for a single gate (x·w or x·q)
    knocked_out: dict[str, float] = field(default_factory=dict)  # branch -> constant that replaced its gate
    readable: bool = True
    reason: str = ""

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

    def shown(self) -> list[BlockRecord]:
        """Records that have gates to show: the block ran and its gates were read and verified."""
        return [r for r in self.records if r.ran and r.readable]

    def record(self, name: str, call: int = 0) -> BlockRecord:
        for r in self.records:
            if r.info.name == name and r.call == call:
                return r
        raise KeyError(f"no record for block {name!r} call {call}")
