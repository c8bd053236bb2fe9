"""Rendering: numpy arrays in, matplotlib Figures out (no streamlit, no torch, no pyplot global state)."""

from scse_viz.render.channel import channel_gate_comparison_figure, channel_gate_figure, channel_gate_table
from scse_viz.render.export import figure_bytes, new_figure
from scse_viz.render.geometry import pixel_extent
from scse_viz.render.outputs import (
    class_colors,
    class_probability_figure,
    difference_map_figure,
    mask_overlay_figure,
    side_by_side_figure,
)
from scse_viz.render.spatial import effective_gain_figure, spatial_grid_figure, spatial_overlay_figure
from scse_viz.render.teaching import (
    channel_maps_figure,
    class_excitation_figure,
    gain_figure,
    heatmap_grid_figure,
    join_comparison_figure,
    sse_map_figure,
    value_map_figure,
    vector_figure,
)

__all__ = [
    "channel_gate_comparison_figure",
    "channel_gate_figure",
    "channel_gate_table",
    "channel_maps_figure",
    "class_colors",
    "class_excitation_figure",
    "class_probability_figure",
    "difference_map_figure",
    "effective_gain_figure",
    "figure_bytes",
    "gain_figure",
    "heatmap_grid_figure",
    "join_comparison_figure",
    "mask_overlay_figure",
    "new_figure",
    "pixel_extent",
    "side_by_side_figure",
    "spatial_grid_figure",
    "spatial_overlay_figure",
    "sse_map_figure",
    "value_map_figure",
    "vector_figure",
]
