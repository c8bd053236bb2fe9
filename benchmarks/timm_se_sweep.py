"""Every timm architecture holding an SE-family module, read as a new user would bring it: how many are read.

For each architecture timm registers (random weights, nothing downloaded) whose module defines or imports an
SE-family class: build it on torch's meta device to count parameters (at most ``--max-params``) and look for
SE-family modules, recognised here by their *class* (``SE_FAMILY``), independently of capture. Those that qualify are
built for real, run once plainly and once under capture on a small input (64×64, or the model's own input size
when 64×64 does not run), and sorted into:

- read completely: every SE-family module is a block capture read and verified (every call), and the output with
  capture equals the plain output bit for bit;
- listed, not readable: every SE-family module is listed by ``find_attention_blocks``, some with a reason;
- missed: some SE-family module is not listed at all (the app would say less than the model holds);
- failed: the model could not be built or run here (not counted in the three above).

Prints one line per architecture and the counts; asserts nothing.
Run from the repository root: ``nice -n 19 python -m benchmarks.timm_se_sweep [--every 1] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass

import torch
from torch import nn

import scse_viz  # noqa: F401  (torchvision shim before timm)
from scse_viz import capture_attention, find_attention_blocks

# Where the SE family lives in timm (module, class). ReXNet uses timm.layers' SEModule with a BatchNorm.
SE_FAMILY_NAMES = (
    ("timm.layers.squeeze_excite", "SEModule"),
    ("timm.layers.squeeze_excite", "EffectiveSEModule"),
    ("timm.layers.squeeze_excite", "SqueezeExciteCl"),
    ("timm.models._efficientnet_blocks", "SqueezeExcite"),
    ("timm.layers.eca", "EcaModule"),
    ("timm.layers.eca", "CecaModule"),
    ("timm.layers.cbam", "CbamModule"),
    ("timm.layers.cbam", "LightCbamModule"),
    ("timm.layers.selective_kernel", "SelectiveKernel"),
    ("timm.models.senet", "SEModule"),
)
# A model module is searched only if its source names one of these (the others cannot hold the family).
_SOURCE_HINT = re.compile(
    r"SEModule|SqueezeExcite|EffectiveSE|EcaModule|CecaModule|Cbam|SelectiveKernel|attn_layer|se_layer|se_ratio|"
    r"create_attn|get_attn|SEWithNorm|_SE_LAYER"
)
# Modules whose "attn_layer" is self-attention only (checked once by hand: no SE-family module in any of them).
_SELF_ATTENTION_ONLY = {"vision_transformer", "swin_transformer", "swin_transformer_v2", "naflexvit", "xcit"}


def se_family() -> tuple[type, ...]:
    return tuple(getattr(importlib.import_module(module), name) for module, name in SE_FAMILY_NAMES)


def candidates() -> list[str]:
    """timm architectures whose defining module could hold an SE-family module."""
    import timm
    from timm.models import _registry

    hinted: dict[str, bool] = {}
    names = []
    for name in timm.list_models():
        module = _registry._model_to_module[name]
        if module not in hinted:
            source = inspect.getsource(importlib.import_module(f"timm.models.{module}"))
            hinted[module] = module not in _SELF_ATTENTION_ONLY and bool(_SOURCE_HINT.search(source))
        if hinted[module]:
            names.append(name)
    return names


def outermost(model: nn.Module, family: tuple[type, ...]) -> list[str]:
    """Names of the SE-family modules of ``model`` that do not lie inside another one."""
    found: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, family) and not any(name.startswith(f"{o}.") for o in found):
            found.append(name)
    return found


def qualifies(name: str, family: tuple[type, ...], max_params: float) -> bool:
    import timm

    try:
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
    except Exception:  # noqa: BLE001 - an architecture the meta device cannot build is built for real below
        model = None
    if model is None:
        return True
    params = sum(p.numel() for p in model.parameters())
    return params <= max_params and any(isinstance(m, family) for m in model.modules())


@dataclass
class Outcome:
    name: str
    verdict: str  # "read", "listed", "missed", "failed"
    detail: str
    seconds: float


def _covers(block: str, module: str) -> bool:
    return block == module or module.startswith(f"{block}.") or block.startswith(f"{module}.")


def sweep_one(name: str, family: tuple[type, ...], size: int = 64, max_params: float = 30e6) -> Outcome | None:
    """Build ``name`` with random weights and sort it; None when it holds no SE-family module or is too large."""
    import timm

    start = time.perf_counter()
    torch.manual_seed(0)
    try:
        model = timm.create_model(name, pretrained=False).eval()
    except Exception as error:  # noqa: BLE001
        return Outcome(name, "failed", f"build: {type(error).__name__}: {error}"[:160], time.perf_counter() - start)
    if sum(p.numel() for p in model.parameters()) > max_params:
        return None
    expected = outermost(model, family)
    if not expected:
        return None
    shape = (1, 3, size, size)
    try:
        with torch.no_grad():
            plain = model(torch.randn(shape, generator=torch.Generator().manual_seed(1)))
    except Exception:  # noqa: BLE001 - some need their own input size (window attention, fixed grids)
        shape = (1, *model.pretrained_cfg.get("input_size", (3, 224, 224)))
        try:
            with torch.no_grad():
                plain = model(torch.randn(shape, generator=torch.Generator().manual_seed(1)))
        except Exception as error:  # noqa: BLE001
            return Outcome(name, "failed", f"run: {type(error).__name__}: {error}"[:160], time.perf_counter() - start)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    blocks = find_attention_blocks(model)
    result = capture_attention(model, x)
    seconds = time.perf_counter() - start
    if not torch.equal(result.output, plain):
        return Outcome(name, "failed", "capture changed the model's output", seconds)
    missed = [m for m in expected if not any(_covers(b.name, m) for b in blocks)]
    if missed:
        kinds = Counter(type(model.get_submodule(m)).__name__ for m in missed)
        return Outcome(name, "missed", f"{len(missed)}/{len(expected)} not listed: {dict(kinds)}", seconds)
    unread = [r for r in result.records if any(_covers(r.name, m) for m in expected) and not (r.ran and r.readable)]
    if unread:
        reasons = Counter(r.reason.split(":")[0][:90] for r in unread)
        return Outcome(name, "listed", f"{len(unread)} record(s) not readable: {dict(reasons)}", seconds)
    return Outcome(name, "read", f"{len(expected)} module(s), {len(result.shown())} record(s) read", seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-params", type=float, default=30e6)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--every", type=int, default=1, help="sweep every k-th qualifying architecture only")
    parser.add_argument("--only", nargs="*", help="these architectures only (skips the census)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    family = se_family()
    began = time.perf_counter()
    if args.only:
        names = list(args.only)
    else:
        names = [n for n in candidates() if qualifies(n, family, args.max_params)][:: args.every]
        print(f"census: {len(names)} architecture(s) to sweep ({time.perf_counter() - began:.0f} s)", flush=True)
    counts: Counter[str] = Counter()
    for name in names:
        outcome = sweep_one(name, family, args.size, args.max_params)
        if outcome is None:
            continue
        counts[outcome.verdict] += 1
        print(f"{outcome.verdict:7s} {name:40s} {outcome.seconds:6.1f} s  {outcome.detail}", flush=True)
    swept = counts["read"] + counts["listed"] + counts["missed"]
    print(
        f"\n{swept} architecture(s) with an SE-family module: read completely {counts['read']}, "
        f"listed not readable {counts['listed']}, missed {counts['missed']}; failed to build or run {counts['failed']}"
        f" ({time.perf_counter() - began:.0f} s)"
    )


if __name__ == "__main__":
    main()
