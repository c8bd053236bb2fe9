"""The Gate health page's two checks as sections: the sanity check by model randomisation on one input
(:mod:`scse_viz.sanity`) and the class specificity of the cSE gates across depth from a labelled batch table
(:func:`scse_viz.gate_health.class_specificity`). Plain records in, ``Section`` records out; no streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from scse_viz import gate_health, sanity
from scse_viz.capture import find_attention_blocks
from scse_viz.explore import InputImage
from scse_viz.family import Family
from scse_viz.render import gate_checks
from scse_viz.views.sections import Charts, Section, Table, Text

SANITY_SENTENCE = (
    "A faithful map explains the model, so it must change when the model's weights do: each block's curves stay at "
    "1 while only layers after it are random (they cannot touch it), and should fall towards 0 once the "
    "randomisation reaches the block's own layers and those before it. A curve that stays high after every layer "
    "is random belongs to a map that follows the image (its edges, its bright parts), not what the model learned "
    "(Adebayo et al., *Sanity Checks for Saliency Maps*, 2018)."
)

SPECIFICITY_SENTENCE = (
    "**Class specificity** is the share of a block's cSE-gate variance that lies *between* classes (0: every class "
    "gets the same gates, the block computes general features; 1: the gates are set by the class alone). SE-Net "
    "(Hu et al., §7.2, Fig. 6) found early blocks shared across classes and specificity rising with depth, with the "
    "last blocks' gates mostly saturated; the saturated share (gates below 0.05 or above 0.95) is drawn beside it."
)


def gated_variants(models: Mapping[str, nn.Module]) -> list[str]:
    """The variants whose model has at least one attention block (a plain baseline has nothing to randomise-check)."""
    return [v for v, m in models.items() if find_attention_blocks(m)]


def randomisation_rows(family: Family, model: nn.Module, image: InputImage) -> list[dict[str, Any]]:
    """Both randomisation modes for ``model`` on ``image``, prepared as the family prepares every input."""
    prepared = family.prepare(image.pixels)
    return sanity.cascading_randomization(model, prepared.tensor)


def _rounded(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 3) if isinstance(v, float) and np.isfinite(v) else v) for k, v in row.items()}


def sanity_sections(rows: Sequence[dict[str, Any]], mode: str, model_label: str) -> list[Section]:
    """The sentence, the curves of ``mode`` and, per block, whether its map survives a fully random model."""
    points = gate_checks.sanity_points(rows, mode)
    if not points:
        return [Text("This model's blocks have no gate to compare.")]
    trained_edges = sanity.trained_edge_rho(rows)
    verdicts = [
        _rounded(
            {
                "block": s["block"],
                "sSE ρ, all random": s["sse_rho"],
                "sSE SSIM, all random": s["sse_ssim"],
                "cSE ρ, all random": s["cse_rho"],
                "survives": {True: "yes: follows the image", False: "no: follows the model", None: "no sSE map"}[
                    s["survives"]
                ],
                "edge ρ, trained": trained_edges.get(s["block"]),
                "edge ρ, all random": s["edge_rho_random"],
            }
        )
        for s in sanity.survival(rows)
    ]
    layers = max(r["step"] for r in rows if r["mode"] == mode)
    return [
        Text(SANITY_SENTENCE),
        Charts((gate_checks.sanity_chart(points, mode),)),
        Text(
            f"**{model_label}**, {layers} layers with weights. Per block, once every layer is random: ρ and SSIM "
            "to the trained gates, whether the sSE map survives (|ρ| ≥ "
            f"{sanity.SURVIVES_RHO:g}), and the **edge ρ**: Spearman's ρ between the sSE map and the input's "
            "gradient magnitude (near 1: the gate is an edge detector)."
        ),
        Table(tuple(verdicts)),
    ]


def specificity_sections(table: Any) -> list[Section]:
    """The sentence, class specificity and saturated share against depth, and their numbers; nothing for a table
    without labels (or written before the batch kept each image's gates)."""
    summary = gate_health.class_specificity(table)
    if not summary:
        return []
    return [
        Text(SPECIFICITY_SENTENCE),
        Charts((gate_checks.specificity_chart(gate_checks.specificity_points(summary)),)),
        Table(tuple(_rounded(e) for e in summary)),
    ]


def specificity_models(table: Any) -> list[str]:
    """The models of ``table`` with labelled cSE gates (the choices for :func:`class_channel_sections`)."""
    return gate_health.models_in(gate_health.class_specificity(table))


def class_channel_sections(table: Any, model: str) -> list[Section]:
    """SENet's Fig. 6 for one model: each class's mean cSE gate per channel, one panel per block."""
    rows = gate_health.class_channel_means(table, model)
    if not rows:
        return []
    return [Charts((gate_checks.class_channel_chart(rows, model),))]
