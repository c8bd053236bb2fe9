"""Show a task view's sections with Streamlit (the one place that turns ``scse_viz.views`` records into widgets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from scse_viz.render import raster
from scse_viz.ui.charts import show_chart
from scse_viz.ui.pictures import show_colorbar
from scse_viz.views import Charts, Heading, Metrics, Note, Pictures, Scale, Section, Table, Text


def show_sections(sections: Sequence[Section], where: Any = st) -> None:
    """Each section in order inside ``where``; rows of pictures, charts and metrics get one column per item."""
    for section in sections:
        if isinstance(section, Heading):
            where.subheader(section.text)
        elif isinstance(section, Text):
            where.markdown(section.text, unsafe_allow_html=section.html)
        elif isinstance(section, Note):
            (where.warning if section.level == "warning" else where.info)(section.text)
        elif isinstance(section, Pictures):
            for column, (caption, rgb) in zip(where.columns(len(section.items)), section.items):
                column.image(raster.enlarge(rgb), caption=caption)
        elif isinstance(section, Scale):
            show_colorbar(where, section.cmap, section.vmin, section.vmax, section.label)
        elif isinstance(section, Charts):
            for column, spec in zip(where.columns(len(section.specs)), section.specs):
                show_chart(column, spec)
        elif isinstance(section, Table):
            where.dataframe(list(section.rows), hide_index=True)
        elif isinstance(section, Metrics):
            for column, (label, value, delta) in zip(where.columns(len(section.items)), section.items):
                column.metric(label, value, delta)
        else:
            raise TypeError(f"no way to show a {type(section).__name__}")
