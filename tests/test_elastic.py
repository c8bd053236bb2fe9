"""The brain recipe's elastic warp: the separable blur must give torchvision's own warp from the same random draws."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from scse_viz.train.elastic import SeparableElasticTransform, separable_gaussian_blur


@pytest.mark.parametrize("sigma", [4.0, (2.0, 5.0)])
def test_same_displacement_as_torchvision(sigma: float | tuple[float, float]) -> None:
    image = tv_tensors.Image(torch.rand(4, 96, 120))
    reference, separable = (
        v2.ElasticTransform(alpha=30.0, sigma=sigma),
        SeparableElasticTransform(alpha=30.0, sigma=sigma),
    )
    torch.manual_seed(3)
    expected = reference.make_params([image])["displacement"]
    after_reference = torch.rand(4)
    torch.manual_seed(3)
    got = separable.make_params([image])["displacement"]
    after_separable = torch.rand(4)
    assert got.shape == expected.shape == (1, 96, 120, 2)
    assert expected.abs().max() > 1e-3  # a real warp, not a zero field matching a zero field
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(after_separable, after_reference)  # same random numbers consumed, in the same order


def test_same_warp_of_image_and_mask() -> None:
    image = tv_tensors.Image(torch.rand(4, 80, 80))
    mask = tv_tensors.Mask(torch.randint(0, 12, (80, 80), dtype=torch.uint8))
    torch.manual_seed(0)
    expected_image, expected_mask = v2.ElasticTransform(alpha=30.0, sigma=4.0)(image, mask)
    torch.manual_seed(0)
    got_image, got_mask = SeparableElasticTransform(alpha=30.0, sigma=4.0)(image, mask)
    assert not torch.equal(expected_mask, mask)  # the warp moved labels
    torch.testing.assert_close(got_image, expected_image, rtol=0, atol=1e-4)
    assert (got_mask != expected_mask).float().mean() < 1e-3  # nearest labels agree but for rounding at a tie


def test_separable_blur_is_the_two_dimensional_blur_with_reflect_edges() -> None:
    field = torch.zeros(1, 2, 40, 50)
    field[0, 0, 0, 0] = 1.0  # an impulse in the corner: its blur is the kernel folded back by the reflection
    field[0, 1] = torch.rand(40, 50)
    expected = v2.functional.gaussian_blur(field, [9, 13], [1.5, 3.0])
    got = separable_gaussian_blur(field, [9, 13], [1.5, 3.0])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_a_double_precision_field_is_blurred_in_double_precision() -> None:
    field = torch.rand(1, 1, 30, 40, dtype=torch.float64)
    got = separable_gaussian_blur(field, [9, 9], [2.0, 2.0])
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, v2.functional.gaussian_blur(field, [9, 9], [2.0, 2.0]), rtol=0, atol=1e-12)
