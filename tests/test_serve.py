"""Serving a class: ``python -m scse_viz.serve`` with two replicas behind Debian's HAProxy, on loopback only.

A real browser uploads through the balancer; the command stops everything on SIGINT. The fault test kills the
replica holding one person's session while another person works on the other replica: the other person is
untouched, new people are served, and the first one gets a working page with one note on reload.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scse_viz import serve

from .browsing import choose_upload, free_port, free_ports, idle, open_page, runs_finished

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHOTO_SIDE = 96


def _png(seed: int) -> bytes:
    pixels = (np.random.default_rng(seed).random((PHOTO_SIDE, PHOTO_SIDE)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _needs_haproxy() -> None:
    if shutil.which("haproxy") is None:
        pytest.fail("Debian's haproxy is missing: install it with the README's test command (apt-get install haproxy)")


def _upload(page, name: str, data: bytes) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    choose_upload(page)  # repeats a click that a sidebar redraw swallowed
    sidebar.locator('input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "image/png", "buffer": data}]
    )
    page.get_by_text(f"{name} —", exact=False).first.wait_for(state="visible", timeout=120_000)
    idle(page)  # the caption exists only in the upload's own run: it proves the run, which has ended once idle


def _explore(browser, url: str):
    page, errors = open_page(browser, f"{url}/Explore", height=1400)
    page.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
    idle(page)
    return page, errors


def _replica(page) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies[serve.COOKIE]


def _wait_for_log(log: Path, line: str, timeout: float) -> None:
    """Poll ``log`` until it holds ``line`` (at most ``timeout`` seconds, well inside the test's own timeout)."""
    deadline = time.monotonic() + timeout
    while line not in log.read_text():
        assert time.monotonic() < deadline, f"{line!r} not in {log} after {timeout} s:\n{log.read_text()}"
        time.sleep(0.2)


def _listening(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{serve.HEALTH}", timeout=1):
            return True
    except OSError:
        return False


def _no_exception(page, errors) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors


def test_the_serve_command_uploads_through_the_balancer_and_stops_cleanly(browser, repo_root: Path, artifacts_dir):
    _needs_haproxy()
    port, first = free_port(), free_ports(2)
    logs = artifacts_dir / "serve-command"
    command = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scse_viz.serve",
            "--replicas",
            "2",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--first-replica-port",
            str(first),
            "--logs",
            str(logs),
        ],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = command.stdout.readline()  # printed once every replica and the balancer answer their health check
        assert f"2 replicas behind HAProxy at http://127.0.0.1:{port}" in line, (
            line + (logs / "haproxy.log").read_text()
        )
        page, errors = _explore(browser, f"http://127.0.0.1:{port}")
        _upload(page, "through-haproxy.png", _png(1))
        assert _replica(page) in ("r1", "r2")
        page.screenshot(path=str(artifacts_dir / "serve-upload.png"), full_page=True)
        _no_exception(page, errors)
        page.close()
        too_big = urllib.request.Request(
            f"http://127.0.0.1:{port}/_stcore/upload_file/x/y",
            method="PUT",
            headers={"Content-Length": str(201 * 1024 * 1024)},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(too_big, timeout=5)
        assert refused.value.code == 413  # the app's upload limit, enforced at the balancer
    finally:
        command.send_signal(signal.SIGINT)
        assert command.wait(timeout=60) == 0
    assert not any(_listening(p) for p in (port, first, first + 1))  # balancer and both replicas are gone


def test_a_replica_dies_during_class(browser, artifacts_dir):
    _needs_haproxy()
    port = free_port()
    cluster = serve.start(
        replicas=2, port=port, address="127.0.0.1", first_replica_port=free_ports(2), logs=artifacts_dir / "serve-fault"
    )
    try:
        alice, _alice_errors = _explore(browser, cluster.url)
        _upload(alice, "alice.png", _png(2))
        bob, bob_errors = None, None
        for _ in range(6):  # leastconn sends the next person to the other replica; try a few people to be sure
            bob, bob_errors = _explore(browser, cluster.url)
            if _replica(bob) != _replica(alice):
                break
            bob.close()
        assert _replica(bob) != _replica(alice), "no second person landed on the other replica"
        _upload(bob, "bob.png", _png(3))

        doomed = cluster.replicas[int(_replica(alice)[1:]) - 1]
        doomed.kill()
        doomed.wait(timeout=10)
        # the balancer's health check (every 1 s, down after 2 failures) takes the replica out: HAProxy says so
        _wait_for_log(artifacts_dir / "serve-fault" / "haproxy.log", f"replicas/{_replica(alice)} is DOWN", 60)

        # Bob, on the other replica, keeps working: a widget change reruns his script with his upload still there
        bob.get_by_role("tab", name="Attention").click()
        before = runs_finished(bob)
        bob.get_by_text("channel", exact=True).first.click()  # the gate bars' order: a rerun of Bob's script
        idle(bob, after=before)
        assert bob.get_by_text("bob.png —", exact=False).count() >= 1
        assert bob.get_by_text("The server that held your session stopped", exact=False).count() == 0
        _no_exception(bob, bob_errors)

        # a new person is served
        carol, carol_errors = _explore(browser, cluster.url)
        assert _replica(carol) == _replica(bob)
        _no_exception(carol, carol_errors)

        # Alice reloads: a working page, one note that her upload must be made again, no stack trace
        alice.reload(wait_until="domcontentloaded")
        alice.get_by_role("heading", name="Explore", exact=True).wait_for(state="visible", timeout=120_000)
        alice.get_by_text("The server that held your session stopped", exact=False).wait_for(timeout=60_000)
        idle(alice)
        # her URL still says she was on an upload (the view's link): the page asks for the file by name
        alice.get_by_text("This link was made on an uploaded file", exact=False).wait_for(timeout=60_000)
        assert alice.get_by_text("alice.png —", exact=False).count() == 0  # her upload is not shown as if present
        alice.screenshot(path=str(artifacts_dir / "serve-after-fault.png"), full_page=True)
        assert alice.locator('[data-testid="stException"]').count() == 0
    finally:
        cluster.stop()
    assert all(p.poll() is not None for p in [cluster.balancer, *cluster.replicas])
