"""Shipped samples: what each file is (checked against the data it claims to come from), that the app reads it like an
upload, that the generator reproduces it, and the reader's guards."""

from __future__ import annotations

import gzip
import io
import json
import re

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from scse_viz import samples as samples_module
from scse_viz import zoo
from scse_viz.datasets.brain import brain_slice, slab_of, split_indices, template_volumes
from scse_viz.io import LoadedImage, Volume, load_any
from scse_viz.preprocess import fashion_preprocess
from scse_viz.samples import list_samples, sample_bytes, sample_truth_mask
from scse_viz.train import samples as generator
from tests.fashion_data import fashion_test_set

BRAIN_NAME = re.compile(r"mni152-(sagittal|coronal|axial)-(\d{3})")


def _pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def _border(image: np.ndarray) -> np.ndarray:
    return np.concatenate([image[[0, -1]].ravel(), image[1:-1, [0, -1]].ravel()])


def _index(family: str) -> dict:
    return json.loads((samples_module.samples_folder(family) / "index.json").read_text())


def test_brain_slices_are_test_slices_shown_as_the_app_shows_them() -> None:
    images = [s for s in list_samples("brain") if s.kind == "image"]
    assert len(images) == 6
    seen: dict[str, set[int]] = {}
    for sample in images:
        orientation, index = BRAIN_NAME.fullmatch(sample.name).groups()
        index = int(index)
        assert index in split_indices(orientation, "test"), f"{sample.name} is not a held-out test slice"
        seen.setdefault(orientation, set()).add(slab_of(orientation)[index])
        truth = brain_slice(orientation, index)
        np.testing.assert_array_equal(_pixels(sample.path), np.round(truth.pixels * 255).astype(np.uint8))
        mask = sample_truth_mask(sample)
        assert mask.dtype == np.uint8 and mask.shape == truth.pixels.shape
        np.testing.assert_array_equal(mask, truth.labels)
        assert set(np.unique(mask)) == {0, 1, 2, 3}
        # The slab's fullest slice: "plenty of brain".
        slab = slab_of(orientation)[index]
        counts = {
            i: np.count_nonzero(brain_slice(orientation, i).labels)
            for i in split_indices(orientation, "test")
            if slab_of(orientation)[i] == slab
        }
        assert np.count_nonzero(mask) == max(counts.values())
        loaded = load_any(sample_bytes(sample), sample.path.name)
        assert isinstance(loaded, LoadedImage) and loaded.pixels.shape == truth.pixels.shape
        assert np.abs(loaded.pixels - truth.pixels).max() <= 0.5 / 255 + 1e-6  # only the 8-bit rounding
    assert seen == {"sagittal": {2, 9}, "coronal": {2, 9}, "axial": {2, 9}}  # two per orientation, one per slab


def test_brain_volume_is_the_template_averaged_over_2mm_blocks_in_world_space() -> None:
    (sample,) = [s for s in list_samples("brain") if s.kind == "volume"]
    raw = sample_bytes(sample)
    assert len(raw) < 1_000_000 and sample_truth_mask(sample) is None
    volume = load_any(raw, sample.path.name)
    assert isinstance(volume, Volume) and volume.zooms == (2.0, 2.0, 2.0)
    stored = nib.Nifti1Image.from_bytes(gzip.decompress(raw))  # the file itself, not the app's float32 copy
    assert stored.get_data_dtype() == np.uint8 and nib.aff2axcodes(stored.affine) == ("R", "A", "S")

    # Every voxel centre, mapped through both affines into the 1 mm template, sits between 2×2×2 template voxels
    # whose mean is the stored value (±0.5 for rounding). A flipped or shifted axis would break this.
    template = template_volumes()[0]
    to_template = np.linalg.inv(template.affine) @ volume.affine
    np.testing.assert_allclose(to_template[:3, :3], 2 * np.eye(3), atol=1e-9)
    first = to_template[:3, 3] - 0.5  # template index of each block's first voxel, for sample voxel 0
    np.testing.assert_allclose(first, np.round(first), atol=1e-9)
    starts = [int(round(f)) + 2 * np.arange(n) for f, n in zip(first, volume.shape)]
    block_sum = sum(
        template.data[np.ix_(starts[0] + a, starts[1] + b, starts[2] + c)].astype(np.float64)
        for a in (0, 1)
        for b in (0, 1)
        for c in (0, 1)
    )
    assert np.abs(volume.data - block_sum / 8).max() <= 0.5 + 1e-6
    covered = tuple(slice(s[0], s[-1] + 2) for s in starts)
    assert np.count_nonzero(template.data[covered]) == np.count_nonzero(template.data)  # the whole brain is in it


def test_fashion_dataset_samples_are_official_test_images_with_their_labels() -> None:
    images, labels = fashion_test_set()
    by_name = {entry["name"]: entry for entry in _index("fashion")["samples"]}
    dataset = [s for s in list_samples("fashion") if s.path.suffix == ".png"]
    assert sorted(s.label for s in dataset) == sorted(list(range(10)) * 2)
    for sample in dataset:
        source = by_name[sample.name]["source_index"]
        assert labels[source] == sample.label
        np.testing.assert_array_equal(_pixels(sample.path), images[source])
        assert sample_truth_mask(sample) is None
        assert isinstance(load_any(sample_bytes(sample), sample.path.name), LoadedImage)


def test_photo_like_samples_are_synthetic_light_background_photos_the_model_still_reads() -> None:
    images, labels = fashion_test_set()
    by_name = {entry["name"]: entry for entry in _index("fashion")["samples"]}
    photos = [s for s in list_samples("fashion") if "photo" in s.name]
    assert 2 <= len(photos) <= 3
    model = zoo.load_model("fashion", "scse")
    for sample in photos:
        assert "SYNTHETIC" in sample.description
        source = by_name[sample.name]["source_index"]
        assert labels[source] == sample.label
        loaded = load_any(sample_bytes(sample), sample.path.name)
        assert loaded.pixels.ndim == 3 and min(loaded.pixels.shape[:2]) >= 150  # RGB, photo-sized
        assert np.median(_border(loaded.to_gray())) > 0.7  # a light background: the preprocessing has to invert it
        prepared = zoo.family("fashion").prepare(loaded.pixels)
        assert np.median(_border(prepared.pixels)) < 0.05  # black, like the dataset (the garment may touch an edge)
        reference = fashion_preprocess(images[source])
        assert np.corrcoef(prepared.pixels.ravel(), reference.ravel())[0, 1] > 0.9
        with torch.no_grad():
            assert int(model(prepared.tensor).argmax()) == sample.label


def test_generator_reproduces_the_shipped_samples(tmp_path) -> None:
    assert generator.main(["--out", str(tmp_path), "--card-assets", str(tmp_path)]) == 0
    for family in ("brain", "fashion"):
        shipped = samples_module.samples_folder(family)
        made = tmp_path / family
        assert sorted(p.name for p in made.iterdir()) == sorted(p.name for p in shipped.iterdir())
        assert json.loads((made / "index.json").read_text()) == json.loads((shipped / "index.json").read_text())
        for path in made.iterdir():
            if path.suffix == ".png":
                np.testing.assert_array_equal(_pixels(path), _pixels(shipped / path.name))
            elif path.suffix == ".jpg":  # another libjpeg may round differently
                difference = _pixels(path).astype(int) - _pixels(shipped / path.name).astype(int)
                assert np.abs(difference).mean() < 1.0
            elif path.name.endswith(".nii.gz"):
                a, b = (load_any(p.read_bytes(), p.name) for p in (path, shipped / path.name))
                np.testing.assert_array_equal(a.data, b.data)
                np.testing.assert_array_equal(a.affine, b.affine)
    figure = (tmp_path / "preprocessing.png").read_bytes()
    assert figure.startswith(b"\x89PNG") and Image.open(io.BytesIO(figure)).size[0] >= 400


def test_fashion_card_links_the_preprocessing_picture_that_exists() -> None:
    folder = zoo.family("fashion").folder
    assert "(preprocessing.png)" in (folder / "card.md").read_text()
    with Image.open(folder / "preprocessing.png") as picture:
        assert picture.format == "PNG" and picture.size[0] >= 400


def test_samples_stay_small() -> None:
    root = samples_module.samples_folder("brain").parent
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 2_000_000


def test_reader_guards(tmp_path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown model family"):
        samples_module.samples_folder("cats")
    assert list_samples("yours-0123abcd") == []  # a brought model's family ships no samples
    monkeypatch.setattr(samples_module, "ASSETS", tmp_path)
    assert list_samples("brain") == []  # nothing shipped: an empty list, not an error
    folder = tmp_path / "samples" / "brain"
    folder.mkdir(parents=True)
    entry = {"name": "x", "title": "x", "file": "../../secret.png", "kind": "image", "mask": None, "label": None}
    (folder / "index.json").write_text(json.dumps({"samples": [entry]}))
    with pytest.raises(ValueError, match="outside"):
        list_samples("brain")
    (folder / "index.json").write_text(json.dumps({"samples": [{**entry, "file": "a.png", "kind": "video"}]}))
    with pytest.raises(ValueError, match="unknown kind"):
        list_samples("brain")
    Image.fromarray(np.zeros((9, 7), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(folder / "m.png")
    (folder / "index.json").write_text(json.dumps({"samples": [{**entry, "file": "a.png", "mask": "m.png"}]}))
    (sample,) = list_samples("brain")
    with pytest.raises(ValueError, match="pixels"):
        sample_truth_mask(sample)
