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
        before = _runs_finished(page)
        page.locator('[data-testid="stSidebar"]').get_by_text("Link to this view").click()
        link = page.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first.inner_text().strip()
        assert link.startswith(f"{app_url}/Explore?") and "family=fashion" in link and "cmap=viridis" in link
        assert "sort=channel" in link and "alpha=0.8" in link
        _idle(page, after=before - 1)
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
        again = fresh.locator('[data-testid="stSidebar"] [data-testid="stCode"]').first.inner_text().strip()
        assert again == link  # the fresh session's controls wrote back exactly the view the link holds
        assert fresh.locator('[data-testid="stException"]').count() == 0
        fresh.screenshot(path=str(artifacts_dir / "browser-link-opened.png"), full_page=True)
        assert not errors, errors
    finally:
        fresh.close()
