"""Per-class excitation statistics equal a hand computation: our own forward hooks on the cSE sigmoids of a shipped
model, then per-class mean and population standard deviation with numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from scse_viz import zoo
from scse_viz.excitation import excitation_statistics, load_statistics
from scse_viz.io import load_any
from scse_viz.samples import list_samples, sample_bytes

MISSING_CLASS = 4  # Coat: left out of the batch, so its rows must be NaN


def labelled_batch() -> tuple[torch.Tensor, np.ndarray]:
    """The shipped Fashion samples (dataset images and synthetic photos) except the coats, prepared as the app does."""
    family = zoo.family("fashion")
    chosen = [s for s in list_samples("fashion") if s.label != MISSING_CLASS]
    tensors = [family.prepare(load_any(sample_bytes(s), s.path.name).pixels).tensor for s in chosen]
    return torch.cat(tensors), np.array([s.label for s in chosen])


def gates_by_hand(model: nn.Module, inputs: torch.Tensor) -> dict[str, np.ndarray]:
    """Block name -> N×C channel gate, read from the output of each cSE branch's final nn.Sigmoid."""
    gates: dict[str, np.ndarray] = {}

    def keep(block: str):
        def hook(_module, _inputs, output):
            gates[block] = output.detach().reshape(len(output), -1).numpy().copy()

        return hook

    handles = []
    for name, module in model.named_modules():
        if name.endswith(".cSE"):
            sigmoid = module[-1]
            assert isinstance(sigmoid, nn.Sigmoid)
            handles.append(sigmoid.register_forward_hook(keep(name.removesuffix(".cSE"))))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return gates


@pytest.mark.parametrize("variant", ["cse", "scse"])
def test_statistics_equal_per_class_mean_and_population_std_of_hooked_gates(variant) -> None:
    model = zoo.load_model("fashion", variant)
    inputs, labels = labelled_batch()
    assert len(labels) == 21 and MISSING_CLASS not in labels
    expected = gates_by_hand(model, inputs)
    stats = excitation_statistics(model, inputs, labels, num_classes=10, batch_size=8)  # batches of 8, 8 and 5
    assert [s.block for s in stats] == list(expected)  # every block, in network order
    assert len(stats) == 6
    for s in stats:
        gate = expected[s.block].astype(np.float64)
        assert s.mean.shape == s.std.shape == (10, gate.shape[1])
        np.testing.assert_array_equal(s.count, [np.sum(labels == k) for k in range(10)])
        for k in range(10):
            if k == MISSING_CLASS:
                assert np.isnan(s.mean[k]).all() and np.isnan(s.std[k]).all()
                continue
            members = gate[labels == k]
            np.testing.assert_allclose(s.mean[k], members.mean(axis=0), rtol=0, atol=1e-6)
            np.testing.assert_allclose(s.std[k], members.std(axis=0, ddof=0), rtol=0, atol=1e-5)
    # The gates really differ between classes (otherwise the comparison above would prove little).
    last = expected[stats[-1].block]
    assert np.abs(last[labels == 1].mean(axis=0) - last[labels == 7].mean(axis=0)).max() > 0.05


def test_models_without_channel_gates_give_no_statistics() -> None:
    inputs, labels = labelled_batch()
    for variant in ("none", "sse"):
        assert excitation_statistics(zoo.load_model("fashion", variant), inputs, labels, num_classes=10) == []


def test_labels_must_fit() -> None:
    model = zoo.load_model("fashion", "cse")
    inputs, labels = labelled_batch()
    with pytest.raises(ValueError, match="labels"):
        excitation_statistics(model, inputs, labels[:-1], num_classes=10)
    with pytest.raises(ValueError, match="0..9"):
        excitation_statistics(model, inputs, np.full(len(labels), 10), num_classes=10)


def test_shipped_statistics_cover_the_whole_test_set_for_every_block() -> None:
    by_variant, class_names = load_statistics(zoo.family("fashion").folder / "excitation.npz")
    assert class_names == zoo.family("fashion").class_names
    assert sorted(by_variant) == ["cse", "scse"]
    recipe = zoo.load_card("fashion")["recipe"]
    channels = [w for w in recipe["widths"] for _ in range(recipe["blocks_per_stage"])]
    for stats in by_variant.values():
        assert [s.mean.shape for s in stats] == [(10, c) for c in channels]
        for s in stats:
            np.testing.assert_array_equal(s.count, [1000] * 10)  # Fashion-MNIST's test set: 1,000 per class
            assert np.all((s.mean > 0) & (s.mean < 1)) and np.all(s.std >= 0)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["cse", "scse"])
def test_shipped_statistics_of_one_class_are_recomputed_from_the_shipped_weights(variant) -> None:
    """excitation.npz's rows for one class (Bag: its 1,000 test images), recomputed here: the test images through the
    preprocessing training and evaluation use, the shipped weights, our own hooks on the cSE sigmoids, then numpy's
    mean and population standard deviation."""
    from scse_viz.preprocess import fashion_tensor, preprocess_fashion_images
    from tests.fashion_data import fashion_test_set

    bag = zoo.family("fashion").class_names.index("Bag")
    images, labels = fashion_test_set()
    inputs = fashion_tensor(preprocess_fashion_images(images[labels == bag]))
    assert len(inputs) == 1000
    gates = gates_by_hand(zoo.load_model("fashion", variant), inputs)
    shipped = load_statistics(zoo.family("fashion").folder / "excitation.npz")[0][variant]
    assert [s.block for s in shipped] == list(gates)
    for s in shipped:
        gate = gates[s.block].astype(np.float64)
        np.testing.assert_allclose(s.mean[bag], gate.mean(axis=0), rtol=0, atol=1e-6, err_msg=s.block)
        np.testing.assert_allclose(s.std[bag], gate.std(axis=0), rtol=0, atol=1e-5, err_msg=s.block)
    # the class's own rows, not any class's: another class's mean differs by far more than the tolerance
    other = shipped[-1].mean[labels[labels != bag][0]]
    assert np.abs(other - gates[shipped[-1].block].mean(axis=0)).max() > 0.01
