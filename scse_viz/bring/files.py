"""Reading the files of a model a person brings, safely: zip folders, safetensors, and state_dicts only.

Nothing here executes code from a file. ``.pt``/``.pth`` go through ``torch.load(weights_only=True)``, torch's
restricted unpickler, which accepts tensors and plain containers and refuses every other global before it is
called; a pickled whole model or a TorchScript archive is refused with one message saying how to save a state_dict.
Zip archives are read member by member with bounds on their count and unpacked size (no zip bombs) and never
extracted to disk.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from scse_viz.errors import UserModelError

MAX_FILE_BYTES = 200 * 1024 * 1024  # per uploaded file (the uploader says so too)
MAX_ZIP_MEMBERS = 64
MAX_ZIP_UNPACKED = 400 * 1024 * 1024
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
HOW_TO_SAVE = (
    "Save the weights alone instead: `safetensors.torch.save_file(model.state_dict(), "
    "'model.safetensors')` or `torch.save(model.state_dict(), 'model.pt')`."
)


def unpack(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """Uploaded files by base name, with the members of any ``.zip`` added (folders inside it flattened)."""
    out: dict[str, bytes] = {}
    for name, data in files.items():
        if len(data) > MAX_FILE_BYTES:
            raise UserModelError(
                f"{name} is {len(data) / 2**20:.0f} MB; files of up to {MAX_FILE_BYTES >> 20} MB are accepted."
            )
        if not data:
            raise UserModelError(f"{name} is empty.")
        if name.lower().endswith(".zip") and zipfile.is_zipfile(io.BytesIO(data)) and not _is_torch_archive(data):
            out.update(_zip_members(name, data))
        else:
            out[PurePosixPath(name).name] = data
    return out


def _zip_members(name: str, data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [m for m in archive.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
        if len(members) > MAX_ZIP_MEMBERS:
            raise UserModelError(
                f"{name} holds {len(members)} files; a model folder needs only its config and weights."
            )
        if sum(m.file_size for m in members) > MAX_ZIP_UNPACKED:
            raise UserModelError(f"{name} unpacks to more than {MAX_ZIP_UNPACKED >> 20} MB.")
        found: dict[str, bytes] = {}
        for member in members:
            base = PurePosixPath(member.filename).name
            if base in found:
                raise UserModelError(f"{name} holds two files called {base}: zip one model folder at a time.")
            found[base] = archive.read(member)
        return found


def _is_torch_archive(data: bytes) -> bool:
    """torch.save writes a zip too (``<name>/data.pkl``); such a file is weights, not a folder."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return any(n.endswith(("data.pkl", "constants.pkl")) for n in archive.namelist())


def read_json(name: str, data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserModelError(f"{name} is not valid JSON ({error}).") from error


def read_state_dict(name: str, data: bytes) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file or of a saved state_dict (``.pt``/``.pth``/``.bin``), checked finite."""
    if name.lower().endswith(".safetensors"):
        try:
            tensors = load_safetensors(data)
        except (SafetensorError, ValueError, RuntimeError) as error:
            raise UserModelError(f"{name} is not a readable safetensors file ({error}).") from error
    else:
        tensors = _torch_state_dict(name, data)
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
        raise UserModelError(f"{name} holds NaN or infinite weights in {len(bad)} tensors ({shown}).")
    return tensors


def _torch_state_dict(name: str, data: bytes) -> dict[str, torch.Tensor]:
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if any(n.endswith("constants.pkl") or "/code/" in n for n in archive.namelist()):
                raise UserModelError(f"{name} is a TorchScript program, which runs code when loaded. {HOW_TO_SAVE}")
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserModelError(
            f"{name} is not a plain state_dict: it would need to run code to load (a pickled "
            f"model or object; torch says: {str(error).splitlines()[0]}). {HOW_TO_SAVE}"
        ) from error
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        raise UserModelError(f"{name} is not a readable PyTorch file ({str(error).splitlines()[0]}).") from error
    if isinstance(loaded, Mapping) and "state_dict" in loaded and isinstance(loaded["state_dict"], Mapping):
        loaded = loaded["state_dict"]  # a training checkpoint {"state_dict": …, "epoch": …}
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise UserModelError(f"{name} holds a {type(loaded).__name__}, not a state_dict of tensors. {HOW_TO_SAVE}")
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}  # DataParallel's prefix
