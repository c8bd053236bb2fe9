"""How restoration results are shown: clean, noisy and restored side by side with PSNR and SSIM, the noise each
model removed, and the true σ map next to every block's sSE map with their rank correlation."""

from __future__ import annotations

import numpy as np

from scse_viz import explore
from scse_viz.capture import BlockRecord
from scse_viz.explore import FamilyRun, ModelOutput
from scse_viz.metrics import ranks, spearman
from scse_viz.noise import MAX_SIGMA
from scse_viz.parallel import parallel_map
from scse_viz.render import colormaps, raster
from scse_viz.render.restoration import (
    NOISE_CMAP,
    NOISE_RANGE,
    SIGMA_CMAP,
    image_picture,
    noise_picture,
    removed_noise,
    restoration_figure,
    sigma_and_gates_figure,
    sigma_picture,
)
from scse_viz.tasks import Task
from scse_viz.tasks.restoration import RestorationTask, RestorationTruth, restoration_scores_of
from scse_viz.views.base import TaskView, register_view, task_of
from scse_viz.views.notes import gate_notes
from scse_viz.views.sections import FigureMaker, Heading, Pictures, Scale, Section, Table, Text

NOISE_SCALE = Scale(
    NOISE_CMAP,
    -NOISE_RANGE,
    NOISE_RANGE,
    "removed noise, noisy − output, mean of R, G, B (0–1 scale): "
    "blue, the model brightened; white, unchanged; red, it darkened",
)
CHANGE_SCALE = Scale(
    NOISE_CMAP,
    -NOISE_RANGE,
    NOISE_RANGE,
    "knocked-out − intact, mean of R, G, B (0–1 scale): blue, darker without the gate; red, brighter",
)
GATE_SCALE = Scale(colormaps.LEVEL, 0.0, 1.0, "sSE gate q, upsampled onto the picture: 0 shuts, 1 lets through")


def _truth(run: FamilyRun) -> RestorationTruth | None:
    truth = run.image.truth
    return truth if isinstance(truth, RestorationTruth) else None


def _sigma_varies(truth: RestorationTruth | None) -> bool:
    return truth is not None and truth.sigma is not None and float(np.ptp(truth.sigma)) > 0


def correlation(run: FamilyRun, output: ModelOutput, label: str, sigma_ranks: np.ndarray | None = None) -> float:
    """Spearman's ρ between a block's sSE map (on the picture's pixels) and the true σ map (NaN when σ is
    constant or unknown); ``sigma_ranks``: the σ map's ranks, computed once for all blocks."""
    truth = _truth(run)
    if not _sigma_varies(truth):
        return float("nan")
    q = explore.spatial_map(run, output.record(label))
    return spearman(q, truth.sigma, sigma_ranks)  # type: ignore[union-attr]


def _rho_text(rho: float) -> str:
    return "ρ —" if np.isnan(rho) else f"ρ = {rho:+.2f}"


class RestorationView(TaskView):
    def outputs(self, run: FamilyRun) -> list[Section]:
        task_of(run, RestorationTask)  # refuses a run of another task
        truth = _truth(run)
        noisy = run.image.pixels
        pictures = [] if truth is None else [("clean (ground truth)", image_picture(truth.clean))]
        rows = []
        if truth is not None:
            scored = [np.clip(noisy, 0, 1)] + [o.prediction.image for o in run.outputs.values()]  # type: ignore[attr-defined]
            all_scores = restoration_scores_of(scored, truth.clean)  # one SSIM reference, pictures on all cores
            noisy_scores = all_scores[0]
            pictures.append((f"noisy input — PSNR {noisy_scores['psnr']:.2f} dB", image_picture(noisy)))
            rows.append(
                {
                    "image": "noisy input",
                    "PSNR (dB)": noisy_scores["psnr"],
                    "SSIM": noisy_scores["ssim"],
                    "PSNR gain over the input (dB)": 0.0,
                }
            )
        else:
            pictures.append(("input, as uploaded (no ground truth)", image_picture(noisy)))
        for index, output in enumerate(run.outputs.values(), start=1):
            image = output.prediction.image  # type: ignore[attr-defined]
            if truth is None:
                pictures.append((f"{output.label} output", image_picture(image)))
                continue
            scores = all_scores[index]  # task.score's numbers
            pictures.append(
                (f"{output.label} — PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.3f}", image_picture(image))
            )
            rows.append(
                {
                    "image": f"{output.label} output",
                    "PSNR (dB)": scores["psnr"],
                    "SSIM": scores["ssim"],
                    "PSNR gain over the input (dB)": scores["psnr"] - rows[0]["PSNR (dB)"],
                }
            )
        sections: list[Section] = [Pictures(tuple(pictures))]
        if rows:
            sections += [Heading("Against the clean picture"), Table(tuple(rows))]
        else:
            sections.append(
                Text(
                    "The picture was taken as it is, so there is no clean version to score against: "
                    "compare the outputs and the noise each model removed by eye."
                )
            )
        outputs = list(run.outputs.values())
        removed = parallel_map(lambda o: noise_picture(removed_noise(noisy, o.prediction.image)), outputs)  # type: ignore[attr-defined]
        sections += [
            Heading("The noise each model removed"),
            Pictures(tuple((f"{o.label}: noisy − output", picture) for o, picture in zip(outputs, removed))),
            NOISE_SCALE,
        ]
        sections += self._gates(run, truth)
        return sections

    def _gates(self, run: FamilyRun, truth: RestorationTruth | None) -> list[Section]:
        """The true σ map beside every block's sSE map, per model with spatial gates."""
        gated = [o for o in run.outputs.values() if any(r.spatial_gate is not None for r in o.shown())]
        if not gated:
            return []
        sections: list[Section] = [Heading("Where the noise is, and where each block's spatial gate looks")]
        varies = _sigma_varies(truth)
        sigma = (
            []
            if truth is None or truth.sigma is None
            else [("true σ of the added noise (scale below the maps)", sigma_picture(truth.sigma, MAX_SIGMA))]
        )
        sections.append(
            Text(
                f"Each block's sSE gate q (0 → 1 on {colormaps.LEVEL}), upsampled onto the picture. ρ is Spearman's rank correlation "
                "of q with the true σ over all pixels: +1 when the gate opens exactly where the noise is strongest."
                + (
                    " **What to look for:** a map bright where the noise is and dark where the picture is clean "
                    "(ρ near +1): that spatial gate found the noise without being told where it is."
                    if varies
                    else ""
                )
                + (
                    ""
                    if varies
                    else " ρ needs noise that varies across the picture (choose half, blob, band, smooth or "
                    "paint it); with none or uniform noise there is nothing to correlate."
                )
            )
        )
        display = explore.display_image(run)
        sigma_ranks = ranks(truth.sigma) if varies else None  # type: ignore[union-attr]

        def drawn(record: BlockRecord) -> tuple[float, float, float, np.ndarray]:
            """One sSE map on the picture: its ρ with σ, its range, and its overlay (independent of the others, so
            the maps are drawn on all usable cores at once)."""
            q = explore.spatial_map(run, record)
            rho = spearman(q, truth.sigma, sigma_ranks) if varies else float("nan")  # type: ignore[union-attr]
            return rho, float(q.min()), float(q.max()), raster.overlay(display, q, colormaps.LEVEL, 1.0)

        records = [[r for r in o.shown() if r.spatial_gate is not None] for o in gated]  # per output, in order
        maps = iter(parallel_map(drawn, [r for shown in records for r in shown]))
        rows = []
        for output, shown in zip(gated, records):
            items = list(sigma)  # the true σ first in every row, beside the model's maps
            for record in shown:
                rho, q_min, q_max, picture = next(maps)
                items.append(
                    (
                        f"{output.label} · {record.label} — {_rho_text(rho)}",
                        picture,
                    )
                )
                rows.append(
                    {
                        "model": output.label,
                        "block": record.label,
                        "stride": record.stride[0],
                        "ρ(q, σ)": None if np.isnan(rho) else rho,
                        "q min": q_min,
                        "q max": q_max,
                    }
                )
            sections.append(Pictures(tuple(items)))
            sections += [
                note for r in output.shown() for note in gate_notes(r, output.label) if r.spatial_gate is not None
            ]
        if sigma:
            sections.append(Scale(SIGMA_CMAP, 0.0, MAX_SIGMA * 255, "true σ of the added noise, in grey levels of 255"))
        sections += [GATE_SCALE, Heading("The spatial gates in numbers"), Table(tuple(rows))]
        return sections

    def knockout(self, run: FamilyRun, intact: ModelOutput, knocked: ModelOutput, setting: str) -> list[Section]:
        task, truth = task_of(run, RestorationTask), _truth(run)
        a, b = intact.prediction.image, knocked.prediction.image  # type: ignore[attr-defined]
        effect = task.knockout_effect(intact.prediction, knocked.prediction)
        rows = [
            {"change": "PSNR of the knocked-out output against the intact one (dB)", "value": effect["psnr_vs_intact"]},
            {"change": "mean |knocked-out − intact| (0–1 scale)", "value": effect["mean_abs_change"]},
        ]
        if truth is not None:
            before, after = task.score(intact.prediction, truth), task.score(knocked.prediction, truth)
            rows += [
                {"change": "PSNR against the clean picture, intact (dB)", "value": before["psnr"]},
                {"change": "PSNR against the clean picture, knocked out (dB)", "value": after["psnr"]},
            ]
        return [
            Pictures(
                (
                    (f"{intact.label}, intact", image_picture(a)),
                    (f"{intact.label}, {setting}", image_picture(b)),
                    ("knocked-out − intact (scale below)", noise_picture(b - a)),
                )
            ),
            CHANGE_SCALE,
            Table(tuple(rows)),
        ]

    def plane_picture(self, task: Task, base: np.ndarray, maps: dict[str, np.ndarray]) -> np.ndarray:
        """The restored plane instead of the input."""
        return raster.to_rgb(np.clip(maps["restored"], 0.0, 1.0))

    def figures(self, run: FamilyRun, variant: str) -> list[FigureMaker]:
        truth, noisy = _truth(run), run.image.pixels
        pictures = [] if truth is None else [("clean", truth.clean)]
        pictures.append(("noisy input", noisy))
        pictures += [(o.label, o.prediction.image) for o in run.outputs.values()]  # type: ignore[attr-defined]
        makers: list[FigureMaker] = [("outputs side by side", lambda: restoration_figure(pictures))]
        chosen = run.outputs[variant]
        if truth is not None and truth.sigma is not None and any(r.spatial_gate is not None for r in chosen.shown()):
            maps = [
                (f"{r.label} ({_rho_text(correlation(run, chosen, r.label))})", explore.spatial_map(run, r))
                for r in chosen.shown()
                if r.spatial_gate is not None
            ]
            makers.append(
                (
                    f"true σ and the sSE maps — {chosen.label}",
                    lambda: sigma_and_gates_figure(truth.sigma, MAX_SIGMA, maps),
                )
            )
        return makers


VIEW = RestorationView()
register_view(RestorationTask, VIEW)
