"""The real app, served by ``streamlit run``, opened in Debian's chromium through playwright.

This test fails (never skips) when chromium is missing: CI must not pass without having looked at the page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
README_TEST_COMMAND = (
    "apt-get update && apt-get install -y chromium && pip install -r requirements-test.txt && python -m pytest"
)
STARTUP_TIMEOUT_S = 60
LANDING_LAST = "Use the sidebar to open the other pages."


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = artifacts_dir / "streamlit-browser-test.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.port", str(port),
                "--server.address", "127.0.0.1",
                "--server.headless", "true",
                "--browser.gatherUsageStats", "false",
            ],
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


@pytest.fixture(scope="module")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Debian chromium not found at {CHROMIUM}. Install it with the README's test command:\n"
                    f"  {README_TEST_COMMAND}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="domcontentloaded")
    return page, errors


def _check_page(page, errors: list[str], title: str, last_text: str, screenshot: Path) -> None:
    """Wait for the page's title and for its last element (the script run got to the end), then look at it."""
    page.get_by_role("heading", name=title, exact=True).wait_for(state="visible", timeout=60_000)
    page.get_by_text(last_text, exact=False).first.wait_for(state="visible", timeout=60_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=60_000)
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
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="About").click()
        page.wait_for_url("**/About", timeout=30_000)
        _check_page(page, errors, "About scSE Lens", "arXiv:1803.02579", artifacts_dir / "browser-about.png")
        assert page.get_by_text("Concurrent Spatial and Channel Squeeze", exact=False).first.is_visible()
        assert page.get_by_role("cell", name="streamlit", exact=True).is_visible()
    finally:
        page.close()
