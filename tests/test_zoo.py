"""The shipped families: every variant loads from its safetensors file alone, in eval mode, with the attention blocks
its recipe describes; it answers in the family's shape; wrong weight files are refused with CheckpointError; and the
card's hashes and parameter counts are those of the files and models (computed here, not read from the code)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from scse_viz import find_attention_blocks, zoo
from scse_viz.datasets.brain import brain_slice
from scse_viz.errors import CheckpointError
from scse_viz.io import load_any
from scse_viz.samples import list_samples, sample_bytes

VARIANTS = ("none", "cse", "sse", "scse")
PAIRS = [(f, v) for f in ("brain", "fashion") for v in VARIANTS]


def expected_blocks(family: str) -> list[tuple[str, int]]:
    """(module name, channels C) of every attention block, in network order, from the card's recipe."""
    recipe = zoo.load_card(family)["recipe"]
    if family == "brain":
        widths = [recipe["base_channels"] * 2**i for i in range(recipe["depth"] + 1)]
        encoders = [(f"encoders.{i}.attention", w) for i, w in enumerate(widths[:-1])]
        decoders = [(f"decoders.{i}.attention", w) for i, w in enumerate(reversed(widths[:-1]))]
        return [*encoders, ("bottleneck.attention", widths[-1]), *decoders]
    per_stage = recipe["blocks_per_stage"]
    channels = [w for w in recipe["widths"] for _ in range(per_stage)]
    return [(f"stages.{i}.attention", c) for i, c in enumerate(channels)]


def block_weights(kind: str, channels: int, reduction: int) -> int:
    """cSE: two 1×1 convs C→h→C with biases; sSE: one 1×1 conv C→1 with bias (SCSE.md's cost formula)."""
    hidden = max(channels // reduction, 1)
    cse, sse = 2 * channels * hidden + hidden + channels, channels + 1
    return {"none": 0, "cse": cse, "sse": sse, "scse": cse + sse}[kind]


@pytest.fixture(scope="module")
def models() -> dict[tuple[str, str], torch.nn.Module]:
    return {pair: zoo.load_model(*pair) for pair in PAIRS}


@pytest.mark.parametrize("family, variant", PAIRS)
def test_each_variant_loads_in_eval_mode_from_its_safetensors_file(family, variant, models, monkeypatch) -> None:
    model = models[family, variant]
    assert not any(module.training for module in model.modules())
    stored = load_file(str(zoo.family(family).weights_path(variant)))
    state = model.state_dict()
    assert set(state) == set(stored)
    for key, value in stored.items():
        assert torch.equal(state[key], value), key

    def no_pickle(*args, **kwargs):
        raise AssertionError("torch.load (pickle) must never be used for shipped weights")

    monkeypatch.setattr(torch, "load", no_pickle)
    zoo.load_model(family, variant)  # loads again without touching pickle


@pytest.mark.parametrize("family, variant", PAIRS)
def test_shipped_models_run_channels_last_and_compute_what_an_nchw_copy_computes(family, variant, models) -> None:
    # Channels-last is a speed choice only: the 4-D weights are NHWC, and the outputs are an NCHW copy's up to float
    # rounding (outputs of ~1, so 1e-4 is far below anything a picture or a table shows).
    model = models[family, variant]
    four_d = [p for p in model.parameters() if p.dim() == 4]
    assert four_d and all(p.is_contiguous(memory_format=torch.channels_last) for p in four_d)
    nchw = zoo.family(family).build(variant)
    nchw.load_state_dict({k: v.contiguous() for k, v in model.state_dict().items()})
    nchw.eval()
    x = torch.rand(
        (1, 1, 160, 160) if family == "brain" else (2, 1, 28, 28), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        ours, theirs = model(x), nchw(x)
    assert not all(p.is_contiguous(memory_format=torch.channels_last) for p in nchw.parameters() if p.dim() == 4)
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_the_app_lets_torch_threads_sleep_and_training_keeps_the_default() -> None:
    # OMP_WAIT_POLICY is read once, when torch loads OpenMP: the package sets it only where Streamlit came first.
    def policy(code: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    shown = "import os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    assert policy(f"import streamlit, scse_viz; {shown}") == "PASSIVE"
    assert policy(f"import scse_viz; {shown}") == "unset"
    assert policy(f"import torch, streamlit, scse_viz; {shown}") == "unset"  # too late to matter: left alone


@pytest.mark.parametrize("family", ["brain", "fashion"])
def test_only_safetensors_weights_are_shipped(family) -> None:
    folder = zoo.family(family).folder
    assert sorted(p.name for p in folder.glob("*.safetensors")) == sorted(f"{v}.safetensors" for v in VARIANTS)
    assert not [p for p in folder.iterdir() if p.suffix in (".pt", ".pth", ".bin", ".ckpt", ".pkl")]


@pytest.mark.parametrize("family, variant", PAIRS)
def test_attention_blocks_are_the_ones_the_recipe_describes(family, variant, models) -> None:
    blocks = find_attention_blocks(models[family, variant])
    if variant == "none":
        assert blocks == []
        return
    reduction = zoo.load_card(family)["recipe"]["reduction"]
    expected = expected_blocks(family)
    assert [(b.name, b.channels) for b in blocks] == expected
    assert {b.kind for b in blocks} == {variant}
    assert all(b.readable for b in blocks)
    for block, (_, channels) in zip(blocks, expected):
        assert block.hidden == (None if variant == "sse" else max(channels // reduction, 1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_brain_mask_has_the_size_of_a_non_square_odd_input(variant, models) -> None:
    truth = brain_slice("coronal", 71)  # a test slice; cropped to 171×143 (odd, not square), brain kept whole
    pixels, labels = truth.pixels[10:181, 27:170], truth.labels[10:181, 27:170]
    assert pixels.shape == (171, 143) and np.count_nonzero(labels) == np.count_nonzero(truth.labels)
    prepared = zoo.family("brain").prepare(pixels)
    with torch.no_grad():
        probabilities = models["brain", variant](prepared.tensor).softmax(dim=1)[0].numpy()
    mask = np.argmax(prepared.geometry.to_source(probabilities), axis=0)
    assert mask.shape == (171, 143)
    dice = [2 * np.sum((mask == k) & (labels == k)) / (np.sum(mask == k) + np.sum(labels == k)) for k in (1, 2, 3)]
    assert np.mean(dice) > 0.8, dice  # the mask lands on the slice's own tissue, not shifted or flipped


@pytest.mark.parametrize("variant", VARIANTS)
def test_fashion_gives_ten_probabilities(variant, models) -> None:
    (sample,) = [s for s in list_samples("fashion") if s.name == "test-00000-ankle-boot"]
    image = load_any(sample_bytes(sample), sample.path.name)
    with torch.no_grad():
        probabilities = models["fashion", variant](zoo.family("fashion").prepare(image.pixels).tensor).softmax(dim=1)
    assert probabilities.shape == (1, 10)
    assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-5)
    assert int(probabilities.argmax()) == sample.label == 9


@pytest.mark.parametrize("family", ["brain", "fashion"])
def test_other_variants_weights_are_refused(family) -> None:
    spec = zoo.family(family)
    other_family = zoo.family("fashion" if family == "brain" else "brain")
    for variant in VARIANTS:
        for other in VARIANTS:
            if other != variant:
                with pytest.raises(CheckpointError, match="does not fit"):
                    zoo.load_checkpoint(spec.build(variant), spec.weights_path(other))
        with pytest.raises(CheckpointError, match="does not fit"):
            zoo.load_checkpoint(spec.build(variant), other_family.weights_path(variant))


def test_broken_files_are_refused(tmp_path) -> None:
    spec = zoo.family("fashion")
    good = spec.weights_path("scse").read_bytes()
    broken = {
        "half.safetensors": good[: len(good) // 2],
        "short.safetensors": good[:-7],
        "header-only.safetensors": good[:100],
        "empty.safetensors": b"",
        "png.safetensors": list_samples("fashion")[0].path.read_bytes(),
    }
    pickled = tmp_path / "pickle.safetensors"
    torch.save(zoo.load_model("fashion", "scse").state_dict(), pickled)
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
    for path in [pickled, *(tmp_path / name for name in broken), tmp_path / "missing.safetensors"]:
        with pytest.raises(CheckpointError):
            zoo.load_checkpoint(spec.build("scse"), path)


@pytest.mark.parametrize("family", ["brain", "fashion"])
def test_card_hashes_and_parameter_counts_match_the_files_and_models(family, models) -> None:
    card = zoo.load_card(family)
    spec = zoo.family(family)
    baseline = sum(p.numel() for p in models[family, "none"].parameters())
    for variant in VARIANTS:
        entry = card["variants"][variant]
        path = spec.weights_path(variant)
        assert entry["shipped"]["file"] == path.name
        assert entry["shipped"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        model = models[family, variant]
        total = sum(p.numel() for p in model.parameters())
        assert entry["parameters"] == total
        blocks = find_attention_blocks(model)
        in_blocks = sum(p.numel() for b in blocks for p in model.get_submodule(b.name).parameters())
        by_formula = sum(block_weights(variant, c, card["recipe"]["reduction"]) for _, c in expected_blocks(family))
        assert entry["attention_parameters"] == in_blocks == by_formula
        assert total - in_blocks == baseline  # the variants differ only in their attention blocks
        assert entry["overhead_percent"] == pytest.approx(100 * (total - baseline) / baseline)
