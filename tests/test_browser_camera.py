"""The camera as an input, in Debian's chromium with a fake camera that films a photo nobody here made.

Chromium's ``--use-fake-device-for-media-stream`` with ``--use-file-for-fake-video-capture`` plays a Y4M file as
the camera; ``--use-fake-ui-for-media-stream`` answers the permission prompt. The film is Grace Hopper's portrait
that ships inside matplotlib. The test checks that the very picture the camera saw reaches the models (the input the
page shows correlates with the photo, and not with the photo mirrored), and that the app names the family that
suits a colour shot when another family is chosen.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .browsing import COUNT_FINISHED_RUNS, launch_chromium
from .browsing import idle as _idle
from .browsing import runs_finished as _runs_finished
from .test_browser import app_url  # noqa: F401  (the served app, a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FILM_SIZE = (640, 480)  # the fake camera's frames (width, height): a 4:3 webcam at 480p


def _hopper() -> Image.Image:
    """matplotlib's sample photo, cut to 4:3 around its middle and scaled to the film's size."""
    import matplotlib

    photo = Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").convert("RGB")
    width, height = photo.size  # 512 × 600: keep the full width, cut the height to 3/4 of it
    keep = width * 3 // 4
    top = (height - keep) // 2
    return photo.crop((0, top, width, top + keep)).resize(FILM_SIZE, Image.Resampling.BICUBIC)


def _write_y4m(picture: Image.Image, path: Path, frames: int = 5) -> None:
    """A still film in YUV4MPEG2 (4:2:0, full-range JPEG chroma siting), the format chromium's fake camera reads."""
    ycc = np.asarray(picture.convert("YCbCr"))
    width, height = picture.size
    planes = (ycc[..., 0], ycc[::2, ::2, 1], ycc[::2, ::2, 2])
    with path.open("wb") as film:
        film.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            film.write(b"FRAME\n")
            for plane in planes:
                film.write(np.ascontiguousarray(plane).tobytes())


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory) -> Iterator:
    """Chromium whose camera films Grace Hopper's portrait."""
    from playwright.sync_api import sync_playwright

    film = tmp_path_factory.mktemp("camera") / "hopper.y4m"
    _write_y4m(_hopper(), film)
    fake_camera = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={film}",
    )
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright, fake_camera)
        try:
            yield launched
        finally:
            launched.close()


def _grey(picture: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(picture.convert("L").resize(size, Image.Resampling.BILINEAR), dtype=np.float64)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_a_camera_picture_reaches_the_models(camera_browser, app_url: str, artifacts_dir: Path):  # noqa: F811
    context = camera_browser.new_context(viewport={"width": 1400, "height": 1100}, permissions=["camera"])
    page = context.new_page()
    page.add_init_script(COUNT_FINISHED_RUNS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # the brain family is chosen, so the app must say that a colour shot suits the photo family
        page.goto(f"{app_url}/Explore?family=brain&input=camera", wait_until="domcontentloaded")
        sidebar = page.locator('[data-testid="stSidebar"]')
        take = sidebar.get_by_role("button", name="Take Photo")
        take.wait_for(state="visible", timeout=240_000)
        _idle(page, timeout=240_000)
        before = _runs_finished(page)
        take.click()
        switch = sidebar.get_by_role("button", name="Switch to Photo denoising", exact=False)
        switch.wait_for(state="visible", timeout=180_000)
        _idle(page, after=before, timeout=180_000)
        assert "looks like a colour photo" in sidebar.inner_text()
        page.screenshot(path=str(artifacts_dir / "browser-camera-brain.png"), full_page=True)

        before = _runs_finished(page)
        switch.click()
        page.get_by_text("PSNR", exact=False).first.wait_for(state="visible", timeout=240_000)
        _idle(page, after=before, timeout=240_000)
        page.screenshot(path=str(artifacts_dir / "browser-camera-photo.png"), full_page=True)
        main = page.locator('[data-testid="stMain"]')
        caption = main.get_by_text("camera-input", exact=False).first.inner_text()
        assert f"{FILM_SIZE[1]}×{FILM_SIZE[0]}" in caption.replace(" ", ""), caption  # the 480p frame, H×W

        # the picture the page shows first is the camera's frame (with the photo family's noise added)
        source = main.locator('[data-testid="stImage"] img').first.get_attribute("src")
        shown = Image.open(io.BytesIO(page.request.get(source).body()))
        film = _hopper()
        seen, truth = _grey(shown, (160, 120)), _grey(film, (160, 120))
        assert _correlation(seen, truth) > 0.9
        assert _correlation(seen, _grey(film.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (160, 120))) < 0.6
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        assert not errors, errors
    finally:
        context.close()
