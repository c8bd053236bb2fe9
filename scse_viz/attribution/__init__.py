"""Attention versus attribution: captum attributions for one image and how well each sSE map agrees with them.

Targets: a class of a classifier, or a class region of a segmentation model (``AttributionTarget``). Methods:
``integrated_gradients`` (optionally through a NoiseTunnel), ``layer_gradcam`` on an attention block, ``occlusion``.
Each is also a class in ``METHODS`` (:mod:`scse_viz.attribution.catalog`) that says which settings it reads and
whether it gives one map per attention block. Each returns an ``AttributionResult`` with an H×W map at the input's resolution. ``agreement_table`` scores every
block's sSE map against one such map (Spearman rank correlation, top-k % IoU).
"""

from scse_viz.attribution.agreement import (
    AgreementRow,
    agreement_table,
    average_ranks,
    spatial_map_at,
    spearman,
    top_k_iou,
    top_k_mask,
)
from scse_viz.attribution.catalog import METHODS, AttributionMethod, Settings, method
from scse_viz.attribution.methods import (
    attention_block,
    integrated_gradients,
    layer_gradcam,
    occlusion,
    occlusion_geometry,
)
from scse_viz.attribution.records import METHOD_LABELS, AttributionError, AttributionResult
from scse_viz.attribution.targets import AttributionTarget, Objective, build_objective

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "AgreementRow",
    "AttributionError",
    "AttributionMethod",
    "AttributionResult",
    "AttributionTarget",
    "Objective",
    "Settings",
    "agreement_table",
    "attention_block",
    "average_ranks",
    "build_objective",
    "integrated_gradients",
    "layer_gradcam",
    "method",
    "occlusion",
    "occlusion_geometry",
    "spatial_map_at",
    "spearman",
    "top_k_iou",
    "top_k_mask",
]
