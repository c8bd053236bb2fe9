"""The classroom benchmark's settle note, in Debian's chromium against a real server: a page notes when it shows the
outputs of the file it waits for, never before they are there, and never for a file it does not show.

``benchmarks.classroom_load`` reads each page's own note instead of asking every page every 50 ms (that asking took
a share of the cores it measured); a note set too early, or one that never comes, would make its figures wrong. A
witness script of the test's own, checking in the MutationObserver's callback itself (before the note's check, which
waits a task), records when the caption or the outputs' heading first appears, and when it is first there with no script running:
the note must not precede that."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.classroom_load import ARM, OUTPUTS_HEADING, page_script
from scse_viz.datasets.brain import brain_slice

from .browsing import choose_upload, runs_finished
from .browsing import idle as _idle
from .test_browser import _png, app_url  # noqa: F401  (the served app, a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTE = "window.__settledAt"
WITNESS = """
window.__seen = {};
window.__watchFor = (key, text, selector) => {
  const look = () => {
    const now = performance.timeOrigin + performance.now();
    const found = [...document.querySelectorAll(selector)].some((e) => e.textContent.includes(text));
    if (found && window.__seen[key] === undefined) window.__seen[key] = now;
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = app !== null && app.getAttribute("data-test-script-state") === "notRunning";
    if (found && idle && window.__seen[key + " and idle"] === undefined) window.__seen[key + " and idle"] = now;
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, characterData: true,
                                                attributes: true});
  look();
};
"""


def _upload(page, name: str, pixels: np.ndarray) -> None:
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": _png(pixels)}]
    )


def _page(browser, arm_on_load_for: str | None = None, then: str = ""):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.add_init_script(page_script(arm_on_load_for) + WITNESS + then)  # one script: Playwright keeps no order
    return page


def test_a_page_notes_when_it_shows_the_awaited_file_and_not_for_another(browser, app_url: str, artifacts_dir: Path):  # noqa: F811
    page = _page(browser)
    try:
        page.goto(f"{app_url}/Explore", wait_until="domcontentloaded", timeout=120_000)
        page.get_by_role("heading", name=f"{OUTPUTS_HEADING} (% of the image)").wait_for(timeout=240_000)
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

        # armed for the file uploaded next: noted after the upload and not before its caption was on screen
        page.evaluate(ARM, "awaited.png —")
        page.evaluate("window.__watchFor('caption', 'awaited.png —', '*')")
        assert page.evaluate(NOTE) is None  # the caption is not on screen yet
        uploaded_at_ms = time.time() * 1000
        _upload(page, "awaited.png", brain_slice("axial", 80).pixels)
        page.wait_for_function(f"{NOTE} !== null", timeout=120_000)
        noted, seen = page.evaluate(NOTE), page.evaluate("window.__seen")
        assert uploaded_at_ms <= seen["caption"] <= seen["caption and idle"] <= noted <= time.time() * 1000
        assert page.get_by_text("awaited.png —", exact=False).count() == 1
        assert page.locator('[data-testid="stHeading"]', has_text=OUTPUTS_HEADING).count() == 1
        page.screenshot(path=str(artifacts_dir / "browser-settle-note.png"), full_page=True)
    finally:
        page.close()


def test_a_page_armed_on_load_notes_once_the_outputs_are_drawn(browser, app_url: str):  # noqa: F811
    heading = f"window.__watchFor('heading', {OUTPUTS_HEADING!r}, '[data-testid=\"stHeading\"]');"
    page = _page(browser, arm_on_load_for=OUTPUTS_HEADING, then=heading)
    try:
        opened_at_ms = time.time() * 1000
        page.goto(f"{app_url}/Explore?family=brain", wait_until="commit", timeout=120_000)
        page.wait_for_function(f"{NOTE} !== null", timeout=240_000)
        noted, seen = page.evaluate(NOTE), page.evaluate("window.__seen")
        assert opened_at_ms <= seen["heading"] <= seen["heading and idle"] <= noted <= time.time() * 1000
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        assert state == "notRunning"
    finally:
        page.close()
