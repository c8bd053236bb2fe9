"""The Fashion-MNIST test set for tests that need it: a clear failure (not a skip) when it is not installed."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from scse_viz.datasets.fashion import DatasetMissingError, load_fashion


@cache
def _test_set() -> tuple[np.ndarray, np.ndarray]:
    return load_fashion("test")


def fashion_test_set() -> tuple[np.ndarray, np.ndarray]:
    """Official test images (uint8 N×28×28) and labels; fails the test with the install command when missing."""
    try:
        return _test_set()
    except DatasetMissingError as error:
        pytest.fail(
            "These tests need the Fashion-MNIST test set: install it with `apt-get install dataset-fashion-mnist` "
            f"(the test command in the README does). {error}",
            pytrace=False,
        )
