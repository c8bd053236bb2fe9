"""Hostile model files are refused cheaply and with the library's typed error (issue 25).

Each file is rebuilt here as it was found: a tiny smp zip whose config asks for a huge decoder, and a tiny
safetensors whose classifier shape makes timm build a model with millions of classes. Before the fix the first cost
45 s and 11.9 GB, the second raised a raw RuntimeError, the third cost 6.3 GB. Each runs in a fresh Python process so
its peak memory (``ru_maxrss``) is its own; the limits are the issue's (2 s, 300 MB above what the imports take).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

MAX_SECONDS = 2.0
MAX_EXTRA_MB = 300.0

MEASURE = textwrap.dedent(
    """
    import io, json, resource, sys, time, zipfile
    import scse_viz, torch
    import segmentation_models_pytorch, timm  # imported before the baseline: their size is not the file's cost
    from safetensors.torch import save
    from scse_viz.bring import load_user_model
    from scse_viz.errors import UserModelError

    kind = sys.argv[1]
    if kind.startswith("smp"):
        # smp-channels: found by the fuzzer, smp widens the first convolution to 99,999 input channels with plain
        # CPU tensors (1.2 GB, 2 s) before any check could see the weights
        config = {"_model_class": "Unet", "encoder_name": "resnet18", "classes": 2,
                  **({"in_channels": 99999} if kind == "smp-channels" else {"decoder_channels": [int(kind[4:])] * 5})}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("m/config.json", json.dumps(config))
            archive.writestr("m/model.safetensors", save({"weight": torch.zeros(1)}))
        files, architecture = {"m.zip": buffer.getvalue()}, None
    else:
        files, architecture = {"w.safetensors": save({"fc.weight": torch.zeros(3_000_000, 0)})}, "timm:seresnet18"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        load_user_model(files, architecture)
        outcome, message = "loaded", ""
    except UserModelError as error:
        outcome, message = "refused", str(error)
    except BaseException as error:  # the failure the test is looking for
        outcome, message = type(error).__name__, str(error)[:300]
    print(json.dumps({"outcome": outcome, "message": message, "seconds": time.perf_counter() - started,
                      "extra_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024,
                      "bytes": sum(len(v) for v in files.values())}))
    """
)


def measure(kind: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, kind],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(__import__("pathlib").Path(__file__).parents[1]),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["smp:6000", "smp:60000", "timm-classes", "smp-channels"])
def test_hostile_model_file_is_refused_cheaply_with_one_message(kind: str) -> None:
    result = measure(kind)
    assert result["bytes"] < 1000  # the files are tiny; what they ask to build is not
    assert result["outcome"] == "refused", result
    assert "\n" not in result["message"] and "Traceback" not in result["message"]
    # names the real problem: the weights do not fit what was asked, or the input cannot be fed
    assert "does not fit" in result["message"] or "input channels" in result["message"]
    assert result["seconds"] <= MAX_SECONDS, result
    assert result["extra_mb"] <= MAX_EXTRA_MB, result


def test_a_matching_upload_still_loads() -> None:
    """The checks refuse misfits only: a real seresnet18 state_dict loads and gives the model's own outputs."""
    import timm
    import torch
    from safetensors.torch import save

    from scse_viz.bring import read_model

    torch.manual_seed(0)
    model = timm.create_model("seresnet18", pretrained=False, num_classes=7).eval()
    user = read_model({"w.safetensors": save(model.state_dict())}, "timm:seresnet18")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(user.model(x), model(x))


def test_a_model_larger_than_its_upload_is_refused_before_building(monkeypatch) -> None:
    """The size bound, separately from the name check: a planned model that needs far more numbers than were
    uploaded is refused even when every uploaded name fits (here a planted non-persistent buffer of 50 M numbers)."""
    import torch
    from safetensors.torch import save
    from torch import nn

    from scse_viz import bring
    from scse_viz.bring import architectures
    from scse_viz.errors import UserModelError

    class Padded(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)
            self.register_buffer("table", torch.zeros(50_000_000), persistent=False)

        def forward(self, x):
            return self.conv(x)

    built = []

    def planted(architecture, tensors):  # stands in for from_name: an architecture no library ships
        built.append(torch.empty(0).device.type)  # which device the build ran on
        return architectures.Built(Padded(), "padded", architectures._spec(3, 32))

    monkeypatch.setattr(bring, "from_name", planted)
    weights = save({"conv.weight": torch.zeros(2, 3, 1, 1), "conv.bias": torch.zeros(2)})
    with pytest.raises(UserModelError, match="far more than"):
        bring.read_model({"w.safetensors": weights}, "torchvision:padded")
    assert built == ["meta"]  # planned on the meta device only: the real one was never built


def test_an_architecture_the_meta_device_cannot_plan_still_loads_and_an_empty_classifier_is_refused() -> None:
    """torchvision's RegNet computes its widths from tensor values while being built, which the meta device cannot
    do: a real RegNet state_dict still loads (outputs equal the model's), and the 3,000,000×0 classifier attack on
    it is refused by its empty tensor before the real build."""
    import torch
    import torchvision
    from safetensors.torch import save

    from scse_viz.bring import read_model
    from scse_viz.errors import UserModelError

    torch.manual_seed(0)
    model = torchvision.models.get_model("regnet_y_400mf", weights=None, num_classes=5).eval()
    user = read_model({"w.safetensors": save(model.state_dict())}, "torchvision:regnet_y_400mf")
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(user.model(x), model(x))
    state = model.state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(3_000_000, 0), torch.zeros(3_000_000)
    with pytest.raises(UserModelError, match="empty tensors"):
        read_model({"w.safetensors": save(state)}, "torchvision:regnet_y_400mf")
