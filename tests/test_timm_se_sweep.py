"""A sample of the timm SE-family sweep (``benchmarks/timm_se_sweep.py``): one architecture per layout, each built
with random weights and sorted by the benchmark's own rules (SE-family modules found by class, not by capture)."""

from __future__ import annotations

import pytest
import torch

import scse_viz  # noqa: F401  (torchvision shim before timm)
from benchmarks import timm_se_sweep as sweep

# One small architecture per layout, with the verdict a new user should get.
SAMPLE = {
    "rexnet_100": "read",  # SE with a BatchNorm in the bottleneck
    "mobilenetv3_small_050": "read",  # SqueezeExcite, hard sigmoid
    "ese_vovnet19b_slim_dw": "read",  # effective SE
    "ecaresnet26t": "read",  # ECA
    "skresnet18": "listed",  # SelectiveKernel: a softmax across paths, listed with its reason
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SAMPLE))
def test_sampled_architectures_are_read_or_listed_with_a_reason(name):
    torch.set_num_threads(1)
    outcome = sweep.sweep_one(name, sweep.se_family())
    assert outcome is not None, f"{name} holds no SE-family module or is larger than 30 M parameters"
    assert outcome.verdict == SAMPLE[name], outcome.detail
    if outcome.verdict == "listed":
        assert "SelectiveKernel" in outcome.detail
