"""``python -m scse_viz.batch``: gate statistics against a hand computation on planted gates, the rows of a real
run against capture, resuming skips finished files, volumes give a row set per slice, and the manifest's hashes
are the weight files' own."""

from __future__ import annotations

import hashlib
import io
import json
import math

import nibabel as nib
import numpy as np
import pytest
import torch
from torch import nn

import scse_viz  # noqa: F401
from scse_viz import capture_attention, zoo
from scse_viz.batch import block_rows, gate_statistics, main, read_table
from scse_viz.blocks import SCSE

from .app_helpers import png_bytes


def test_statistics_equal_a_hand_computation():
    values = np.array([0.01, 0.5, 0.99, 0.96])
    stats = gate_statistics(values)
    assert stats["mean"] == pytest.approx(0.615)
    assert stats["std"] == pytest.approx(math.sqrt(sum((v - 0.615) ** 2 for v in values) / 4))
    assert (stats["min"], stats["max"]) == (0.01, 0.99)
    assert stats["share_below_0.05"] == 0.25 and stats["share_above_0.95"] == 0.5

    def bits(g: float) -> float:
        return -(g * math.log2(g) + (1 - g) * math.log2(1 - g))

    assert stats["entropy_bits"] == pytest.approx(sum(bits(v) for v in values) / 4)
    assert gate_statistics(None) == dict.fromkeys(stats)


class Planted(nn.Module):
    """One scSE block whose gates are constants: w = σ(1.5) for every channel, q = σ(−3) at every pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.block = SCSE(8, reduction=2)
        with torch.no_grad():
            for p in self.block.parameters():
                p.zero_()
            self.block.cSE[3].bias.fill_(1.5)
            self.block.sSE[0].bias.fill_(-3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def test_rows_of_planted_gates_are_the_constants():
    result = capture_attention(Planted(), torch.randn(1, 8, 6, 5))
    (row,) = block_rows("x.png", "scse", result.records, label="Bag")
    w, q = 1 / (1 + math.exp(-1.5)), 1 / (1 + math.exp(3.0))
    assert row["w_mean"] == pytest.approx(w) and row["w_std"] == pytest.approx(0, abs=1e-7)
    assert row["q_mean"] == pytest.approx(q) and row["q_share_below_0.05"] == 1.0
    assert (row["image"], row["label"], row["channels"]) == ("x.png", "Bag", 8)


def folder(tmp_path, names):
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    rng = np.random.default_rng(len(names))
    for name in names:
        (images / name).write_bytes(png_bytes(rng.random((40, 48))))
    return images


def test_a_folder_run_matches_capture_and_resumes_where_it_stopped(tmp_path):
    images, out = folder(tmp_path, ["a.png", "b.png", "c.png"]), tmp_path / "out"
    (images / "notes.txt").write_text("not an image")
    assert (
        main([str(images), "--family", "brain", "--variant", "sse", "--out", str(out), "--workers", "0", "--quiet"])
        == 0
    )
    table = read_table(out).to_pylist()
    assert sorted({r["image"] for r in table}) == ["a.png", "b.png", "c.png"]
    family = zoo.family("brain")
    from scse_viz.io import load_any

    x = family.prepare(load_any((images / "b.png").read_bytes(), "b.png").pixels).tensor
    from scse_viz.parallel import torch_call

    # the reference is captured where the batch run captures (the app's one-thread torch pool): on two threads the
    # convolutions sum in another order and q moves by an ulp or two
    model = zoo.load_model("brain", "sse")
    records = {r.label: r for r in torch_call(lambda: capture_attention(model, x)).records}
    for row in (r for r in table if r["image"] == "b.png"):
        q = records[row["block"]].spatial_gate[0]
        assert row["q_mean"] == pytest.approx(float(q.mean()), abs=1e-7)
        assert row["q_max"] == pytest.approx(float(q.max()), abs=1e-7) and row["w_mean"] is None
    first = json.loads((out / "manifest.json").read_text())
    assert first["counts"]["failed"][0]["image"] == "notes.txt"
    weights = family.weights_path("sse").read_bytes()
    assert first["models"]["sse"]["sha256"] == hashlib.sha256(weights).hexdigest()

    folder(tmp_path, ["a.png", "b.png", "c.png", "d.png"])  # one more file (a-c are rewritten but done)
    (images / "notes.txt").unlink()
    main([str(images), "--family", "brain", "--variant", "sse", "--out", str(out), "--workers", "0", "--quiet"])
    second = json.loads((out / "manifest.json").read_text())
    assert second["counts"]["images"] == 1 and second["counts"]["skipped_as_done"] == 3
    rows = read_table(out).to_pylist()
    assert sorted({r["image"] for r in rows}) == ["a.png", "b.png", "c.png", "d.png"]
    assert len(rows) == 4 * len([r for r in table if r["image"] == "a.png"])  # no image twice


def test_a_volume_gives_the_rows_of_every_slice(tmp_path):
    path = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(np.random.default_rng(0).random((30, 32, 5)).astype(np.float32), np.eye(4)), path)
    out = tmp_path / "out"
    main(
        [str(path), "--family", "brain", "--variant", "cse", "--out", str(out), "--axis", "axial", "--maps", "--quiet"]
    )
    rows = read_table(out).to_pylist()
    assert sorted({r["image"] for r in rows}) == [f"scan.nii.gz#axial:{i:04d}" for i in range(5)]
    assert all(r["q_mean"] is None and 0 < r["w_mean"] < 1 for r in rows)
    assert not (out / "maps").exists()  # a cSE model has no sSE map to write


def test_the_photo_test_set_runs_with_the_family_noise(tmp_path):
    out = tmp_path / "out"
    main(["test", "--family", "photo", "--variant", "scse", "--out", str(out), "--quiet", "--maps"])
    rows = read_table(out).to_pylist()
    assert len({r["image"] for r in rows}) == 5 and all(r["q_mean"] is not None for r in rows)
    with np.load(io.BytesIO((out / "maps" / "chelsea.npz").read_bytes())) as maps:
        assert maps["scse/unet.encoders.0.attention"].shape == (300, 451)


def test_faithfulness_columns_are_filled_for_the_blocks_that_have_each_gate(tmp_path):
    images, out = folder(tmp_path, ["a.png"]), tmp_path / "out"
    main(
        [
            str(images),
            "--family",
            "fashion",
            "--variant",
            "scse",
            "--out",
            str(out),
            "--workers",
            "0",
            "--quiet",
            "--faithfulness",
        ]
    )
    rows = read_table(out).to_pylist()
    # normalised curves may leave [0, 1] (a logit can fall below the baseline's): finite, and ρ a correlation
    assert rows and all(np.isfinite(r["sse_deletion_auc"]) and -1 <= r["channel_rho"] <= 1 for r in rows)
    assert all(r["ig_deletion_auc"] == rows[0]["ig_deletion_auc"] for r in rows)  # one IG order per model
    assert all(r["top_k_drop"] is not None and r["k"] == 3 for r in rows)
    for row in rows:  # each stored curve is the one its area was taken of (trapezoids over 0, 5, …, 100 %)
        for name in ("sse", "random", "ig"):
            for curve in ("deletion", "insertion"):
                values = np.asarray(row[f"{name}_{curve}_curve"])
                assert len(values) == 21 and values[0 if curve == "insertion" else -1] == pytest.approx(0, abs=1e-6)
                area = float(np.sum((values[1:] + values[:-1]) / 2) / 20)
                assert row[f"{name}_{curve}_auc"] == pytest.approx(area, abs=1e-9)


def test_a_brought_model_runs_as_the_app_reads_it(tmp_path):
    """``--model`` with the shipped brain sSE weights named as ``scse_viz:brain``: the rows are that model's gates,
    computed independently here through capture, and the manifest names the file and its hash."""
    images, out = folder(tmp_path, ["a.png", "b.png"]), tmp_path / "out"
    weights = zoo.family("brain").weights_path("sse")
    assert (
        main(
            [
                str(images),
                "--model",
                str(weights),
                "--architecture",
                "scse_viz:brain",
                "--out",
                str(out),
                "--workers",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    table = read_table(out).to_pylist()
    assert {r["model"] for r in table} == {"model"} and sorted({r["image"] for r in table}) == ["a.png", "b.png"]
    from scse_viz.io import load_any

    x = zoo.family("brain").prepare(load_any((images / "a.png").read_bytes(), "a.png").pixels).tensor
    records = {r.label: r for r in capture_attention(zoo.load_model("brain", "sse"), x).records}
    rows = [r for r in table if r["image"] == "a.png"]
    assert len(rows) == len(records)
    for row in rows:
        assert row["q_mean"] == pytest.approx(float(records[row["block"]].spatial_gate[0].mean()), abs=1e-7)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["files"]["model"] == {
        "sse.safetensors": hashlib.sha256(weights.read_bytes()).hexdigest()
    }
    assert manifest["provenance"]["kind"] == "uploaded model"


def test_a_brought_model_that_cannot_be_read_is_one_message(tmp_path, capsys):
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"not safetensors")
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--model", str(bad), "--architecture", "timm:seresnet18", "--out", str(tmp_path / "o")])
    assert "not a readable safetensors" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "test",
                "--model",
                str(zoo.family("brain").weights_path("sse")),
                "--architecture",
                "scse_viz:brain",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert "shipped family's test set" in capsys.readouterr().err


def test_run_images_is_run_family_on_each_image_taken_one_at_a_time():
    """The batch's loop is the app's: each run equals ``run_family`` on that image alone, and the next image is not
    taken before the caller is done with the last run (one run in memory, whatever the batch's size)."""
    from scse_viz import explore

    family = zoo.family("fashion")
    models = {v: zoo.load_model("fashion", v) for v in ("none", "scse")}
    rng = np.random.default_rng(3)
    pictures = [rng.random((28, 28)).astype(np.float32) for _ in range(3)]
    taken = []

    def images():
        for i, pixels in enumerate(pictures):
            taken.append(i)
            yield explore.InputImage(f"{i}.png", pixels, f"k{i}", pixels.shape)

    runs = explore.run_images(family, models, images())
    for i, run in enumerate(runs):
        assert taken == list(range(i + 1))  # only the images up to this one were asked for
        alone = explore.run_family(family, models, explore.InputImage(f"{i}.png", pictures[i], f"k{i}", (28, 28)))
        assert list(run.outputs) == list(alone.outputs) == ["none", "scse"]
        for variant in run.outputs:
            np.testing.assert_array_equal(
                run.outputs[variant].prediction.probabilities, alone.outputs[variant].prediction.probabilities
            )
    assert taken == [0, 1, 2]


def test_the_library_raises_typed_errors_and_only_main_exits(tmp_path, capsys):
    """A 2-D image given as a volume and a test set a brought family cannot have are typed errors from the library
    at once (not on first use); the command turns the first into its one message."""
    from scse_viz import batch
    from scse_viz.bring import load_user_model
    from scse_viz.errors import ScseVizError

    image = tmp_path / "flat.png"
    image.write_bytes(png_bytes(np.random.default_rng(0).random((20, 24))))
    with pytest.raises(batch.NotAVolumeError, match="not a volume") as raised:
        batch.volume_items(image, "axial", 512, set())
    assert isinstance(raised.value, ScseVizError)
    brought = load_user_model(
        {"sse.safetensors": zoo.family("brain").weights_path("sse").read_bytes()}, "scse_viz:brain"
    )
    with pytest.raises(batch.NoTestSetError, match="has no test set"):
        batch.test_items(brought, None, set())
    with pytest.raises(SystemExit) as exited:
        main([str(image), "--family", "brain", "--variant", "sse", "--out", str(tmp_path / "o"), "--quiet"])
    assert "not a volume" in str(exited.value)
