"""The cards' headline numbers are what the evaluation command measures now, for the scSE model of each family.

The whole test sets are used (80 brain slices, 10,000 Fashion-MNIST images), so the comparison is with the very number
on the card, within the evaluation command's tolerance. The Fashion-MNIST test set must be installed
(`apt-get install dataset-fashion-mnist`); without it the test fails and says so.
"""

from __future__ import annotations

import pytest

from scse_viz import zoo
from scse_viz.data.brain import load_brain_slices
from scse_viz.evaluate import REPRODUCE_TOLERANCE, measure_brain, measure_fashion_test
from tests.fashion_data import fashion_test_set

pytestmark = pytest.mark.slow


def test_brain_scse_card_dice_is_reproduced() -> None:
    shipped = zoo.load_card("brain")["variants"]["scse"]["shipped"]
    report = measure_brain(zoo.load_model("brain", "scse"), load_brain_slices("test"))
    assert report["count"] == 80  # the card's "test set (80 slices)"
    tolerance = REPRODUCE_TOLERANCE["brain"]
    assert report["mean_dice"] == pytest.approx(shipped["metric"], abs=tolerance)
    for name, dice in report["dice"].items():
        assert dice == pytest.approx(shipped["per_class"][name], abs=tolerance), name


def test_fashion_scse_card_accuracy_is_reproduced() -> None:
    images, _ = fashion_test_set()  # fails with the install command when the dataset is missing
    assert len(images) == 10_000
    shipped = zoo.load_card("fashion")["variants"]["scse"]["shipped"]
    report = measure_fashion_test(zoo.load_model("fashion", "scse"))
    assert report["count"] == 10_000 and report["per_class_count"] == [1000] * 10
    assert report["accuracy"] == pytest.approx(shipped["metric"], abs=REPRODUCE_TOLERANCE["fashion"])
    # Per class 1,000 images: the same tolerance in images (2 of 1,000 per class would be 0.002 · 10).
    for measured, card in zip(report["per_class_accuracy"], shipped["per_class"].values()):
        assert measured == pytest.approx(card, abs=10 * REPRODUCE_TOLERANCE["fashion"])
