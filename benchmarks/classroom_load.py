"""A class uploading at once: K real browser sessions against one ``streamlit run`` and against the replicated set-up.

``python -m benchmarks.classroom_load [--sessions 1 4 8 16] [--same 16] [--same-open 16] [--ones 5] [--replicas 2]
[--page-loads 3] [--setups one replicas] [--placement shared pinned] [--timeout 300]``

Each session is a headless chromium page of its own (own cookies) on loopback. Upload rounds: all K open Explore,
then all upload a different 256×256 brain slice at the same moment; a session is settled when its script run has
finished and its own file's caption and outputs are on screen. Same-sample rounds: K sessions open Explore on the
same bundled sample (one the server has not run yet) at the same moment, following a link: sixteen page loads on
these cores are part of the figure; settled when the outputs are on screen. Same-sample rounds in open pages
(``--same-open``): K pages already open on Explore all choose the same unrun sample at the same moment, so the figure
is the server's answer and the drawing of the outputs, as in the upload rounds.
``--ones N`` repeats a lone upload N times first (one browser, one upload: the median is the figure a single student
sees); before it, ``--page-loads N`` loads About (text only) and Explore (to its outputs) N times each in a context of
its own and prints what one load costs the machine outside the server (chromium, a new context, the driver).

Printed per placement, set-up and round: p50 / p95 / max seconds to settled, failures (a session that did not settle
in time, showed an error, or showed another file's name), the server's resident memory (all its processes) and its
growth per session, the server's CPU seconds (user + system of all its processes, from /proc) per session of the
round (page loads included) and of it those from the first upload or choice to the last session settled, the server's own time per Explore script run and how often the models ran (``SCSE_TIMING_LOG``), and the CPU
seconds per session the rest of the machine spent (chromium and its driver, nothing else running): what the
browsers cost.

Each page notes by itself when it is settled (``SETTLE_WATCH``: a MutationObserver, the page's own clock), and the
driver reads that note from each page every ``POLL_S``. Until 2026-12-07 the driver asked every page every 50 ms
whether it was settled (a script evaluation and two DOM queries each): with 16 pages that asking ran the whole round
and took a share of the same cores the pages and the server need, so the figures before that date include it.

Placements: ``shared`` lets the browsers and the servers share every core (as on one laptop); ``pinned`` puts the
servers on ``--server-cores`` (``taskset --cpu-list`` for the one process; the replicas and HAProxy inherit the
driver's affinity, set with ``os.sched_setaffinity`` around their start) and the driver with its chromium on
``--browser-cores`` (inherited the same way), so the figure says what the server can serve when the
browsers draw elsewhere, as the students' laptops do. Bounded: K <= 32, one timeout per round, loopback only.
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
from tests.browsing import APP_IDLE, COUNT_FINISHED_RUNS, free_port, free_ports, launch_chromium

MAX_SESSIONS = 32
POLL_S = 0.5  # how often the driver reads each page's own note (the note's time is the page's, not the poll's)
OUTPUTS_HEADING = "Area per class"  # a heading of Explore's Outputs tab, drawn after the masks
ABOUT_HEADING = "About scSE Lens"  # the About page's title

# ``window.__armSettle(caption, heading)``: from now on, note in ``window.__settledAt`` (epoch milliseconds) the first
# moment the app runs no script, a heading containing ``heading`` (default: the Outputs tab's) is on screen and,
# unless ``caption`` is null, so is the text ``caption``. Checked one task after each burst of DOM changes. No count
# of finished runs: a quick run's "running" state can be batched away before it reaches the DOM (a shared sample's
# run takes 0.04 s), so the proof of the action's run is a caption the page did not show before it (the file's or the
# sample's name), as it was when the driver asked.
SETTLE_WATCH = """
(() => {
  window.__settle = null;
  window.__settledAt = null;
  let pending = false;
  const check = () => {
    pending = false;
    const want = window.__settle;
    if (want === null || window.__settledAt !== null) return;
    const app = document.querySelector('[data-testid="stApp"]');
    if (app === null || app.getAttribute("data-test-script-state") !== "notRunning") return;
    const headings = document.querySelectorAll('[data-testid="stHeading"]');
    if (![...headings].some((h) => h.textContent.includes(want.heading))) return;
    if (want.caption !== null && !document.body.textContent.includes(want.caption)) return;
    window.__settledAt = performance.timeOrigin + performance.now();
  };
  const schedule = () => { if (!pending) { pending = true; setTimeout(check, 0); } };
  window.__armSettle = (caption, heading = __HEADING__) => {
    window.__settle = {caption, heading};
    window.__settledAt = null;
    schedule();
  };
  new MutationObserver(schedule).observe(document, {subtree: true, childList: true, attributes: true,
                                                    characterData: true});
})();
""".replace("__HEADING__", repr(OUTPUTS_HEADING))
ARM = "(caption) => window.__armSettle(caption)"


@dataclass
class Round:
    setup: str
    sessions: int
    seconds: list[float]
    failures: list[str]
    rss_mb: float
    server_runs: list[float]
    cpu_seconds: float = 0.0
    model_runs: int = 0
    action_cpu_seconds: float = float("nan")  # from the first upload or choice to the last session settled
    client_cpu_seconds: float = float("nan")  # the machine's working CPU less the servers': chromium and the driver


def _slices(count: int) -> list[bytes]:
    """``count`` different 256×256 gray slices of the template (8-bit PNG), as students would upload."""
    from scse_viz.datasets.brain import brain_slice

    out = []
    for i in range(count):
        orientation = ("axial", "coronal", "sagittal")[i % 3]
        pixels = brain_slice(orientation, 60 + 3 * i).pixels
        image = Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)).resize((256, 256))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def _tree(pids: list[int]) -> list[int]:
    """The processes and all their descendants (from /proc: the children of every thread, as chromium starts some of
    its processes from other threads than its main one)."""
    seen, queue = [], list(pids)
    while queue:
        pid = queue.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                queue.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return seen


def _rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes and their descendants (from /proc), in MB."""
    total = 0
    for pid in _tree(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes and their descendants have used so far (/proc/<pid>/stat)."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in _tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def _machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent working so far, all cores (/proc/stat: user, nice, system, irq,
    softirq). Less the servers' it is what the browsers and the driver spent, nothing else running: counting
    chromium's own processes instead loses a page's renderer when it exits with its page, and adding the exited ones'
    times (cutime) counted some twice here (more CPU seconds than the cores had in the round)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])  # not steal: another VM's
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _cpu_outside(servers: list[int]) -> float:
    """The machine's working CPU seconds so far less the servers': the browsers' and the driver's."""
    return _machine_cpu_seconds() - _cpu_seconds(servers)


def page_script(arm_on_load_for: str | None = None) -> str:
    """The one script a page runs before its own (one, because Playwright does not promise the order of several): it
    counts finished script runs (``COUNT_FINISHED_RUNS``) and can note when it is settled; with ``arm_on_load_for``
    (a heading) it is armed from its first moment, settled once that heading is on screen and no script runs."""
    arm = "" if arm_on_load_for is None else f"window.__armSettle(null, {arm_on_load_for!r});"
    return COUNT_FINISHED_RUNS + SETTLE_WATCH + arm


def _new_page(browser, arm_on_load_for: str | None = None):
    """A page of its own running :func:`page_script`."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.add_init_script(page_script(arm_on_load_for))
    return page


def _open_explore(browser, url: str, sessions: int) -> list:
    """``sessions`` pages of their own on Explore (the default sample)."""
    pages = []
    for _ in range(sessions):
        page = _new_page(browser)
        page.goto(f"{url}/Explore", wait_until="domcontentloaded")
        pages.append(page)
    return pages


def _shows_error(page) -> bool:
    """Whether the page shows an exception or an error message."""
    return page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() > 0


def _settled_at(page) -> float | None:
    """The page's note of when it settled (epoch milliseconds), None before it has (or while it loads its document)."""
    try:
        return page.evaluate("window.__settledAt")
    except Exception:  # noqa: BLE001  (the page is still loading its document)
        return None


def _wait_settled(pages: list, started: dict[int, float], timeout: float) -> dict[int, float]:
    """Seconds from ``started[i]`` (``time.time()``) to the moment page ``i`` noted itself settled, for each page that
    does within ``timeout``."""
    done: dict[int, float] = {}
    deadline = time.time() + timeout
    while len(done) < len(pages) and time.time() < deadline:
        time.sleep(POLL_S)
        for i, page in enumerate(pages):
            if i in done:
                continue
            at = _settled_at(page)
            if at is not None:
                done[i] = at / 1000 - started[i]
    return done


def _round(browser, url: str, sessions: int, timeout: float, cpu) -> tuple[list[float], list[str], float]:
    pages = _open_explore(browser, url, sessions)
    for page in pages:
        page.get_by_role("heading", name="Explore", exact=True).wait_for(timeout=timeout * 1000)
        page.wait_for_function(APP_IDLE, arg=-1, timeout=timeout * 1000)
        page.locator('[data-testid="stSidebar"]').get_by_text("Upload your own", exact=True).click()
    for page in pages:
        page.wait_for_function(APP_IDLE, arg=0, timeout=timeout * 1000)
    files = _slices(sessions)
    names = [f"student-{i:02d}.png" for i in range(sessions)]
    for i, page in enumerate(pages):
        page.evaluate(ARM, f"{names[i]} —")
    started, cpu_before = {}, cpu()
    for i, page in enumerate(pages):  # as close to "at the same moment" as one driver gets
        started[i] = time.time()
        page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(
            files=[{"name": names[i], "mimeType": "image/png", "buffer": files[i]}]
        )
    done = _wait_settled(pages, started, timeout)
    action_cpu = cpu() - cpu_before
    failures = [f"{names[i]}: not settled within {timeout:.0f} s" for i in range(sessions) if i not in done]
    for i, page in enumerate(pages):
        if i in done:
            others = [n for j, n in enumerate(names) if j != i and page.get_by_text(f"{n} —", exact=False).count()]
            if others:
                failures.append(f"{names[i]}: shows {others}")
            if _shows_error(page):
                failures.append(f"{names[i]}: shows an error")
        page.close()
    return sorted(done.values()), failures, action_cpu


def _same_sample_round(
    browser, url: str, sessions: int, sample: str, timeout: float, cpu
) -> tuple[list[float], list[str], float]:
    """``sessions`` pages open Explore on the same sample at the same moment (as a class following one link)."""
    pages = [_new_page(browser, arm_on_load_for=OUTPUTS_HEADING) for _ in range(sessions)]
    started = {}
    for i, page in enumerate(pages):
        started[i] = time.time()
        page.goto(f"{url}/Explore?family=brain&sample={sample}", wait_until="commit")
    done = _wait_settled(pages, started, timeout)
    failures = [f"session {i}: not settled within {timeout:.0f} s" for i in range(sessions) if i not in done]
    for i, page in enumerate(pages):
        if i in done and _shows_error(page):
            failures.append(f"session {i}: shows an error")
        page.close()
    return sorted(done.values()), failures, float("nan")  # page loads and the sample are one action here


def _same_sample_open_round(
    browser, url: str, sessions: int, sample, timeout: float, cpu
) -> tuple[list[float], list[str], float]:
    """``sessions`` pages already open on Explore all choose the same sample (one the server has not run) at the same
    moment, as a class told "pick the coronal slice 71" does: the page loads are over, so the figure is the server's
    answer and the drawing of the outputs, as in the upload rounds."""
    pages = _open_explore(browser, url, sessions)
    for page in pages:
        page.get_by_role("heading", name=f"{OUTPUTS_HEADING} (% of the image)").wait_for(timeout=timeout * 1000)
        page.wait_for_function(APP_IDLE, arg=-1, timeout=timeout * 1000)
    caption = f"{sample.path.name} —"
    for page in pages:
        page.evaluate(ARM, caption)
    started, cpu_before = {}, cpu()
    for i, page in enumerate(pages):  # as close to "at the same moment" as one driver gets
        started[i] = time.time()
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Sample").click()
        page.get_by_role("option", name=sample.title).click()
    done = _wait_settled(pages, started, timeout)
    action_cpu = cpu() - cpu_before
    failures = [f"session {i}: not settled within {timeout:.0f} s" for i in range(sessions) if i not in done]
    for i, page in enumerate(pages):
        if i in done and page.get_by_text(caption, exact=False).count() != 1:
            failures.append(f"session {i}: does not show {caption!r} once")
        if i in done and _shows_error(page):
            failures.append(f"session {i}: shows an error")
        page.close()
    return sorted(done.values()), failures, action_cpu


def _page_load_cpu(browser, url: str, path: str, servers: list[int], timeout: float) -> float:
    """CPU seconds chromium and the driver spend on one page load of ``path`` (About or Explore) in a context of its
    own (no cache), to the end of its first script run (on Explore: with the outputs on screen), and half a second on."""
    before = _cpu_outside(servers)
    page = _new_page(browser, arm_on_load_for=OUTPUTS_HEADING if path == "Explore" else ABOUT_HEADING)
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    page.wait_for_function("window.__settledAt !== null", polling=POLL_S * 1000, timeout=timeout * 1000)
    time.sleep(POLL_S)  # what the page draws after its last run
    spent = _cpu_outside(servers) - before
    page.close()
    time.sleep(1.0)  # its teardown, before the next load's first reading
    return spent


def _warm_up(browser, url: str, pages: int) -> None:
    """Open Explore on the default sample in ``pages`` sessions at once (one per replica: leastconn spreads them),
    so every process has loaded its models; then leave, and wait for the sessions to be freed."""
    opened = []
    for _ in range(pages):
        page = _new_page(browser)
        page.goto(f"{url}/Explore", wait_until="domcontentloaded")
        opened.append(page)
    for page in opened:
        page.get_by_role("heading", name=f"{OUTPUTS_HEADING} (% of the image)").wait_for(timeout=180_000)
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


def _model_runs(log: Path, since: int) -> int:
    """How often the server ran a family's models (``ui.runs`` logs each run; a shared input runs once)."""
    if not log.exists():
        return 0
    return sum(line.startswith("models ") for line in log.read_text().splitlines()[since:])


def _log_length(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _plain(port: int, log: Path, threads: int, cores: set[int] | None = None) -> subprocess.Popen:
    env = {**os.environ, serve_timing(): str(log), "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    pin = ["taskset", "--cpu-list", ",".join(map(str, sorted(cores)))] if cores else []  # the server's cores only
    process = subprocess.Popen(
        [*pin, *serve.app_command(port)],
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


def _print_round(setup: str, label: str, result: Round, idle_rss: float) -> None:
    runs, k = result.server_runs, result.sessions
    print(
        f"{setup:>34}  {label:<10} K={k:<3} p50 {_quantile(result.seconds, 0.5):6.2f} s  "
        f"p95 {_quantile(result.seconds, 0.95):6.2f} s  max {max(result.seconds, default=float('nan')):6.2f} s"
        f"  failures {len(result.failures)}  server memory {result.rss_mb:.0f} MB"
        f" ({(result.rss_mb - idle_rss) / k:+.0f} MB/session)  server CPU {result.cpu_seconds / k:.3f} s/session"
        f" (of it from the action to settled {result.action_cpu_seconds / k:.3f} s)"
        f"  script run median {statistics.median(runs) if runs else float('nan'):.2f} s"
        f" ({len(runs)} runs)  models ran {result.model_runs}×"
        f"  browsers and driver CPU {result.client_cpu_seconds / k:.2f} s/session",
        flush=True,
    )
    for failure in result.failures:
        print(f"    {failure}", flush=True)


def _measured(log: Path, pids: list[int], setup: str, k: int, play) -> Round:
    """Run ``play(cpu)`` (``cpu()``: the servers' CPU seconds so far) and gather the round's figures."""
    since, cpu, outside = _log_length(log), _cpu_seconds(pids), _cpu_outside(pids)
    seconds, failures, action_cpu = play(lambda: _cpu_seconds(pids))
    server_cpu, outside_cpu = _cpu_seconds(pids) - cpu, _cpu_outside(pids) - outside
    return Round(
        setup,
        k,
        seconds,
        failures,
        _rss_mb(pids),
        _server_runs(log, since),
        server_cpu,
        _model_runs(log, since),
        action_cpu,
        outside_cpu,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.classroom_load", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="*", default=[1, 4, 8, 16], help="upload rounds")
    parser.add_argument("--same", type=int, nargs="*", default=[16], help="same-sample rounds, following a link")
    parser.add_argument(
        "--same-open", type=int, nargs="*", default=[16], help="same-sample rounds, chosen in pages already open"
    )
    parser.add_argument("--ones", type=int, default=5, help="lone uploads first (their median is printed)")
    parser.add_argument(
        "--page-loads", type=int, default=3, help="page loads of About and of Explore first (browser CPU, median)"
    )
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--setups", nargs="+", choices=["one", "replicas"], default=["one", "replicas"])
    parser.add_argument("--placement", nargs="+", choices=["shared", "pinned"], default=["shared", "pinned"])
    parser.add_argument("--server-cores", type=int, nargs="+", default=[1])
    parser.add_argument("--browser-cores", type=int, nargs="+", default=[0])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a round may take")
    args = parser.parse_args(argv)
    if max([*args.sessions, *args.same, *args.same_open, 1]) > MAX_SESSIONS:
        parser.error(f"at most {MAX_SESSIONS} sessions")
    from playwright.sync_api import sync_playwright

    from scse_viz import samples

    unrun = [s for s in samples.list_samples("brain") if s.kind == "image"][1:]  # the first: warm-up
    if len(args.same) + len(args.same_open) > len(unrun):
        parser.error(f"at most {len(unrun)} same-sample rounds of both kinds (one unrun sample each)")
    work = Path(tempfile.mkdtemp(prefix="classroom-"))
    rounds: list[Round] = []
    everywhere = os.sched_getaffinity(0)
    with sync_playwright() as playwright:
        for placement in args.placement:
            pinned = placement == "pinned"
            server_cores = set(args.server_cores) if pinned else everywhere
            os.sched_setaffinity(0, set(args.browser_cores) if pinned else everywhere)  # chromium inherits it
            browser = launch_chromium(playwright)
            try:
                for choice in args.setups:
                    setup = "one process" if choice == "one" else f"{args.replicas} replicas + HAProxy"
                    setup = f"{setup}, {placement}" + (
                        f" (server cores {sorted(server_cores)}, browsers {sorted(args.browser_cores)})"
                        if pinned
                        else ""
                    )
                    log = work / f"timing-{placement}-{choice}.log"
                    if choice == "one":
                        port = free_port()
                        process = _plain(port, log, len(server_cores), server_cores if pinned else None)
                        url, pids, stop = f"http://127.0.0.1:{port}", [process.pid], process.terminate
                    else:
                        os.environ[serve_timing()] = str(log)
                        driver = os.sched_getaffinity(0)
                        os.sched_setaffinity(0, server_cores)  # the replicas and HAProxy inherit the servers' cores
                        try:
                            cluster = serve.start(
                                args.replicas,
                                free_port(),
                                "127.0.0.1",
                                first_replica_port=free_ports(args.replicas),
                                logs=work / f"serve-{placement}",
                            )
                        finally:
                            os.sched_setaffinity(0, driver)
                        servers = [*cluster.replicas, *([cluster.balancer] if cluster.balancer else [])]
                        url, pids, stop = cluster.url, [p.pid for p in servers], cluster.stop
                    try:
                        _warm_up(browser, url, pages=1 if choice == "one" else args.replicas)
                        idle_rss = _rss_mb(pids)
                        print(f"{setup}: server memory with the models loaded, no session open: {idle_rss:.0f} MB")
                        for path in ("About", "Explore") if args.page_loads else ():
                            costs = [
                                _page_load_cpu(browser, url, path, pids, args.timeout) for _ in range(args.page_loads)
                            ]
                            print(
                                f"{setup:>34}  one page load of {path} in a context of its own ×{len(costs)}: "
                                f"browser and driver CPU median {statistics.median(costs):.2f} s",
                                flush=True,
                            )
                        ones = []
                        for _ in range(args.ones):
                            result = _measured(
                                log, pids, setup, 1, lambda cpu: _round(browser, url, 1, args.timeout, cpu)
                            )
                            ones.append(result)
                            rounds.append(result)
                        if ones:
                            seconds = [r.seconds[0] for r in ones if r.seconds]
                            cpu = [r.cpu_seconds for r in ones]
                            print(
                                f"{setup:>34}  lone upload ×{len(ones)}: upload→settled median "
                                f"{_quantile(seconds, 0.5):.2f} s (min {min(seconds, default=float('nan')):.2f}), "
                                f"server CPU per upload median {statistics.median(cpu):.3f} s, browsers and driver "
                                f"{statistics.median(r.client_cpu_seconds for r in ones):.2f} s, failures "
                                f"{sum(len(r.failures) for r in ones)}",
                                flush=True,
                            )
                        for k in args.sessions:
                            result = _measured(
                                log, pids, setup, k, lambda cpu, k=k: _round(browser, url, k, args.timeout, cpu)
                            )
                            rounds.append(result)
                            _print_round(setup, "uploads", result, idle_rss)
                        for k, sample in zip(args.same, unrun):
                            result = _measured(
                                log,
                                pids,
                                setup,
                                k,
                                lambda cpu, k=k, sample=sample: _same_sample_round(
                                    browser, url, k, sample.name, args.timeout, cpu
                                ),
                            )
                            rounds.append(result)
                            _print_round(setup, "same sample", result, idle_rss)
                        for k, sample in zip(args.same_open, unrun[len(args.same) :]):
                            result = _measured(
                                log,
                                pids,
                                setup,
                                k,
                                lambda cpu, k=k, sample=sample: _same_sample_open_round(
                                    browser, url, k, sample, args.timeout, cpu
                                ),
                            )
                            rounds.append(result)
                            _print_round(setup, "same, open", result, idle_rss)
                    finally:
                        stop()
                        os.environ.pop(serve_timing(), None)
            finally:
                browser.close()
                os.sched_setaffinity(0, everywhere)
    return 1 if any(r.failures for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
