"""The README's promises: its Python examples run as written and produce what their comments say, and CI runs
exactly its test command.

Each Python block is run as written, then checked by what it defines: a check is chosen by the variables a block
leaves behind (``record`` for the library example, ``ig`` and ``rows`` for the attribution example), never by the
text of a line, so the README may reword its calls. Every check compares with something the test works out itself
(the feature map a block receives, read with the test's own hook; the attention modules of the model; the target's
logits summed by hand) or with a range the README states. A Python block that no check recognises fails: a new
example needs a check of what it promises.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

import numpy as np
import pytest
import torch
from torch import nn

from scse_viz import find_attention_blocks
from scse_viz.blocks import SCSE, SpatialSE

from .conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)


def _block_input(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """The feature map the module ``name`` receives in a plain eval forward pass (the test's own hook)."""
    seen: list[torch.Tensor] = []
    handle = model.get_submodule(name).register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    assert len(seen) >= 1, f"{name} did not run"
    return seen[0]


def _in_open_unit_interval(gate: np.ndarray) -> bool:
    return bool(np.all((gate > 0) & (gate < 1)))


def check_library_example(ns: dict) -> None:
    """``x`` is 1×1×256×256; ``record.channel_gate`` is N×C and ``record.spatial_gate`` N×H×W, float32 in (0, 1),
    with C, H and W those of the feature map the block receives; the gates are the model's own, so the captured
    output is the plain forward pass's; hooks live for one call."""
    model, x, result, record = ns["model"], ns["x"], ns["result"], ns["record"]
    assert tuple(x.shape) == (1, 1, 256, 256)  # "N×C×H×W"
    feature = _block_input(model, record.info.name, x)
    n, c, h, w = feature.shape
    assert record.channel_gate.shape == (n, c) and record.channel_gate.dtype == np.float32
    assert record.spatial_gate.shape == (n, h, w) and record.spatial_gate.dtype == np.float32
    assert _in_open_unit_interval(record.channel_gate) and _in_open_unit_interval(record.spatial_gate)
    # find_attention_blocks' C and C/r come from the weight shapes: the cSE branch's first 1×1 conv is C -> C/r
    block = model.get_submodule(record.info.name)
    first_conv = next(m for m in block.cSE.modules() if isinstance(m, nn.Conv2d))
    (info,) = [i for i in find_attention_blocks(model) if i.name == record.info.name]
    assert (info.channels, info.hidden) == (c, first_conv.out_channels) and first_conv.in_channels == c
    with torch.no_grad():
        assert torch.equal(result.output, model(x))  # "the gates the model used": the output is unchanged
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def check_attribution_example(ns: dict) -> None:
    """``x`` is 1×1×160×160; ``ig.attribution`` a finite 160×160 float32 map of grey matter's logits summed over its
    predicted pixels; ``rows`` one row per sSE block with Spearman in [-1, 1] and a top-10 % IoU in [0, 1]."""
    model, x, ig, rows = ns["model"], ns["x"], ns["ig"], ns["rows"]
    assert tuple(x.shape) == (1, 1, 160, 160)  # "what the model sees, 1×1×160×160"
    assert ig.attribution.shape == (160, 160) and ig.attribution.dtype == np.float32
    assert np.isfinite(ig.attribution).all() and np.abs(ig.attribution).max() > 0
    # "grey matter: its logits summed over its predicted pixels": IG reports F(x) - F(baseline) for its target
    baseline = ig.settings["baseline"]
    assert isinstance(baseline, float), "the example leaves IG's constant baseline as it is"
    with torch.no_grad():
        region = model(x).argmax(dim=1)[0] == 2  # grey matter is class 2 (background, CSF, GM, WM)
        assert region.any()

        def grey_matter(z: torch.Tensor) -> float:
            return float((model(z)[0, 2] * region).sum())

        expected = grey_matter(x) - grey_matter(torch.full_like(x, baseline))
    assert ig.output_difference == pytest.approx(expected, rel=1e-4)
    # one row per sSE block: our modules with a spatial branch (sSE alone or in scSE), wherever they sit
    sse_blocks = sorted(name for name, m in model.named_modules() if isinstance(m, SpatialSE | SCSE))
    assert len(sse_blocks) >= 6 and sorted(r.block for r in rows) == sse_blocks
    for row in rows:
        assert -1.0 <= row.spearman <= 1.0 and not math.isnan(row.spearman), row
        assert 0.0 <= row.iou <= 1.0 and row.percent == 10, row


def check_bring_example(ns: dict) -> None:
    """The brought torchvision network is read as a 3-class classifier with its own names; ``gates`` holds one
    record per SqueezeExcitation module (counted here by class), each channel gate 1×C with C the module's own
    input channels, values in [0, 1]; the output is the network's own forward pass on the prepared input."""
    from torchvision.ops.misc import SqueezeExcitation

    net, family, run, gates = ns["net"], ns["family"], ns["run"], ns["gates"]
    assert family.task.name == "classification" and family.class_names == ("cat", "dog", "bird")
    modules = {name: m for name, m in net.named_modules() if isinstance(m, SqueezeExcitation)}
    assert len(modules) >= 9 and sorted(r.name for r in gates) == sorted(modules)
    for record in gates:
        assert record.channel_gate.shape == (1, modules[record.name].fc1.in_channels)
        assert (
            record.channel_gate.dtype == np.float32 and ((record.channel_gate >= 0) & (record.channel_gate <= 1)).all()
        )
    with torch.no_grad():
        expected = net(run.prepared.tensor).softmax(dim=1)[0].numpy()
    np.testing.assert_allclose(run.outputs["model"].prediction.probabilities, expected, atol=1e-6)
    assert run.prepared.tensor.shape == (1, 3, 224, 224)  # "RGB, 224×224"


# A check runs on a block that defines all of its variables.
CHECKS: list[tuple[frozenset[str], Callable[[dict], None]]] = [
    (frozenset({"model", "x", "result", "record"}), check_library_example),
    (frozenset({"model", "x", "ig", "rows"}), check_attribution_example),
    (frozenset({"net", "family", "run", "gates"}), check_bring_example),
]


@cache
def _run_block(index: int) -> dict:
    """The namespace README python block ``index`` leaves behind, run as written (once per test session)."""
    namespace: dict = {}
    exec(compile(PYTHON_BLOCKS[index], f"README.md python block {index}", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_example_does_what_its_comments_say(index: int):
    namespace = _run_block(index)
    checks = [check for variables, check in CHECKS if variables <= namespace.keys()]
    assert checks, f"README python block {index} defines none of the variables a check knows: add a check for it"
    for check in checks:
        check(namespace)


def test_each_check_finds_its_readme_example():
    """A renamed variable must not turn a check off silently: each check runs on exactly one README block."""
    for variables, check in CHECKS:
        used = [i for i in range(len(PYTHON_BLOCKS)) if variables <= _run_block(i).keys()]
        assert len(used) == 1, f"{check.__name__} matches README python blocks {used}"


def test_readme_has_two_set_up_commands_and_ci_runs_the_second():
    set_up = README[README.index("## Set-up") : README.index("\n## ", README.index("## Set-up") + 1)]
    commands = [block.strip() for block in re.findall(r"```bash\n(.*?)```", set_up, flags=re.DOTALL)]
    assert len(commands) == 2 and "streamlit run app.py" in commands[0] and "pytest" in commands[1]
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci
    assert "requirements.txt" in commands[0] and "chromium" in commands[1]
