"""The lecturer's links in Debian's chromium: a link opened in a new browser context shows the view it was made on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .browsing import idle as _idle
from .browsing import open_page as _open
from .browsing import runs_finished as _runs_finished
from .test_browser import app_url  # noqa: F401  (the served app, a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _explore_ready(page, artifacts_dir: Path) -> None:
    try:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=240_000)
        _idle(page, timeout=240_000)
    finally:
        page.screenshot(path=str(artifacts_dir / "browser-link-loading.png"), full_page=True)


def test_a_link_opens_the_same_view_in_a_new_context(browser, app_url: str, artifacts_dir: Path):  # noqa: F811
    page, errors = _open(browser, f"{app_url}/Explore?family=fashion&variant=cse&sort=channel&cmap=viridis&alpha=0.8")
    try:
        _explore_ready(page, artifacts_dir)
        page.get_by_role("tab", name="Attention").click()
        heading = page.get_by_text(re.compile(r"^cSE · ")).first
        heading.wait_for(state="visible", timeout=60_000)
        block = heading.inner_text().split(" — ")[0]
        _idle(page)
        page.locator('[data-testid="stSidebar"]').get_by_text("Link to this view").click()
        # an expander opens in the browser and starts no run: wait for its code box itself, not for a run
        code = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first
        code.wait_for(state="visible", timeout=60_000)
        link = code.inner_text().strip()
        assert link.startswith(f"{app_url}/Explore?") and "family=fashion" in link and "cmap=viridis" in link
        assert "sort=channel" in link and "alpha=0.8" in link
        page.screenshot(path=str(artifacts_dir / "browser-link-made.png"), full_page=True)
        assert not errors, errors
    finally:
        page.close()

    fresh, errors = _open(browser, link)  # a page of its own context: no cookies, no session of the first
    try:
        _explore_ready(fresh, artifacts_dir)
        fresh.get_by_role("tab", name="Attention").click()
        fresh.get_by_text(block, exact=True).first.wait_for(state="visible", timeout=60_000)
        assert fresh.get_by_text(block, exact=True).first.is_visible()
        sidebar_link = fresh.locator('[data-testid="stSidebar"]').get_by_text("Link to this view")
        sidebar_link.click()
        code = fresh.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first
        code.wait_for(state="visible", timeout=60_000)
        again = code.inner_text().strip()
        assert again == link  # the fresh session's controls wrote back exactly the view the link holds
        assert fresh.locator('[data-testid="stException"]').count() == 0
        fresh.screenshot(path=str(artifacts_dir / "browser-link-opened.png"), full_page=True)
        assert not errors, errors
    finally:
        fresh.close()


def _sidebar_shown(page) -> bool:
    box = page.locator('[data-testid="stSidebar"]').bounding_box()
    return box is not None and box["x"] + box["width"] > 10


def test_a_presenting_link_opens_folded_and_large_and_steps_through(browser, app_url: str, artifacts_dir: Path):  # noqa: F811
    normal, errors = _open(browser, f"{app_url}/Explore?family=fashion")
    try:
        _explore_ready(normal, artifacts_dir)
        assert _sidebar_shown(normal)
        normal_px = float(normal.evaluate("getComputedStyle(document.documentElement).fontSize").rstrip("px"))
    finally:
        normal.close()
    page, errors = _open(browser, f"{app_url}/Explore?family=fashion&present=1&step=3")
    try:
        page.get_by_role("heading", name="One block's gates").wait_for(state="visible", timeout=240_000)
        _idle(page, timeout=240_000)
        page.screenshot(path=str(artifacts_dir / "browser-presenter-gates.png"))
        page.wait_for_function(
            f"parseFloat(getComputedStyle(document.documentElement).fontSize) > {normal_px}", timeout=30_000
        )
        presenting_px = float(page.evaluate("getComputedStyle(document.documentElement).fontSize").rstrip("px"))
        assert presenting_px >= 1.3 * normal_px  # larger type everywhere
        assert not _sidebar_shown(page)  # folded
        assert page.get_by_text("cSE channel gate w").first.is_visible()
        assert page.get_by_text("Area per class").count() == 0 and page.get_by_role("tab").count() == 0
        before = _runs_finished(page)
        page.get_by_role("button", name="Next ▶").click()
        page.get_by_role("heading", name="A gate switched off").wait_for(state="visible", timeout=120_000)
        _idle(page, after=before)
        assert "step=4" in page.url and "present=1" in page.url
        page.screenshot(path=str(artifacts_dir / "browser-presenter-knockout.png"))
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not errors, errors
    finally:
        page.close()
