"""Rebuilding a brought model's architecture without downloading anything, and its default input settings.

Four kinds of source, each rebuilt with random weights and then loaded strictly from the person's state_dict:

- a segmentation_models_pytorch folder written by ``save_pretrained`` (``config.json`` + weights): the config's
  class and arguments, with ``encoder_weights=None`` whatever the config says;
- ``timm:<name>``: ``timm.create_model(name, pretrained=False)`` with the class count and input channels read from
  the state_dict's classifier and first convolution;
- ``torchvision:<name>``: ``torchvision.models.get_model(name, weights=None)`` with the class count read from the
  state_dict's last linear layer;
- ``scse_viz:<family>``: one of our families' architectures (the variant whose parameter names fit the weights).

Defaults for the input come from the model's own configuration where it has one (timm's ``pretrained_cfg``,
torchvision's weight transforms); smp publishes its encoders' preprocessing only online, so the ImageNet mean and
standard deviation that its pretrained encoders use are the default there. The page shows them and a person can
change every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

import scse_viz  # noqa: F401  (torchvision shim before timm, torchvision and smp)
from scse_viz.errors import UserModelError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREFIXES = ("timm", "torchvision", "scse_viz")


@dataclass(frozen=True)
class InputSpec:
    """What is done to a picture before the model sees it: gray or colour, the square side it is padded and resized
    to, and the per-channel normalisation ``(pixel − mean) / std`` of values in [0, 1]."""

    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise UserModelError(
                f"the model takes {self.channels} input channels; scSE Lens feeds gray (1) or colour (3) pictures"
            )
        if self.size < 8 or self.size > 2048:
            raise UserModelError(f"an input size of {self.size} pixels is outside 8 to 2048")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise UserModelError(f"give one mean and one standard deviation per input channel ({self.channels})")
        if any(s <= 0 for s in self.std):
            raise UserModelError("standard deviations must be positive")

    def describe(self) -> str:
        kind = "colour (RGB; gray pictures are repeated on 3 channels)" if self.channels == 3 else "gray (luma)"
        numbers = lambda values: ", ".join(f"{v:g}" for v in values)
        return (
            f"{kind}; centred on a black square, resized to {self.size}×{self.size}; then "
            f"(pixel − [{numbers(self.mean)}]) / [{numbers(self.std)}]"
        )


@dataclass
class Built:
    model: nn.Module
    architecture: str  # for people: "smp Unet (resnet18 encoder, scse decoder attention)"
    spec: InputSpec | None  # None: the family's own preprocessing (``scse_viz:<family>``)
    family: str | None = None  # ``scse_viz:<family>``: the shipped family whose preprocessing and task apply


def _spec(channels: int, size: int, mean: Any = None, std: Any = None) -> InputSpec:
    if mean is None or std is None:
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.0,) * channels, (1.0,) * channels)
    return InputSpec(channels, size, tuple(float(m) for m in mean), tuple(float(s) for s in std))


def from_smp_config(config: dict[str, Any]) -> Built:
    """A segmentation_models_pytorch model from its ``save_pretrained`` config, never downloading encoder weights."""
    import segmentation_models_pytorch as smp

    arch = config.get("_model_class")
    if not isinstance(arch, str):
        raise UserModelError(
            "config.json has no _model_class: it was not written by segmentation_models_pytorch's save_pretrained"
        )
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    kwargs["encoder_weights"] = None
    _check_channels(kwargs.get("in_channels", 3))
    if kwargs.get("aux_params"):
        raise UserModelError(
            "this model has an auxiliary classification head (aux_params) and returns two outputs; "
            "save it without aux_params to view its segmentation"
        )
    try:
        model = smp.create_model(arch, **kwargs)
    except (KeyError, TypeError, ValueError) as error:
        raise UserModelError(f"segmentation_models_pytorch cannot build {arch} from config.json ({error})") from error
    attention = kwargs.get("decoder_attention_type")
    label = f"smp {arch} ({kwargs.get('encoder_name', '?')} encoder" + (
        f", {attention} decoder attention)" if attention else ")"
    )
    return Built(model, label, _spec(int(kwargs.get("in_channels", 3)), 256))


def _check_channels(channels: Any) -> None:
    """Refuse input channels the app cannot feed before building anything: smp widens a first convolution to other
    channel counts with plain CPU tensors (not on the meta device), 1.2 GB and 2 s for a config asking 99,999."""
    if not isinstance(channels, int) or isinstance(channels, bool) or channels not in (1, 3):
        raise UserModelError(
            f"the model takes {channels!r} input channels; scSE Lens feeds gray (1) or colour (3) pictures"
        )


def _shape(tensors: dict[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    return tuple(tensors[key].shape) if key in tensors else None


def from_timm(name: str, tensors: dict[str, torch.Tensor]) -> Built:
    import timm

    if name not in timm.list_models():
        raise UserModelError(f"timm has no architecture called {name!r} (timm {timm.__version__})")
    with torch.device("meta"):  # only its configuration is read: no storage for its weights
        probe = timm.create_model(name, pretrained=False)
    cfg = dict(probe.pretrained_cfg)
    head = cfg.get("classifier")
    head = head[0] if isinstance(head, (list, tuple)) else head
    first = cfg.get("first_conv")
    first = first[0] if isinstance(first, (list, tuple)) else first
    classes = _shape(tensors, f"{head}.weight")
    stem = _shape(tensors, f"{first}.weight")
    _check_channels(stem[1] if stem and len(stem) > 1 else 3)
    model = timm.create_model(
        name,
        pretrained=False,
        num_classes=classes[0] if classes else cfg.get("num_classes"),
        in_chans=stem[1] if stem else 3,
    )
    channels = stem[1] if stem else 3
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    return Built(
        model,
        f"timm {name}",
        _spec(channels, size, cfg.get("mean") if channels == 3 else None, cfg.get("std") if channels == 3 else None),
    )


def from_torchvision(name: str, tensors: dict[str, torch.Tensor]) -> Built:
    import torchvision

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise UserModelError(f"torchvision has no classification architecture called {name!r}")
    try:
        with torch.device("meta"):  # only its layer names are read: no storage for its weights
            probe = torchvision.models.get_model(name, weights=None)
    except NotImplementedError:  # RegNet computes its widths from tensor values: build its fixed default shape
        probe = torchvision.models.get_model(name, weights=None)
    last = [n for n, m in probe.named_modules() if isinstance(m, nn.Linear)]
    classes = _shape(tensors, f"{last[-1]}.weight") if last else None
    model = torchvision.models.get_model(name, weights=None, num_classes=classes[0] if classes else 1000)
    size = 224
    try:  # the transforms of the architecture's default weights: sizes and normalisation, no download
        transforms = torchvision.models.get_model_weights(name).DEFAULT.transforms()
        size, mean, std = int(transforms.crop_size[0]), transforms.mean, transforms.std
    except (ValueError, AttributeError, TypeError):
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    return Built(model, f"torchvision {name}", _spec(3, size, mean, std))


def from_ours(family_name: str, tensors: dict[str, torch.Tensor]) -> Built:
    from scse_viz import zoo

    try:
        spec = zoo.family(family_name)
    except ValueError as error:
        raise UserModelError(str(error)) from error
    for variant in spec.variants:
        model = spec.build(variant)
        if set(model.state_dict()) == set(tensors):
            return Built(model, f"scse_viz {family_name} ({spec.label(variant)})", None, family=family_name)
    raise UserModelError(f"these weights fit none of the {family_name} family's variants ({', '.join(spec.variants)})")


def from_name(architecture: str, tensors: dict[str, torch.Tensor]) -> Built:
    """``timm:<name>``, ``torchvision:<name>`` or ``scse_viz:<family>``."""
    prefix, _, name = architecture.strip().partition(":")
    if prefix not in PREFIXES or not name:
        raise UserModelError(
            f"name the architecture as one of {', '.join(p + ':<name>' for p in PREFIXES)} "
            f"(e.g. timm:seresnet18, torchvision:mobilenet_v3_small, scse_viz:brain); got "
            f"{architecture!r}"
        )
    builders = {"timm": from_timm, "torchvision": from_torchvision, "scse_viz": from_ours}
    return builders[prefix](name, tensors)
