"""Generated hostile inputs for every door of the app (issue 25), run under a bound, with the worst case as a figure.

``python -m tests.fuzzing <door> [--examples N] [--seed S]`` runs one door's examples in this (fresh) process and
prints one JSON line: examples tried, worst seconds, worst extra peak memory (``ru_maxrss`` above what the imports
took: the process's peak only rises, so its last value minus the baseline is the worst example's), and every
failure (an exception other than the library's typed ``ScseVizError``, with the example that raised it).
``tests/test_fuzz_doors.py`` runs a bounded number per door; ``benchmarks/fuzz_doors.py`` runs more.

Doors: ``images`` (PNG, JPEG, TIFF, GIF, BMP, WebP: mutated, truncated, or with huge declared sizes), ``volumes``
(NIfTI headers with random dimensions, data types and offsets, gzip-wrapped), ``dicom`` (pydicom's own MR file,
mutated, with random rows/columns/frames, alone or zipped), ``models`` (state_dicts of random names and shapes for
real architectures, smp configs with random sizes), ``batch`` (folders of such files through the batch reader).
Link parameters are fuzzed through Streamlit itself in ``tests/test_fuzz_doors.py``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import resource
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz.errors import ScseVizError

DOORS = ("images", "volumes", "dicom", "models", "batch")
MR_SMALL = Path(__import__("pydicom").__file__).parent / "data" / "test_files" / "MR_small.dcm"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mutate(data: bytes, draw: Any) -> bytes:
    """Flip some bytes, overwrite a run with a drawn value, and/or truncate."""
    raw = bytearray(data)
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.integers(0, len(raw) - 1))
        raw[position] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(raw) - 1))
        raw[start : start + 4] = draw(st.binary(min_size=4, max_size=4))
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(1, len(raw)))]
    return bytes(raw)


@st.composite
def image_files(draw: Any) -> tuple[str, bytes]:
    from PIL import Image

    kind = draw(st.sampled_from(["PNG", "JPEG", "TIFF", "GIF", "BMP", "WEBP", "random", "png-bomb"]))
    if kind == "random":
        return "x.png", draw(st.binary(min_size=1, max_size=2048))
    if kind == "png-bomb":  # a valid PNG chunk layout declaring up to 2^31 × 2^31 pixels, with tiny data
        import struct
        import zlib

        width, height = draw(st.integers(1, 2**31 - 1)), draw(st.integers(1, 2**31 - 1))
        header = struct.pack(">IIBBBBB", width, height, 8, draw(st.sampled_from([0, 2, 6])), 0, 0, 0)

        def chunk(tag: bytes, body: bytes) -> bytes:
            return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

        body = zlib.compress(b"\0" * draw(st.integers(0, 4096)))
        return "bomb.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    side = draw(st.tuples(st.integers(1, 64), st.integers(1, 64)))
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "I;16"] if kind in ("PNG", "TIFF") else ["L", "RGB"]))
    pixels = np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, 255, (*side, 3), dtype=np.uint8)
    picture = Image.fromarray(pixels).convert(mode if mode != "I;16" else "I;16")
    buffer = io.BytesIO()
    picture.save(buffer, format=kind)
    return f"x.{kind.lower()}", _mutate(buffer.getvalue(), draw)


@st.composite
def volume_files(draw: Any) -> tuple[str, bytes]:
    import nibabel as nib

    data = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
    image = nib.Nifti1Image(data, np.eye(4))
    raw = bytearray(image.to_bytes())
    dims = [draw(st.integers(-3, 8))] + [draw(st.integers(-2, 2**15 - 1)) for _ in range(7)]
    if draw(st.booleans()):
        raw[40:56] = np.asarray(dims, dtype="<i2").tobytes()  # dim[0..7]
    if draw(st.booleans()):
        raw[70:72] = np.asarray(
            [draw(st.sampled_from([0, 2, 4, 8, 16, 32, 64, 128, 256, 1536, 2048, 7]))], dtype="<i2"
        ).tobytes()  # datatype
    if draw(st.booleans()):
        raw[108:112] = np.asarray(
            [draw(st.one_of(st.floats(-1e9, 1e9), st.just(float("nan"))))], dtype="<f4"
        ).tobytes()  # vox_offset
    payload = _mutate(bytes(raw), draw) if draw(st.booleans()) else bytes(raw)
    if draw(st.booleans()):
        payload = gzip.compress(payload + b"\0" * draw(st.integers(0, 2**20)))  # a small gzip bomb now and then
    return "x.nii.gz", payload


@st.composite
def dicom_files(draw: Any) -> tuple[str, bytes]:
    import pydicom

    dataset = pydicom.dcmread(MR_SMALL)
    if draw(st.booleans()):
        dataset.Rows = draw(st.integers(0, 65535))
        dataset.Columns = draw(st.integers(0, 65535))
    if draw(st.booleans()):
        dataset.NumberOfFrames = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        dataset.BitsAllocated = draw(st.sampled_from([1, 8, 12, 16, 32, 64]))
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    single = _mutate(buffer.getvalue(), draw) if draw(st.booleans()) else buffer.getvalue()
    if not draw(st.booleans()):
        return "x.dcm", single
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for k in range(draw(st.integers(1, 6))):
            zipped.writestr(f"series/{k}.dcm", single)
    return "series.zip", archive.getvalue()


ARCHITECTURES = ("timm:seresnet18", "torchvision:resnet18", "scse_viz:brain", "scse_viz:fashion", "timm:no-such")


@st.composite
def model_files(draw: Any) -> tuple[dict[str, bytes], str | None]:
    import torch
    from safetensors.torch import save

    if draw(st.booleans()):  # an smp folder with a random config
        config = {
            "_model_class": draw(st.sampled_from(["Unet", "FPN", "Linknet", "Nope", 7])),
            "encoder_name": draw(st.sampled_from(["resnet18", "resnet34", "mobilenet_v2", "none"])),
            "encoder_depth": draw(st.integers(-1, 9)),
            "decoder_channels": [draw(st.integers(-4, 200_000)) for _ in range(draw(st.integers(0, 6)))],
            "classes": draw(st.integers(-1, 10**7)),
            "in_channels": draw(st.integers(-1, 10**5)),
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("m/config.json", json.dumps(config))
            archive.writestr("m/model.safetensors", save({"w": torch.zeros(draw(st.integers(0, 64)))}))
        return {"m.zip": buffer.getvalue()}, None
    names = draw(
        st.lists(
            st.sampled_from(["fc.weight", "fc.bias", "conv1.weight", "head.fc.weight", "x", ""]),
            max_size=4,
            unique=True,
        )
    )
    tensors = {}
    for name in names:
        shape = draw(st.lists(st.integers(0, 3_000_000), min_size=0, max_size=3))
        if np.prod(shape, dtype=np.float64) > 2_000_000:  # the file stays small: an empty dimension keeps it 0
            shape[-1] = 0
        tensors[name] = torch.zeros(shape)
    return {"w.safetensors": save(tensors)}, draw(st.sampled_from(ARCHITECTURES))


def _images(example: tuple[str, bytes]) -> None:
    from scse_viz.io import load_any

    load_any(example[1], example[0])


def _models(example: tuple[dict[str, bytes], str | None]) -> None:
    from scse_viz.bring import load_user_model

    load_user_model(*example)


def _batch(examples: list[tuple[str, bytes]]) -> None:
    """A folder of hostile files through the batch reader: each becomes an item or a (name, message) refusal."""
    from scse_viz.batch import Item, folder_items

    with tempfile.TemporaryDirectory() as folder:
        for k, (name, data) in enumerate(examples):
            (Path(folder) / f"{k}-{name}").write_bytes(data)
        for item in folder_items(Path(folder), max_side=256, workers=0, skip=set()):
            if not isinstance(item, Item) and not (isinstance(item, tuple) and isinstance(item[1], str)):
                raise AssertionError(f"the batch reader gave {type(item).__name__}")


STRATEGIES = {
    "images": (image_files(), _images),
    "volumes": (volume_files(), _images),
    "dicom": (dicom_files(), _images),
    "models": (model_files(), _models),
    "batch": (st.lists(st.one_of(image_files(), volume_files(), dicom_files()), min_size=1, max_size=4), _batch),
}


def run(door: str, examples: int, seed: int, dump: str | None = None) -> dict[str, Any]:
    """Feed ``examples`` generated inputs to one door; typed refusals and successes pass, anything else is a failure."""
    strategy, call = STRATEGIES[door]
    if door == "models":
        import segmentation_models_pytorch  # noqa: F401  (libraries' import size is not an example's cost)
        import timm  # noqa: F401
    baseline = _peak_mb()
    figures: dict[str, Any] = {"door": door, "examples": 0, "worst_seconds": 0.0, "failures": []}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def feed(example: Any) -> None:
        peak_before = _peak_mb()
        started = time.perf_counter()
        try:
            call(example)
        except ScseVizError:
            pass
        except Exception as error:  # noqa: BLE001  (the finding: recorded, not raised, so every example runs)
            figures["failures"].append(f"{type(error).__name__}: {str(error)[:300]} <- {repr(example)[:300]}")
        figures["examples"] += 1
        seconds = time.perf_counter() - started
        if seconds > figures["worst_seconds"]:
            figures["worst_seconds"], figures["slowest"] = seconds, repr(example)[:300]
            slowest[:] = [example]
        if _peak_mb() - peak_before > figures.get("largest_step_mb", 0.0):  # this example raised the peak the most
            figures["largest_step_mb"], figures["heaviest"] = _peak_mb() - peak_before, repr(example)[:300]

    slowest: list[Any] = []
    hypothesis.seed(seed)(feed)()
    if dump is not None and slowest:  # the slowest example itself, to replay: pickle.load(open(dump, "rb"))
        import pickle

        Path(dump).write_bytes(pickle.dumps(slowest[0]))
    figures["worst_extra_mb"] = _peak_mb() - baseline
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzzing", description=__doc__.splitlines()[0])
    parser.add_argument("door", choices=DOORS)
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dump", help="write the slowest example (pickled) to this file")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.door, args.examples, args.seed, args.dump)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
