"""How segmentation results are shown: masks over the image, areas, Dice, and where models disagree."""

from __future__ import annotations

import numpy as np

from scse_viz.explore import FamilyRun, ModelOutput, display_image
from scse_viz.render import difference_map_figure, raster, side_by_side_figure
from scse_viz.render.outputs import class_colors
from scse_viz.tasks import Task
from scse_viz.tasks.segmentation import SegmentationTask, disagreement
from scse_viz.views.base import TaskView, register_view, task_of
from scse_viz.views.sections import FigureMaker, Heading, Metrics, Pictures, Section, Table, Text


def legend(class_names: tuple[str, ...]) -> Text:
    """Colour swatches of the foreground classes, as the masks draw them."""
    rgba = class_colors(len(class_names))
    swatches = " ".join(
        f"<span style='background:rgba({int(c[0] * 255)},{int(c[1] * 255)},{int(c[2] * 255)},0.8);padding:0 8px'>"
        f"&nbsp;</span> {n}"
        for n, c in zip(class_names[1:], rgba[1:])
    )
    return Text(f"Legend: {swatches}", html=True)


class SegmentationView(TaskView):
    def outputs(self, run: FamilyRun) -> list[Section]:
        task, display = task_of(run, SegmentationTask), display_image(run)
        names = task.class_names
        k = len(names)
        areas = {o.label: [a["percent"] for a in task.areas(o.prediction)] for o in run.outputs.values()}
        sections: list[Section] = [
            legend(names),
            Pictures(
                tuple((o.label, raster.mask_overlay(display, o.prediction.mask, k)) for o in run.outputs.values())
            ),
            Heading("Area per class (% of the image)"),
            Table(
                tuple(
                    {"class": n, **{label: values[i] for label, values in areas.items()}} for i, n in enumerate(names)
                )
            ),
        ]
        if run.image.truth is not None:
            rows = []
            for output in run.outputs.values():
                scores = task.score(output.prediction, run.image.truth)
                rows.append(
                    {
                        "model": output.label,
                        **{n: scores["dice"][n] for n in names[1:]},
                        f"mean ({', '.join(names[1:])})": scores["mean_dice"],
                    }
                )
            sections += [Heading("Dice against the ground truth"), Table(tuple(rows))]
        compared = run.compared()
        if compared:
            reference = run.outputs[run.reference]
            items = []
            for variant in compared:
                output = run.outputs[variant]
                differ, share = disagreement(output.prediction.mask, reference.prediction.mask)
                items.append(
                    (
                        f"{output.label} ≠ {reference.label}: {100 * share:.2f} % of pixels",
                        raster.highlight(display, differ),
                    )
                )
            sections += [
                Heading(f"Where each attention model differs from the {reference.label}"),
                Pictures(tuple(items)),
            ]
        return sections

    def knockout(self, run: FamilyRun, intact: ModelOutput, knocked: ModelOutput, setting: str) -> list[Section]:
        task, display = task_of(run, SegmentationTask), display_image(run)
        k = len(task.class_names)
        differ, share = disagreement(knocked.prediction.mask, intact.prediction.mask)
        effect = task.knockout_effect(intact.prediction, knocked.prediction)
        return [
            Pictures(
                (
                    (f"{intact.label}, intact", raster.mask_overlay(display, intact.prediction.mask, k)),
                    (f"{intact.label}, {setting}", raster.mask_overlay(display, knocked.prediction.mask, k)),
                    (f"changed: {100 * share:.2f} % of pixels", raster.highlight(display, differ)),
                )
            ),
            Metrics(
                (("Mean Dice of the knocked-out mask against the intact one", f"{effect['dice_vs_intact']:.4f}", None),)
            ),
        ]

    def plane_picture(self, task: Task, base: np.ndarray, maps: dict[str, np.ndarray]) -> np.ndarray:
        """The mask in the class colours over the plane."""
        rgb = raster.mask_overlay(base, maps["mask"], len(task.class_names))
        return rgb.astype(np.float32) / 255.0

    def figures(self, run: FamilyRun, variant: str) -> list[FigureMaker]:
        display, names = display_image(run), list(run.family.class_names)
        masks = [(o.label, o.prediction.mask) for o in run.outputs.values()]
        makers: list[FigureMaker] = [("outputs side by side", lambda: side_by_side_figure(display, masks, names))]
        reference, chosen = run.outputs[run.reference], run.outputs[variant]
        if variant != run.reference:
            makers.append(
                (
                    f"difference from the {reference.label}",
                    lambda: difference_map_figure(
                        display,
                        reference.prediction.mask,
                        chosen.prediction.mask,
                        labels=(reference.label, chosen.label),
                    ),
                )
            )
        return makers


VIEW = SegmentationView()
register_view(SegmentationTask, VIEW)
