"""Attributions of one family's variants on one input: which method, target and settings, run and kept as records.

The page keeps one :class:`MethodRun` per (input, variant, method, target, settings); everything here is plain
numbers (no streamlit). What a class index means as a target, and which classes a model's output lets one explain,
the family's task says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from scse_viz import explore
from scse_viz.attribution import METHODS, AttributionError, AttributionResult, AttributionTarget, Settings
from scse_viz.attribution import method as attribution_method
from scse_viz.capture import BlockRecord
from scse_viz.progress import ProgressCallback, part_of


def settings_for(method: str, settings: Settings) -> Settings:
    """Only the settings ``method`` reads (the rest at their defaults), so that changing the IG steps does not make
    an Occlusion or Grad-CAM result look out of date."""
    return attribution_method(method).settings_used(settings)


@dataclass(frozen=True)
class MethodRun:
    """One method on one variant for one target: a single map, or (Grad-CAM) one map per attention block.

    ``error`` holds the message of an :class:`AttributionError` (a class this variant predicts nowhere, a baseline
    without attention blocks for Grad-CAM); then there are no maps.
    """

    variant: str
    method: str
    target: AttributionTarget
    settings: Settings
    result: AttributionResult | None = None
    per_block: dict[str, AttributionResult] = field(default_factory=dict)
    error: str | None = None

    @property
    def block_wise(self) -> bool:
        """Whether the method gives one map per attention block (Grad-CAM on that block's output)."""
        return METHODS[self.method].per_block

    @property
    def explained(self) -> str:
        """What the maps explain, for people ("logit of class 9 (Ankle boot)")."""
        results = self.results()
        return results[0][1].target if results else self.target.class_label

    def map_for(self, record: BlockRecord) -> AttributionResult | None:
        """The map to compare with ``record``'s sSE map: the method's one map, or Grad-CAM on that very block."""
        return self.per_block.get(record.name) if self.block_wise else self.result

    def results(self) -> list[tuple[str | None, AttributionResult]]:
        """(block or None, result) for every map this run holds."""
        if self.block_wise:
            return list(self.per_block.items())
        return [] if self.result is None else [(None, self.result)]


def predicted_classes(run: explore.FamilyRun, variant: str) -> list[int]:
    """Classes ``variant``'s output lets an attribution explain (the task decides: a segmentation's classes
    predicted somewhere, every class of a classifier)."""
    return run.family.task.predicted_classes(run.outputs[variant].prediction)


def missing_from(run: explore.FamilyRun, class_index: int) -> list[str]:
    """Labels of the variants that predict ``class_index`` nowhere on the input (empty for a classifier)."""
    return [run.outputs[v].label for v in run.outputs if class_index not in predicted_classes(run, v)]


def default_target(run: explore.FamilyRun) -> int:
    """The class to explain first, as the task picks it from the reference model's output (the baseline's top
    class; for segmentation its largest foreground class that every model predicts somewhere)."""
    reference = run.outputs[run.reference].prediction
    return run.family.task.default_target(reference, [o.prediction for o in run.outputs.values()])


def target_for(run: explore.FamilyRun, class_index: int) -> AttributionTarget:
    return run.family.task.explained_target(class_index, run.image.truth, run.prepared)


def black_baseline(run: explore.FamilyRun) -> torch.Tensor:
    """The model-input tensor of a black image (the family's own preprocessing), IG's and Occlusion's reference:
    0 in pixels is not 0 in the tensor where the network normalises its input."""
    return run.family.prepare(np.zeros_like(run.prepared.pixels)).tensor


def attention_blocks(run: explore.FamilyRun, variant: str) -> list[str]:
    """Module names of ``variant``'s attention blocks that ran once (Grad-CAM needs exactly one call)."""
    names = [r.name for r in run.outputs[variant].shown()]
    return [n for n in dict.fromkeys(names) if names.count(n) == 1]


def attribute(
    run: explore.FamilyRun,
    model: nn.Module,
    variant: str,
    method: str,
    class_index: int,
    settings: Settings = Settings(),
    progress: ProgressCallback | None = None,
) -> MethodRun:
    """``method`` on ``variant`` (``model``) for ``class_index``; an AttributionError becomes the run's ``error``."""
    chosen = attribution_method(method)
    target, settings = target_for(run, class_index), chosen.settings_used(settings)
    x, black = run.prepared.tensor, black_baseline(run)
    try:
        if chosen.per_block:
            blocks = attention_blocks(run, variant)
            if not blocks:
                raise AttributionError(
                    f"the {run.outputs[variant].label} model has no attention blocks for {chosen.label}"
                )
            per_block = {}
            for i, block in enumerate(blocks):
                part = None if progress is None else part_of(progress, i, len(blocks))
                per_block[block] = chosen.explain(
                    model, x, target, baseline=black, settings=settings, block=block, progress=part
                )
            return MethodRun(variant, method, target, settings, per_block=per_block)
        result = chosen.explain(model, x, target, baseline=black, settings=settings, progress=progress)
    except AttributionError as error:
        return MethodRun(variant, method, target, settings, error=str(error))
    return MethodRun(variant, method, target, settings, result=result)


@dataclass(frozen=True)
class Job:
    variant: str
    method: str


def jobs(run: explore.FamilyRun, methods: Sequence[str], variants: Sequence[str] | None = None) -> list[Job]:
    """Every (variant, method) pair of the run's variants (or ``variants``); a per-block method (Grad-CAM) only on
    variants whose attention blocks ran once each (the baseline has none)."""
    chosen = list(run.outputs) if variants is None else list(variants)
    return [Job(v, m) for m in methods for v in chosen if not (METHODS[m].per_block and not attention_blocks(run, v))]


def run_jobs(
    run: explore.FamilyRun,
    models: Mapping[str, nn.Module],
    todo: Sequence[Job],
    class_index: int,
    settings: Settings = Settings(),
    progress: ProgressCallback | None = None,
) -> list[MethodRun]:
    """Each job in turn, progress reported over all of them ("<model>: <what the method reports>")."""
    done = []
    for i, job in enumerate(todo):
        part = None
        if progress is not None:
            label = run.outputs[job.variant].label
            part = part_of(lambda f, text, label=label: progress(f, f"{label}: {text}"), i, len(todo))
        done.append(attribute(run, models[job.variant], job.variant, job.method, class_index, settings, part))
    if progress is not None:
        progress(1.0, "done")
    return done
