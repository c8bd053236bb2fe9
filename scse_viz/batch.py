"""``python -m scse_viz.batch INPUT --family NAME|--model PATH --out DIR``: every gate of every block over many images.

``--family`` takes a shipped family's variants; ``--model`` a model of your own, read exactly as the app reads an
upload (:func:`scse_viz.bring.load_user_model`: an smp ``save_pretrained`` folder or zip, or a state_dict with
``--architecture``; ``--baseline`` adds the model to compare it with), so its rows are the gates the app shows.

INPUT is a folder of images (every file the app reads, in name order), one volume (NIfTI, DICOM file or zipped
series: every slice along ``--axis``), or ``test`` (the family's own test set, ``Family.test_images``). Each image
goes through the app's own path (``explore.input_from_image``, the family's degradation with its default setting,
``prepare``, ``run_model``) for each chosen variant, and each block that ran gives one row of gate statistics
(:func:`gate_statistics`). Rows are written as Parquet parts (``DIR/gates/part-NNNNN.parquet``, read together with
``pyarrow.dataset`` or :func:`read_table`), so an interrupted run resumes where it stopped: images already in a part
are skipped. ``DIR/manifest.json`` records versions, the models' weight hashes, the settings and the counts;
``--maps`` adds one NPZ of the sSE maps per image (``DIR/maps/``). Decoding runs in a DataLoader with ``--workers``
processes. Nothing here imports streamlit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scse_viz import explore, zoo
from scse_viz.capture import BlockRecord
from scse_viz.errors import ScseVizError
from scse_viz.family import Family

LOW, HIGH = 0.05, 0.95  # a gate below LOW is (nearly) shut, above HIGH (nearly) fully open
STATISTICS = ("mean", "std", "min", "max", "share_below_0.05", "share_above_0.95", "entropy_bits")
PART_ROWS = 2000  # rows per Parquet part


def gate_statistics(values: np.ndarray | None) -> dict[str, float | None]:
    """Mean, standard deviation (population), min, max, the shares below 0.05 and above 0.95, and the mean binary
    entropy in bits, −g·log2 g − (1 − g)·log2(1 − g) averaged over the gate's values (1 at g = 0.5, 0 at saturation),
    of one gate's values; all None for a gate the block does not have."""
    if values is None:
        return dict.fromkeys(STATISTICS)
    g = np.asarray(values, dtype=np.float64).ravel()
    clipped = np.clip(g, 1e-12, 1 - 1e-12)
    entropy = -(clipped * np.log2(clipped) + (1 - clipped) * np.log2(1 - clipped))
    return dict(
        zip(
            STATISTICS,
            (
                float(g.mean()),
                float(g.std()),
                float(g.min()),
                float(g.max()),
                float((g < LOW).mean()),
                float((g > HIGH).mean()),
                float(entropy.mean()),
            ),
        )
    )


def block_rows(image: str, variant: str, records: Sequence[BlockRecord], label: Any = None) -> list[dict[str, Any]]:
    """One row per block that ran, with its channel-gate (``w_…``) and spatial-gate (``q_…``) statistics."""
    rows = []
    for record in records:
        if not (record.ran and record.readable):
            continue
        w = None if record.channel_gate is None else record.channel_gate[0]
        q = None if record.spatial_gate is None else record.spatial_gate[0]
        row: dict[str, Any] = {
            "image": image,
            "label": None if label is None else str(label),
            "model": variant,
            "block": record.label,
            "kind": str(record.kind),
            "channels": record.channels,
        }
        row.update({f"w_{k}": v for k, v in gate_statistics(w).items()})
        row.update({f"q_{k}": v for k, v in gate_statistics(q).items()})
        row["w_values"] = None if w is None else np.asarray(w, dtype=np.float64).tolist()  # class specificity
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Item:
    """One image to run: a stable name (the resume key), its pixels in [0, 1], and its label where known."""

    name: str
    pixels: np.ndarray
    label: Any = None


class FolderImages(torch.utils.data.Dataset):
    """The files of a folder that the app reads, decoded in DataLoader workers; unreadable files become None."""

    def __init__(self, files: Sequence[Path], max_side: int) -> None:
        self.files, self.max_side = list(files), max_side

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Item | tuple[str, str]:
        from scse_viz.io import LoadedImage, load_any

        path = self.files[index]
        try:
            loaded = load_any(path.read_bytes(), path.name)
        except ScseVizError as error:
            return (path.name, str(error))
        if not isinstance(loaded, LoadedImage):
            return (path.name, "a volume inside a folder of images: run it on its own")
        return Item(path.name, explore.input_from_image(loaded, max_side=self.max_side).pixels)


def _first(batch: list[Any]) -> Any:
    return batch[0]


def folder_items(folder: Path, max_side: int, workers: int, skip: set[str]) -> Iterator[Item | tuple[str, str]]:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name not in skip]
    loader = torch.utils.data.DataLoader(
        FolderImages(files, max_side), batch_size=1, num_workers=workers, collate_fn=_first
    )
    yield from loader


class NoClassFoldersError(ScseVizError):
    """``--labels-from-folders`` on a folder with no ``FOLDER/<class>/<image>`` files."""


class NotAVolumeError(ScseVizError):
    """A 2-D image given where the batch takes one volume (a 2-D image belongs in a folder of images)."""


class NoTestSetError(ScseVizError):
    """The family has no test set (``Family.test_images`` is None): a brought model, or a family that ships none."""


def volume_items(path: Path, axis: str, max_side: int, skip: set[str]) -> Iterator[Item]:
    """Every slice of the volume at ``path`` along ``axis``; :class:`NotAVolumeError` (at once) for a 2-D image."""
    from scse_viz.io import Volume, load_any, slice_count

    volume = load_any(path.read_bytes(), path.name)
    if not isinstance(volume, Volume):
        raise NotAVolumeError(f"{path} is a 2-D image, not a volume: put it in a folder")

    def slices() -> Iterator[Item]:
        for index in range(slice_count(volume, axis)):
            name = f"{path.name}#{axis}:{index:04d}"
            if name not in skip:
                yield Item(name, explore.input_from_volume(volume, axis, index, max_side=max_side).pixels)

    return slices()


class LabelledFolderImages(FolderImages):
    """``FOLDER/<class>/<image>``: each image named ``<class>/<file>`` (the resume key) and labelled ``<class>``."""

    def __init__(self, folder: Path, files: Sequence[Path], max_side: int) -> None:
        super().__init__(files, max_side)
        self.folder = folder

    def __getitem__(self, index: int) -> Item | tuple[str, str]:
        from dataclasses import replace

        path = self.files[index]
        name = path.relative_to(self.folder).as_posix()
        item = super().__getitem__(index)
        if isinstance(item, tuple):
            return (name, item[1])
        return replace(item, name=name, label=path.parent.name)


def labelled_folder_items(
    folder: Path, max_side: int, workers: int, skip: set[str]
) -> Iterator[Item | tuple[str, str]]:
    """The images of an image-folder layout (``FOLDER/<class>/<image>``, as torchvision's ``ImageFolder``), each
    labelled with its sub-folder's name, so the per-class gate statistics run on people's own labelled data."""
    every = [
        p for sub in sorted(q for q in folder.iterdir() if q.is_dir()) for p in sorted(sub.iterdir()) if p.is_file()
    ]
    if not every:  # at once, not on the first item: the command says so before it starts
        raise NoClassFoldersError(f"{folder} has no FOLDER/<class>/<image> files (--labels-from-folders)")
    files = [p for p in every if p.relative_to(folder).as_posix() not in skip]
    loader = torch.utils.data.DataLoader(
        LabelledFolderImages(folder, files, max_side), batch_size=1, num_workers=workers, collate_fn=_first
    )
    return iter(loader)


def test_items(family: Family, data_root: Path | None, skip: set[str]) -> Iterator[Item]:
    """The family's own test set (:attr:`Family.test_images`, read by :mod:`scse_viz.datasets`, below this layer);
    :class:`NoTestSetError` (at once) for a family that has none, such as a brought model."""
    images = family.test_images
    if images is None:
        raise NoTestSetError(f"the {family.name} family has no test set here: give its models a folder or a volume")

    def items() -> Iterator[Item]:
        for name, pixels, label in images(data_root):
            if name not in skip:
                yield Item(name, pixels, label)

    return items()


# ------------------------------------------------------------------------------------------------------ running


def read_table(out: Path) -> Any:
    """Every Parquet part of a batch as one ``pyarrow.Table`` (empty when none is written yet)."""
    import pyarrow.dataset as ds

    parts = sorted((out / "gates").glob("part-*.parquet"))
    if not parts:
        import pyarrow as pa

        return pa.table({})
    return ds.dataset([str(p) for p in parts], format="parquet").to_table()


def done_images(out: Path) -> set[str]:
    table = read_table(out)
    return set(table.column("image").to_pylist()) if table.num_rows else set()


def _write_part(out: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = out / "gates"
    folder.mkdir(parents=True, exist_ok=True)
    number = len(list(folder.glob("part-*.parquet")))
    temporary = folder / f".part-{number:05d}.tmp"
    pq.write_table(pa.Table.from_pylist(rows), temporary)
    temporary.rename(folder / f"part-{number:05d}.parquet")  # whole parts only: a crash leaves no half part


def faithfulness_rows(
    family: Family, model: torch.nn.Module, run: explore.FamilyRun, variant: str, ig_steps: int = 16
) -> dict[str, dict[str, float]]:
    """Per block label: deletion and insertion curves (the normalised objective at 0, 5, …, 100 % of the pixels) and
    their AUCs for its sSE map's pixel order, a random order and |Integrated Gradients| (the same for every block of
    a model), and Spearman's ρ between w and each channel's
    knock-out effect (:mod:`scse_viz.faithfulness`), for the task's default target on this input."""
    from scse_viz import faithfulness as F
    from scse_viz.attribution.targets import build_objective, output_score
    from scse_viz.compare_attribution.runs import black_baseline, target_for

    x, baseline = run.prepared.tensor, black_baseline(run)
    own = run.outputs[variant].prediction  # the class this variant itself would be asked about first
    target = target_for(run, family.task.default_target(own, [own]))
    objective = build_objective(model, x, target)
    grid = run.prepared.grid
    reference = {
        "random": F.random_ranking(grid),
        "ig": F.integrated_gradients_ranking(objective.forward, x, baseline, ig_steps),
    }
    measured = {
        name: F.perturbation_curves(objective.forward, x, ranking, baseline) for name, ranking in reference.items()
    }
    score = output_score(target, x, model(x).detach())
    rows: dict[str, dict[str, float]] = {}
    for record in run.outputs[variant].shown():
        row: dict[str, float] = {}
        if record.spatial_gate is not None:
            from scse_viz.geometry import upsample_map

            q = upsample_map(record.spatial_gate[0], grid, record.stride)
            curves = {"sse": F.perturbation_curves(objective.forward, x, q, baseline), **measured}
            for name, (deletion, insertion) in curves.items():
                row.update(
                    {
                        f"{name}_deletion_auc": deletion.auc,
                        f"{name}_insertion_auc": insertion.auc,
                        f"{name}_deletion_curve": deletion.values.tolist(),
                        f"{name}_insertion_curve": insertion.values.tolist(),
                    }
                )
        if record.channel_gate is not None:
            effects = F.channel_effects(model, x, record.name, score)
            row.update(
                {
                    "channel_rho": effects.rho,
                    "top_k_drop": effects.top_k_drop,
                    "bottom_k_drop": effects.bottom_k_drop,
                    "k": effects.k,
                }
            )
        rows[record.label] = row
    return rows


def run_batch(
    family: Family,
    variants: Sequence[str],
    items: Iterator[Any],
    out: Path,
    maps: bool = False,
    progress: bool = True,
    faithfulness: bool = False,
) -> dict[str, Any]:
    """Run every item through every variant (``explore.run_images``, the app's own run); rows are flushed in whole
    parts (the resume unit is an image whose rows are all in one part: a part is written only after all variants of
    its images ran)."""
    from tqdm import tqdm

    models = {v: m for v, m in zoo.models_of(family).items() if v in variants}
    rows: list[dict[str, Any]] = []
    counts = {"images": 0, "rows": 0, "failed": []}
    labels: deque[Any] = deque()  # the label of each image handed to the run and not yet written

    def inputs() -> Iterator[explore.InputImage]:
        for item in tqdm(items, desc=f"{family.name} gates", disable=not progress, unit="image"):
            if isinstance(item, tuple):  # a file that could not be read
                counts["failed"].append({"image": item[0], "why": item[1]})
                continue
            labels.append(item.label)
            yield _input(family, item, seed=counts["images"])

    started = time.perf_counter()
    for run in explore.run_images(family, models, inputs()):
        name, label = run.image.name, labels.popleft()
        for variant, output in run.outputs.items():
            new = block_rows(name, variant, output.records, label)
            if faithfulness:
                extra = faithfulness_rows(family, models[variant], run, variant)
                for row in new:
                    row.update(extra.get(row["block"], {}))
            rows.extend(new)
        arrays = {
            f"{variant}/{r.label}": explore.spatial_map(run, r).astype(np.float32)
            for variant, output in run.outputs.items()
            for r in output.shown()
            if maps and r.spatial_gate is not None
        }
        if arrays:
            (out / "maps").mkdir(parents=True, exist_ok=True)
            np.savez_compressed(out / "maps" / f"{_safe(name)}.npz", **arrays)
        counts["images"] += 1
        if len(rows) >= PART_ROWS:
            _write_part(out, rows)
            counts["rows"] += len(rows)
            rows = []
    if rows:
        _write_part(out, rows)
        counts["rows"] += len(rows)
    counts["seconds"] = time.perf_counter() - started
    return counts


def sanity_batch(family: Family, variants: Sequence[str], items: Iterator[Any], out: Path) -> dict[str, Any]:
    """The randomisation check (:func:`scse_viz.sanity.cascading_randomization`, both modes) of every variant with
    attention blocks on each item, prepared as :func:`run_batch` prepares it; rows (with ``image`` and ``model``)
    written to ``DIR/sanity.parquet``. One forward pass per layer with weights per mode: meant for a few images."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scse_viz.capture import find_attention_blocks
    from scse_viz.sanity import cascading_randomization

    models = {v: m for v, m in zoo.models_of(family).items() if v in variants and find_attention_blocks(m)}
    rows: list[dict[str, Any]] = []
    images = 0
    for item in items:
        if isinstance(item, tuple):
            continue
        image = explore.InputImage(item.name, item.pixels, item.name, item.pixels.shape[:2])
        if family.degradation is not None:
            from scse_viz.degradation import NoiseSetting

            image = explore.degraded_input(image, NoiseSetting(seed=images))
        x = family.prepare(image.pixels).tensor
        for variant, model in models.items():
            rows.extend({"image": item.name, "model": variant, **r} for r in cascading_randomization(model, x))
        images += 1
    if rows:
        pq.write_table(pa.Table.from_pylist(rows), out / "sanity.parquet")
    return {"images": images, "rows": len(rows), "models": list(models)}


def _sanity_items(args: argparse.Namespace, family: Family, max_side: int) -> Iterator[Any]:
    """The first ``--sanity-images`` inputs of INPUT again (every one, done before or not), for :func:`sanity_batch`."""
    import itertools

    source = Path(args.input)
    if args.input == "test":
        items: Iterator[Any] = test_items(family, args.data_root, set())
    elif source.is_dir() and args.labels_from_folders:
        items = labelled_folder_items(source, max_side, 0, set())
    elif source.is_dir():
        items = folder_items(source, max_side, 0, set())
    else:
        items = volume_items(source, args.axis, max_side, set())
    return itertools.islice(items, args.sanity_images)


def _input(family: Family, item: Item, seed: int) -> explore.InputImage:
    """The item as the app's input, through the family's degradation with its default setting (noise seed: the
    item's place in the run)."""
    image = explore.InputImage(item.name, item.pixels, item.name, item.pixels.shape[:2])
    if family.degradation is None:
        return image
    from scse_viz.degradation import NoiseSetting

    return explore.degraded_input(image, NoiseSetting(seed=seed))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def manifest(family: Family, variants: Sequence[str], settings: dict[str, Any], counts: dict[str, Any]) -> dict:
    """What a batch result needs to be read and trusted later: versions, weight hashes, settings, counts."""
    from importlib.metadata import version

    import pyarrow

    import scse_viz

    if family.loader is not None:  # a brought model: its files and their hashes, as read
        brought = family.provenance.get("models", {})
        models = {v: {"label": family.label(v), **brought.get(v, {})} for v in variants}
    else:
        models = {
            v: {
                "label": family.label(v),
                "weights": family.weights_path(v).name,
                "sha256": _sha256_of(family.weights_path(v)),
            }
            for v in variants
        }
    return {
        "command": "python -m scse_viz.batch",
        "family": family.name,
        "models": models,
        "provenance": dict(family.provenance),
        "settings": settings,
        "counts": counts,
        "statistics": {"columns": [f"{p}_{s}" for p in "wq" for s in STATISTICS], "low": LOW, "high": HIGH},
        "versions": {
            "scse_viz": getattr(scse_viz, "__version__", "unknown"),
            "torch": torch.__version__,
            "pyarrow": pyarrow.__version__,
            "streamlit": version("streamlit"),
            "python": platform.python_version(),
        },
    }


def _sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _files(paths: Sequence[Path]) -> dict[str, bytes]:
    """Files (a folder stands for its files) by name, as the app's uploader gives them to ``load_user_model``."""
    found = [f for p in paths for f in (sorted(p.iterdir()) if p.is_dir() else [p]) if f.is_file()]
    return {f.name: f.read_bytes() for f in found}


def _brought(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Family:
    """The family ``--model`` describes, built the way the app builds an uploaded one; one message if it cannot."""
    from scse_viz.bring import load_user_model

    missing = [p for p in [*args.model, *(args.baseline or [])] if not p.exists()]
    if missing:
        parser.error(f"{missing[0]}: no such file or folder")
    try:
        return load_user_model(
            _files(args.model),
            args.architecture,
            class_names=args.classes,
            baseline=_files(args.baseline) if args.baseline else None,
        )
    except ScseVizError as error:
        parser.error(str(error))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scse_viz.batch", description=__doc__.splitlines()[0])
    parser.add_argument("input", help="a folder of images, a volume file, or 'test' (the family's test set)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--family", choices=list(zoo.FAMILIES), help="a shipped family's four variants")
    which.add_argument(
        "--model",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="your own model, as the app takes it: an smp save_pretrained folder or zip, or a "
        "state_dict (.safetensors, .pt, .pth) with --architecture",
    )
    parser.add_argument("--architecture", help="--model: timm:<name>, torchvision:<name> or scse_viz:<family>")
    parser.add_argument("--baseline", nargs="+", type=Path, metavar="PATH", help="--model: a model to compare with")
    parser.add_argument("--classes", help="--model: class names, comma-separated or a JSON list")
    parser.add_argument("--variant", default="all", help="all (default) or one of the family's variants")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--axis", default="axial", choices=("sagittal", "coronal", "axial"), help="volumes")
    parser.add_argument("--maps", action="store_true", help="also write each image's sSE maps as NPZ")
    parser.add_argument(
        "--faithfulness",
        action="store_true",
        help="also deletion/insertion AUCs of every sSE map (against random order and IG) and the "
        "rank correlation of w with each channel's knock-out effect (one forward per channel)",
    )
    parser.add_argument(
        "--labels-from-folders",
        action="store_true",
        help="INPUT is FOLDER/<class>/<image>: label each image with its sub-folder's name (the per-class gates "
        "and the class specificity on the Gate health page)",
    )
    parser.add_argument(
        "--sanity",
        action="store_true",
        help="also the sanity check by model randomisation (cascading and independent) on the first "
        "--sanity-images inputs: DIR/sanity.parquet, one row per model, image, mode, step and block",
    )
    parser.add_argument("--sanity-images", type=int, default=4, help="--sanity: how many inputs (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers decoding a folder")
    parser.add_argument("--data-root", type=Path, help="test: where the family's data are (fashion's IDX files)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.model is not None:
        family = _brought(parser, args)
    elif args.architecture or args.baseline or args.classes:
        parser.error("--architecture, --baseline and --classes go with --model")
    else:
        family = zoo.family(args.family)
    variants = family.variants if args.variant == "all" else (args.variant,)
    for v in variants:
        family.check_variant(v)
    args.out.mkdir(parents=True, exist_ok=True)
    skip = done_images(args.out)
    max_side = family.max_side or explore.MAX_SIDE
    source = Path(args.input)
    try:
        if args.input == "test":
            if family.loader is not None:
                parser.error("'test' is a shipped family's test set; give your model a folder or a volume")
            items: Iterator[Any] = test_items(family, args.data_root, skip)
        elif source.is_dir() and args.labels_from_folders:
            items = labelled_folder_items(source, max_side, args.workers, skip)
        elif args.labels_from_folders:
            parser.error("--labels-from-folders needs a folder of class folders as INPUT")
        elif source.is_dir():
            items = folder_items(source, max_side, args.workers, skip)
        elif source.is_file():
            items = volume_items(source, args.axis, max_side, skip)
        else:
            parser.error(f"{args.input}: no such folder or file (or 'test')")
    except (NoTestSetError, NotAVolumeError, NoClassFoldersError) as error:
        raise SystemExit(str(error)) from None  # the command's one message; the library raised a typed error
    counts = run_batch(
        family, variants, items, args.out, maps=args.maps, progress=not args.quiet, faithfulness=args.faithfulness
    )
    counts["skipped_as_done"] = len(skip)
    if args.sanity:
        counts["sanity"] = sanity_batch(family, variants, _sanity_items(args, family, max_side), args.out)
    settings = {
        "input": args.input,
        "variants": list(variants),
        "axis": args.axis,
        "maps": args.maps,
        "workers": args.workers,
        "faithfulness": args.faithfulness,
        "labels_from_folders": args.labels_from_folders,
        "sanity_images": args.sanity_images if args.sanity else 0,
    }
    if args.model is not None:
        settings["files"] = {
            group: {name: hashlib.sha256(data).hexdigest() for name, data in _files(paths).items()}
            for group, paths in (("model", args.model), ("baseline", args.baseline or []))
        }
    (args.out / "manifest.json").write_text(json.dumps(manifest(family, variants, settings, counts), indent=2) + "\n")
    print(
        f"{counts['images']} images ({len(skip)} done before), {counts['rows']} rows, "
        f"{len(counts['failed'])} unreadable, {counts['seconds']:.1f} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
