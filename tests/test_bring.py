"""Bringing your own model: real third-party models built here with random weights, saved the way people save
them, read back safely, and run through the same flows as the shipped families.

Expected outputs are the plain forward pass of the original model object on a tensor the test prepares itself.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_bytes

import scse_viz  # noqa: F401  (torchvision shim before timm, torchvision and smp)
from scse_viz import explore, zoo
from scse_viz.bring import InputSpec, load_user_model
from scse_viz.errors import UserModelError
from scse_viz.io import LoadedImage
from scse_viz.views import view_for

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def _smp_unet(classes: int = 3, seed: int = 0):
    import segmentation_models_pytorch as smp

    torch.manual_seed(seed)
    return smp.Unet("resnet18", encoder_weights=None, decoder_attention_type="scse", classes=classes).eval()


def _saved_folder(model, tmp_path: Path) -> dict[str, bytes]:
    folder = tmp_path / "my_unet"
    model.save_pretrained(str(folder))
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "README.md"}


def _zipped(files: dict[str, bytes], folder: str = "my_unet") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def _image(pixels: np.ndarray) -> explore.InputImage:
    pixels = np.asarray(pixels, np.float32)
    return explore.input_from_image(LoadedImage(pixels, "photo.png", "RGB", 8, pixels.shape[:2]))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.random.default_rng(5).random((256, 256, 3)).astype(np.float32)  # square at 256: nothing resized


def test_an_smp_save_pretrained_zip_runs_as_the_model_itself(tmp_path, photo):
    model = _smp_unet()
    family = load_user_model({"my_unet.zip": _zipped(_saved_folder(model, tmp_path))})
    assert family.task.name == "segmentation" and family.class_names == ("background", "class 1", "class 2")
    assert family.variants == ("model",) and family.baseline is None
    run = explore.run_family(family, zoo.models_of(family), _image(photo))
    x = ((torch.from_numpy(photo).permute(2, 0, 1) - IMAGENET_MEAN) / IMAGENET_STD)[None]
    with torch.no_grad():
        expected = model(x).softmax(dim=1)[0].numpy()
    prediction = run.outputs["model"].prediction
    np.testing.assert_allclose(prediction.probabilities, expected, atol=1e-5)
    assert np.array_equal(prediction.mask, expected.argmax(axis=0))
    shown = run.outputs["model"].shown()
    decoder_blocks = [n for n, m in model.named_modules() if type(m).__name__ == "SCSEModule"]
    assert len(shown) == len(decoder_blocks) - 1  # smp never calls the first attention of its last decoder block
    assert all(r.spatial_gate is not None and r.channel_gate is not None for r in shown)
    assert [type(s).__name__ for s in view_for(family.task).outputs(run)] == ["Text", "Pictures", "Heading", "Table"]


def test_the_two_files_of_the_folder_work_as_well_as_the_zip(tmp_path):
    files = _saved_folder(_smp_unet(), tmp_path)
    assert sorted(files) == ["config.json", "model.safetensors"]
    family = load_user_model(files)
    assert family.provenance["models"]["model"]["architecture"].startswith("smp Unet (resnet18 encoder, scse")


def test_a_one_class_smp_model_is_a_binary_segmentation(tmp_path, photo):
    model = _smp_unet(classes=1)
    family = load_user_model(_saved_folder(model, tmp_path), class_names="background\nlesion")
    run = explore.run_family(family, zoo.models_of(family), _image(photo))
    x = ((torch.from_numpy(photo).permute(2, 0, 1) - IMAGENET_MEAN) / IMAGENET_STD)[None]
    with torch.no_grad():
        foreground = torch.sigmoid(model(x))[0, 0].numpy()
    prediction = run.outputs["model"].prediction
    np.testing.assert_allclose(prediction.probabilities[1], foreground, atol=1e-5)
    assert np.array_equal(prediction.mask, (foreground > 0.5).astype(np.uint8))
    assert family.task.attribution_target(1).single_logit


def test_a_timm_state_dict_saved_with_torch_save_reads_classes_from_the_weights():
    import timm

    torch.manual_seed(1)
    model = timm.create_model("seresnet18", pretrained=False, num_classes=5).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    family = load_user_model({"seresnet.pt": buffer.getvalue()}, "timm:seresnet18", class_names='["a","b","c","d","e"]')
    assert family.task.name == "classification" and family.class_names == ("a", "b", "c", "d", "e")
    pixels = np.random.default_rng(2).random((224, 224, 3)).astype(np.float32)
    run = explore.run_family(family, zoo.models_of(family), _image(pixels))
    x = ((torch.from_numpy(pixels).permute(2, 0, 1) - IMAGENET_MEAN) / IMAGENET_STD)[None]
    with torch.no_grad():
        expected = model(x).softmax(dim=1)[0].numpy()
    np.testing.assert_allclose(run.outputs["model"].prediction.probabilities, expected, atol=1e-5)


def test_a_torchvision_model_from_safetensors_with_a_baseline():
    import torchvision

    torch.manual_seed(2)
    model = torchvision.models.mobilenet_v3_small(weights=None, num_classes=4).eval()
    plain = torchvision.models.mobilenet_v3_small(weights=None, num_classes=4).eval()
    family = load_user_model(
        {"mnv3.safetensors": safetensors_bytes(model.state_dict())},
        "torchvision:mobilenet_v3_small",
        baseline={"plain.safetensors": safetensors_bytes(plain.state_dict())},
    )
    assert family.variants == ("baseline", "model") and family.baseline == "baseline"
    assert "resized to 224×224" in family.provenance["preprocessing"]
    run = explore.run_family(family, zoo.models_of(family), _image(np.random.default_rng(3).random((90, 120, 3))))
    assert run.reference == "baseline" and run.compared() == ["model"]


def test_our_own_architecture_uses_its_familys_preprocessing_and_task():
    weights = zoo.family("brain").weights_path("sse").read_bytes()
    family = load_user_model({"mine.safetensors": weights}, "scse_viz:brain")
    assert family.task.name == "segmentation" and family.class_names == zoo.family("brain").class_names
    pixels = np.random.default_rng(4).random((120, 100)).astype(np.float32)
    ours = explore.run_family(family, zoo.models_of(family), _image(pixels)).outputs["model"].prediction
    shipped = explore.run_family(zoo.family("brain"), {"sse": zoo.load_model("brain", "sse")}, _image(pixels))
    assert np.array_equal(ours.mask, shipped.outputs["sse"].prediction.mask)


class _WritesAFile:
    """A pickle that, if unpickled by an unrestricted loader, writes a file (what a malicious checkpoint does)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "pwned"))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, how):
    target = tmp_path / "written-by-the-pickle.txt"
    payload = {"weight": _WritesAFile(str(target))}
    if how == "pickle":
        data = pickle.dumps(payload)
    else:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getvalue()
    with pytest.raises(UserModelError, match="not a plain state_dict"):
        load_user_model({"model.pt": data}, "timm:seresnet18")
    assert not target.exists()
    pickle.loads(pickle.dumps(_WritesAFile(str(tmp_path / "control.txt"))))  # the payload does work when unpickled
    assert (tmp_path / "control.txt").read_text() == "pwned"


def test_a_pickled_whole_model_and_torchscript_are_refused_with_how_to_save():
    import timm

    model = timm.create_model("seresnet18", pretrained=False, num_classes=3).eval()
    whole = io.BytesIO()
    torch.save(model, whole)
    with pytest.raises(UserModelError, match="state_dict"):
        load_user_model({"whole.pt": whole.getvalue()}, "timm:seresnet18")
    scripted = io.BytesIO()
    torch.jit.save(torch.jit.trace(model, torch.zeros(1, 3, 32, 32)), scripted)
    with pytest.raises(UserModelError, match="TorchScript"):
        load_user_model({"scripted.pt": scripted.getvalue()}, "timm:seresnet18")


def test_a_state_dict_of_another_architecture_lists_the_misfits():
    import timm

    weights = safetensors_bytes(timm.create_model("seresnet18", pretrained=False, num_classes=3).state_dict())
    with pytest.raises(UserModelError, match=r"missing|unexpected") as caught:
        load_user_model({"w.safetensors": weights}, "timm:resnet18")
    assert "se.fc1.weight" in str(caught.value) and "timm resnet18" in str(caught.value)


def test_weights_with_nan_are_refused():
    import timm

    state = timm.create_model("seresnet18", pretrained=False, num_classes=3).state_dict()
    state["fc.weight"][0, 0] = float("nan")
    with pytest.raises(UserModelError, match="NaN or infinite weights in 1 tensors \\(fc.weight\\)"):
        load_user_model({"w.safetensors": safetensors_bytes(state)}, "timm:seresnet18")


def test_an_input_the_model_cannot_take_names_the_fix(tmp_path):
    files = _saved_folder(_smp_unet(), tmp_path)  # an RGB model
    with pytest.raises(UserModelError, match=r"cannot run on a \(1, 1, 64, 64\) input .*check the input channels"):
        load_user_model(files, spec=InputSpec(1, 64, (0.5,), (0.25,)))


@pytest.mark.parametrize(
    "files, architecture, message",
    [
        ({}, None, "no files"),
        ({"w.safetensors": b"not safetensors"}, "timm:seresnet18", "not a readable safetensors"),
        ({"a.safetensors": b"x", "b.pt": b"y"}, None, "exactly one weights file"),
        ({"w.safetensors": safetensors_bytes({"x": torch.zeros(1)})}, None, "name the architecture"),
        ({"w.safetensors": safetensors_bytes({"x": torch.zeros(1)})}, "keras:resnet", "timm:<name>"),
        ({"w.safetensors": safetensors_bytes({"x": torch.zeros(1)})}, "timm:not-a-model", "no architecture called"),
        ({"many.zip": _zipped({f"f{i}.txt": b"x" for i in range(70)})}, None, "holds 70 files"),
    ],
)
def test_every_bad_upload_is_one_message(files, architecture, message):
    with pytest.raises(UserModelError, match=message):
        load_user_model(files, architecture)


def test_class_names_must_match_the_outputs(tmp_path):
    with pytest.raises(UserModelError, match="2 class names given for a model with 3 outputs"):
        load_user_model(_saved_folder(_smp_unet(), tmp_path), class_names="a\nb")


def test_a_brought_family_is_keyed_by_its_files(tmp_path):
    files = _saved_folder(_smp_unet(seed=0), tmp_path)
    again = load_user_model(files)
    assert load_user_model(files).name == again.name
    other = _saved_folder(_smp_unet(seed=1), tmp_path / "other")
    assert load_user_model(other).name != again.name
