"""Bring your own model in the app (AppTest): upload an smp save_pretrained zip, load it, upload an image, and see
its outputs and gates, equal to the model run directly; a bad file is one message and the page keeps working."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

import scse_viz  # noqa: F401
from scse_viz import capture_attention
from scse_viz.ui.inputs import BRING
from scse_viz.ui.state import FAMILY

from .app_helpers import chart_rows, nodes, open_tab, page, png_bytes, ran

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


@pytest.fixture(scope="module")
def smp_model_zip(tmp_path_factory):
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, decoder_attention_type="scse", classes=3).eval()
    folder = tmp_path_factory.mktemp("unet") / "my_unet"
    model.save_pretrained(str(folder))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.writestr(f"my_unet/{path.name}", path.read_bytes())
    return model, buffer.getvalue()


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def _bring(at, files: list[tuple[str, bytes, str]], names: str = "", architecture: str = "") -> None:
    _by_label(at.sidebar.file_uploader, "Model files").set_value(files)
    if architecture:
        _by_label(at.sidebar.text_input, "Architecture (for weights alone)").set_value(architecture)
    if names:
        _by_label(at.sidebar.text_area, "Class names (optional: one per line, or a JSON list)").set_value(names)
    ran(at)
    _by_label(at.sidebar.button, "Load the model").click()
    ran(at)


def _upload_then_teach(at, seed: int, side: int) -> None:
    """Upload a random colour picture for the brought model, then open the Teach page in the same session."""
    pixels = np.random.default_rng(seed).random((side, side, 3)).astype(np.float32)
    upload = _by_label(at.sidebar.file_uploader, "Image, NIfTI volume or DICOM")
    upload.set_value(("p.png", png_bytes(pixels), "image/png"))
    ran(at)
    at.switch_page("pages/3_Teach.py")
    ran(at)


def test_an_uploaded_smp_zip_runs_on_an_uploaded_image(smp_model_zip):
    model, data = smp_model_zip
    at = ran(page("1_Explore.py", **{FAMILY: BRING}))
    assert any("Bring your own model" in i.value for i in at.info)
    _bring(at, [("my_unet.zip", data, "application/zip")], names="sky\nroad\ncar")
    assert at.session_state[FAMILY].startswith("yours-")
    chosen = _by_label(at.sidebar.selectbox, "Model family").value
    assert chosen.startswith("Your model: smp Unet (resnet18 encoder, scse decoder attention) · ")
    captions = [c.value for c in at.sidebar.caption]
    assert any("resized to 256×256" in c and "segmentation over 3 classes" in c for c in captions)
    pixels = np.random.default_rng(1).random((256, 256, 3)).astype(np.float32)
    _by_label(at.sidebar.radio, "Input").set_value("Upload your own")
    ran(at)
    upload = _by_label(at.sidebar.file_uploader, "Image, NIfTI volume or DICOM")
    upload.set_value(("street.png", png_bytes(pixels), "image/png"))
    ran(at)
    # what the app computed equals the model itself on the same 8-bit picture, prepared by hand
    shown = np.round(pixels * 255) / 255
    x = ((torch.from_numpy(shown.astype(np.float32)).permute(2, 0, 1) - IMAGENET_MEAN) / IMAGENET_STD)[None]
    with torch.no_grad():
        mask = model(x).argmax(dim=1)[0].numpy()
    areas = next(d.value for d in at.dataframe if "class" in d.value.columns)
    assert list(areas["class"]) == ["sky", "road", "car"]
    expected = [100 * float(np.mean(mask == k)) for k in range(3)]
    np.testing.assert_allclose(areas["your model"].to_numpy(), expected, atol=2e-3)  # pixels that flip at 1e-6
    # the attention tab lists the model's decoder blocks, with their gates as captured
    open_tab(at, "Attention")
    block = _by_label(at.selectbox, "Block")
    captured = capture_attention(model, x).shown()
    assert block.options == [r.label for r in captured]
    # the first block's channel-gate chart holds that block's w as captured from the model run directly
    first = captured[0]
    assert block.value == first.label
    charts = [c for c in nodes(at, "vega_lite_chart") if "w" in (chart_rows(c) or [{}])[0]]
    assert charts, "no chart of channel gates"
    shown = {row["channel"]: row["w"] for row in chart_rows(charts[0])}
    assert len(shown) == first.channel_gate.shape[1] > 1
    np.testing.assert_allclose([shown[c] for c in range(len(shown))], first.channel_gate[0], rtol=0, atol=1e-5)


def test_a_bad_model_file_is_one_message_and_the_page_keeps_working(smp_model_zip):
    at = ran(page("1_Explore.py", **{FAMILY: BRING}))
    _bring(at, [("weights.pt", b"certainly not a checkpoint", "application/octet-stream")])
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("The model could not be loaded:")
    assert not at.exception
    assert at.session_state[FAMILY] == BRING


def test_a_hostile_model_upload_is_one_message_and_the_page_keeps_working():
    """Issue 25's 476-byte zip (an smp config asking for a 60000-channel decoder, one number as weights): one message
    naming the misfit, no trace, and the form still works for the next upload."""
    import json

    from safetensors.torch import save

    at = ran(page("1_Explore.py", **{FAMILY: BRING}))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "m/config.json",
            json.dumps(
                {"_model_class": "Unet", "encoder_name": "resnet18", "decoder_channels": [60000] * 5, "classes": 2}
            ),
        )
        archive.writestr("m/model.safetensors", save({"weight": torch.zeros(1)}))
    assert len(buffer.getvalue()) < 1000
    _bring(at, [("hostile.zip", buffer.getvalue(), "application/zip")])
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("The model could not be loaded:")
    assert "does not fit" in errors[0] and "Traceback" not in errors[0]
    assert not at.exception
    assert at.session_state[FAMILY] == BRING
    assert _by_label(at.sidebar.button, "Load the model")  # the form is still there for the next try


def test_teach_and_attribution_run_on_the_brought_model(smp_model_zip):
    """Teach walks one of the smp decoder's scSE blocks through (checked against capture on the page itself), and
    Attribution explains the brought model when asked; neither page needs to know the model is not ours."""
    model, data = smp_model_zip
    at = ran(page("1_Explore.py", **{FAMILY: BRING}))
    _bring(at, [("my_unet.zip", data, "application/zip")])
    _upload_then_teach(at, seed=2, side=64)
    blocks = [n for n, m in model.named_modules() if type(m).__name__ == "SCSEModule"]
    assert _by_label(at.selectbox, "Block").options[0].startswith(blocks[0])
    chosen = _by_label(at.selectbox, "Block").value.split(" (")[0]
    _assert_gate_is_the_blocks_own(at, model.get_submodule(chosen), torch.relu, torch.sigmoid)
    at.switch_page("pages/2_Attribution.py")
    ran(at)
    at.select_slider(key="attr-steps").set_value(8)
    at.button(key="attr-compute").click()
    ran(at)
    table = next(d.value for d in at.dataframe if "Spearman ρ" in d.value.columns)
    assert set(table["model"]) == {"your model"} and len(table) == len(blocks) - 1  # every block that ran
    # which blocks ran and at what stride, found here with forward hooks on a 256×256 input (the size the brought
    # model's images are resized to): the table's block and stride columns
    sides: dict[str, int] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda m, i, out, name=name: sides.setdefault(name, out.shape[-1]) and None  # None: output kept
        )
        for name in blocks
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 256, 256))
    finally:
        for handle in handles:
            handle.remove()
    assert [b.split(" ")[0] for b in table["block"]] == list(sides)
    assert table["stride"].tolist() == [256 / side for side in sides.values()]
    assert len(set(table["stride"])) > 1  # blocks at several strides: the column is not one constant
    rho = table["Spearman ρ"].to_numpy()
    assert np.all(np.abs(rho) <= 1) and len(set(np.round(rho, 6))) == len(rho)  # one score per block, not a fill
    expected = _brought_rhos(model, data, seed=2, side=64, n_steps=8)
    assert list(table["block"]) == list(expected)
    # the table holds the number itself (no column format, so nothing rounded): agreement to float precision
    np.testing.assert_allclose(rho, list(expected.values()), rtol=0, atol=1e-6)


def _brought_rhos(model: torch.nn.Module, data: bytes, *, seed: int, side: int, n_steps: int) -> dict[str, float]:
    """Block label -> ρ the Attribution page must show for the brought model on the picture of
    :func:`_upload_then_teach`: the maps computed here through the library (the brought family's preparation,
    ``capture_attention``'s sSE maps upsampled onto the model input, Integrated Gradients on the default target
    with ``n_steps``), ρ by ``scipy.stats.spearmanr`` of each map against |attribution|."""
    from scipy.stats import spearmanr

    from scse_viz import compare_attribution, explore
    from scse_viz.attribution import Settings, spatial_map_at
    from scse_viz.bring import MODEL, load_user_model
    from scse_viz.io import load_any

    family = load_user_model({"my_unet.zip": data})
    pixels = np.random.default_rng(seed).random((side, side, 3)).astype(np.float32)
    image = explore.input_from_image(load_any(png_bytes(pixels), "p.png"), max_side=family.max_side or explore.MAX_SIDE)
    run = explore.run_family(family, {MODEL: model}, image)
    target = compare_attribution.default_target(run)
    explained = compare_attribution.attribute(
        run, model, MODEL, "integrated_gradients", target, Settings(n_steps=n_steps)
    )
    evidence = np.abs(explained.result.attribution)
    rhos = {}
    for record in capture_attention(model, run.prepared.tensor).shown():
        if record.spatial_gate is not None:
            attention = spatial_map_at(record, evidence.shape)
            rhos[record.label] = float(spearmanr(attention.ravel(), evidence.ravel()).statistic)
    return rhos


def _assert_gate_is_the_blocks_own(at, block: torch.nn.Module, activation, gate) -> None:
    """The Teach page's squeeze column s, put through the block's own two 1×1 convolutions (its state_dict, float64
    here), gives the gate column w = gate(W2·activation(W1·s + b1) + b2); and the gaps to capture the page reports
    are within its tolerance."""
    import re

    from scse_viz import teaching as T

    table = next(d.value for d in at.dataframe if T.COL_GATE in d.value.columns)
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1)][:2]
    squeeze = torch.tensor(table[T.COL_SQUEEZE].to_numpy(), dtype=torch.float64)
    (w1, b1), (w2, b2) = ((c.weight.detach().double()[:, :, 0, 0], c.bias.detach().double()) for c in convs)
    expected = gate(w2 @ activation(w1 @ squeeze + b1) + b2).numpy()
    assert len(expected) == len(table) > 1
    np.testing.assert_allclose(table[T.COL_GATE].to_numpy(), expected, rtol=0, atol=1e-5)
    message = next(s.value for s in at.success if "Every number below is recomputed" in s.value)
    gaps = {k: float(v) for k, v in re.findall(r"\b([wq]): ([0-9.e+-]+)", message)}
    assert "w" in gaps and all(0 <= v <= T.GATE_TOLERANCE for v in gaps.values()), message


def test_a_brought_model_stays_in_its_own_session(smp_model_zip):
    _, data = smp_model_zip
    mine = ran(page("1_Explore.py", **{FAMILY: BRING}))
    _bring(mine, [("my_unet.zip", data, "application/zip")])
    theirs = ran(page("1_Explore.py"))
    options = _by_label(theirs.sidebar.selectbox, "Model family").options
    assert not any(o.startswith("Your model") for o in options)  # another person's session lists no brought model
    assert any(o.startswith("Your model") for o in _by_label(mine.sidebar.selectbox, "Model family").options)


def test_a_brought_models_run_is_never_shared(smp_model_zip):
    """Two sessions bring the same model files and upload the same picture: each runs its own model once (nothing
    of a brought family enters the process's shared runs), and each session's run is its own object."""
    from scse_viz.shared_runs import RUNS
    from scse_viz.ui.state import MEMO

    _, data = smp_model_zip
    picture = png_bytes(np.random.default_rng(5).random((64, 64, 3)).astype(np.float32))
    forwards = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, *_: forwards.append(1) if type(module).__name__ == "Unet" else None
    )
    sessions = []
    try:
        for _ in range(2):
            at = ran(page("1_Explore.py", **{FAMILY: BRING}))
            _bring(at, [("my_unet.zip", data, "application/zip")])
            _by_label(at.sidebar.radio, "Input").set_value("Upload your own")
            ran(at)
            before = len(forwards)
            upload = _by_label(at.sidebar.file_uploader, "Image, NIfTI volume or DICOM")
            upload.set_value(("same.png", picture, "image/png"))
            sessions.append(ran(at))
            assert len(forwards) - before == 1  # this session's own model ran on the picture
    finally:
        handle.remove()
    runs = [next(v for k, v in at.session_state[MEMO].items() if k[0] == "run") for at in sessions]
    assert runs[0] is not runs[1] and runs[0].family.name.startswith("yours-")
    assert not any(key[1].startswith("yours-") for key in RUNS._runs)  # keys are ("run", family, input)


def test_teach_walks_through_an_se_block_of_a_brought_torchvision_model():
    """A MobileNetV3 brought as a state_dict: Teach offers its SqueezeExcitation blocks and walks one through with
    the block's own activation (ReLU) and gate (hard sigmoid), checked against capture on the page."""
    import torchvision
    from safetensors.torch import save as safetensors_bytes

    torch.manual_seed(3)
    net = torchvision.models.mobilenet_v3_small(weights=None, num_classes=3).eval()
    at = ran(page("1_Explore.py", **{FAMILY: BRING}))
    _bring(
        at,
        [("mnv3.safetensors", safetensors_bytes(net.state_dict()), "application/octet-stream")],
        architecture="torchvision:mobilenet_v3_small",
    )
    _upload_then_teach(at, seed=4, side=80)
    se_blocks = [n for n, m in net.named_modules() if type(m).__name__ == "SqueezeExcitation"]
    assert [o.split(" (")[0] for o in _by_label(at.selectbox, "Block").options] == se_blocks
    headings = [h.value for h in at.subheader]
    assert any("second 1×1 conv and hard sigmoid" in h for h in headings), headings
    hard_sigmoid = torch.nn.functional.hardsigmoid
    chosen = _by_label(at.selectbox, "Block").value.split(" (")[0]
    _assert_gate_is_the_blocks_own(at, net.get_submodule(chosen), torch.relu, hard_sigmoid)
