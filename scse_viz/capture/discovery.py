"""Find attention blocks in any ``nn.Module`` by structure and weight shapes, never by names or defaults.

A *gate branch* is a small subtree whose leaves are only projections (``nn.Linear`` or 1×1 ``nn.Conv2d``),
activations, pooling and reshaping layers:

- channel branch: two projections C→h→C, optionally followed by an ``nn.Sigmoid`` (the gate w);
- spatial branch: one 1×1 conv C→1, optionally followed by an ``nn.Sigmoid`` (the gate q).

A *block* is either a module with one channel and one spatial branch as children (scSE: the seed,
segmentation_models_pytorch, the authors' ``ChannelSpatialSELayer``), a module with one branch child (our ``ChannelSE``
/ ``SpatialSE``), or a module that is itself a branch but is not an ``nn.Sequential`` (the authors' ``ChannelSELayer``,
MONAI's ``ChannelSELayer``: their forward multiplies x by the gate). A plain ``nn.Sequential`` can only chain, so it
returns a gate, never ``x * gate``: it is a branch, not a block (this keeps 1-class sigmoid heads out).

The gate is the output of the branch's ``nn.Sigmoid``. Without one (a functional ``torch.sigmoid`` in ``forward``)
the gate is recomputed as sigmoid of the last projection's output, and capture accepts it only if the block's own
output can be rebuilt from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from scse_viz.capture.records import BlockInfo

_NEUTRAL_LEAVES = (
    nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool1d, nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.GELU, nn.SiLU, nn.ELU, nn.Hardswish, nn.Mish, nn.Tanh,
)  # fmt: skip
_GATE_ACTIVATION = nn.Sigmoid


@dataclass(frozen=True)
class GateBranch:
    """A gate branch: where its gate comes from and its shape-defining sizes."""

    role: str  # "channel", "spatial" or "spatial-multi" (C maps instead of one: early smp releases)
    channels: int
    hidden: int | None
    gate_module: nn.Module  # the Sigmoid whose output is the gate, or the last projection (recomputed)
    recomputed: bool  # True when the gate is sigmoid(gate_module output), i.e. no Sigmoid module exists


@dataclass(frozen=True)
class BlockPlan:
    """What capture needs to read one block: its description plus the modules to hook."""

    info: BlockInfo
    module: nn.Module
    channel: GateBranch | None
    spatial: GateBranch | None


def _leaves(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    if not children:
        return [module]
    return [leaf for child in children for leaf in _leaves(child)]


def _projection_sizes(layer: nn.Module) -> tuple[int, int] | None:
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    if isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and layer.groups == 1:
        return layer.in_channels, layer.out_channels
    return None


def analyse_branch(module: nn.Module) -> GateBranch | None:
    """Return the branch ``module`` forms, or None if it is not made of gate layers alone."""
    leaves = _leaves(module)
    projections, sigmoid_after_last = [], None
    for leaf in leaves:
        sizes = _projection_sizes(leaf)
        if sizes is not None:
            projections.append((leaf, sizes))
            sigmoid_after_last = None
        elif isinstance(leaf, _GATE_ACTIVATION):
            if not projections or sigmoid_after_last is not None:
                return None
            sigmoid_after_last = leaf
        elif not isinstance(leaf, _NEUTRAL_LEAVES):
            return None
    gate_module = sigmoid_after_last
    if len(projections) == 2:
        (first, (c_in, hidden)), (last, (h_in, c_out)) = projections
        if c_in != c_out or h_in != hidden or hidden > c_in:
            return None
        return GateBranch("channel", c_in, hidden, gate_module or last, gate_module is None)
    if len(projections) == 1 and isinstance(projections[0][0], nn.Conv2d):
        last, (c_in, c_out) = projections[0]
        if c_out == 1 and c_in > 1:
            return GateBranch("spatial", c_in, None, gate_module or last, gate_module is None)
        if c_out == c_in and c_in > 1 and gate_module is not None:
            return GateBranch("spatial-multi", c_in, None, gate_module, False)
    return None


_PACKAGES = {
    "scse_viz": "scse_viz",
    "segmentation_models_pytorch": "segmentation_models_pytorch",
    "monai": "monai",
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


def plan_block(name: str, module: nn.Module) -> BlockPlan | None:
    """Return how to read ``module`` if it is an attention block (readable or not), else None."""
    if _is_plain_sequential(module) or not any(True for _ in module.children()):
        return None
    implementation = _implementation(module)

    def block(kind: str, channel: GateBranch | None, spatial: GateBranch | None, reason: str = "") -> BlockPlan:
        channels = (channel or spatial).channels
        hidden = channel.hidden if channel else None
        info = BlockInfo(name, kind, implementation, channels, hidden, readable=not reason, reason=reason)
        return BlockPlan(info, module, channel, spatial)

    multi_map = "its spatial branch makes one map per channel, not one N×H×W map"
    itself = analyse_branch(module)
    if itself is not None:  # the module is one whole branch whose forward multiplies: cSE or sSE
        if itself.role == "channel":
            return block("cse", itself, None)
        return block("sse", None, itself, multi_map if itself.role == "spatial-multi" else "")

    branches = [(child, analyse_branch(child)) for child in module.children()]
    if any(b is None and _has_parameters(child) for child, b in branches):
        return None  # other layers with weights: a larger module that contains blocks, not a block
    found = [b for _, b in branches if b is not None]
    channel = next((b for b in found if b.role == "channel"), None)
    spatial = next((b for b in found if b.role != "channel"), None)
    if len(found) != 2 or channel is None or spatial is None:
        return None
    if spatial.role == "spatial-multi":
        return block("scse", channel, spatial, multi_map)
    if spatial.channels != channel.channels:
        return block("scse", channel, spatial, "its two branches see different channel counts")
    return block("scse", channel, spatial)


def plan_blocks(model: nn.Module) -> list[BlockPlan]:
    """Every attention block of ``model``, outermost first; a block's own subtree is not searched again."""
    plans: list[BlockPlan] = []

    def visit(prefix: str, module: nn.Module) -> None:
        plan = plan_block(prefix, module)
        if plan is not None:
            plans.append(plan)
            return
        for child_name, child in module.named_children():
            visit(f"{prefix}.{child_name}" if prefix else child_name, child)

    visit("", model)
    return plans


def find_attention_blocks(model: nn.Module) -> list[BlockInfo]:
    """List the attention blocks of ``model`` with qualified name, kind, implementation and readability."""
    return [plan.info for plan in plan_blocks(model)]
