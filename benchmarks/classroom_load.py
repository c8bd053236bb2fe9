"""A class uploading at once: K real browser sessions against one ``streamlit run`` and against the replicated set-up.

``python -m benchmarks.classroom_load [--sessions 1 4 8 16] [--replicas 2] [--timeout 300]``

Each session is a headless chromium page of its own (own cookies) on loopback. All K open Explore, then all upload a
different 256×256 brain slice at the same moment; a session is settled when its script run has finished and its own
file's caption and outputs are on screen. Printed per set-up and K: p50 / p95 / max seconds from upload to settled,
failures (a session that did not settle in time, showed an error, or showed another file's name), the server's
resident memory (all its processes), and the server's own time per Explore run (``SCSE_TIMING_LOG``), because the
browsers share this machine's cores with the servers. Bounded: K <= 32, one timeout per round, loopback only.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scse_viz import serve
from tests.browsing import APP_IDLE, COUNT_FINISHED_RUNS, free_port, launch_chromium

MAX_SESSIONS = 32


@dataclass
class Round:
    setup: str
    sessions: int
    seconds: list[float]
    failures: list[str]
    rss_mb: float
    server_runs: list[float]


def _slices(count: int) -> list[bytes]:
    """``count`` different 256×256 gray slices of the template (8-bit PNG), as students would upload."""
    from scse_viz.data.brain import brain_slice

    out = []
    for i in range(count):
        orientation = ("axial", "coronal", "sagittal")[i % 3]
        pixels = brain_slice(orientation, 60 + 3 * i).pixels
        image = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).resize((256, 256))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def _rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes and their children (from /proc), in MB."""
    seen, total, queue = set(), 0, list(pids)
    while queue:
        pid = queue.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            queue.extend(int(c) for c in children)
        except (OSError, StopIteration):
            continue
    return total / 1024


def _settled(page, name: str) -> bool:
    if not page.evaluate(APP_IDLE, -1):
        return False
    return (
        page.get_by_text(f"{name} —", exact=False).count() > 0
        and page.locator('[data-testid="stHeading"]', has_text="Area per class").count() > 0
    )


def _round(browser, url: str, sessions: int, timeout: float) -> tuple[list[float], list[str]]:
    pages = []
    for _ in range(sessions):
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.add_init_script(COUNT_FINISHED_RUNS)
        page.goto(f"{url}/Explore", wait_until="domcontentloaded")
        pages.append(page)
    for page in pages:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(timeout=timeout * 1000)
        page.wait_for_function(APP_IDLE, arg=-1, timeout=timeout * 1000)
        page.locator('[data-testid="stSidebar"]').get_by_text("Upload your own", exact=True).click()
    for page in pages:
        page.wait_for_function(APP_IDLE, arg=0, timeout=timeout * 1000)
    files = _slices(sessions)
    names = [f"student-{i:02d}.png" for i in range(sessions)]
    started = {}
    for i, page in enumerate(pages):  # as close to "at the same moment" as one driver gets
        started[i] = time.perf_counter()
        page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
            files=[{"name": names[i], "mimeType": "image/png", "buffer": files[i]}]
        )
    done: dict[int, float] = {}
    deadline = time.perf_counter() + timeout
    while len(done) < sessions and time.perf_counter() < deadline:
        for i, page in enumerate(pages):
            if i not in done and _settled(page, names[i]):
                done[i] = time.perf_counter() - started[i]
        time.sleep(0.05)
    failures = [f"{names[i]}: not settled within {timeout:.0f} s" for i in range(sessions) if i not in done]
    for i, page in enumerate(pages):
        if i in done:
            others = [n for j, n in enumerate(names) if j != i and page.get_by_text(f"{n} —", exact=False).count()]
            if others:
                failures.append(f"{names[i]}: shows {others}")
            if page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count():
                failures.append(f"{names[i]}: shows an error")
        page.close()
    return sorted(done.values()), failures


def _warm_up(browser, url: str, pages: int) -> None:
    """Open Explore on the default sample in ``pages`` sessions at once (one per replica: leastconn spreads them),
    so every process has loaded its models; then leave, and wait for the sessions to be freed."""
    opened = []
    for _ in range(pages):
        page = browser.new_page()
        page.add_init_script(COUNT_FINISHED_RUNS)
        page.goto(f"{url}/Explore", wait_until="domcontentloaded")
        opened.append(page)
    for page in opened:
        page.get_by_role("heading", name="Area per class (% of the image)").wait_for(timeout=180_000)
        page.close()
    time.sleep(3)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.quantile(values, q))


def _server_runs(log: Path, since: int) -> list[float]:
    if not log.exists():
        return []
    lines = log.read_text().splitlines()[since:]
    return [float(line.split()[1]) for line in lines if line.startswith("explore ")]


def _plain(port: int, log: Path, threads: int) -> subprocess.Popen:
    env = {**os.environ, serve_timing(): str(log), "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    serve._wait([f"http://127.0.0.1:{port}"], [process], serve.STARTUP_TIMEOUT_S)
    return process


def serve_timing() -> str:
    from scse_viz.ui.navigation import TIMING_LOG

    return TIMING_LOG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom_load", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a round may take")
    args = parser.parse_args(argv)
    if max(args.sessions) > MAX_SESSIONS:
        parser.error(f"at most {MAX_SESSIONS} sessions")
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="classroom-"))
    rounds: list[Round] = []
    cores = os.cpu_count() or 1
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for setup in ("one process", f"{args.replicas} replicas + HAProxy"):
                log = work / f"timing-{len(rounds)}.log"
                if setup == "one process":
                    port = free_port()
                    process = _plain(port, log, cores)
                    url, pids, stop = f"http://127.0.0.1:{port}", [process.pid], process.terminate
                else:
                    os.environ[serve_timing()] = str(log)
                    cluster = serve.start(
                        args.replicas, free_port(), "127.0.0.1", first_replica_port=free_port(), logs=work / "serve"
                    )
                    url, pids, stop = cluster.url, [p.pid for p in cluster.replicas], cluster.stop
                try:
                    _warm_up(browser, url, pages=len(pids))
                    idle_rss = _rss_mb(pids)
                    print(
                        f"{setup}: server memory with the models loaded, no session open: {idle_rss:.0f} MB", flush=True
                    )
                    for k in args.sessions:
                        since = len(log.read_text().splitlines()) if log.exists() else 0
                        seconds, failures = _round(browser, url, k, args.timeout)
                        result = Round(setup, k, seconds, failures, _rss_mb(pids), _server_runs(log, since))
                        rounds.append(result)
                        runs = result.server_runs
                        print(
                            f"{setup:>24}  K={k:<3} upload→settled p50 {_quantile(seconds, 0.5):6.2f} s  "
                            f"p95 {_quantile(seconds, 0.95):6.2f} s  max {max(seconds, default=float('nan')):6.2f} s"
                            f"  failures {len(failures)}  server memory {result.rss_mb:.0f} MB"
                            f" ({(result.rss_mb - idle_rss) / k:+.0f} MB/session)  server run per Explore "
                            f"median {statistics.median(runs) if runs else float('nan'):.2f} s, max {max(runs, default=float('nan')):.2f} s"
                            f" ({len(runs)} runs)",
                            flush=True,
                        )
                        for failure in failures:
                            print(f"    {failure}", flush=True)
                finally:
                    stop()
                    os.environ.pop(serve_timing(), None)
        finally:
            browser.close()
    return 1 if any(r.failures for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
