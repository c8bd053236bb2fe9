"""The synthetic-head generator: brain labels survive, head tissue stays outside the brain, image and labels stay
aligned through the deformations, and the random contrast really inverts the tissue order some of the time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchvision import tv_tensors

import scse_viz  # noqa: F401  (first: makes torchvision importable on CPU-only torch)
from scse_viz.data import synthhead as sh
from scse_viz.datasets.brain import BRAIN_CLASSES, brain_slice, labels_from_probabilities, split_indices
from scse_viz.evaluate import measure_heads
from scse_viz.train.brain import SyntheticHeads, model_inputs
from scse_viz.train.config import BrainConfig


@pytest.fixture(scope="module")
def slices():
    """One training slice per orientation, from the middle of the brain."""
    chosen = []
    for orientation in ("sagittal", "coronal", "axial"):
        indices = split_indices(orientation, "train")
        chosen.append(brain_slice(orientation, indices[len(indices) // 2]))
    return chosen


@pytest.mark.parametrize("seed", range(4))
def test_head_tissue_is_only_drawn_outside_the_brain(slices, seed):
    for item in slices:
        canvas = sh.head_canvas(item.probabilities, item.orientation)
        brain_labels = labels_from_probabilities(canvas)
        tissues = sh.add_head(brain_labels, item.orientation, np.random.default_rng(seed), 1.0)
        brain = brain_labels > 0
        assert np.array_equal(tissues[brain], brain_labels[brain])  # every brain pixel keeps its class
        assert not np.any(tissues[~brain] == sh.CSF) and not np.any(np.isin(tissues[~brain], sh.BRAIN))
        head = tissues >= sh.FIRST_HEAD
        assert head.sum() > 0.2 * brain.sum()  # a real head was drawn around it
        assert not np.any(head & brain)
        # the skull is never in contact with the brain: a CSF rim (at least one pixel) lies between
        grown = np.zeros_like(brain)
        grown[1:-1, 1:-1] = brain[:-2, 1:-1] | brain[2:, 1:-1] | brain[1:-1, :-2] | brain[1:-1, 2:]
        touching = grown & ~brain
        assert set(np.unique(tissues[touching])) <= {sh.RIM}


def test_training_labels_make_every_head_tissue_but_the_csf_rim_background():
    tissues = np.arange(len(sh.TISSUES), dtype=np.uint8).reshape(1, -1)
    assert sh.training_labels(tissues).tolist() == [[0, 1, 2, 3, 1] + [0] * (len(sh.TISSUES) - 5)]  # the rim: CSF


def test_deformations_move_labels_and_intensities_together(slices):
    """Through the training sample's joint warp (flip, affine, elastic), a one-hot image of the tissues and the
    tissue mask stay on the same pixels, and the mask gets no label it did not have."""
    config = BrainConfig(variant="none", elastic_probability=1.0, hflip=1.0)
    images, labels = model_inputs(slices, config.size)
    dataset = SyntheticHeads(slices, images, labels, config)
    torch.manual_seed(3)
    for index in range(len(slices)):
        canvas = dataset.canvases[index]
        tissues = sh.add_head(
            labels_from_probabilities(canvas),
            slices[index].orientation,
            np.random.default_rng(index),
            dataset.mm_per_px[index],
        )
        one_hot = np.eye(len(sh.TISSUES), dtype=np.float32)[tissues].transpose(2, 0, 1)
        warped, mask = dataset.geometric(
            tv_tensors.Image(torch.from_numpy(one_hot)), tv_tensors.Mask(torch.from_numpy(tissues))
        )
        warped, mask = warped.numpy(), mask.numpy()
        assert set(np.unique(mask)) <= set(np.unique(tissues))
        assert not np.array_equal(mask, tissues)  # it did move
        # away from label borders (3×3 neighbourhood of one label) the bilinear one-hot peaks at the mask's label
        same = np.ones(mask.shape, dtype=bool)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                same[1:-1, 1:-1] &= (
                    mask[1:-1, 1:-1] == mask[1 + dr : mask.shape[0] - 1 + dr, 1 + dc : mask.shape[1] - 1 + dc]
                )
        same[[0, -1], :] = same[:, [0, -1]] = False
        interior = same & (warped.sum(axis=0) > 0.99)  # inside the picture (not the affine's empty fill)
        assert interior.mean() > 0.5
        agree = np.argmax(warped, axis=0)[interior] == mask[interior]
        assert agree.mean() > 0.995


def test_rendering_puts_each_tissue_mean_on_its_pixels(slices):
    item = slices[1]
    canvas = sh.head_canvas(item.probabilities, item.orientation)
    rng = np.random.default_rng(0)
    tissues = sh.add_head(labels_from_probabilities(canvas), item.orientation, rng, 1.0)
    means = np.linspace(0.05, 0.95, len(sh.TISSUES)).astype(np.float32)
    image = sh.render(tissues, canvas, means, np.zeros_like(means), rng, corrupt=False)
    for tissue in range(sh.FIRST_HEAD, len(sh.TISSUES)):
        if np.any(tissues == tissue):
            assert np.allclose(image[tissues == tissue], means[tissue], atol=1e-6)
    pure_wm = (tissues == sh.WM) & (canvas[3] > 0.999)
    assert np.allclose(image[pure_wm], means[sh.WM], atol=1e-3)


def test_random_contrast_inverts_the_tissue_order_sometimes():
    rng = np.random.default_rng(1)
    draws = [sh.draw_intensities(rng, "random")[0] for _ in range(400)]
    csf_brighter = np.mean([m[sh.CSF] > m[sh.WM] for m in draws])
    assert 0.35 < csf_brighter < 0.65
    for _ in range(100):
        t1, t2 = sh.draw_intensities(rng, "t1")[0], sh.draw_intensities(rng, "t2")[0]
        assert t1[sh.WM] > t1[sh.GM] > t1[sh.CSF] and t1[sh.FAT] > t1[sh.SKULL]
        assert t2[sh.CSF] > t2[sh.GM] > t2[sh.WM] and t2[sh.EYE] > t2[sh.SKULL]


def test_training_samples_show_both_tissue_orders(slices):
    """Measured on the samples the model trains on: CSF is brighter than WM in some, darker in others."""
    config = BrainConfig(variant="none", synthetic_share=1.0)
    images, labels = model_inputs(slices, config.size)
    dataset = SyntheticHeads(slices, images, labels, config)
    torch.manual_seed(0)
    orders = []
    for k in range(30):
        image, target, head_drawn = dataset[k % len(dataset)]
        assert bool(head_drawn)  # synthetic_share 1: every sample has a drawn head
        image, target = image[0].numpy(), target.numpy()
        assert image.shape == target.shape == (config.size, config.size)
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert set(np.unique(target)) <= {0, 1, 2, 3}
        orders.append(image[target == 1].mean() > image[target == 3].mean())
    assert 0.2 < np.mean(orders) < 0.8


def test_test_heads_are_reproducible_and_in_their_contrast():
    first = sh.test_heads("t1")
    sh.test_heads.cache_clear()
    again = sh.test_heads("t1")
    assert len(first) == len(again) > 50
    assert all(np.array_equal(a.image, b.image) and np.array_equal(a.tissues, b.tissues) for a, b in zip(first, again))
    for contrast, brighter, darker in (("t1", 3, 1), ("t2", 1, 3)):
        heads = sh.test_heads(contrast)
        wins = [h.image[h.labels == brighter].mean() > h.image[h.labels == darker].mean() for h in heads]
        assert np.mean(wins) > 0.95
        assert np.mean([h.head.mean() for h in heads]) > 0.1


class _Constant(nn.Module):
    """Every pixel gets the same class: a model whose non-brain share is known without running anything clever."""

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label
        self.anchor = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], len(BRAIN_CLASSES), *x.shape[2:]) + self.anchor
        logits[:, self.label] = 10.0
        return logits


def test_non_brain_share_counts_head_pixels_labelled_as_tissue():
    heads = sh.test_heads("t2")[:6]
    assert measure_heads(_Constant(0), heads)["non_brain_share"] == 0.0
    everything_wm = measure_heads(_Constant(3), heads)
    assert everything_wm["non_brain_share"] == 1.0
    wm = np.sum([(h.labels == 3).sum() for h in heads])
    total = np.sum([h.labels.size for h in heads])
    assert everything_wm["dice"]["WM"] == pytest.approx(2 * wm / (wm + total), rel=1e-6)


def test_the_templates_own_slices_are_marked_headless(slices):
    """With no synthetic heads every sample is the template's own skull-stripped slice, marked False, so that
    ``head_weight_on_template=False`` leaves its pixels unweighted; with all synthetic, every sample is marked True."""
    for share, expected in ((0.0, False), (1.0, True)):
        config = BrainConfig(variant="none", synthetic_share=share)
        images, labels = model_inputs(slices, config.size)
        dataset = SyntheticHeads(slices, images, labels, config)
        torch.manual_seed(0)
        assert {bool(dataset[k % len(dataset)][2]) for k in range(6)} == {expected}
