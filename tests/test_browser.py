"""The real app, served by ``streamlit run``, opened in Debian's chromium through playwright.

This test fails (never skips) when chromium is missing: CI must not pass without having looked at the page.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scse_viz import serve

from .browsing import COUNT_FINISHED_RUNS, choose_upload, free_port, wait_enabled
from .browsing import idle as _idle
from .browsing import open_page as _open
from .browsing import runs_finished as _runs_finished

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STARTUP_TIMEOUT_S = 60
LANDING_LAST = "Use the sidebar to open the other pages."


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with code {server.returncode} before answering:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200 and response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def app_url(repo_root: Path, artifacts_dir: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = artifacts_dir / "streamlit-browser-test.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            serve.app_command(port),
            cwd=repo_root,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_healthy(url, server, log)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _check_page(page, errors: list[str], title: str, last_text: str, screenshot: Path) -> None:
    """Wait for the page's title and for its last element (the script run got to the end), then look at it."""
    page.get_by_role("heading", name=title, exact=True).wait_for(state="visible", timeout=60_000)
    page.get_by_text(last_text, exact=False).first.wait_for(state="visible", timeout=60_000)
    _idle(page)  # the run that drew this page's last element is over
    page.screenshot(path=str(screenshot), full_page=True)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    assert not errors, errors


def test_landing_page_in_chromium(browser, app_url: str, artifacts_dir: Path):
    page, errors = _open(browser, app_url)
    try:
        _check_page(page, errors, "scSE Lens", LANDING_LAST, artifacts_dir / "browser-landing.png")
        assert page.get_by_text("one weight `w` in (0, 1) per channel", exact=False).count() == 0  # rendered, not raw
        assert page.get_by_text("x·w + x·q", exact=False).first.is_visible()
    finally:
        page.close()


def test_about_page_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """Reach About the way a person does: through the sidebar navigation."""
    page, errors = _open(browser, app_url)
    try:
        _check_page(page, errors, "scSE Lens", LANDING_LAST, artifacts_dir / "browser-landing-before-about.png")
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="About").click()
        page.wait_for_url("**/About", timeout=30_000)
        _check_page(page, errors, "About scSE Lens", "arXiv:1803.02579", artifacts_dir / "browser-about.png")
        assert page.get_by_text("Concurrent Spatial and Channel Squeeze", exact=False).first.is_visible()
        assert page.get_by_role("cell", name="streamlit", exact=True).is_visible()
    finally:
        page.close()


def _default_attribution_rhos() -> tuple[str, dict[str, float]]:
    """What the Attribution page opened on its defaults (brain, its first sample, Integrated Gradients with 32
    steps, the default target, the last sSE block) must show as ρ: the maps computed here through the library
    (``capture_attention``'s sSE maps, the same IG run), ρ by ``scipy.stats.spearmanr`` between the block's map
    upsampled onto the model input and |attribution|. Returns the block and model label -> ρ."""
    import numpy as np
    from scipy.stats import spearmanr

    import scse_viz  # noqa: F401
    from scse_viz import capture_attention, compare_attribution, explore, samples, zoo
    from scse_viz.attribution import Settings, spatial_map_at
    from scse_viz.io import load_any

    family = zoo.family(zoo.list_families()[0].name)
    sample = samples.list_samples(family.name)[0]
    image = explore.input_from_image(
        load_any(samples.sample_bytes(sample), sample.path.name),
        truth=samples.sample_truth(sample),
        max_side=family.max_side or explore.MAX_SIDE,
    )
    models = {variant: zoo.load_model(family.name, variant) for variant in family.variants}
    run = explore.run_family(family, models, image)
    target = compare_attribution.default_target(run)
    spatial = {
        variant: [r for r in capture_attention(model, run.prepared.tensor).shown() if r.spatial_gate is not None]
        for variant, model in models.items()
    }
    block = next(reversed([r.label for r in spatial["sse"]]))
    rhos = {}
    for variant, records in spatial.items():
        record = next((r for r in records if r.label == block), None)
        if record is None:
            continue
        explained = compare_attribution.attribute(
            run, models[variant], variant, "integrated_gradients", target, Settings(n_steps=32)
        )
        evidence = np.abs(explained.result.attribution)
        attention = spatial_map_at(record, evidence.shape)
        rhos[zoo.VARIANT_LABELS[variant]] = float(spearmanr(attention.ravel(), evidence.ravel()).statistic)
    return block, rhos


def _shown_number(text: str) -> tuple[float, float]:
    """A number as the page prints it, and half a unit of its last printed digit (the rounding it may hide)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return float(text.replace("−", "-")), 0.5 * 10.0**-decimals


@pytest.mark.timeout(1500)  # the page's IG on four brain U-Nets, then the same maps again here for the check
def test_attribution_page_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """Attribution through its sidebar link: press Compute on the default sample, wait for the agreement table;
    the ρ each model's overlap caption prints (3 decimals) is scipy's ρ of the maps recomputed here."""
    import re

    page, errors = _open(browser, app_url, height=3200)
    try:
        page.get_by_role("heading", name="scSE Lens", exact=True).wait_for(state="visible", timeout=60_000)
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Attribution").click()
        page.wait_for_url("**/Attribution", timeout=30_000)
        page.get_by_role("heading", name="Attention versus attribution", exact=True).wait_for(timeout=60_000)
        _idle(page)
        before = _runs_finished(page)
        page.get_by_role("button", name="Compute attributions").click()
        # IG with 32 steps on the four brain U-Nets: about 4 min on a busy 2-core machine, so 10 min allowed
        page.get_by_role("heading", name="Agreement per block", exact=True).wait_for(state="visible", timeout=600_000)
        _idle(page, after=before, timeout=600_000)
        # The table comes after its heading, and Streamlit draws a dataframe with a grid component it loads on
        # first use, so it can appear after the run is over: wait for it rather than count at once.
        table = page.locator('[data-testid="stDataFrame"]').first
        table.wait_for(state="visible", timeout=60_000)
        table.locator("canvas").first.wait_for(state="attached", timeout=30_000)  # the grid is drawn, not a frame
        chart = page.locator('[data-testid="stVegaLiteChart"]').last  # the agreement chart under the table
        chart.locator("canvas, svg").first.wait_for(state="visible", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "browser-attribution.png"), full_page=True)
        _no_errors(page, errors)

        # Each model's column: its bold label, then "top 10 %: ρ = 0.123, IoU = …" under the overlap picture.
        caption = re.compile(r"top 10 %: ρ = (−?-?[0-9.]+), IoU")
        shown = {}
        (artifacts_dir / "browser-attribution-table.html").write_text(table.inner_html())
        columns = page.locator('[data-testid="stColumn"]')  # the innermost ones: one per model
        for column in columns.filter(has_text=caption).filter(has_not=columns).all():
            text = column.inner_text()
            label = next(line.strip() for line in text.splitlines() if line.strip())
            shown[label] = _shown_number(caption.search(text).group(1))
    finally:
        page.close()
    block, expected = _default_attribution_rhos()  # after the page's own work: the two share the CPU otherwise
    assert len(expected) == 2  # the sSE and scSE models have sSE maps on that block
    assert sorted(shown) == sorted(expected), (shown, block)
    for label, rho in expected.items():
        value, rounding = shown[label]
        assert abs(value - rho) <= rounding + 1e-6, (label, block, value, rho)


def test_teach_page_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """Teach through the sidebar link: the model walk-through on the default sample with its formulas typeset, then
    the toy mode after a click on its radio button."""
    page, errors = _open(browser, app_url, height=2400)
    try:
        page.get_by_role("heading", name="scSE Lens", exact=True).wait_for(state="visible", timeout=60_000)
        page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Teach").click()
        page.wait_for_url("**/Teach", timeout=30_000)
        page.get_by_role("heading", name="Teach", exact=True).wait_for(state="visible", timeout=60_000)
        page.get_by_text("Every number below is recomputed", exact=False).first.wait_for(
            state="visible", timeout=120_000
        )
        _idle(page)
        page.locator(".katex").nth(4).wait_for(state="attached", timeout=60_000)  # st.latex typeset, not raw TeX
        page.screenshot(path=str(artifacts_dir / "browser-teach-model.png"), full_page=True)
        said = page.get_by_text("x is the feature map the network feeds this block", exact=False).first.inner_text()
        gaps = page.get_by_text("Every number below is recomputed", exact=False).first.inner_text()
        _check_teach_numbers(said, gaps)
        _no_errors(page, errors)
        before = _runs_finished(page)
        page.get_by_text("Toy feature map", exact=True).first.click()
        page.get_by_text("Preset", exact=True).first.wait_for(state="visible", timeout=60_000)
        _idle(page, after=before)
        page.locator(".katex").nth(4).wait_for(state="attached", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "browser-teach-toy.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()


def _check_teach_numbers(said: str, gaps: str) -> None:
    """The Teach page's sentence on the block (channels, stride, the cSE bottleneck's units and r) against the shipped
    model itself, read here: the block's 1×1 convolutions and a forward hook on a 64×64 input; and the gaps to
    capture it reports within the walk-through's tolerance."""
    import re

    import torch

    import scse_viz  # noqa: F401
    from scse_viz import teaching, zoo

    found = re.search(
        r"(\S+) model · (\S+) on .+?: (\d+) channels of \d+×\d+ \(stride (\S+)\); its cSE bottleneck has "
        r"C′ = (\d+) units \(r = (\d+)\)",
        said,
    )
    assert found, said
    label, block, channels, stride, hidden, r = found.groups()
    for family in zoo.list_families():
        variant = next((v for v in family.variants if family.label(v) == label), None)
        model = zoo.load_model(family.name, variant) if variant else None
        if model is None or block not in dict(model.named_modules()):
            continue
        convs = [m for m in model.get_submodule(block).modules() if isinstance(m, torch.nn.Conv2d)]
        # the cSE branch's 1×1 convolutions, C → C′ → C (the sSE one, C → 1, aside)
        assert [(c.in_channels, c.out_channels) for c in convs if c.out_channels != 1] == [
            (int(channels), int(hidden)),
            (int(hidden), int(channels)),
        ]
        assert int(r) == int(channels) // int(hidden)
        sides = []
        handle = model.get_submodule(block).register_forward_pre_hook(lambda m, a: sides.append(a[0].shape[-1]))
        try:
            with torch.no_grad():
                stem = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
                model(torch.zeros(1, stem.in_channels, 64, 64))
        finally:
            handle.remove()
        assert float(stride) == 64 / sides[0], (stride, sides)
        values = [float(v) for v in re.findall(r"\b[wq]: ([0-9.e+-]+)", gaps)]
        assert values and all(0 <= v <= teaching.GATE_TOLERANCE for v in values), gaps
        return
    raise AssertionError(f"no shipped {label} model has a block {block!r}")


# --------------------------------------------------------------------------------------------------------------------
# The explorer, driven like a person: upload, wait for the charts, look at the attention tab


def _png(pixels) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(page, name: str, data: bytes) -> None:
    choose_upload(page)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": data}]
    )
    # the caption exists only in the upload's own run, so it proves that run; then wait for it to end (a counted
    # run can be missed: see browsing.choose_upload)
    page.get_by_text(f"{name} —", exact=False).first.wait_for(state="visible", timeout=120_000)
    _idle(page)


def _no_errors(page, errors: list[str]) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    alerts = page.locator('[data-testid="stAlertContentError"]')
    assert alerts.count() == 0, alerts.first.inner_text()
    assert not errors, errors


def _baseline_differences(pixels) -> dict[str, str]:
    """The "≠ baseline" captions the explorer must show, computed here with the library."""
    import numpy as np

    import scse_viz  # noqa: F401
    from scse_viz import capture_attention, zoo

    family = zoo.family("brain")
    prepared = family.prepare(pixels)
    masks = {}
    for variant in family.variants:
        logits = capture_attention(zoo.load_model("brain", variant), prepared.tensor).output
        masks[variant] = np.argmax(prepared.geometry.to_source(logits.softmax(dim=1)[0].numpy()), axis=0)
    labels = {"cse": "cSE", "sse": "sSE", "scse": "scSE"}
    return {v: f"{labels[v]} ≠ baseline: {100 * np.mean(masks[v] != masks['none']):.2f} % of pixels" for v in labels}


def _every_picture_is_sent_without_chroma_subsampling(page) -> list[str]:
    """Every picture on screen as the browser fetched it is a JPEG without chroma subsampling (4:4:4) or a PNG:
    none was re-saved by Streamlit's own 4:2:0 path (a tile or colour bar wider than shown, a picture over 1460 px).
    Returns the pictures' addresses."""
    import io
    from urllib.parse import urljoin

    from PIL import Image, JpegImagePlugin

    images = page.locator('[data-testid="stImage"] img')
    sources = [images.nth(i).get_attribute("src") for i in range(images.count())]
    assert sources
    for src in sources:
        picture = Image.open(io.BytesIO(page.request.get(urljoin(page.url, src)).body()))
        assert picture.format == "PNG" or JpegImagePlugin.get_sampling(picture) == 0, (src, picture.format)
    return sources


def _the_browser_gets_the_uploaded_pixels(page, gray) -> None:
    """The first picture's bytes as the browser fetched them: JPEG without chroma subsampling whose pixels are the
    upload's, repeated by an integer factor, within 4/255 (Streamlit's default JPEG moved colours by up to 118)."""
    import io
    from urllib.parse import urljoin

    import numpy as np
    from PIL import Image

    sources = _every_picture_is_sent_without_chroma_subsampling(page)
    shown = Image.open(io.BytesIO(page.request.get(urljoin(page.url, sources[0])).body()))
    factor = shown.height // gray.shape[0]
    assert factor >= 1 and shown.size == (gray.shape[1] * factor, gray.shape[0] * factor)
    expected = np.repeat(np.repeat(gray, factor, axis=0), factor, axis=1).astype(int)
    assert np.abs(np.asarray(shown.convert("L"), dtype=int) - expected).max() <= 4


def test_explorer_upload_in_chromium(browser, app_url: str, artifacts_dir: Path):
    import numpy as np

    from scse_viz.datasets.brain import brain_slice

    pixels = brain_slice("axial", 75).pixels
    page, errors = _open(browser, f"{app_url}/Explore", height=2200)
    try:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
        _idle(page)
        _upload(page, "axial-75.png", _png(pixels))
        page.locator('[data-testid="stImage"]').nth(5).wait_for(state="visible", timeout=60_000)
        page.screenshot(path=str(artifacts_dir / "browser-explore-outputs.png"), full_page=True)
        _the_browser_gets_the_uploaded_pixels(page, np.round(pixels * 255).astype(np.uint8))
        expected = _baseline_differences(np.round(pixels * 255).astype(np.float32) / 255)
        for caption in expected.values():
            assert page.get_by_text(caption, exact=True).count() == 1, caption
        page.get_by_role("tab", name="Attention").click()
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        chart.wait_for(state="visible", timeout=60_000)
        plot = chart.locator("canvas, svg").first
        plot.wait_for(state="visible", timeout=60_000)
        # the gate bars get the height their spec asks for (260 px of plot), not a flattened strip
        assert plot.bounding_box()["height"] >= 260, plot.bounding_box()
        page.locator('[data-testid="stImage"]').nth(5).wait_for(state="visible", timeout=60_000)  # the block's tiles
        _every_picture_is_sent_without_chroma_subsampling(page)  # maps, tiles and colour bars
        page.screenshot(path=str(artifacts_dir / "browser-explore-attention.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()


def test_two_sessions_at_once_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """Two people upload different slices at the same moment; each sees the numbers of their own slice."""
    import numpy as np

    from scse_viz.datasets.brain import brain_slice

    slices = {"a": brain_slice("axial", 60).pixels, "b": brain_slice("sagittal", 110).pixels}
    contexts = {k: browser.new_context(viewport={"width": 1400, "height": 1200}) for k in slices}
    pages = {k: contexts[k].new_page() for k in slices}
    try:
        for page in pages.values():
            page.add_init_script(COUNT_FINISHED_RUNS)
        for key, page in pages.items():
            page.goto(f"{app_url}/Explore", wait_until="domcontentloaded")
            page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
            _idle(page)
            choose_upload(page)
        for key, page in pages.items():  # both uploads go out before either result is back
            page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
                files=[{"name": f"{key}.png", "mimeType": "image/png", "buffer": _png(slices[key])}]
            )
        for key, page in pages.items():
            page.get_by_text(f"{key}.png —", exact=False).first.wait_for(state="visible", timeout=180_000)
            _idle(page, timeout=180_000)  # the caption proves the upload's run (see _upload)
            page.screenshot(path=str(artifacts_dir / f"browser-session-{key}.png"), full_page=True)
            expected = _baseline_differences(np.round(slices[key] * 255).astype(np.float32) / 255)
            for caption in expected.values():
                assert page.get_by_text(caption, exact=True).count() == 1, (key, caption)
            _no_errors(page, [])
    finally:
        for context in contexts.values():
            context.close()


def _smp_zip(tmp_path: Path) -> bytes:
    """A segmentation_models_pytorch Unet with scSE decoder attention (random weights), saved with save_pretrained and
    zipped as a person would."""
    import io
    import zipfile

    import segmentation_models_pytorch as smp
    import torch

    import scse_viz  # noqa: F401

    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, decoder_attention_type="scse", classes=3).eval()
    model.save_pretrained(str(tmp_path / "my_unet"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in (tmp_path / "my_unet").iterdir():
            archive.writestr(f"my_unet/{path.name}", path.read_bytes())
    return buffer.getvalue()


def test_bring_your_own_model_in_chromium(browser, app_url: str, artifacts_dir: Path, tmp_path: Path):
    """Choose "Your own model", upload an smp save_pretrained zip, load it, upload a photo that ships inside
    matplotlib (nobody here made it), and see the model's outputs and its decoder blocks' gates."""
    import matplotlib

    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    page, errors = _open(browser, f"{app_url}/Explore", height=2400)
    try:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
        _idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="＋ Your own model…").click()
        sidebar.get_by_text("Model files", exact=True).wait_for(state="visible", timeout=120_000)  # the form's run
        _idle(page)
        archive = tmp_path / "my_unet.zip"  # about 56 MB: more than playwright passes as a buffer
        archive.write_bytes(_smp_zip(tmp_path))
        sidebar.locator('input[type="file"]').first.set_input_files(str(archive))
        wait_enabled(page, "Load the model")  # the upload's run is quick: wait for the button it enables
        before = _runs_finished(page)
        sidebar.get_by_role("button", name="Load the model").click()
        sidebar.get_by_text("resized to 256×256", exact=False).wait_for(state="visible", timeout=120_000)
        _idle(page, after=before)
        # no samples ship with a brought model, so the input is already "Upload your own"
        sidebar.get_by_text("Image, NIfTI volume or DICOM", exact=True).wait_for(state="visible", timeout=60_000)
        before = _runs_finished(page)
        sidebar.locator('input[type="file"]').last.set_input_files(
            files=[{"name": "grace_hopper.jpg", "mimeType": "image/jpeg", "buffer": photo.read_bytes()}]
        )
        page.get_by_text("grace_hopper.jpg —", exact=False).first.wait_for(state="visible", timeout=120_000)
        page.get_by_role("heading", name="Area per class (% of the image)").wait_for(state="visible", timeout=120_000)
        _idle(page, after=before)
        page.screenshot(path=str(artifacts_dir / "browser-bring-outputs.png"), full_page=True)
        page.get_by_role("tab", name="Attention").click()
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        chart.wait_for(state="visible", timeout=60_000)
        chart.locator("canvas, svg").first.wait_for(state="visible", timeout=60_000)
        assert page.get_by_text("decoder.blocks.", exact=False).count() >= 1  # the smp decoder's attention blocks
        page.screenshot(path=str(artifacts_dir / "browser-bring-attention.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()


def _photo_captions(clean) -> dict[str, str]:
    """What the Outputs tab must caption each model's output with, computed here (the noise the app opens on: half the picture, σ = 25, seed 0)."""
    import numpy as np
    import torch

    from scse_viz import zoo
    from scse_viz.degradation import NoiseSetting, degrade
    from scse_viz.metrics import psnr, ssim

    family = zoo.family("photo")
    noisy, _ = degrade(clean, NoiseSetting("half", 25.0, 0))
    prepared = family.prepare(noisy)
    captions = {"noisy": f"noisy input — PSNR {psnr(noisy, clean):.2f} dB"}
    for variant in family.variants:
        with torch.no_grad():
            out = zoo.load_model("photo", variant)(prepared.tensor)[0].permute(1, 2, 0).numpy()
        restored = np.clip(out[: clean.shape[0], : clean.shape[1]], 0, 1)
        captions[variant] = (
            f"{family.label(variant)} — PSNR {psnr(restored, clean):.2f} dB, SSIM {ssim(restored, clean):.3f}"
        )
    return captions


def test_photo_denoising_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """Choose the photo family, upload a photo that ships inside scikit-image (nobody here made it), read the PSNR
    and SSIM each model's picture is captioned with, then paint noise onto the picture with the mouse."""
    import re

    import numpy as np
    import skimage

    from scse_viz.io import load_any

    data = (Path(skimage.__file__).parent / "data" / "chelsea.png").read_bytes()
    clean = np.asarray(load_any(data, "chelsea.png").pixels)
    page, errors = _open(browser, f"{app_url}/Explore", height=2600)
    try:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
        _idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        before = _runs_finished(page)
        sidebar.locator('[data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Photo denoising (residual U-Net)").click()
        _idle(page, after=before)
        _upload(page, "chelsea.png", data)
        page.get_by_role("heading", name="Against the clean picture").wait_for(state="visible", timeout=120_000)
        for caption in _photo_captions(clean).values():
            assert page.get_by_text(caption, exact=True).count() == 1, caption
        page.screenshot(path=str(artifacts_dir / "browser-photo-outputs.png"), full_page=True)
        opening = float(re.search(r"noisy input — PSNR ([\d.]+) dB", page.content()).group(1))

        before = _runs_finished(page)
        noise_label = page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(r"^Noise$"))
        sidebar.locator('[data-testid="stSelectbox"]').filter(has=noise_label).click()
        page.get_by_role("option", name="painted by hand").click()
        _idle(page, after=before)
        canvas = sidebar.locator("canvas").last
        canvas.wait_for(state="visible", timeout=60_000)
        box = canvas.bounding_box()
        before = _runs_finished(page)
        page.mouse.move(box["x"] + 30, box["y"] + 30)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] - 30, box["y"] + box["height"] / 2, steps=12)
        page.mouse.up()
        sidebar.get_by_text("Painted:", exact=False).wait_for(state="visible", timeout=120_000)
        _idle(page, after=before)
        page.get_by_text("noisy input — PSNR", exact=False).first.wait_for(state="visible", timeout=120_000)
        painted = float(re.search(r"noisy input — PSNR ([\d.]+) dB", page.content()).group(1))
        assert painted > opening + 1.0  # noise only under the stroke: less noise than on half the picture
        page.screenshot(path=str(artifacts_dir / "browser-photo-painted.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()


def _dicom_series_zip() -> tuple[bytes, int]:
    """The bundled MNI152 2 mm T1 volume written as a zipped series of axial DICOM slices (16-bit, 2 mm), shuffled;
    and its number of slices."""
    import numpy as np

    from scse_viz import samples
    from scse_viz.io import load_any

    from .test_dicom import dicom_bytes, zip_bytes

    sample = next(s for s in samples.list_samples("brain") if s.kind == "volume")
    data = load_any(samples.sample_bytes(sample), sample.path.name).data
    scaled = np.round(data / data.max() * 4000).astype(np.uint16)
    members = {}
    for z in np.random.default_rng(0).permutation(data.shape[2]):
        plane = np.ascontiguousarray(scaled[:, :, z].T[::-1])  # rows anterior → posterior, columns left → right
        members[f"IM{int(z):04d}"] = dicom_bytes(
            plane,
            ImageOrientationPatient=[-1, 0, 0, 0, -1, 0],
            ImagePositionPatient=[90.0, 126.0, -72.0 + 2 * z],
            PixelSpacing=[2.0, 2.0],
            InstanceNumber=int(z) + 1,
            SeriesInstanceUID="1.2.826.0.1.3680043.9.7",
        )
    return zip_bytes(members), data.shape[2]


def test_dicom_series_and_its_3d_view_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """Upload a zipped DICOM series to the brain family, see a slice segmented, then run the model over every
    slice on the 3-D tab and get the NIfTI downloads."""
    series, count = _dicom_series_zip()
    page, errors = _open(browser, f"{app_url}/Explore", height=2000)
    try:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
        _idle(page)
        choose_upload(page)
        before = _runs_finished(page)
        page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
            files=[{"name": "series.zip", "mimeType": "application/zip", "buffer": series}]
        )
        page.get_by_role("heading", name="Area per class (% of the image)").wait_for(state="visible", timeout=120_000)
        _idle(page, after=before)
        page.screenshot(path=str(artifacts_dir / "browser-dicom-series.png"), full_page=True)
        assert page.get_by_text(f"series of {count} slices", exact=False).count() >= 1
        page.get_by_role("tab", name="Whole volume (3-D)").click()
        before = _runs_finished(page)
        page.get_by_role("button", name=f"Run on all {count} slices").click()
        page.get_by_text("Download as NIfTI", exact=False).wait_for(state="visible", timeout=60_000)
        # the buttons come after that text in the same run: wait for them, not only for a counted run (a run's
        # "running" state can be missed, see browsing.choose_upload; CI once asserted before they were drawn)
        page.get_by_role("button", name="mask").wait_for(state="visible", timeout=60_000)
        _idle(page, after=before)
        assert page.get_by_role("button", name="mask").count() == 1
        _no_errors(page, errors)
    finally:
        page.screenshot(path=str(artifacts_dir / "browser-dicom-3d.png"), full_page=True)
        page.close()


def test_an_unusual_input_gets_the_note_above_the_outputs_in_chromium(browser, app_url: str, artifacts_dir: Path):
    """A striped picture under the brain family (the issue's striped test DICOM, as a PNG): the outputs tab opens
    with the warning that the input is unlike the training images; the bundled slice before it has none."""
    import numpy as np

    cols = np.arange(192)[None, :].repeat(192, axis=0)
    stripes = ((cols // 4) % 2).astype(np.float32)
    warning = "unlike the images these models were trained on"
    page, errors = _open(browser, f"{app_url}/Explore", height=2200)
    try:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
        _idle(page)
        page.get_by_text("How unusual this input is", exact=False).first.wait_for(state="visible", timeout=60_000)
        assert page.get_by_text(warning, exact=False).count() == 0
        _upload(page, "stripes.png", _png(stripes))
        note = page.locator('[data-testid="stAlertContentWarning"]', has_text=warning)
        note.wait_for(state="visible", timeout=120_000)
        assert note.count() == 1
        outputs = page.locator('[data-testid="stImage"]').nth(2)  # the first output, drawn after the note
        assert note.bounding_box()["y"] < outputs.bounding_box()["y"]
        page.screenshot(path=str(artifacts_dir / "browser-explore-unusual-input.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()


def test_the_block_select_shows_the_drawn_block_after_a_change_of_family_in_chromium(
    browser, app_url: str, artifacts_dir: Path
):
    """Attribution on brain selects the U-Net's last sSE block, decoders.3.attention; the photo models end at
    decoders.2.attention, and after switching family the select must show that block, not the brain's."""
    import re

    page, errors = _open(browser, f"{app_url}/Attribution", height=2200)
    try:
        page.get_by_role("heading", name="Attention versus attribution", exact=True).wait_for(timeout=120_000)
        _idle(page)
        label = page.locator('[data-testid="stWidgetLabel"]', has_text=re.compile(r"^Block$"))
        block = page.locator('[data-testid="stSelectbox"]').filter(has=label)
        chosen = block.locator("input[role=combobox]")  # Streamlit's select shows its value in a combobox input
        assert chosen.input_value() == "decoders.3.attention"
        before = _runs_finished(page)
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="Photo denoising (residual U-Net)").click()
        _idle(page, after=before, timeout=240_000)
        block.wait_for(state="visible", timeout=60_000)
        shown = chosen.input_value()
        assert shown.endswith("decoders.2.attention"), shown  # the photo U-Net's last block (unet.decoders.2)
        page.screenshot(path=str(artifacts_dir / "browser-attribution-after-family-change.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()
