"""Bring your own model: a network people trained themselves, read safely and made a family like ours.

``load_user_model(files, architecture=None, ...)`` takes the uploaded files (name -> bytes, or paths) and returns a
:class:`~scse_viz.family.Family` whose ``loader`` hands out the loaded models, so every page and flow runs on it:

- a segmentation_models_pytorch ``save_pretrained`` folder (``config.json`` + ``model.safetensors``), as the two
  files or a ``.zip`` of the folder;
- a state_dict (``.safetensors``, or ``.pt``/``.pth`` read with ``torch.load(weights_only=True)``) plus an
  ``architecture`` named ``timm:<name>``, ``torchvision:<name>`` or ``scse_viz:<family>``.

The task follows from one probe forward pass (N×K scores: classification; N×K×H×W: segmentation; N×1×H×W: a
one-logit binary segmentation). Weights are loaded strictly: missing, unexpected and mis-shaped names are listed.
A second set of files may be given as the baseline to compare against. Nothing is downloaded and nothing in a file
runs: see :mod:`scse_viz.bring.files`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from scse_viz.bring.architectures import Built, InputSpec, from_name, from_smp_config
from scse_viz.bring.files import WEIGHT_SUFFIXES, read_json, read_state_dict, unpack
from scse_viz.color import luma
from scse_viz.errors import CheckpointError, UserModelError
from scse_viz.family import Family
from scse_viz.geometry import SquareGeometry
from scse_viz.preprocess import Prepared
from scse_viz.tasks import ClassificationTask, SegmentationTask, Task

__all__ = ["InputSpec", "UserModel", "load_user_model", "parse_class_names"]

MODEL, BASELINE = "model", "baseline"
LABELS = {MODEL: "your model", BASELINE: "your baseline"}


@dataclass(frozen=True)
class UserModel:
    """One brought network: the module in eval mode, what it is, and how pictures are prepared for it."""

    model: nn.Module
    architecture: str
    spec: InputSpec | None  # None: a shipped family's own preprocessing
    shipped_family: str | None
    digest: str  # SHA-256 of the files it was read from (and the architecture named)
    files: tuple[str, ...]


def _as_bytes(files: Mapping[str, bytes] | Sequence[str | Path]) -> dict[str, bytes]:
    if isinstance(files, Mapping):
        return {str(name): bytes(data) for name, data in files.items()}
    return {Path(path).name: Path(path).read_bytes() for path in files}


def _digest(files: Mapping[str, bytes], architecture: str | None) -> str:
    digest = hashlib.sha256((architecture or "").encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def read_model(files: Mapping[str, bytes] | Sequence[str | Path], architecture: str | None = None) -> UserModel:
    """Rebuild and load one network from its files; one :class:`UserModelError` for anything wrong."""
    raw = _as_bytes(files)
    if not raw:
        raise UserModelError("no files: upload a save_pretrained folder (zip or config.json + weights) or weights")
    found = unpack(raw)
    weights = [n for n in found if n.lower().endswith(WEIGHT_SUFFIXES)]
    if len(weights) != 1:
        listed = ", ".join(sorted(found)) or "nothing"
        raise UserModelError(f"expected exactly one weights file (.safetensors, .pt, .pth), found: {listed}")
    tensors = read_state_dict(weights[0], found[weights[0]])
    if "config.json" in found and not architecture:
        config = read_json("config.json", found["config.json"])

        def build() -> Built:
            return from_smp_config(config)
    elif architecture:

        def build() -> Built:
            return from_name(architecture, tensors)
    else:
        raise UserModelError(
            "name the architecture (timm:<name>, torchvision:<name> or scse_viz:<family>) or "
            "upload the config.json that save_pretrained wrote next to the weights"
        )
    planned = _plan(build, tensors, weights[0], sized_by_upload=bool(architecture))
    if planned is not None:
        _check_fits(planned, tensors, weights[0])
    built = _guarded(build, "building")
    _guarded(lambda: _load_strictly(built, tensors, weights[0]), "loading the weights into")
    return UserModel(
        built.model.eval(), built.architecture, built.spec, built.family, _digest(raw, architecture), tuple(sorted(raw))
    )


# Extra room a model may need beyond the tensors uploaded for it (non-persistent buffers such as attention index
# tables): a model that fits its upload name for name and shape for shape holds at most this much more.
EXTRA_ELEMENTS = 1_000_000
EXTRA_SHARE = 0.05


def _guarded(step: Any, what: str) -> Any:
    """Run one step of reading a brought model; whatever it raises becomes one :class:`UserModelError`."""
    try:
        return step()
    except UserModelError:
        raise
    except MemoryError as error:
        raise UserModelError(f"{what} the model needs more memory than this server has") from error
    except Exception as error:
        first = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise UserModelError(f"{what} the model failed ({type(error).__name__}: {first})") from error


def _plan(build: Any, tensors: dict[str, torch.Tensor], source: str, sized_by_upload: bool) -> Built | None:
    """The architecture built on the meta device, or None where it cannot be planned there and is safe to build.

    A few architectures compute their sizes from tensor values while being built (torchvision's RegNet), which
    the meta device cannot do. A named architecture (``timm:``, ``torchvision:``, ``scse_viz:``) takes its only
    free sizes (class count, input channels) from the uploaded shapes, so building it for real costs no more than
    the upload holds, once empty tensors (a 3,000,000×0 classifier) are refused; a config's sizes are free, so a
    config that cannot be planned is refused."""
    try:
        with torch.device("meta"):
            return build()
    except UserModelError:
        raise
    except Exception as error:
        first = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        if not sized_by_upload:
            raise UserModelError(f"building the model failed ({type(error).__name__}: {first})") from error
        empty = sorted(k for k, v in tensors.items() if v.numel() == 0)
        if empty:
            raise UserModelError(
                f"{source} holds empty tensors ({', '.join(empty[:4])}); no trained model has them"
            ) from error
        return None


def _check_fits(planned: Built, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Refuse, before any real allocation, an architecture whose parameter names or shapes differ from the upload's,
    or that holds more than the upload (plus :data:`EXTRA_SHARE` and :data:`EXTRA_ELEMENTS`) in all its tensors."""
    from scse_viz.zoo import check_fits

    try:
        check_fits(planned.model.state_dict(), tensors, source, type(planned.model).__name__)
    except CheckpointError as error:
        raise UserModelError(
            f"{error} Is the architecture ({planned.architecture}) the one these weights were trained with?"
        ) from error
    uploaded = sum(t.numel() for t in tensors.values())
    needed = sum(t.numel() for t in planned.model.parameters()) + sum(t.numel() for t in planned.model.buffers())
    if needed > uploaded * (1 + EXTRA_SHARE) + EXTRA_ELEMENTS:
        raise UserModelError(
            f"{planned.architecture} would hold {needed:,} numbers, far more than the {uploaded:,} "
            f"in {source}; refused before building it"
        )


def _load_strictly(built: Built, tensors: dict[str, torch.Tensor], source: str) -> None:
    from scse_viz.zoo import load_state

    expected = built.model.state_dict()
    tensors = {
        k: v.to(expected[k].dtype) if k in expected and v.dtype != expected[k].dtype else v for k, v in tensors.items()
    }
    try:
        load_state(built.model, tensors, source)
    except CheckpointError as error:
        raise UserModelError(
            f"{error} Is the architecture ({built.architecture}) the one these weights were trained with?"
        ) from error


def parse_class_names(text: str | Sequence[str] | None, count: int, segmentation: bool) -> tuple[str, ...]:
    """Class names from a JSON list or one name per line; defaults "class 0" …, with "background" first for a
    segmentation (its first class is drawn transparent and left out of the mean Dice)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        names = [f"class {k}" for k in range(count)]
        if segmentation:
            names[0] = "background"
        return tuple(names)
    if isinstance(text, str):
        stripped = text.strip()
        parsed = read_json("class names", stripped.encode()) if stripped.startswith("[") else stripped.splitlines()
    else:
        parsed = list(text)
    names = [str(n).strip() for n in parsed if str(n).strip()]
    if len(names) != count:
        raise UserModelError(f"{len(names)} class names given for a model with {count} outputs")
    return tuple(names)


def _probe(user: UserModel, prepare: Any) -> torch.Tensor:
    """One forward pass on a gray picture, prepared as the page will: the output decides the task."""
    x = prepare(np.full((64, 64), 0.5, np.float32)).tensor
    try:
        with torch.no_grad():
            output = user.model(x)
    except Exception as error:
        first = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
        raise UserModelError(
            f"the model cannot run on a {tuple(x.shape)} input ({first}); check the input "
            "channels and size under 'Set the input myself'"
        ) from error
    if not isinstance(output, torch.Tensor) or output.dim() not in (2, 4):
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise UserModelError(
            f"the model returns {shape}; scSE Lens reads N×K class scores (classification) or "
            "N×K×H×W per-pixel scores (segmentation)"
        )
    return output


def _task(output: torch.Tensor, class_names: str | Sequence[str] | None) -> Task:
    count = int(output.shape[1])
    if output.dim() == 2:
        return ClassificationTask(parse_class_names(class_names, count, segmentation=False))
    if count == 1:
        names = parse_class_names(class_names, 2, segmentation=True)
        return SegmentationTask(names, single_logit=True)
    return SegmentationTask(parse_class_names(class_names, count, segmentation=True))


def spec_prepare(spec: InputSpec):
    """The preparation ``spec`` describes: channels, centred on a black square, resized, normalised; the square's
    geometry maps outputs and sSE maps back onto the picture."""
    mean = np.asarray(spec.mean, np.float32)[:, None, None]
    std = np.asarray(spec.std, np.float32)[:, None, None]

    def prepare(image: np.ndarray) -> Prepared:
        array = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[..., :3]
        if spec.channels == 1:
            planes = luma(array)[None]
        else:
            planes = np.repeat(array[None], 3, axis=0) if array.ndim == 2 else array.transpose(2, 0, 1)
        geometry = SquareGeometry.for_image(planes.shape[1], planes.shape[2], spec.size)
        model_pixels = np.clip(geometry.to_model(planes), 0.0, 1.0)
        tensor = torch.from_numpy((model_pixels - mean) / std)[None].contiguous()
        pixels = model_pixels[0] if spec.channels == 1 else np.ascontiguousarray(model_pixels.transpose(1, 2, 0))
        return Prepared(pixels, tensor, geometry)

    return prepare


def load_user_model(
    files: Mapping[str, bytes] | Sequence[str | Path],
    architecture: str | None = None,
    *,
    class_names: str | Sequence[str] | None = None,
    spec: InputSpec | None = None,
    baseline: Mapping[str, bytes] | Sequence[str | Path] | None = None,
    baseline_architecture: str | None = None,
) -> Family:
    """A family made of the brought model (variant ``"model"``) and, when given, its baseline (``"baseline"``).

    ``spec`` overrides the input defaults (the model's own config's; ``family.provenance["preprocessing"]`` says
    what they are); class names default to "class k".
    """
    user = read_model(files, architecture)
    models = {MODEL: user}
    if baseline is not None:
        models = {BASELINE: read_model(baseline, baseline_architecture or architecture), MODEL: user}
    shipped = None
    if user.shipped_family is not None:
        from scse_viz import zoo

        shipped = zoo.family(user.shipped_family)
    chosen = spec or user.spec
    own_preparation = shipped is not None and spec is None  # our architecture: its family's preprocessing
    prepare = shipped.prepare if own_preparation else spec_prepare(chosen)  # type: ignore[union-attr,arg-type]
    task = shipped.task if shipped is not None and class_names is None else _task(_probe(user, prepare), class_names)
    for other in models.values():
        if other is not user:
            _probe(other, prepare)
    digest = hashlib.sha256("".join(m.digest for m in models.values()).encode()).hexdigest()
    described = (
        f"the {shipped.title} family's own preprocessing"
        if own_preparation  # type: ignore[union-attr]
        else chosen.describe()
    )  # type: ignore[union-attr]
    loaded = {variant: m.model for variant, m in models.items()}
    return Family(
        name=f"yours-{digest[:12]}",
        title=f"Your model: {user.architecture} · {digest[:6]}",
        task=task,
        prepare=prepare,
        build=lambda variant: loaded[variant],
        trained_on="your own data (a model you uploaded; scSE Lens knows nothing of what it was trained on)",
        variants=tuple(models),
        baseline=BASELINE if BASELINE in models else None,
        variant_labels=dict(LABELS),
        loader=loaded.__getitem__,
        provenance={
            "kind": "uploaded model",
            "models": {
                v: {"architecture": m.architecture, "files": list(m.files), "sha256": m.digest}
                for v, m in models.items()
            },
            "preprocessing": described,
            "task": task.name,
        },
    )
