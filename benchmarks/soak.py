"""A class for an hour: K browser sessions cycling through what people do, against the replicated set-up (issue 25).

``python -m benchmarks.soak [--sessions 8] [--minutes 20] [--replicas 2] [--sample-every 15]``

K headless chromium sessions (each its own cookies), driven in turn, each cycling through: an upload of its own
named picture (then a check that the page shows that name and no other session's), a link that opens Explore with
a branch knocked out, Attribution with *Compute attributions* pressed, and a brought model (a small smp zip loaded
through the sidebar form). Every action reloads its page, so sessions are also opened and dropped all the time,
the churn that would show a leak. Every ``--sample-every`` seconds each replica's resident memory (with its
children) is read from /proc. Printed at the end: actions done, errors (a page that shows an exception or an error
message, or did not settle), cross-talk (a page that showed another session's file), and per replica its memory
after warm-up (the first full cycle), at the end, and the growth between them, with the series as CSV lines.
Bounded: K <= 32, the time given, loopback only.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.classroom_load import _rss_mb
from scse_viz import serve
from tests.browsing import APP_IDLE, COUNT_FINISHED_RUNS, free_port, free_ports, launch_chromium, wait_enabled

MAX_SESSIONS = 32
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
SIDEBAR = '[data-testid="stSidebar"]'


def _picture(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).random((192, 192))
    buffer = io.BytesIO()
    Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _model_zip(folder: Path) -> Path:
    import segmentation_models_pytorch as smp
    import torch

    import scse_viz  # noqa: F401

    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, decoder_attention_type="scse", classes=2)
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        path = folder / "unet.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for file in Path(saved).iterdir():
                archive.writestr(f"unet/{file.name}", file.read_bytes())
    return path


def _idle(page, timeout: float) -> None:
    page.wait_for_function(APP_IDLE, arg=0, timeout=timeout * 1000)


def _open(page, url: str, timeout: float) -> None:
    page.goto(url, wait_until="domcontentloaded")
    _idle(page, timeout)


class Session:
    def __init__(self, browser, index: int) -> None:
        self.page = browser.new_page(viewport={"width": 1300, "height": 1000})
        self.page.add_init_script(COUNT_FINISHED_RUNS)
        self.index, self.cycle = index, 0

    def patient(self, timeout: float) -> None:
        self.page.set_default_timeout(timeout * 1000)

    def upload(self, url: str, names: list[str], timeout: float) -> list[str]:
        page, name = self.page, f"student{self.index:02d}-{self.cycle:03d}.png"
        names.append(name)
        _open(page, f"{url}/Explore?input=upload", timeout)
        before = page.evaluate("window.__scriptRunsFinished")
        page.locator(f'{SIDEBAR} input[type="file"]').first.set_input_files(
            files=[{"name": name, "mimeType": "image/png", "buffer": _picture(self.index * 1000 + self.cycle)}]
        )
        page.wait_for_function(APP_IDLE, arg=before, timeout=timeout * 1000)
        page.get_by_text(f"{name} —", exact=False).first.wait_for(timeout=timeout * 1000)
        text = page.locator('[data-testid="stMain"]').inner_text()
        return [f"{name}: shows {other}" for other in names if other != name and other in text]

    def knockout(self, url: str, timeout: float) -> None:
        _open(self.page, f"{url}/Explore?knockout=1&ko-variant=scse", timeout)

    def attribution(self, url: str, timeout: float) -> None:
        page = self.page
        _open(page, f"{url}/Attribution?steps=8", timeout)
        before = page.evaluate("window.__scriptRunsFinished")
        page.get_by_role("button", name="Compute attributions").click()
        page.wait_for_function(APP_IDLE, arg=before, timeout=timeout * 1000)

    def bring(self, url: str, model: Path, timeout: float) -> None:
        page = self.page
        _open(page, f"{url}/Explore", timeout)
        page.locator(f'{SIDEBAR} [data-testid="stSelectbox"]').first.click()
        before = page.evaluate("window.__scriptRunsFinished")
        page.get_by_role("option").filter(has_text="Your own model").click()
        page.wait_for_function(APP_IDLE, arg=before, timeout=timeout * 1000)
        page.locator('[data-testid="stFileUploader"]', has_text="Model files").locator(
            'input[type="file"]'
        ).set_input_files(model)  # a path: playwright takes buffers of at most 50 MB
        wait_enabled(page, "Load the model", timeout=int(timeout * 1000))  # the upload's quick run enables it
        before = page.evaluate("window.__scriptRunsFinished")
        page.get_by_role("button", name="Load the model").click()
        page.wait_for_function(APP_IDLE, arg=before, timeout=timeout * 1000)
        page.locator(SIDEBAR).get_by_text("Outputs read as segmentation", exact=False).wait_for(timeout=timeout * 1000)

    def errors(self) -> int:
        return self.page.locator(ERRORS).count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--sample-every", type=float, default=15.0, help="seconds between memory readings")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one action may take")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"1 to {MAX_SESSIONS} sessions")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    model = _model_zip(work)
    cluster = serve.start(
        args.replicas, free_port(), "127.0.0.1", first_replica_port=free_ports(args.replicas), logs=work
    )
    pids = [p.pid for p in cluster.replicas]
    series: list[tuple[float, list[float]]] = []
    actions, errors, crosstalk, names = 0, [], [], []
    warm_index = None
    started = time.perf_counter()
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            sessions = [Session(browser, i) for i in range(args.sessions)]
            for session in sessions:
                session.patient(args.timeout)
            steps = ("upload", "knockout", "attribution", "bring")
            next_sample = 0.0
            while time.perf_counter() - started < args.minutes * 60:
                for session in sessions:
                    now = time.perf_counter() - started
                    if now >= next_sample:
                        series.append((now, [_rss_mb([pid]) for pid in pids]))
                        next_sample = now + args.sample_every
                    if now >= args.minutes * 60:
                        break
                    step = steps[session.cycle % len(steps)]
                    try:
                        if step == "upload":
                            crosstalk += session.upload(cluster.url, names, args.timeout)
                        elif step == "knockout":
                            session.knockout(cluster.url, args.timeout)
                        elif step == "attribution":
                            session.attribution(cluster.url, args.timeout)
                        else:
                            session.bring(cluster.url, model, args.timeout)
                        if session.errors():
                            errors.append(f"session {session.index} {step}: the page shows an error")
                    except PlaywrightError as error:
                        errors.append(f"session {session.index} {step}: {str(error).splitlines()[0]}")
                        shot = work / f"error-{len(errors):03d}.png"
                        session.page.screenshot(path=str(shot), full_page=True)
                        errors[-1] += f" (screenshot {shot})"
                    actions += 1
                    session.cycle += 1
                if warm_index is None and all(s.cycle >= len(steps) for s in sessions):
                    warm_index = len(series)  # the first reading after every session did every action once
            series.append((time.perf_counter() - started, [_rss_mb([pid]) for pid in pids]))
            browser.close()
    finally:
        cluster.stop()
    warm = series[min(warm_index or 0, len(series) - 1)]
    end = series[-1]
    print(f"soak: {args.sessions} sessions, {args.replicas} replicas, {(end[0]) / 60:.1f} min, {actions} actions")
    print(f"errors: {len(errors)}; cross-talk: {len(crosstalk)}")
    for line in errors[:20] + crosstalk[:20]:
        print(f"  {line}")
    after = series[min(warm_index or 0, len(series) - 1) :]
    third = max(1, len(after) // 3)
    for r in range(len(pids)):
        growth = 100 * (end[1][r] - warm[1][r]) / warm[1][r] if warm[1][r] else float("nan")
        # Sessions come and go (every action reloads a page; a left session is kept 120 s), so single readings swing;
        # a leak shows as rising troughs: the lowest reading of the first and of the last third after warm-up.
        first_low, last_low = min(v[r] for _, v in after[:third]), min(v[r] for _, v in after[-third:])
        trough = 100 * (last_low - first_low) / first_low if first_low else float("nan")
        print(
            f"replica {r}: {warm[1][r]:.0f} MB after warm-up (t = {warm[0] / 60:.1f} min), {end[1][r]:.0f} MB at "
            f"the end ({growth:+.1f} %); lowest reading in the first / last third after warm-up {first_low:.0f} / "
            f"{last_low:.0f} MB ({trough:+.1f} %), highest {max(v[r] for _, v in after):.0f} MB"
        )
        # The median and the peak of each third say whether the level and the worst case rise, not only the troughs.
        firsts, lasts = [v[r] for _, v in after[:third]], [v[r] for _, v in after[-third:]]
        for name, measure in (("median", statistics.median), ("highest", max)):
            a, b = measure(firsts), measure(lasts)
            print(f"  {name} reading, first / last third: {a:.0f} / {b:.0f} MB ({100 * (b - a) / a:+.1f} %)")
    print("minutes," + ",".join(f"replica{r}_mb" for r in range(len(pids))))
    for t, values in series:
        print(f"{t / 60:.2f}," + ",".join(f"{v:.0f}" for v in values))
    (work / "soak.json").write_text(json.dumps({"series": series, "errors": errors, "crosstalk": crosstalk}))
    return 1 if errors or crosstalk else 0


if __name__ == "__main__":
    sys.exit(main())
