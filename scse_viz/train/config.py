"""Training recipes as plain dataclasses: what a run's JSON and the model card store, and all ``build_model`` needs.

One dataclass per family (its ``PARTS.config``); the fields they share live in :class:`RunConfig`. A recipe is everything that decides the
trained weights; ``RUN_KEYS`` are the fields that describe one run (which variant, which seed, where it ran) and are
left out of the card's recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from torch import nn

from scse_viz.blocks import ATTENTION_KINDS
from scse_viz.families.brain import ARCHITECTURE as BRAIN_ARCHITECTURE
from scse_viz.families.fashion import ARCHITECTURE as FASHION_ARCHITECTURE

RUN_KEYS = ("variant", "seed", "device", "max_train_items", "progress", "num_workers")


@dataclass
class RunConfig:
    """Fields every family's recipe has."""

    family: ClassVar[str] = ""
    variant: str = "scse"  # none | cse | sse | scse
    seed: int = 0
    epochs: int = 1
    batch_size: int = 16
    optimizer: str = "adamw"  # "sgd" (Nesterov momentum) or "adamw"
    lr: float = 1e-3  # peak learning rate of the one-cycle schedule
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0  # on conv and linear weights only (not on BatchNorm or biases)
    warmup_fraction: float = 0.2  # share of the steps spent rising to the peak learning rate
    reduction: int = 8  # r of the cSE bottleneck, C/r = max(C // r, 1)
    max_train_items: int | None = None  # None: the whole train split; a number: its first N (tiny runs)
    device: str = "auto"  # "auto" takes CUDA when available
    num_workers: int = -1  # DataLoader workers; -1: none on CPU (both cores compute), 4 on GPU
    progress: bool = True  # tqdm bars

    def __post_init__(self) -> None:
        if self.variant not in ATTENTION_KINDS:
            raise ValueError(f"unknown variant {self.variant!r}; choose one of {ATTENTION_KINDS}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose 'sgd' or 'adamw'")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if self.max_train_items is not None and self.max_train_items < 1:
            raise ValueError("max_train_items must be at least 1 (or None for all)")

    @property
    def run_name(self) -> str:
        """File stem of this run's outputs: ``<variant>-seed<k>``."""
        return f"{self.variant}-seed{self.seed}"

    def workers(self, device_type: str) -> int:
        return self.num_workers if self.num_workers >= 0 else (0 if device_type == "cpu" else 4)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists), with the family."""
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        return {"family": self.family, **data}

    def recipe(self) -> dict[str, Any]:
        """The part shared by every run of the family: ``to_dict`` without variant, seed and run-only settings."""
        return {k: v for k, v in self.to_dict().items() if k not in RUN_KEYS}

    # fields added after runs were recorded: the value an older record without them was trained with (not today's
    # default, or a card shipped from old runs would claim a recipe they did not have)
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_dict(cls, data: dict[str, Any], **overrides: Any) -> RunConfig:
        """Rebuild from ``to_dict``/``recipe`` output; unknown keys are ignored so older JSON stays readable, and a
        field the record lacks takes ``ABSENT_MEANS``' value where it has one."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in cls.ABSENT_MEANS.items() if k not in data}
        values.update({k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})
        values.update(overrides)
        return cls(**values)

    def build_model(self) -> nn.Module:
        raise NotImplementedError


@dataclass
class FashionConfig(RunConfig):
    """The Fashion-MNIST recipe of the shipped classifiers.

    Sized by timing on a 2-core CPU (``python -m benchmarks.train_epoch_time``): widths (16, 32, 64) with two blocks
    per stage trains an scSE model in about 55 s per epoch there (channels-last, no affine augmentation), so 20
    epochs take about 18 minutes.
    """

    family: ClassVar[str] = "fashion"
    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.1
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    widths: tuple[int, ...] = FASHION_ARCHITECTURE.widths  # the network's shape: the family's architecture
    blocks_per_stage: int = FASHION_ARCHITECTURE.blocks_per_stage
    reduction: int = FASHION_ARCHITECTURE.reduction
    crop_padding: int = 2  # RandomCrop(28, padding=2): shifts of up to 2 px
    hflip: float = 0.5  # RandomHorizontalFlip probability
    affine_degrees: float = 0.0  # RandomAffine rotation range (±); 0 with scale (1, 1): no RandomAffine at all
    affine_scale: tuple[float, float] = (1.0, 1.0)  # RandomAffine scale range
    channels_last: bool = True  # NHWC training: about 20 % faster on CPU with oneDNN; evaluation is always NCHW
    eval_batch_size: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        self.widths = tuple(int(w) for w in self.widths)
        self.affine_scale = (float(self.affine_scale[0]), float(self.affine_scale[1]))

    def build_model(self) -> nn.Module:
        """The untrained network this recipe describes (the family's architecture with this recipe's sizes)."""
        shape = replace(
            FASHION_ARCHITECTURE, widths=self.widths, blocks_per_stage=self.blocks_per_stage, reduction=self.reduction
        )
        return shape.build(self.variant)


@dataclass
class BrainConfig(RunConfig):
    """The brain-MRI recipe of the shipped U-Nets (sized for about 13 minutes of fine-tuning per model on a 2-core
    CPU, about 27 minutes with the template-trained start it fine-tunes)."""

    family: ClassVar[str] = "brain"
    # what runs recorded before a field existed were trained with (head weight and NHWC: before 2026-12-06; the
    # near-brain weighting and bf16 autocast: before the recipe of 2026-12-06's evening; the real head's midline: before
    # 2026-12-07)
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {
        "head_weight": 1.0,
        "channels_last": False,
        "head_margin": 0,
        "autocast_bf16": False,
        "real_head_midline": False,
        "head_weight_on_template": True,
    }
    # passes over the training samples (template slices and real-head slices together); 40 since 2026-12-07 evening,
    # when the separable elastic blur (scse_viz.train.elastic) cut an epoch to about 20 s alone on this CPU: 28
    # left cSE and sSE above 2 % on the T1-like heads
    epochs: int = 40
    batch_size: int = 16
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.1
    base_channels: int = BRAIN_ARCHITECTURE.base_channels  # the network's shape: the family's architecture
    depth: int = BRAIN_ARCHITECTURE.depth
    reduction: int = BRAIN_ARCHITECTURE.reduction
    size: int = 160  # model input side (scse_viz.preprocess.BRAIN_SIZE)
    dice_weight: float = 1.0  # loss = cross-entropy + dice_weight · (1 - mean soft Dice over CSF, GM, WM)
    # cross-entropy weight of the non-brain head pixels (labelled background, input above head_threshold): skull,
    # scalp, face, eyes and neck, which a model labelling tissue there paints as brain; 1: every pixel alike. 4 since
    # the real head's labels follow the template's class boundaries (2026-12-07): with them 3 left 2.1 % of the
    # T1-like heads' non-brain pixels tissue (cSE seed 0), 5 cost it 0.015 template Dice
    head_weight: float = 4.0
    head_threshold: float = 0.1  # model-input intensity (0..1 after the app's scaling) above which a pixel is head
    # background pixels in the (2·head_margin+1)-pixel square around a brain label also weigh head_weight, however
    # dark they are: the dark skull of a T1 scan lies below head_threshold, and it is where the rim of CSF gets drawn
    # too wide
    head_margin: int = 3
    # whether the head weight also applies to the template's own slices (skull-stripped: no head, and the margin's
    # pixels are the dark edge of the brain, where weighting background pushes the CSF rim inwards); False: only the
    # samples with a drawn or the real head are weighted. False since 2026-12-07 evening: a probe of all three seeds
    # of cSE and sSE lifted cSE's template Dice by 0.010 and left sSE's where it was (brain about.md)
    head_weight_on_template: bool = False
    # forward pass under bfloat16 autocast (loss, optimiser and every measurement in float32): about 1.4 times the
    # steps per second on this CPU (AVX-512 BF16); a CPU without BF16 instructions runs it slower (set it false there)
    autocast_bf16: bool = True
    channels_last: bool = True  # NHWC training (about 1.3-1.6 times the steps per second here); measured NCHW
    hflip: float = 0.5
    affine_degrees: float = 15.0
    affine_translate: float = 0.06  # fraction of the side
    affine_scale: tuple[float, float] = (0.85, 1.15)
    elastic_probability: float = 0.5
    elastic_alpha: float = 30.0  # torchvision's ElasticTransform, in pixels of the model input
    elastic_sigma: float = 4.0
    gamma_range: tuple[float, float] = (0.7, 1.5)  # intensity ** gamma
    bias_field: float = 0.3  # largest coefficient of the smooth multiplicative field exp(poly2(u, v))
    contrast_range: tuple[float, float] = (0.85, 1.15)
    brightness: float = 0.05  # ± shift
    noise_std: float = 0.04  # Gaussian noise with a standard deviation drawn from [0, noise_std]
    # synthetic heads (scse_viz.data.synthhead): the share of samples drawn as a head around the slice's labels
    # instead of the template's own intensities, the canvas they are drawn on (times the slice's longer side), their
    # zoom range, and how often the contrast is random / T1-like / T2-like
    synthetic_share: float = 0.6
    canvas_pad: float = 1.4
    synthetic_scale: tuple[float, float] = (0.8, 1.4)
    contrast_weights: tuple[float, ...] = (0.25, 0.3, 0.25, 0.1, 0.1)  # random, T1, T2, PD, FLAIR (synthhead)
    # the real head (scse_viz.data.realhead, Colin 27): the share of samples taken from its training slices; of
    # those, the share rendered from its whole-head label map in a drawn contrast (the rest keep the scan's own T1
    # intensities); and how often a sample (real or rendered) is cropped to a random window that keeps at least
    # ``crop_min`` of each side before the app's pad-to-square, as a cropped upload is
    real_head_share: float = 0.45
    # train on the real head's sagittal midline slabs (its sagittal validation slabs are then 4 and 7;
    # scse_viz.data.realhead.VAL_SLABS_BY_ORIENTATION): without a midline section the models left most of one
    # unlabelled
    real_head_midline: bool = True
    real_head_rendered: float = 0.4
    crop_probability: float = 0.3
    crop_min: float = 0.45
    train_crop: int = 128  # train on random windows of this side (0: whole inputs); evaluation sees whole inputs
    # start from these weights (relative to the assets folder, {variant} filled in; None: from scratch): the
    # template-trained checkpoints, whose own card and recipe sit beside them
    init_from: str | None = "models/brain/template/{variant}.safetensors"
    eval_batch_size: int = 32
    val_every: int = 14  # epochs between validation Dice measurements

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("affine_scale", "gamma_range", "contrast_range", "synthetic_scale"):
            low, high = getattr(self, name)
            setattr(self, name, (float(low), float(high)))
        self.contrast_weights = tuple(float(w) for w in self.contrast_weights)
        if self.head_margin < 0:
            raise ValueError("head_margin must be at least 0")
        for name in ("synthetic_share", "real_head_share", "real_head_rendered", "crop_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]")

    def build_model(self) -> nn.Module:
        """The untrained U-Net this recipe describes (the family's architecture with this recipe's sizes)."""
        shape = replace(
            BRAIN_ARCHITECTURE, base_channels=self.base_channels, depth=self.depth, reduction=self.reduction
        )
        return shape.build(self.variant)
