"""How classification results are shown: each model's top classes, and the ground truth where it is known."""

from __future__ import annotations

from scse_viz.explore import FamilyRun, ModelOutput
from scse_viz.render import class_probability_figure
from scse_viz.render.charts import probability_chart
from scse_viz.tasks.classification import ClassificationTask
from scse_viz.views.base import TaskView, register_view, task_of
from scse_viz.views.sections import Charts, FigureMaker, Metrics, Section, Text


class ClassificationView(TaskView):
    def outputs(self, run: FamilyRun) -> list[Section]:
        task = task_of(run, ClassificationTask)
        sections: list[Section] = []
        if run.image.truth is not None:
            sections.append(Text(f"Ground truth: **{task.class_names[int(run.image.truth)]}**"))
        sections.append(
            Charts(tuple(probability_chart(task.top(o.prediction), title=o.label) for o in run.outputs.values()))
        )
        return sections

    def knockout(self, run: FamilyRun, intact: ModelOutput, knocked: ModelOutput, setting: str) -> list[Section]:
        task = task_of(run, ClassificationTask)
        effect = task.knockout_effect(intact.prediction, knocked.prediction)
        moved = None if effect["top1_knocked"] == effect["top1_intact"] else f"was {effect['top1_intact']}"
        return [
            Charts(
                (
                    probability_chart(task.top(intact.prediction), title="intact"),
                    probability_chart(task.top(knocked.prediction), title="knocked out"),
                )
            ),
            Metrics(
                (
                    ("Top class", effect["top1_knocked"], moved),
                    ("Largest probability change", f"{effect['largest_change']:.4f}", None),
                )
            ),
        ]

    def figures(self, run: FamilyRun, variant: str) -> list[FigureMaker]:
        output = run.outputs[variant]
        names = list(run.family.class_names)
        return [
            (
                "outputs side by side",
                lambda: class_probability_figure(output.prediction.probabilities, names, title=output.label),
            )
        ]


VIEW = ClassificationView()
register_view(ClassificationTask, VIEW)
