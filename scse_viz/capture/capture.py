"""Run one forward pass and record every attention block's gates, exactly as the model computed them.

How it stays correct when one cached model serves many people at once:

- Hooks are registered for this call only and removed in ``finally``, also when the forward pass raises.
- Each hook belongs to one :class:`_Session` and acts only when that session is the one active in the *current*
  context (a ``ContextVar``). Another thread's forward pass on the same module also runs our hooks, but they see
  their own session there and do nothing: no recording, no knock-out.
- Recorded gates are ``detach().clone()`` copies, so in-place operations after a block cannot change them.
- Each block is checked: its output must equal its input recombined with the captured gates (sum or max for scSE,
  (x·w)·q for CBAM, product for cSE/sSE), and every captured gate (unless knocked out) must lie in [0, 1]. A block
  that fails the check is reported "not readable", never shown. The output check runs on a block's first call for
  each feature-map shape and knock-out setting of a model object; the join found is cached with the model's plan
  (the block's code and weights' shapes cannot change without the plan being redone), which keeps capture within a
  few per cent of a plain forward pass. Gates recomputed from a projection (no gate layer) are checked on every call.
"""

from __future__ import annotations

import contextvars
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from scse_viz.capture.discovery import BlockPlan, GateBranch, plan_blocks
from scse_viz.capture.records import BlockRecord, BranchName, CaptureResult
from scse_viz.errors import CaptureError

_active_session: contextvars.ContextVar[_Session | None] = contextvars.ContextVar("scse_capture", default=None)


@dataclass(frozen=True)
class Knockout:
    """Replace the ``branch`` gate of ``blocks`` (None: every block with that branch) by ``value`` for one call.

    ``value=0.5`` is what an untrained gate gives (sigmoid(0)); ``value=0.0`` removes the branch from the scSE sum;
    ``value=1.0`` removes a gate that multiplies (cSE, sSE, either gate of CBAM).
    """

    branch: BranchName
    value: float = 0.5
    blocks: tuple[str, ...] | None = None
    # cSE only: replace the gate of these channels alone (the rest keep what the block computed); None: all
    channels: tuple[int, ...] | None = None

    def applies_to(self, name: str) -> bool:
        return self.blocks is None or name in self.blocks


@dataclass
class _Frame:
    """Gates seen during the current call of one block (a block never runs inside itself)."""

    channel: torch.Tensor | None = None
    spatial: torch.Tensor | None = None


class _Session:
    def __init__(
        self,
        plans: list[BlockPlan],
        knockouts: Sequence[Knockout],
        input_size: tuple[int, int],
        verified: dict[tuple, str],
    ) -> None:
        self.plans = plans
        self.verified = verified  # (block, feature shape, knock-outs) -> join, shared by captures of one model
        self.knockouts = knockouts
        self.input_size = input_size
        self.pending: dict[str, _Frame] = {p.info.name: _Frame() for p in plans}  # gates of the call under way
        self.records: dict[str, list[BlockRecord]] = {p.info.name: [] for p in plans}

    def knockout_for(self, name: str, branch: str) -> Knockout | None:
        matches = [k for k in self.knockouts if k.branch == branch and k.applies_to(name)]
        return matches[-1] if matches else None

    def knockout_value(self, name: str, branch: str) -> float | None:
        knockout = self.knockout_for(name, branch)
        return None if knockout is None else knockout.value


# Eval mode for the duration of captures, restored when the last concurrent capture of a model ends.
_mode_lock = threading.Lock()
_mode_users: weakref.WeakKeyDictionary[nn.Module, list] = weakref.WeakKeyDictionary()


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode while any capture of it runs; give the modules that were training back after.

    A model already in eval mode (the app's case) is left untouched: ``model.eval()`` walks every module and costs
    several per cent of a small forward pass.
    """
    with _mode_lock:
        entry = _mode_users.get(model)
        if entry is None:
            training = [m for m in model.modules() if m.training]
            if training:
                model.eval()
            entry = _mode_users[model] = [0, training]
        entry[0] += 1
    try:
        yield
    finally:
        with _mode_lock:
            entry[0] -= 1
            if entry[0] == 0:
                for module in entry[1]:
                    module.training = True
                del _mode_users[model]


def _gate_hook(session: _Session, plan: BlockPlan, branch: GateBranch, role: str):
    name = plan.info.name

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if _active_session.get() is not session:
            return None
        gate = torch.sigmoid(output) if branch.recomputed else output
        replacement = None
        knockout = session.knockout_for(name, "cse" if role == "channel" else "sse")
        if knockout is not None and knockout.channels is None:
            replacement = gate = torch.full_like(output, knockout.value)
        elif knockout is not None:  # some channels only: N×C×1×1 gate, those channels set
            replacement = gate = output.clone()
            replacement[:, list(knockout.channels)] = knockout.value
        setattr(session.pending[name], role, gate.detach().clone())
        return replacement

    return hook


def _block_hook(session: _Session, plan: BlockPlan):
    name = plan.info.name

    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        if _active_session.get() is not session:
            return
        frame, session.pending[name] = session.pending[name], _Frame()
        record = _read_call(session, plan, frame, args[0] if args else None, output)
        session.records[name].append(record)

    return hook


def _read_call(session: _Session, plan: BlockPlan, frame: _Frame, x: Any, output: Any) -> BlockRecord:
    """Turn one block call's hooked tensors into a checked record."""
    info = plan.info
    record = BlockRecord(info=info, call=len(session.records[info.name]), ran=True)
    record.knocked_out = {
        b: v
        for b in ("cse", "sse")
        if (v := session.knockout_value(info.name, b)) is not None
        and ((b == "cse" and plan.channel) or (b == "sse" and plan.spatial))
    }
    if not info.readable:
        record.readable, record.reason = False, info.reason
        return record
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not isinstance(output, torch.Tensor):
        record.readable, record.reason = False, "the block's input or output is not an N×C×H×W tensor"
        return record
    n, c, h, w = x.shape
    record.feature_size = (h, w)
    record.stride = (session.input_size[0] / h, session.input_size[1] / w)
    gate_w = gate_q = None
    if plan.channel is not None:
        if frame.channel is None:
            return _unreadable(record, _NOT_RUN.format(branch="channel"))
        if frame.channel.numel() != n * c:
            size = "one value per channel and pixel" if frame.channel.numel() == n * c * h * w else "the wrong size"
            return _unreadable(record, f"its channel gate has {size}, not one value per channel")
        gate_w = frame.channel.reshape(n, c)
    if plan.spatial is not None:
        if frame.spatial is None:
            return _unreadable(record, _NOT_RUN.format(branch="spatial"))
        if frame.spatial.numel() != n * h * w:
            return _unreadable(record, "its spatial gate is not one map per image")
        gate_q = frame.spatial.reshape(n, h, w)
    recomputed = any(b is not None and b.recomputed for b in (plan.channel, plan.spatial))
    key = (info.name, tuple(x.shape[1:]), tuple(sorted(record.knocked_out.items())))
    join = None if recomputed else session.verified.get(key)
    if join is None:
        join = _identify_join(x, output, gate_w, gate_q, info.kind)
        if join is None:
            why = "its output could not be rebuilt from its input and the captured gates"
            if _adds_input_back(x, output, gate_w, gate_q, info.kind):
                why += " (it adds its input back: its output is the gated map plus x)"
            elif recomputed:
                why += (
                    " (it has no gate layer; its gate, computed inside forward(), is not sigmoid of its last "
                    "projection)"
                )
            return _unreadable(record, why)
        if not recomputed:
            session.verified[key] = join
    channel_gate = None if gate_w is None else gate_w.float().cpu().numpy()
    spatial_gate = None if gate_q is None else gate_q.float().cpu().numpy()
    for branch, gate in (("cse", channel_gate), ("sse", spatial_gate)):
        if gate is not None and branch not in record.knocked_out and not (gate.min() >= 0.0 and gate.max() <= 1.0):
            return _unreadable(record, f"its {'channel' if branch == 'cse' else 'spatial'} gate leaves [0, 1]")
    record.join = join
    record.channel_gate, record.spatial_gate = channel_gate, spatial_gate
    return record


_NOT_RUN = (
    "its {branch} gate layer did not run in the block's call (a gate computed by a functional call inside "
    "forward() cannot be read)"
)


def _unreadable(record: BlockRecord, reason: str) -> BlockRecord:
    record.readable, record.reason = False, reason
    return record


_CHECK_GRID = 16  # positions per axis at which a block's output is rebuilt from its gates


def _identify_join(
    x: torch.Tensor, output: torch.Tensor, gate_w: torch.Tensor | None, gate_q: torch.Tensor | None, kind: str = "scse"
) -> str | None:
    """Which recombination of x with the gates reproduces the block's output, or None.

    cSE/sSE: x·w or x·q ("scale"); scSE: x·w + x·q ("sum") or max(x·w, x·q) ("max");
    CBAM: (x·w)·q ("sequential").

    The check rebuilds every image and channel on a grid of at most 16×16 positions spread over the whole map: a
    wrong gate or join fails at nearly every position, and the full-size check would cost 15 % of a U-Net forward.
    It runs in numpy on views of those positions (float32 products and sums round the same way in both libraries),
    because at this size the cost is per-operation overhead, which is several times lower in numpy.
    """
    if not isinstance(output, torch.Tensor) or output.shape != x.shape:
        return None
    n, c, h, w = x.shape
    rows = slice(None, None, max(1, -(-h // _CHECK_GRID)))
    cols = slice(None, None, max(1, -(-w // _CHECK_GRID)))

    def grid(t: torch.Tensor) -> np.ndarray:
        return t[:, :, rows, cols].float().cpu().numpy()

    xs, out = grid(x), grid(output)
    scaled_w = None if gate_w is None else xs * gate_w.float().cpu().numpy().reshape(n, c, 1, 1)
    scaled_q = None if gate_q is None else xs * grid(gate_q.reshape(n, 1, h, w))
    if scaled_w is None or scaled_q is None:
        candidates = {"scale": lambda: scaled_w if scaled_q is None else scaled_q}
    elif kind == "cbam":
        candidates = {"sequential": lambda: scaled_w * grid(gate_q.reshape(n, 1, h, w))}
    else:
        candidates = {"sum": lambda: scaled_w + scaled_q, "max": lambda: np.maximum(scaled_w, scaled_q)}
    tolerance = None
    for join, rebuild in candidates.items():
        rebuilt = rebuild()
        if np.array_equal(rebuilt, out):  # the usual case: the block did these very operations
            return join
        tolerance = tolerance or 1e-6 + 1e-5 * float(np.abs(xs).max())
        if np.allclose(rebuilt, out, rtol=1e-5, atol=tolerance):  # same maths in another order
            return join
    return None


def _adds_input_back(
    x: torch.Tensor, output: Any, gate_w: torch.Tensor | None, gate_q: torch.Tensor | None, kind: str
) -> bool:
    """Whether ``output - x`` is a join of x with the gates: a residual SE (MONAI's ``ResidualSELayer``). Only to
    explain a refusal; such a block is never shown."""
    if not isinstance(output, torch.Tensor) or output.shape != x.shape:
        return False
    return _identify_join(x, output - x, gate_w, gate_q, kind) is not None


@dataclass
class _ModelPlan:
    signature: tuple[int, ...]  # ids of every module: a replaced or added layer changes it
    blocks: list[BlockPlan]
    verified: dict[tuple, str]


_plan_cache: weakref.WeakKeyDictionary[nn.Module, _ModelPlan] = weakref.WeakKeyDictionary()


def _model_plan(model: nn.Module) -> _ModelPlan:
    """``plan_blocks`` cached per model; a changed module tree is planned (and verified) again."""
    signature = tuple(id(m) for m in model.modules())
    cached = _plan_cache.get(model)
    if cached is None or cached.signature != signature:
        cached = _ModelPlan(signature, plan_blocks(model), {})
        _plan_cache[model] = cached
    return cached


def _check_knockouts(plans: list[BlockPlan], knockouts: Sequence[Knockout]) -> None:
    by_name = {p.info.name: p for p in plans}
    for knockout in knockouts:
        if knockout.branch not in ("cse", "sse"):
            raise CaptureError(f"unknown branch {knockout.branch!r}: choose 'cse' or 'sse'")
        if knockout.channels is not None and knockout.branch != "cse":
            raise CaptureError("only a channel gate (cse) can be knocked out channel by channel")
        for name in knockout.blocks or ():
            if name not in by_name:
                raise CaptureError(f"there is no attention block named {name!r} in this model")
        for plan in plans:
            branch = plan.channel if knockout.branch == "cse" else plan.spatial
            if branch is not None and knockout.applies_to(plan.info.name) and branch.recomputed:
                raise CaptureError(
                    f"block {plan.info.name!r} computes its gate inside forward(); it cannot be knocked out"
                )


def capture_attention(
    model: nn.Module, x: torch.Tensor, knockout: Knockout | Sequence[Knockout] | None = None
) -> CaptureResult:
    """Run ``model(x)`` once in eval mode without gradients and record every attention block's gates.

    Returns the model's output (identical, bit for bit, to a plain forward pass unless ``knockout`` is given) and one
    record per block call; blocks that did not run get one record with ``ran=False``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise CaptureError("the input must be an N×C×H×W tensor")
    knockouts = [knockout] if isinstance(knockout, Knockout) else list(knockout or [])
    model_plan = _model_plan(model)
    plans = model_plan.blocks
    _check_knockouts(plans, knockouts)
    session = _Session(plans, knockouts, (x.shape[-2], x.shape[-1]), model_plan.verified)
    handles = []
    token = _active_session.set(session)
    try:
        for plan in plans:
            handles.append(plan.module.register_forward_hook(_block_hook(session, plan)))
            for role, branch in (("channel", plan.channel), ("spatial", plan.spatial)):
                if branch is not None and plan.info.readable:
                    handles.append(branch.gate_module.register_forward_hook(_gate_hook(session, plan, branch, role)))
        with _eval_mode(model), torch.no_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
        _active_session.reset(token)
    records = []
    for plan in plans:
        calls = session.records[plan.info.name]
        records.extend(calls or [_did_not_run(plan)])
    return CaptureResult(output=_detach(output), input_size=session.input_size, records=records)


def _did_not_run(plan: BlockPlan) -> BlockRecord:
    return BlockRecord(
        info=plan.info,
        call=0,
        ran=False,
        readable=plan.info.readable,
        reason=plan.info.reason or "did not run in this forward pass",
    )


def _detach(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output.detach()
    if isinstance(output, (list, tuple)):
        return type(output)(_detach(o) for o in output)
    if isinstance(output, dict):
        return {k: _detach(v) for k, v in output.items()}
    return output
