"""Shared test set-up.

``scse_viz`` is imported first so torchvision imports on CPU-only torch before smp or MONAI pull it in.
"""

from pathlib import Path

import pytest

import scse_viz  # noqa: F401  (must precede any torchvision import)

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``test-artifacts/`` in the repo root (gitignored): screenshots and other things a person may want to look at."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through playwright, one per test module (see ``tests/browsing.py``)."""
    from playwright.sync_api import sync_playwright

    from tests.browsing import launch_chromium

    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(autouse=True)
def fresh_shared_runs():
    """Each test starts as a fresh server process would: no run shared by an earlier test (``scse_viz.shared_runs``),
    so a test counting forward passes counts its own."""
    from scse_viz.shared_runs import RUNS

    RUNS.clear()
    yield
    RUNS.clear()
