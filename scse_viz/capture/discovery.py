"""Find attention blocks in any ``nn.Module`` by structure and weight shapes, never by names or defaults.

A *gate branch* is a small subtree whose leaves are only projections, activations, pooling and reshaping layers,
and at most one *gate layer*:

- channel branch: two projections C→h→C (``nn.Linear`` or 1×1 ``nn.Conv2d``: SE, cSE, torchvision's
  ``SqueezeExcitation``, timm's ``SEModule`` / ``SqueezeExcite``, MONAI's ``ChannelSELayer``), one projection C→C
  (timm's ``EffectiveSEModule``, no bottleneck), or one or two ``nn.Conv1d`` from 1 to 1 channel across the pooled
  channels (timm's ``EcaModule``: its weights do not fix C, which is read from the input at run time);
- spatial branch: one 1×1 conv C→1 (sSE), or one k×k conv from one or two channel-pooled maps to 1, optionally
  followed by a BatchNorm (CBAM's spatial attention).

A *gate layer* is a parameter-free leaf that computes the sigmoid or the hard sigmoid, recognised by running it once
on a fixed probe (``nn.Sigmoid``, ``nn.Hardsigmoid``, timm's ``Sigmoid`` / ``HardSigmoid`` / ``HardSigmoidMe``,
anyone's equivalent), never by its name. The gate is that layer's output. Without one (a functional
``torch.sigmoid`` in ``forward``) the gate is recomputed as sigmoid of the last projection's output, and capture
accepts it only if the block's own output can be rebuilt from it, on every call.

A *block* is either a module with one channel and one spatial branch as children (scSE: the seed,
segmentation_models_pytorch, the authors' ``ChannelSpatialSELayer``; CBAM: timm's ``CbamModule``, channel then spatial
gate applied one after the other), a module with one branch child (our ``ChannelSE`` / ``SpatialSE``), or a module
that is itself a branch but is not an ``nn.Sequential`` (SE layers whose forward multiplies x by the gate). A plain
``nn.Sequential`` can only chain, so it returns a gate, never ``x * gate``: it is a branch, not a block (this keeps
1-class sigmoid heads out).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from scse_viz.capture.readers import READERS, BlockReader, Layout, NotReadableReader
from scse_viz.capture.records import BlockInfo

_NEUTRAL_LEAVES = (
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool1d,
    nn.Flatten,
    nn.Unflatten,
    nn.Identity,
    nn.Dropout,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.GELU,
    nn.SiLU,
    nn.ELU,
    nn.Hardswish,
    nn.Mish,
    nn.Tanh,
)
_PASS_THROUGH = (nn.Identity, nn.Dropout, nn.Flatten, nn.Unflatten)  # change no value of the gate
_SIGMOID, _HARD_SIGMOID = "sigmoid", "hard sigmoid"
_RECOMPUTED = "sigmoid (computed inside forward(), recomputed and checked on every call)"

# What a gate layer must compute on this probe, to 1e-6: values on both sides of hard sigmoid's kinks at ±3.
_PROBE = torch.linspace(-8.0, 8.0, 161).reshape(1, 161, 1, 1)
_GATE_FUNCTIONS = ((_SIGMOID, torch.sigmoid(_PROBE)), (_HARD_SIGMOID, F.hardsigmoid(_PROBE)))


@dataclass(frozen=True)
class GateBranch:
    """A gate branch: where its gate comes from and its shape-defining sizes."""

    role: str  # "channel", "spatial", "spatial-multi" (C maps instead of one) or "spatial-pooled" (CBAM)
    channels: int | None  # C; None when the weights do not fix it (ECA, CBAM's spatial conv)
    hidden: int | None
    gate_module: nn.Module  # the gate layer whose output is the gate, or the last projection (recomputed)
    recomputed: bool  # True when the gate is sigmoid(gate_module output), i.e. no gate layer exists
    function: str = _SIGMOID  # what the gate layer computes ("sigmoid", "hard sigmoid"), for people
    layout: str = ""  # the branch's layers for people, read from the weights
    reason: str = ""  # why the branch cannot be read ("" when it can)
    # Its layers by role, in registration order (for a walk-through of the block, which recomputes them):
    projections: tuple[nn.Module, ...] = ()  # linear maps; of a C→h→C channel branch, first and second in that order
    others: tuple[nn.Module, ...] = ()  # parameter-free layers that are not the gate layer (activations, pooling)
    norms: tuple[nn.Module, ...] = ()  # BatchNorms (CBAM's spatial branch, ReXNet's SE bottleneck)


@dataclass(frozen=True)
class BlockPlan:
    """What capture needs to read one block: its description plus the modules to hook."""

    info: BlockInfo
    module: nn.Module
    channel: GateBranch | None
    spatial: GateBranch | None
    reader: type[BlockReader]  # the layout: where to hook, which joins to verify, the walk-through's steps


def _has_own_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


def _leaves(module: nn.Module) -> list[nn.Module]:
    """Leaf layers in registration order; a module with children *and* its own weights (timm's ``BatchNormAct2d``:
    a BatchNorm2d with ``drop``/``act`` children) counts as a layer too, so no weight goes unseen."""
    children = list(module.children())
    if not children:
        return [module]
    own = [module] if _has_own_state(module) else []
    return own + [leaf for child in children for leaf in _leaves(child)]


def _projection_sizes(layer: nn.Module) -> tuple[int, int] | None:
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.groups == 1:
        return layer.in_channels, layer.out_channels
    return None


def _is_channel_conv1d(layer: nn.Module) -> bool:
    """ECA's 1-D conv across the channel axis of the pooled vector (its own channels are ECA's 1 or a hidden few)."""
    return isinstance(layer, nn.Conv1d) and layer.groups == 1


def _is_pooled_spatial_conv(layer: nn.Module) -> bool:
    """CBAM's spatial conv: k×k (k > 1) from one or two channel-pooled maps to one map."""
    return (
        isinstance(layer, nn.Conv2d)
        and layer.groups == 1
        and layer.out_channels == 1
        and layer.in_channels in (1, 2)
        and layer.kernel_size != (1, 1)
    )


def gate_function(layer: nn.Module, cache: dict[int, str | None] | None = None) -> str | None:
    """ "sigmoid" or "hard sigmoid" if ``layer`` is a parameter-free leaf that computes it, else None.

    Decided by what the layer computes: its ``forward`` (called directly, so no hook runs) on a fixed probe must
    equal the function to 1e-6. Layers with weights or buffers (BatchNorm without affine) are never run.
    """
    if cache is not None and id(layer) in cache:
        return cache[id(layer)]
    found = None
    if not isinstance(layer, _NEUTRAL_LEAVES) and not any(True for _ in layer.children()) and not _has_own_state(layer):
        try:
            with torch.no_grad():
                out = type(layer).forward(layer, _PROBE.clone())
        except Exception:  # noqa: BLE001 - anything that cannot run on the probe is not a gate layer
            out = None
        if isinstance(out, torch.Tensor) and out.shape == _PROBE.shape and out.dtype == _PROBE.dtype:
            found = next((name for name, ref in _GATE_FUNCTIONS if torch.allclose(out, ref, rtol=0, atol=1e-6)), None)
    if cache is not None:
        cache[id(layer)] = found
    return found


def _activation_after(module: nn.Module, last: nn.Module) -> nn.Module | None:
    """An activation that a plain ``nn.Sequential`` inside ``module`` applies after ``last`` (order is known only
    there: other modules' forward may call their children in any order)."""
    for container in module.modules():
        if not _is_plain_sequential(container):
            continue
        children = list(container.children())
        if last not in children:
            continue
        for later in children[children.index(last) + 1 :]:
            for leaf in _leaves(later):
                if not isinstance(leaf, _PASS_THROUGH):
                    return leaf
    return None


def analyse_branch(module: nn.Module, cache: dict[int, str | None] | None = None) -> GateBranch | None:
    """Return the branch ``module`` forms, or None if it is not made of gate layers alone."""
    projections, conv1ds, spatial_convs, norms, others = [], [], [], [], []
    gate, function = None, None  # the gate layer after the last projection (one before it produces no gate)
    for leaf in _leaves(module):
        sizes = _projection_sizes(leaf)
        if sizes is not None:
            projections.append((leaf, sizes))
        elif _is_channel_conv1d(leaf):
            conv1ds.append((leaf, None))
        elif _is_pooled_spatial_conv(leaf):
            spatial_convs.append((leaf, None))
        elif isinstance(leaf, nn.BatchNorm2d):
            norms.append(leaf)  # CBAM's spatial branch (1 feature) or an SE bottleneck (ReXNet): checked below
            continue
        elif (fn := gate_function(leaf, cache)) is not None:
            if gate is not None or not (projections or conv1ds or spatial_convs):
                return None
            gate, function = leaf, fn
            continue
        elif _has_own_state(leaf) or any(True for _ in leaf.children()):
            return None  # other weights: not a gate branch
        else:
            others.append(leaf)  # activations, pooling, reshaping: parameter-free layers that are not gate layers
            continue
        gate, function = None, None
    kinds = sum(bool(group) for group in (projections, conv1ds, spatial_convs))

    def layers(branch: GateBranch) -> GateBranch:
        linear = tuple(leaf for leaf, _ in projections + conv1ds + spatial_convs)
        return replace(branch, projections=linear, others=tuple(others), norms=tuple(norms))

    if kinds != 1 or (norms and conv1ds) or any(n.num_features != 1 for n in norms if spatial_convs):
        return None
    shown = function if gate is not None else _RECOMPUTED

    if conv1ds:  # ECA: 1-D conv(s) from 1 to 1 channel over the pooled vector of C channels
        convs = [leaf for leaf, _ in conv1ds]
        if len(convs) > 2 or convs[0].in_channels != 1 or convs[-1].out_channels != 1:
            return None
        if len(convs) == 2 and convs[0].out_channels != convs[1].in_channels:
            return None
        taps = "; ".join(f"{c.in_channels}→{c.out_channels}, {c.weight.shape[-1]} taps" for c in convs)
        layout = (
            f"channel: 1-D conv across the pooled channels ({taps}) → {shown}; C is not fixed by the weights "
            f"and is read from the input at run time"
        )
        return layers(GateBranch("channel", None, None, gate or convs[-1], gate is None, shown, layout))

    if spatial_convs:  # CBAM's spatial attention: its pooled maps are made inside forward, so a gate layer is needed
        if len(spatial_convs) != 1 or len(norms) > 1 or gate is None:
            return None
        conv = spatial_convs[0][0]
        kh, kw = conv.weight.shape[-2:]
        norm = " → BatchNorm" if norms else ""
        layout = f"spatial: {kh}×{kw} conv on {conv.in_channels} channel-pooled map(s) → 1{norm} → {function}"
        return layers(GateBranch("spatial-pooled", None, None, gate, False, function, layout))

    if norms and (
        gate is None or len(projections) != 2 or len(norms) != 1 or norms[0].num_features != projections[0][1][1]
    ):
        return None  # only ReXNet's SE (C→h, BatchNorm(h), act, h→C, gate layer): a BatchNorm needs a gate layer
    last = projections[-1][0]
    reason = ""
    if gate is None and (activation := _activation_after(module, last)) is not None:
        shown = f"{type(activation).__name__} (not a gate)"
        reason = (
            f"its excitation ends in {type(activation).__name__}, not a sigmoid or hard sigmoid: what it "
            f"multiplies by is not a gate in [0, 1]"
        )
    gate_module = gate or last
    if len(projections) == 2:
        (_, (c_in, hidden)), (last, (h_in, c_out)) = projections
        if c_in != c_out or h_in != hidden or hidden > c_in:
            return None
        norm = " (BatchNorm in the bottleneck)" if norms else ""
        layout = f"channel: {c_in}→{hidden}→{c_in} projections{norm} → {shown}"
        return layers(GateBranch("channel", c_in, hidden, gate or last, gate is None, shown, layout, reason))
    if len(projections) == 1 and isinstance(projections[0][0], nn.Conv2d):
        c_in, c_out = projections[0][1]
        if c_out == 1:  # C = 1 too (a one-channel scSE, as on the teaching page): one map either way
            layout = f"spatial: {c_in}→1 1×1 conv → {shown}"
            return layers(GateBranch("spatial", c_in, None, gate_module, gate is None, shown, layout, reason))
        if c_out == c_in and c_in > 1 and gate is not None:
            layout = f"one {c_in}→{c_in} 1×1 conv (no bottleneck) → {function}"
            return layers(GateBranch("spatial-multi", c_in, None, gate, False, function, layout))
    return None


_PACKAGES = {
    "scse_viz": "scse_viz",
    "segmentation_models_pytorch": "segmentation_models_pytorch",
    "monai": "monai",
    "timm": "timm",
    "torchvision": "torchvision",
    "squeeze_and_excitation": "squeeze_and_excitation (authors)",
}


def _authors_layout(module: nn.Module) -> bool:
    """The authors' package names its layers fc1/fc2/relu/sigmoid and conv/sigmoid, and joins cSE/sSE children."""
    names = dict(module.named_children())
    if {"fc1", "fc2", "sigmoid"} <= names.keys() or set(names) == {"conv", "sigmoid"}:
        return True
    return {"cSE", "sSE"} <= names.keys() and all(_authors_layout(names[k]) for k in ("cSE", "sSE"))


def _implementation(module: nn.Module) -> str:
    """A label for people; reading never depends on it (that is done by structure)."""
    package = type(module).__module__.split(".")[0]
    if package in _PACKAGES:
        return _PACKAGES[package]
    if _authors_layout(module):
        return f"authors' layout ({type(module).__name__})"
    return f"structure match ({type(module).__name__})"


def _is_plain_sequential(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _has_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _functions(*branches: GateBranch | None) -> str:
    names = [(role, b.function) for role, b in zip(("channel", "spatial"), branches) if b is not None]
    if len({fn for _, fn in names}) == 1:
        return names[0][1]
    return "; ".join(f"{role}: {fn}" for role, fn in names)


def plan_block(name: str, module: nn.Module, cache: dict[int, str | None] | None = None) -> BlockPlan | None:
    """Return how to read ``module`` if it is an attention block (readable or not), else None.

    The module's branches are found here by structure (itself one branch, or one branch per child); which layout
    they form is decided by the first reader of :data:`~scse_viz.capture.readers.READERS` that recognises them.
    """
    if _is_plain_sequential(module) or not any(True for _ in module.children()):
        return None
    itself = analyse_branch(module, cache)
    children: list[GateBranch] = []
    if itself is None:
        branches = [(child, analyse_branch(child, cache)) for child in module.children()]
        if any(b is None and _has_parameters(child) for child, b in branches):
            return None  # other layers with weights: a larger module that contains blocks, not a block
        children = [b for _, b in branches if b is not None]
    for reader in READERS:
        layout = reader.recognise(itself, children)
        if layout is not None:
            return _plan(name, module, reader, layout)
    return None


def _plan(name: str, module: nn.Module, reader: type[BlockReader], layout: Layout) -> BlockPlan:
    channel, spatial = layout.channel, layout.spatial
    found = [b for b in (channel, spatial) if b is not None]
    info = BlockInfo(
        name,
        reader.kind,
        _implementation(module),
        next((b.channels for b in found if b.channels is not None), None),
        channel.hidden if channel else None,
        readable=not layout.reason,
        reason=layout.reason,
        gate_function=_functions(channel, spatial),
        layout="; ".join(b.layout for b in found),
    )
    return BlockPlan(info, module, channel, spatial, reader)


def _listed(name: str, module: nn.Module) -> BlockPlan:
    """An attention-like module no reader reads: listed with its reason, never hooked."""
    reason = NotReadableReader.reason(module)
    info = BlockInfo(
        name,
        NotReadableReader.kind,
        _implementation(module),
        None,
        None,
        readable=False,
        reason=reason,
        gate_function="",
        layout="",
    )
    return BlockPlan(info, module, None, None, NotReadableReader)


def plan_blocks(model: nn.Module) -> list[BlockPlan]:
    """Every attention block of ``model``, outermost first; a block's own subtree is not searched again.

    An attention-like module that no reader reads and that holds no readable block is listed as not readable.
    """
    plans: list[BlockPlan] = []
    cache: dict[int, str | None] = {}  # gate layer probes, once per module (the model is alive throughout)

    def visit(prefix: str, module: nn.Module) -> None:
        plan = plan_block(prefix, module, cache)
        if plan is not None:
            plans.append(plan)
            return
        start = len(plans)
        for child_name, child in module.named_children():
            visit(f"{prefix}.{child_name}" if prefix else child_name, child)
        inside = plans[start:]
        if prefix and NotReadableReader.attention_like(module) and all(p.reader is NotReadableReader for p in inside):
            del plans[start:]  # nothing readable inside: list the outermost attention-like module, not its parts
            plans.append(_listed(prefix, module))

    visit("", model)
    return plans


def find_attention_blocks(model: nn.Module) -> list[BlockInfo]:
    """List the attention blocks of ``model`` with qualified name, kind, implementation and readability."""
    return [plan.info for plan in plan_blocks(model)]
