"""The teaching page's numbers (torch/numpy only, no streamlit, no plotting).

- :mod:`.walk`: one block recomputed step by step from its weights (:func:`walk_through`), and its tables;
- :mod:`.model`: a block of a zoo model walked through on the feature map the network fed it, checked against
  :func:`~scse_viz.capture_attention` (:func:`walk_through_model`);
- :mod:`.toy`: small editable feature maps and a block with readable weights;
- :mod:`.cost`: parameters and multiply-adds for C, H, W and r;
- :mod:`.joins`: the journal version's ways to join the two branches;
- :mod:`.classes`: per-class excitation at early, middle and late blocks (SE-Net Fig. 6).
"""

from scse_viz.teaching.classes import (
    COL_BLOCK,
    COL_CHANNELS,
    COL_DEPTH,
    COL_SPREAD,
    DEPTHS,
    PER_CLASS_EXPLANATION,
    class_excitation,
    class_excitation_panels,
    class_excitation_variants,
    class_specificity,
    class_spread,
    depth_blocks,
    depth_table,
)
from scse_viz.teaching.cost import (
    COST_MACS,
    COST_MACS_VS_CONV,
    COST_MACS_VS_UNET,
    COST_MODULE,
    COST_NOT_COUNTED,
    COST_NOTES,
    COST_PARAMS,
    COST_PARAMS_VS_CONV,
    COST_PARAMS_VS_UNET,
    ROW_CONV,
    ROW_CSE,
    ROW_SCSE,
    ROW_SSE,
    ROW_UNET,
    attention_macs,
    attention_share,
    cost_table,
)
from scse_viz.teaching.joins import (
    COL_JOIN,
    COL_JOIN_FROM_OURS,
    COL_JOIN_MAX,
    COL_JOIN_MEAN,
    COL_JOIN_MIN,
    COL_JOIN_ROLE,
    JOIN_CONCAT,
    JOIN_FORMULAS,
    JOIN_MAX,
    JOIN_PRODUCT,
    JOIN_SUM,
    JOINS,
    OUR_JOIN,
    ROLE_ALTERNATIVE,
    ROLE_OURS,
    default_concat_conv,
    join_alternatives,
    join_table,
)
from scse_viz.teaching.model import (
    ModelWalkThrough,
    block_input,
    capture_with_inputs,
    teaching_blocks,
    walk_through_blocks,
    walk_through_model,
)
from scse_viz.teaching.toy import PRESETS, bright_channel, bright_spot, toy_block, toy_feature_map
from scse_viz.teaching.walk import (
    COL_CHANNEL,
    COL_GATE,
    COL_HIDDEN,
    COL_HIDDEN_PRE,
    COL_LOGIT,
    COL_SQUEEZE,
    COL_SSE_WEIGHT,
    COL_UNIT,
    GATE_TOLERANCE,
    STEP_FORMULAS,
    WalkThrough,
    can_walk_through,
    capture_difference,
    channel_formulas,
    excitation_table,
    gate_differences,
    hidden_table,
    pick_channels,
    walk_through,
    weight_tables,
)

__all__ = [
    "COL_BLOCK", "COL_CHANNELS", "COL_DEPTH", "COL_JOIN", "COL_JOIN_FROM_OURS", "COL_JOIN_MAX", "COL_JOIN_MEAN",
    "COL_JOIN_MIN", "COL_JOIN_ROLE", "COL_SPREAD", "ROLE_ALTERNATIVE", "ROLE_OURS", "depth_table", "join_table",
    "COL_CHANNEL", "COL_GATE", "COL_HIDDEN", "COL_HIDDEN_PRE", "COL_LOGIT", "COL_SQUEEZE", "COL_SSE_WEIGHT",
    "COL_UNIT", "COST_MACS", "COST_MACS_VS_CONV", "COST_MACS_VS_UNET", "COST_MODULE", "COST_NOTES",
    "COST_NOT_COUNTED", "COST_PARAMS", "COST_PARAMS_VS_CONV", "COST_PARAMS_VS_UNET", "DEPTHS",
    "GATE_TOLERANCE", "JOINS", "JOIN_CONCAT", "JOIN_FORMULAS", "JOIN_MAX", "JOIN_PRODUCT", "JOIN_SUM",
    "ModelWalkThrough", "OUR_JOIN", "PER_CLASS_EXPLANATION", "PRESETS", "ROW_CONV", "ROW_CSE", "ROW_SCSE",
    "ROW_SSE", "ROW_UNET", "STEP_FORMULAS", "WalkThrough", "attention_macs", "attention_share", "block_input",
    "bright_channel", "bright_spot", "can_walk_through", "channel_formulas", "capture_difference", "capture_with_inputs",
    "class_excitation", "class_excitation_panels", "class_excitation_variants", "class_specificity", "class_spread",
    "cost_table", "default_concat_conv", "depth_blocks", "excitation_table", "gate_differences", "hidden_table",
    "join_alternatives", "pick_channels", "teaching_blocks", "toy_block", "toy_feature_map", "walk_through",
    "walk_through_blocks", "walk_through_model", "weight_tables",
]  # fmt: skip
