"""The classroom benchmark's settle note, in Debian's chromium against a real server: a page notes the moment it shows
the outputs of the file it waits for, and never notes anything for a file it does not show.

``benchmarks.classroom_load`` reads each page's own note instead of asking every page every 50 ms (that asking took
a share of the cores it measured); a note set too early, or one that never comes, would make its figures wrong."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.classroom_load import ARM, SETTLE_WATCH
from scse_viz.datasets.brain import brain_slice

from .browsing import COUNT_FINISHED_RUNS, choose_upload, runs_finished
from .browsing import idle as _idle
from .test_browser import _png, app_url  # noqa: F401  (the served app, a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTE = "window.__settledAt"


def _upload(page, name: str, pixels: np.ndarray) -> None:
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": _png(pixels)}]
    )


def test_a_page_notes_when_it_shows_the_awaited_file_and_not_for_another(browser, app_url: str, artifacts_dir: Path):  # noqa: F811
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.add_init_script(COUNT_FINISHED_RUNS)
    page.add_init_script(SETTLE_WATCH)
    try:
        page.goto(f"{app_url}/Explore", wait_until="domcontentloaded", timeout=120_000)
        page.get_by_role("heading", name="Area per class (% of the image)").wait_for(timeout=240_000)
        choose_upload(page)
        assert page.evaluate(NOTE) is None  # not armed: nothing is noted, though the outputs are on screen

        # armed for a file that is never uploaded: a finished run with other outputs on screen is no note
        page.evaluate(ARM, "never-uploaded.png —")
        before = runs_finished(page)
        _upload(page, "other.png", brain_slice("coronal", 70).pixels)
        page.get_by_text("other.png —", exact=False).first.wait_for(state="visible", timeout=120_000)
        _idle(page, before)
        time.sleep(1.0)  # a note would be set one task after the last DOM change
        assert page.evaluate(NOTE) is None

        # armed for the file uploaded next: noted after the upload, with its caption and the outputs on screen
        page.evaluate(ARM, "awaited.png —")
        assert page.evaluate(NOTE) is None  # the caption is not on screen yet
        uploaded_at_ms = time.time() * 1000
        _upload(page, "awaited.png", brain_slice("axial", 80).pixels)
        page.wait_for_function(f"{NOTE} !== null", timeout=120_000)
        noted = page.evaluate(NOTE)
        assert uploaded_at_ms <= noted <= time.time() * 1000
        assert page.get_by_text("awaited.png —", exact=False).count() == 1
        assert page.locator('[data-testid="stHeading"]', has_text="Area per class").count() == 1
        page.screenshot(path=str(artifacts_dir / "browser-settle-note.png"), full_page=True)
    finally:
        page.close()
