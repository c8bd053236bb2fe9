"""What each picture of the Explore page costs to send and draw: encode time, bytes, the browser's draw, colours.

For one input of each family (the first shipped sample; the photo family with σ = 25 noise), the pictures of the
Outputs tab (what an upload computes and sends first) and of the Attention tab (its block map and every block's
tiles) are collected from the views and sent three ways, each through Streamlit's own last step (a picture wider
than it is shown, or than 1460 px, is shrunk and re-saved as 4:2:0 JPEG at quality 90), so the bytes measured are
the bytes the browser gets:

- ``today``: what ``st.image`` did with a NumPy array (Streamlit's "auto" format: JPEG at quality 100 with 4:2:0
  chroma subsampling) after ``raster.enlarge``;
- ``exact``: ``render.encode.shown_picture``, never wider than shown, PNG (zlib level 1) where the picture was
  enlarged pixel by pixel and JPEG at quality 100 without chroma subsampling (4:4:4) elsewhere: what the app sends
  now;
- ``png``: lossless PNG (zlib level 1) of every enlarged array.

Figures per tab and arm: encode milliseconds (one thread, as a script thread has it), bytes, the largest colour
change against the exact picture at the size sent (of 255), and the browser's draw (Debian's chromium: the tab's pictures set as data URLs,
decoded and laid out until two animation frames have passed; arms alternate, median of ``--repeats``).
Prints figures; asserts nothing. Run from the repository root: python -m benchmarks.picture_cost [--repeats 7]
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import time

import numpy as np
from PIL import Image

import scse_viz  # noqa: F401
from scse_viz import explore, zoo
from scse_viz.degradation import NoiseSetting
from scse_viz.io import load_image
from scse_viz.render import encode, raster
from scse_viz.render.encode import STREAMLIT_MAX_WIDTH, fit_width, shown_picture
from scse_viz.samples import list_samples, sample_bytes
from scse_viz.views import Pictures, Tiles, view_for
from scse_viz.views.attention import AttentionChoice, attention_variants, block_sections, every_map_sections

CHROMIUM = "/usr/bin/chromium"


def family_run(name: str) -> explore.FamilyRun:
    family = zoo.family(name)
    models = {v: zoo.load_model(name, v) for v in family.variants}
    sample = list_samples(name)[0]
    image = explore.input_from_image(load_image(sample_bytes(sample), sample.name))
    if name == "photo":
        image = explore.degraded_input(image, NoiseSetting("uniform", 25.0, 0))
    return explore.run_family(family, models, image)


def _rows(sections) -> list[list[tuple[np.ndarray, int | None]]]:
    """Each row of pictures (one ``st.image`` call) as (RGB, on-screen width or None), nested sections included."""
    rows: list[list[tuple[np.ndarray, int | None]]] = []
    for section in sections:
        if isinstance(section, Pictures):
            rows += [[(rgb, None)] for _, rgb in section.items]
        elif isinstance(section, Tiles):
            rows.append([(rgb, section.width) for _, rgb in section.items])
        for part in getattr(section, "parts", ()):
            rows += _rows(part)
        rows += _rows(getattr(section, "sections", ()))
    return rows


def tabs_of(run: explore.FamilyRun) -> dict[str, list[list[tuple[np.ndarray, int | None]]]]:
    """The picture rows of the Outputs tab and of the Attention tab (last attention variant, its last block)."""
    tabs = {"Outputs": _rows(view_for(run.family.task).outputs(run))}
    variants = attention_variants(run)
    if variants:
        output = run.outputs[variants[-1]]
        choice = AttentionChoice(variants[-1], output.shown()[-1].name, "sorted", 0, "viridis", 0.5)
        tabs["Attention"] = _rows(block_sections(run, choice) + every_map_sections(run, choice))
    return tabs


def streamlit_sends(data: bytes, width: int | None, kind: str) -> bytes:
    """Streamlit 1.67's own last step (a private function): a picture wider than its width (or 1460 px) is shrunk
    and re-saved as 4:2:0 JPEG at quality 90; anything else goes out as it came."""
    from streamlit.elements.lib.image_utils import _ensure_image_size_and_format
    from streamlit.elements.lib.layout_utils import LayoutConfig

    return _ensure_image_size_and_format(data, LayoutConfig(width=width or "content"), kind)


def send(rgb: np.ndarray, width: int | None, arm: str) -> tuple[bytes, str]:
    """The bytes the browser gets for one picture of a row shown ``width`` px wide (None: the column's)."""
    if arm == "exact":  # what the app does now
        encoded = shown_picture(rgb, width or STREAMLIT_MAX_WIDTH)
        return streamlit_sends(encoded.data, width, encoded.format), encoded.format.lower()
    buffer = io.BytesIO()
    if arm == "today":  # the array, enlarged, handed to st.image: Streamlit's "auto" format for RGB is JPEG q100
        Image.fromarray(raster.enlarge(rgb)).save(buffer, format="JPEG", quality=100)
        return streamlit_sends(buffer.getvalue(), width, "JPEG"), "jpeg"
    lossless = encode.encode_picture(raster.enlarge(rgb, max_width=width), lossless=True)  # the app's PNG
    return streamlit_sends(lossless.data, width, "PNG"), "png"


def reference(rgb: np.ndarray, width: int | None) -> np.ndarray:
    """What an exact picture would look like at the size sent (box-averaged where it is shown smaller)."""
    return fit_width(raster.enlarge(rgb, max_width=width or STREAMLIT_MAX_WIDTH), width or STREAMLIT_MAX_WIDTH)


ARMS = ("today", "exact", "png")

DRAW = """async (items) => {
  const box = document.getElementById("box");
  box.replaceChildren();
  const started = performance.now();
  const images = items.map(([url, width]) => {
    const img = new Image();
    img.style.width = width + "px";
    img.src = url;
    box.appendChild(img);
    return img;
  });
  await Promise.all(images.map((img) => img.decode()));
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - started;
}"""


def browser_draw_ms(batches: dict[str, list[tuple[str, int]]], repeats: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_content('<div id="box" style="display:flex;flex-wrap:wrap"></div>')
        times: dict[str, list[float]] = {arm: [] for arm in batches}
        for arm, items in batches.items():
            page.evaluate(DRAW, items)  # warm-up
        for _ in range(repeats):
            for arm, items in batches.items():  # arms alternate: drift in load hits each alike
                times[arm].append(page.evaluate(DRAW, items))
        browser.close()
    return {arm: statistics.median(v) for arm, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--families", nargs="+", default=["brain", "fashion", "photo"])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    for name in args.families:
        for tab, rows in tabs_of(family_run(name)).items():
            pictures = [(rgb, width) for row in rows for rgb, width in row]
            if not pictures:
                print(f"\n{name}, {tab} tab: no pictures (charts only)")
                continue
            sizes = sorted({f"{rgb.shape[1]}×{rgb.shape[0]}" for rgb, _ in pictures})
            print(f"\n{name}, {tab} tab: {len(pictures)} pictures in {len(rows)} rows, made at {', '.join(sizes)}")
            batches: dict[str, list[tuple[str, int]]] = {}
            for arm in ARMS:
                encode._CACHE.clear()  # every arm encodes from scratch
                encode._cached_bytes = 0
                started = time.perf_counter()
                sent = [send(rgb, width, arm) for row in rows for rgb, width in row]
                seconds = time.perf_counter() - started
                error = 0
                for (data, _), (rgb, width) in zip(sent, [p for row in rows for p in row]):
                    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=int)
                    expected = reference(rgb, width).astype(int)
                    if decoded.shape == expected.shape:
                        error = max(error, int(np.abs(decoded - expected).max()))
                    else:  # a size the app would not send: compare on the sent grid after a box resize
                        resized = Image.fromarray(expected.astype(np.uint8)).resize(decoded.shape[1::-1], Image.BOX)
                        error = max(error, int(np.abs(decoded - np.asarray(resized, dtype=int)).max()))
                batches[arm] = [
                    (f"data:image/{kind};base64,{base64.b64encode(data).decode()}", width or 700)
                    for (data, kind), (_, width) in zip(sent, [p for row in rows for p in row])
                ]
                print(
                    f"  {arm:<6} encode {seconds * 1000:7.1f} ms   {sum(len(d) for d, _ in sent) / 1024:8.1f} KiB   "
                    f"largest colour change {error:3d}/255"
                )
            draws = browser_draw_ms(batches, args.repeats)
            print("  browser draw, median: " + ", ".join(f"{a} {v:.1f} ms" for a, v in draws.items()))


if __name__ == "__main__":
    main()
