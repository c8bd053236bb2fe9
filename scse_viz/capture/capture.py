"""Run one forward pass and record every attention block's gates, exactly as the model computed them.

How it stays correct when one cached model serves many people at once:

- Hooks are registered for this call only and removed in ``finally``, also when the forward pass raises.
- Each hook belongs to one :class:`CaptureSession` and acts only when a call of that session is the one active in
  the *current* context (a ``ContextVar``). Another thread's forward pass on the same module also runs our hooks,
  but they see their own call there and do nothing: no recording, no knock-out.
- Recorded gates are ``detach().clone()`` copies, so in-place operations after a block cannot change them.
- Each block is checked: its output must equal its input recombined with the captured gates by one of its
  reader's joins (:mod:`.readers`: sum or max for scSE, (x·w)·q for CBAM, product for cSE/sSE), and every captured gate (unless knocked out) must lie in [0, 1]. A block
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
from typing import Any, Self

import numpy as np
import torch
from torch import nn

from scse_viz.capture.discovery import BlockPlan, GateBranch, plan_blocks
from scse_viz.capture.readers import BlockReader, Layout, ScseReader
from scse_viz.capture.records import BlockRecord, BranchName, CaptureResult, Join
from scse_viz.errors import CaptureError

_active_call: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("scse_capture", default=None)


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


class _Call:
    """What one captured forward pass saw: the gates of each block's call under way, the records, kept inputs."""

    def __init__(
        self,
        session: CaptureSession,
        knockouts: Sequence[Knockout],
        input_size: tuple[int, int],
    ) -> None:
        self.session = session
        self.knockouts = knockouts
        self.input_size = input_size
        plans = session.plans
        self.verified = session.verified  # (block, feature shape, knock-outs) -> join, shared by captures of a model
        self.pending: dict[str, _Frame] = {p.info.name: _Frame() for p in plans}  # gates of the call under way
        self.records: dict[str, list[BlockRecord]] = {p.info.name: [] for p in plans}
        self.inputs: dict[str, list[torch.Tensor]] = {name: [] for name in session.kept}

    def knockout_for(self, name: str, branch: str) -> Knockout | None:
        matches = [k for k in self.knockouts if k.branch == branch and k.applies_to(name)]
        return matches[-1] if matches else None

    def knockout_value(self, name: str, branch: str) -> float | None:
        knockout = self.knockout_for(name, branch)
        return None if knockout is None else knockout.value


def _current(session: CaptureSession) -> _Call | None:
    """This session's call running in the current context, or None (another session's, or no capture at all)."""
    call = _active_call.get()
    return call if call is not None and call.session is session else None


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


def _gate_hook(session: CaptureSession, plan: BlockPlan, branch: GateBranch, role: str):
    name = plan.info.name

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        call = _current(session)
        if call is None:
            return None
        gate = torch.sigmoid(output) if branch.recomputed else output
        replacement = None
        knockout = call.knockout_for(name, "cse" if role == "channel" else "sse")
        if knockout is not None and knockout.channels is None:
            replacement = gate = torch.full_like(output, knockout.value)
        elif knockout is not None:  # some channels only: N×C×1×1 gate, those channels set
            replacement = gate = output.clone()
            replacement[:, list(knockout.channels)] = knockout.value
        setattr(call.pending[name], role, gate.detach().clone())
        return replacement

    return hook


def _block_hook(session: CaptureSession, plan: BlockPlan):
    name = plan.info.name

    def hook(module: nn.Module, args: tuple, output: Any) -> None:
        call = _current(session)
        if call is None:
            return
        frame, call.pending[name] = call.pending[name], _Frame()
        record = _read_call(call, plan, frame, args[0] if args else None, output)
        call.records[name].append(record)

    return hook


def _input_hook(session: CaptureSession, name: str):
    """Keeps a copy of the feature map entering block ``name`` (a pre-hook: before the block can change it)."""

    def hook(module: nn.Module, args: tuple) -> None:
        call = _current(session)
        if call is not None and args and isinstance(args[0], torch.Tensor):
            call.inputs[name].append(args[0].detach().clone())

    return hook


def _read_call(session: _Call, plan: BlockPlan, frame: _Frame, x: Any, output: Any) -> BlockRecord:
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
        join = _identify_join(x, output, gate_w, gate_q, plan.reader)
        if join is None:
            why = "its output could not be rebuilt from its input and the captured gates"
            if _adds_input_back(x, output, gate_w, gate_q, plan.reader):
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
    x: torch.Tensor,
    output: torch.Tensor,
    gate_w: torch.Tensor | None,
    gate_q: torch.Tensor | None,
    reader: type[BlockReader] = ScseReader,
) -> Join | None:
    """Which of the reader's joins (:attr:`BlockReader.joins`) reproduces the block's output from x and the gates.

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
    q = None if gate_q is None else grid(gate_q.reshape(n, 1, h, w))
    scaled_w = None if gate_w is None else xs * gate_w.float().cpu().numpy().reshape(n, c, 1, 1)
    scaled_q = None if q is None else xs * q
    joins = (Join.SCALE,) if scaled_w is None or scaled_q is None else reader.joins
    tolerance = None
    for join in joins:
        rebuilt = reader.rebuild(join, scaled_w, scaled_q, q)
        if np.array_equal(rebuilt, out):  # the usual case: the block did these very operations
            return join
        tolerance = tolerance or 1e-6 + 1e-5 * float(np.abs(xs).max())
        if np.allclose(rebuilt, out, rtol=1e-5, atol=tolerance):  # same maths in another order
            return join
    return None


def _adds_input_back(
    x: torch.Tensor, output: Any, gate_w: torch.Tensor | None, gate_q: torch.Tensor | None, reader: type[BlockReader]
) -> bool:
    """Whether ``output - x`` is a join of x with the gates: a residual SE (MONAI's ``ResidualSELayer``). Only to
    explain a refusal; such a block is never shown."""
    if not isinstance(output, torch.Tensor) or output.shape != x.shape:
        return False
    return _identify_join(x, output - x, gate_w, gate_q, reader) is not None


@dataclass
class _ModelPlan:
    signature: tuple[int, ...]  # ids of every module: a replaced or added layer changes it
    blocks: list[BlockPlan]
    verified: dict[tuple, Join]


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


class CaptureSession:
    """Capture's hooks on one model for the length of a ``with`` block; each :meth:`run` is one captured pass.

    Options: ``keep_inputs`` (True: every block; or block names) keeps a copy of the feature map entering each call
    of those blocks (``CaptureResult.inputs``), taken by a pre-hook before the block runs; knock-outs are given per
    call to :meth:`run`. Hooks are registered on entry and removed on exit, also when a pass raises, and act only in
    the context (thread) whose :meth:`run` is under way, so other requests sharing the cached model see nothing of
    them. One session serves one request: do not share it between threads.
    """

    def __init__(self, model: nn.Module, keep_inputs: bool | Sequence[str] = False) -> None:
        self.model = model
        model_plan = _model_plan(model)
        self.plans, self.verified = model_plan.blocks, model_plan.verified
        names = [p.info.name for p in self.plans]
        if keep_inputs is True:
            kept = names
        else:
            kept = list(dict.fromkeys(keep_inputs or ()))
            unknown = [name for name in kept if name not in names]
            if unknown:
                raise CaptureError(f"there is no attention block named {unknown[0]!r} in this model")
        self.kept = kept
        self._handles: list | None = None

    def __enter__(self) -> Self:
        if self._handles is not None:
            raise CaptureError("this capture session is already open")
        self._handles = []
        try:
            for plan in self.plans:
                if plan.info.name in self.kept:
                    self._handles.append(plan.module.register_forward_pre_hook(_input_hook(self, plan.info.name)))
                self._handles.append(plan.module.register_forward_hook(_block_hook(self, plan)))
                if not plan.info.readable:
                    continue
                layout = Layout(plan.channel, plan.spatial)
                for role, branch in plan.reader.hooks(layout):
                    hook = _gate_hook(self, plan, branch, role)
                    self._handles.append(branch.gate_module.register_forward_hook(hook))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles or ():
            handle.remove()
        self._handles = None

    def run(self, x: torch.Tensor, knockout: Knockout | Sequence[Knockout] | None = None) -> CaptureResult:
        """One forward pass of the model on ``x`` in eval mode without gradients, every block's gates recorded.

        The output is identical, bit for bit, to a plain forward pass unless ``knockout`` is given.
        """
        if self._handles is None:
            raise CaptureError("open the capture session with `with` before running it")
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise CaptureError("the input must be an N×C×H×W tensor")
        knockouts = [knockout] if isinstance(knockout, Knockout) else list(knockout or [])
        _check_knockouts(self.plans, knockouts)
        call = _Call(self, knockouts, (x.shape[-2], x.shape[-1]))
        token = _active_call.set(call)
        try:
            with _eval_mode(self.model), torch.no_grad():
                output = self.model(x)
        finally:
            _active_call.reset(token)
        records = []
        for plan in self.plans:
            calls = call.records[plan.info.name]
            records.extend(calls or [_did_not_run(plan)])
        return CaptureResult(output=_detach(output), input_size=call.input_size, records=records, inputs=call.inputs)


def capture_attention(
    model: nn.Module, x: torch.Tensor, knockout: Knockout | Sequence[Knockout] | None = None
) -> CaptureResult:
    """Run ``model(x)`` once in eval mode without gradients and record every attention block's gates.

    Returns the model's output (identical, bit for bit, to a plain forward pass unless ``knockout`` is given) and one
    record per block call; blocks that did not run get one record with ``ran=False``. One :class:`CaptureSession`
    opened for this pass alone.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise CaptureError("the input must be an N×C×H×W tensor")
    with CaptureSession(model) as session:
        return session.run(x, knockout)


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
