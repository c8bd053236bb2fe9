"""``python -m scse_viz.evaluate`` fails when a number on the card is wrong, and passes on the shipped card.

The command's ``main`` is run on the smallest family (fashion, one variant: 10,000 test images through a 178k-parameter
network), against a copy of the card in a temporary folder (``--card``). The reference check (methods without
training, photo) is shown to fail on a planted number, and the card's noisy-input reference PSNR is recomputed here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from scse_viz import zoo
from scse_viz.evaluate import _check_references, main
from tests.fashion_data import fashion_test_set


@pytest.mark.slow
def test_a_planted_headline_number_makes_the_command_exit_1_and_the_shipped_card_passes(tmp_path: Path, capsys) -> None:
    """``main`` returns the command's exit status (``sys.exit(main())``); in-process, since importing torch again in a
    subprocess takes longer than the measurement on a busy 2-core machine."""
    fashion_test_set()  # fails with the install command when the dataset is missing
    card = zoo.load_card("fashion")
    planted = copy.deepcopy(card)
    # 4 test images more than measured: one more than the tolerance (3 of 10,000) allows
    planted["variants"]["scse"]["shipped"]["metric"] += 4 / 10_000
    (tmp_path / "planted.json").write_text(json.dumps(planted))
    assert main(["fashion", "--variant", "scse", "--card", str(tmp_path / "planted.json")]) == 1
    printed = capsys.readouterr().out
    assert "MISMATCH" in printed and "difference -0.0004" in printed
    # the same card unchanged, copied to the temporary folder: exit status 0
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert main(["fashion", "--variant", "scse", "--card", str(tmp_path / "card.json")]) == 0


def test_weights_without_a_variant_are_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["fashion", "--weights", "x.safetensors"])
    assert exit_status.value.code == 2 and "--weights needs one --variant" in capsys.readouterr().err


def test_the_reference_check_counts_a_planted_number_and_ignores_timings() -> None:
    on_card = zoo.load_card("photo")["references"]
    tolerance = 0.01
    assert _check_references(on_card, on_card, tolerance) == 0
    measured = copy.deepcopy(on_card)
    for values in measured.values():
        values["seconds per image"] *= 3  # timings are not held to the card
    assert _check_references(measured, on_card, tolerance) == 0
    measured["BM3D"]["PSNR σ=25"] += 2 * tolerance
    measured["non-local means"]["SSIM varying"] -= 2 * tolerance
    assert _check_references(measured, on_card, tolerance) == 2
    measured["BM3D"]["PSNR σ=25"] = on_card["BM3D"]["PSNR σ=25"] + 0.9 * tolerance  # within: not counted
    assert _check_references(measured, on_card, tolerance) == 1


def test_the_cards_noisy_input_reference_is_the_psnr_of_the_test_inputs() -> None:
    """The photo card's "noisy input" row, recomputed: 10·log10(1 / MSE) between each clipped noisy test crop and its
    clean crop, averaged over the test photos per condition."""
    from scse_viz.train.photo import test_inputs

    on_card = zoo.load_card("photo")["references"]["noisy input"]
    by_condition: dict[str, list[float]] = {}
    for item in test_inputs():
        error = np.mean((item["noisy"].astype(np.float64) - item["clean"].astype(np.float64)) ** 2)
        by_condition.setdefault(item["condition"], []).append(10 * np.log10(1.0 / error))
    assert sorted(by_condition) == sorted(k.removeprefix("PSNR ") for k in on_card if k.startswith("PSNR"))
    for condition, values in by_condition.items():
        assert len(values) == (20 if condition == "varying" else 5)  # five photos (× four patterns of varying σ)
        assert np.mean(values) == pytest.approx(on_card[f"PSNR {condition}"], abs=1e-3), condition
    # σ = 15, 25, 50 of 255: about 20·log10(255 / σ) before clipping, so the rows really are different noise levels
    assert on_card["PSNR σ=15"] > on_card["PSNR σ=25"] + 3 > on_card["PSNR σ=50"] + 6
