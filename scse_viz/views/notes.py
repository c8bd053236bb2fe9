"""Notes that change how a page's results read, as sections: how unusual the input is for the family's models, and
gates that carry no information (NaN, infinite, or one value over the whole input).

A model answers any input, often confidently: a striped test picture under the brain family comes out as grey and
white matter. :func:`novelty_sections` says, above the outputs, when an input is more unusual than nearly every
held-out training image (``scse_viz.novelty``), and that a brought model has no training data to compare with.
:func:`gate_notes` names a gate that cannot be read as attention where that gate is drawn.
"""

from __future__ import annotations

import numpy as np

from scse_viz.capture import BlockRecord
from scse_viz.explore import FamilyRun
from scse_viz.novelty import UNUSUAL_PERCENTILE, score_records, statistics_of
from scse_viz.views.sections import Note, Section, Text

CONSTANT_SPREAD = 1e-6  # a gate whose values span less than this over the whole input is one value


def novelty_percentile(run: FamilyRun) -> float | None:
    """The run's input's novelty percentile from the gates and outputs already computed (no extra forward pass); None
    where the family has no statistics or the statistics' model did not run."""
    statistics = statistics_of(run.family)
    if statistics is None or any(v not in run.outputs for v in statistics.variants):
        return None
    outputs = {}
    for variant in statistics.outputs:  # a denoiser's output: (noisy input, unclipped restored) on displayed pixels
        restored = getattr(run.outputs[variant].prediction, "raw", None)
        if restored is None:
            return None
        noisy = run.prepared.pixels[: restored.shape[0], : restored.shape[1]]
        outputs[variant] = (noisy, restored)
    try:
        return score_records(statistics, {v: run.outputs[v].records for v in statistics.variants}, outputs)
    except KeyError:  # the statistics were fitted on blocks this model does not have
        return None


def novelty_sections(run: FamilyRun) -> list[Section]:
    """What goes above the outputs: a warning when the input is more unusual than 99 % of held-out training
    images, one line saying how unusual it is otherwise, and for a model without training data here, that."""
    statistics = statistics_of(run.family)
    if statistics is None:
        why = (
            "these models come without their training images"
            if run.family.loader is not None
            else "no statistics of these models' training images are shipped"
        )
        return [
            Note(
                f"**How unusual this input is cannot be measured here**: {why}, so nothing warns when an input is "
                "unlike what they learned from. Read the outputs and maps as how the attention responds to this "
                "input, not as a reading of what it shows.",
                "info",
            )
        ]
    percentile = novelty_percentile(run)
    if percentile is None:
        return []
    measured_on = f"measured on the gates of the {', '.join(run.family.label(v) for v in statistics.variants)} models"
    if percentile > UNUSUAL_PERCENTILE:
        share = "every" if percentile >= 100.0 else f"{percentile:.1f} % of the"
        return [
            Note(
                f"**This input is unlike the images these models were trained on.** It is more unusual than {share} "
                f"held-out training images ({measured_on}). The models still give an answer, maybe a confident "
                "one: read the outputs and the maps below as how the attention mechanism responds to an input it "
                "never learned, not as what the picture shows.",
                "warning",
            )
        ]
    return [
        Text(
            f"How unusual this input is for these models: more unusual than {percentile:.0f} % of held-out training "
            f"images ({measured_on}; above 99 % a warning says the maps cannot be read as usual)."
        )
    ]


def gate_problem(values: np.ndarray) -> str | None:
    """What makes a gate unreadable as attention ("NaN in 3 of 64 values", "infinite …", "0.500 everywhere"), or
    None for a gate that varies over the input."""
    values = np.asarray(values, dtype=np.float64)
    nan, infinite = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    if nan:
        return f"NaN in {nan} of {values.size} values"
    if infinite:
        return f"infinite in {infinite} of {values.size} values"
    if values.size > 1 and float(np.ptp(values)) < CONSTANT_SPREAD:
        return f"{float(values.flat[0]):.3g} everywhere (constant over the whole input)"
    return None


def gate_notes(record: BlockRecord, model: str = "", index: int = 0) -> list[Section]:
    """One warning per gate of ``record`` that is NaN, infinite or constant over the whole input, naming the block
    and the gate: a constant gate scales every channel (or pixel) alike, so it attends to nothing here."""
    where = f"{model} · {record.label}" if model else record.label
    notes: list[Section] = []
    for name, gate in (("channel gate w (cSE)", record.channel_gate), ("spatial gate q (sSE)", record.spatial_gate)):
        if gate is None:
            continue
        problem = gate_problem(gate[index])
        if problem is not None:
            notes.append(
                Note(
                    f"**{where}: the {name} is {problem}.** "
                    + (
                        "Its picture shows no attention: NaN and infinite values are left out of it."
                        if "NaN" in problem or "infinite" in problem
                        else "A gate with one value scales everything alike, so it selects nothing on this input."
                    ),
                    "warning",
                )
            )
    return notes
