"""Gate health's checks in a real browser: an uploaded labelled batch table draws the class specificity across depth
and small multiples wide enough to read; the randomisation check runs on a sample and draws its curves."""

from __future__ import annotations

from pathlib import Path

import pytest

from .browsing import idle, open_page, runs_finished
from .test_browser import app_url  # noqa: F401  (the served app, one per module)
from .test_class_specificity import labelled_table

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _no_errors(page, errors: list[str]) -> None:
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    assert not errors, errors


def test_gate_health_checks_in_chromium(browser, app_url: str, artifacts_dir: Path):  # noqa: F811
    page, errors = open_page(browser, f"{app_url}/Gate_health?family=fashion&table=upload", height=1600)
    try:
        page.get_by_role("heading", name="Gate health", exact=True).wait_for(state="visible", timeout=120_000)
        idle(page)
        before = runs_finished(page)
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Batch table")
        uploader.locator('input[type="file"]').set_input_files(
            files=[{"name": "gates.parquet", "mimeType": "application/octet-stream", "buffer": labelled_table()}]
        )
        heading = page.get_by_role("heading", name="Class-specific excitation across depth")
        heading.wait_for(state="visible", timeout=120_000)
        idle(page, after=before)
        # the distribution small multiples: drawn across the page, not a strip at its left edge
        plot = page.locator('[data-testid="stVegaLiteChart"]').first.locator("canvas, svg").first
        plot.wait_for(state="visible", timeout=60_000)
        box = plot.bounding_box()
        assert box["width"] >= 800 and box["height"] >= 260, box
        assert page.get_by_text("share of a block's cSE-gate variance", exact=False).first.is_visible()
        charts = page.locator('[data-testid="stVegaLiteChart"]').count()
        page.screenshot(path=str(artifacts_dir / "browser-gate-health-specificity.png"), full_page=True)

        before = runs_finished(page)
        run = page.get_by_role("button", name="Randomise and compare")
        run.scroll_into_view_if_needed()
        run.click()
        page.get_by_text("A faithful map explains the model", exact=False).first.wait_for(
            state="visible", timeout=240_000
        )
        idle(page, after=before)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == charts + 1  # the curves
        curves = page.locator('[data-testid="stVegaLiteChart"]').last.locator("canvas, svg").first
        curves.scroll_into_view_if_needed()
        assert curves.bounding_box()["width"] >= 800, curves.bounding_box()
        page.screenshot(path=str(artifacts_dir / "browser-gate-health-sanity.png"), full_page=True)
        _no_errors(page, errors)
    finally:
        page.close()
