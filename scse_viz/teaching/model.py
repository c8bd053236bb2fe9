"""A block of a real network walked through on the feature map that network fed it, checked against capture.

The feature map entering a block is kept by the same :class:`~scse_viz.capture.CaptureSession` pass that records the
block's gates (``keep_inputs``), so the walk-through and capture's record come from one forward pass of one model,
under capture's own rules for models shared by several sessions (hooks for this call only, acting only in this
call's context).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from scse_viz.capture import BlockInfo, BlockRecord, CaptureResult, CaptureSession, find_attention_blocks
from scse_viz.errors import UnsupportedBlockError
from scse_viz.teaching.walk import GATE_TOLERANCE, WalkThrough, can_walk_through, gate_differences, walk_through


def teaching_blocks(model: nn.Module) -> list[BlockInfo]:
    """The attention blocks of ``model`` (network order) that :func:`walk_through_model` can recompute."""
    return [
        info
        for info in find_attention_blocks(model)
        if info.readable and can_walk_through(model.get_submodule(info.name))
    ]


def _check_names(model: nn.Module, blocks: Sequence[str]) -> None:
    available = [info.name for info in teaching_blocks(model)]
    unknown = [name for name in blocks if name not in available]
    if unknown:
        raise UnsupportedBlockError(f"no block {unknown[0]!r} to walk through in this model; choose one of {available}")


def capture_with_inputs(
    model: nn.Module, x: torch.Tensor, blocks: Sequence[str]
) -> tuple[CaptureResult, dict[str, list[torch.Tensor]]]:
    """One :func:`capture_attention` pass of ``model`` on ``x`` that also keeps the feature maps entering ``blocks``.

    Returns capture's result and, per block name, the input of each call of that block (N×C×H×W float copies; an
    empty list for a block that did not run).
    """
    blocks = list(dict.fromkeys(blocks))
    _check_names(model, blocks)
    with CaptureSession(model, keep_inputs=blocks) as session:
        result = session.run(x)
    return result, result.inputs


def block_input(model: nn.Module, x: torch.Tensor, block: str, call: int = 0) -> torch.Tensor:
    """The feature map (N×C×H×W) that ``model`` feeds block ``block`` on input ``x`` (the ``call``-th call of it)."""
    _, inputs = capture_with_inputs(model, x, [block])
    calls = inputs[block]
    if call >= len(calls):
        raise UnsupportedBlockError(f"block {block!r} ran {len(calls)} time(s) on this input, not {call + 1}")
    return calls[call]


@dataclass
class ModelWalkThrough:
    """One block of a network walked through on the feature map the network fed it (image 0 of the batch).

    ``record`` is what :func:`capture_attention` recorded for the same call in the same pass, and ``differences``
    the largest |walk − record| per gate ({"w": …, "q": …}), each at most ``GATE_TOLERANCE``. ``output`` is the
    network's output of that pass.
    """

    block: str
    walk: WalkThrough
    record: BlockRecord
    differences: dict[str, float]
    output: Any


def walk_through_blocks(
    model: nn.Module, x: torch.Tensor, blocks: Sequence[str] | None = None
) -> dict[str, ModelWalkThrough]:
    """Walk through ``blocks`` (default: every one :func:`teaching_blocks` lists) of ``model`` on ``x`` (1×C×H×W).

    One forward pass for all of them (first call of each block). Raises :class:`UnsupportedBlockError` when ``x``
    holds more than one image, a block is unknown or did not run, or a recomputed gate differs from capture's by
    more than ``GATE_TOLERANCE``.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[0] != 1:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise UnsupportedBlockError(f"walk through one image at a time: the input must be 1×C×H×W, got {shape}")
    names = [info.name for info in teaching_blocks(model)] if blocks is None else list(blocks)
    result, inputs = capture_with_inputs(model, x, names)
    walks = {}
    for name in names:
        if not inputs[name]:
            raise UnsupportedBlockError(f"block {name!r} did not run on this input")
        steps = walk_through(model.get_submodule(name), inputs[name][0])
        record = result.record(name, 0)
        differences = gate_differences(steps, record)
        worst = max(differences.values())
        if not worst <= GATE_TOLERANCE:
            raise UnsupportedBlockError(
                f"block {name!r}: the gates recomputed from its weights differ from what capture recorded by "
                f"{worst:.2g} (more than {GATE_TOLERANCE:g}); its numbers are not shown"
            )
        walks[name] = ModelWalkThrough(name, steps, record, differences, result.output)
    return walks


def walk_through_model(model: nn.Module, x: torch.Tensor, block: str) -> ModelWalkThrough:
    """:func:`walk_through_blocks` for one block."""
    return walk_through_blocks(model, x, [block])[block]
