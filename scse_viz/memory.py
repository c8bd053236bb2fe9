"""How many bytes a kept value holds: what a session's memory budget counts (issue 25).

Why not ``sys.getsizeof``: the bulk of what the app keeps is numpy arrays, torch tensors and modules inside records,
dataclasses, dicts and closures, whose buffers ``getsizeof`` does not see. :func:`nbytes` walks a value's containers
and counts every array, tensor storage and bytes object once (shared buffers are not counted twice). Objects marked
with :func:`mark_shared` (the shipped models, which a process holds once for every session) count nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import weakref
from typing import Any

import numpy as np
import torch

_SHARED: weakref.WeakSet = weakref.WeakSet()
_SMALL = (int, float, complex, bool, type(None), str)


def mark_shared(*values: Any) -> None:
    """Count these objects (models the whole process shares) as holding nothing in any one session's budget."""
    for value in values:
        try:
            _SHARED.add(value)
        except TypeError:  # not weak-referenceable: it cannot be marked
            pass


def _is_shared(value: Any) -> bool:
    try:
        return value in _SHARED
    except TypeError:
        return False


def nbytes(value: Any) -> int:
    """Bytes held by ``value``: arrays, tensor storages and byte strings inside it (each once), plus a small
    ``getsizeof`` share for the containers themselves."""
    seen: set[int] = set()
    storages: set[tuple[int, int]] = set()
    bases: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _SMALL):
            total += sys.getsizeof(item) if isinstance(item, str) else 0
            continue
        if id(item) in seen or _is_shared(item):
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            base = item
            while isinstance(base.base, np.ndarray):  # a view: count the array it looks into, once
                base = base.base
            if id(base) not in bases:
                bases.add(id(base))
                total += base.nbytes
            continue
        if isinstance(item, torch.Tensor):
            if item.device.type == "meta":
                continue
            storage = item.untyped_storage()
            key = (storage.data_ptr(), storage.nbytes())
            if key not in storages:
                storages.add(key)
                total += storage.nbytes()
            continue
        if isinstance(item, (bytes, bytearray, memoryview)):
            total += len(item) if not isinstance(item, memoryview) else item.nbytes
            continue
        if isinstance(item, torch.nn.Module):
            stack.extend(item.parameters())
            stack.extend(item.buffers())
            continue
        if isinstance(item, (types.ModuleType, type)):  # shared by the whole process, never a session's
            continue
        total += sys.getsizeof(item)
        if isinstance(item, (dict, types.MappingProxyType)):  # a read-only mapping: a shared run's outputs
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif dataclasses.is_dataclass(item):
            stack.extend(getattr(item, f.name, None) for f in dataclasses.fields(item))
        elif isinstance(item, types.FunctionType):  # what a closure keeps (a brought family's models), not globals
            stack.extend(cell.cell_contents for cell in item.__closure__ or () if _has_contents(cell))
        elif isinstance(item, functools.partial):
            stack.extend((item.func, item.args, item.keywords))
        elif type(item).__module__.startswith("scse_viz.") and "__dict__" in dir(type(item)):
            stack.extend(vars(item).values())  # our own plain objects; nobody else's internals are walked
    return total


def _has_contents(cell: Any) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return True
