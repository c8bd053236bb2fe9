"""What every real-browser test shares: Debian's chromium through playwright, and waiting for Streamlit's script runs.

Browser tests fail (never skip) when chromium is missing: CI must not pass without having looked at the page.
"""

from __future__ import annotations

import os
import random
import socket

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
README_TEST_COMMAND = "apt-get update && apt-get install -y chromium dataset-fashion-mnist haproxy mricron-data && pip install -r requirements-test.txt && python -m pytest"

# Streamlit's frontend puts the script run state on its root element, data-test-script-state on
# [data-testid="stApp"]: "initial" before the first run, then "running" and "notRunning" (with "rerunRequested" and
# "stopRequested" in between). "notRunning" alone does not say an action's run is over: it also holds in the moment
# after a click before the server has started the run. So every page counts the runs that finished (each change of
# the attribute away from "running"), and a wait after an action asks for a run finished since the action.
COUNT_FINISHED_RUNS = """
window.__scriptRunsFinished = 0;
new MutationObserver((records) => {
  for (const record of records) {
    if (record.oldValue === "running" && record.target.getAttribute("data-test-script-state") !== "running") {
      window.__scriptRunsFinished += 1;
    }
  }
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ["data-test-script-state"]});
"""
APP_IDLE = """(after) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app !== null && app.getAttribute("data-test-script-state") === "notRunning"
    && window.__scriptRunsFinished > after;
}"""


def launch_chromium(playwright, extra_args: tuple[str, ...] = ()):
    """Debian's chromium, headless (with ``extra_args``, e.g. a fake camera); a clear failure naming the install
    command when it is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Debian chromium not found at {CHROMIUM}. Install it with the README's test command:\n"
            f"  {README_TEST_COMMAND}"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args])


# Ports for servers are drawn below Linux's ephemeral range (32768-60999 here), where the kernel hands out the source
# ports of client connections: a replica at `first + 1`, a port nobody had checked, was once taken ("Port 35098 is not
# available", test_serve in a fresh clone, 2026-12-07), most likely by such a connection.
_SERVER_PORTS = range(20000, 32000)


def free_ports(count: int) -> int:
    """The first of `count` consecutive loopback ports that are all free now (replicas listen on first, first + 1, ...)."""
    draw = random.Random()
    for _ in range(200):
        first = draw.randrange(_SERVER_PORTS.start, _SERVER_PORTS.stop - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                sockets.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                sockets[-1].bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for held in sockets:
                held.close()
    raise RuntimeError(f"no {count} consecutive free loopback ports in {_SERVER_PORTS}")


def free_port() -> int:
    """One loopback port that is free now, chosen by the kernel (so never inside the range `free_ports` draws from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_page(browser, url: str, height: int = 900):
    """A page in a context of its own (its own cookies), counting finished script runs; and its JS errors."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    page.add_init_script(COUNT_FINISHED_RUNS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)  # a busy CPU parses the bundle slowly
    return page, errors


def runs_finished(page) -> int:
    """How many script runs this page has seen finish (see ``COUNT_FINISHED_RUNS``); read it before an action."""
    return int(page.evaluate("window.__scriptRunsFinished"))


def idle(page, after: int = -1, timeout: int = 120_000) -> None:
    """Wait until the app runs no script and, with ``after`` (``runs_finished`` read before an action), until a run
    has finished since then: the action's run, not the quiet moment before it starts."""
    page.wait_for_function(APP_IDLE, arg=after, timeout=timeout)


def wait_enabled(page, label: str, timeout: int = 180_000) -> None:
    """Wait until the button labelled ``label`` can be pressed (playwright's own ``to_be_enabled``), then until the
    app is idle.

    For actions whose run is quick and whose only mark is a button it enables (an upload that fills a form): such a
    run's "running" state can be batched away in the frontend and never reach the DOM attribute, so counting
    finished runs since the action can wait forever (CI, 2026-12-07: the 56 MB model upload)."""
    from playwright.sync_api import expect

    expect(page.get_by_role("button", name=label, exact=True)).to_be_enabled(timeout=timeout)
    idle(page, timeout=timeout)


def choose_upload(page, tries: int = 3) -> None:
    """Switch the sidebar's input to "Upload your own" and wait for the run that shows the uploader.

    Waits for the uploader itself, not only for a finished run: under a loaded CPU a click can land while the
    sidebar is being redrawn and start no run, so an unanswered click is repeated (at most ``tries`` times)."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    uploader = sidebar.locator('input[type="file"]')
    for attempt in range(tries):
        sidebar.get_by_text("Upload your own", exact=True).click()
        try:
            uploader.wait_for(state="attached", timeout=60_000)
        except Exception:
            if attempt == tries - 1:
                raise
            continue
        # The uploader exists only in the click's own run, so it proves that run started; wait for it to end. Not
        # runs_finished > before: a quick run's "running" state can be batched away in the frontend and never reach
        # the DOM attribute (seen once in CI through HAProxy: the uploader was there, the counter never moved).
        idle(page)
        return
