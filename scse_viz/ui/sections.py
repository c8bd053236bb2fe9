"""Show a view's sections with Streamlit (the one place that turns ``scse_viz.views`` records into widgets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from scse_viz.render import figure_bytes
from scse_viz.ui.charts import show_chart
from scse_viz.ui.pictures import show_colorbar, show_picture, show_tiles
from scse_viz.ui.state import memo
from scse_viz.views import (
    Caption,
    Charts,
    Column,
    Columns,
    Fold,
    Formula,
    Heading,
    Metrics,
    Note,
    Notice,
    Pictures,
    Plot,
    Scale,
    Section,
    Table,
    Text,
    Tiles,
)


def _column_config(columns: Sequence[tuple[str, Column]]) -> dict[str, Any] | None:
    if not columns:
        return None
    config = {}
    for name, column in columns:
        if column.kind == "text":
            config[name] = st.column_config.TextColumn(width=column.width)
        else:
            config[name] = st.column_config.NumberColumn(format=column.format, width=column.width)
    return config


def show_sections(sections: Sequence[Section], where: Any = st) -> None:
    """Each section in order inside ``where``; rows of pictures, charts and metrics get one column per item (a row
    of one is drawn straight into ``where``, so it can sit inside a column)."""
    for section in sections:
        if isinstance(section, Heading):
            (where.header if section.level <= 2 else where.subheader)(section.text)
        elif isinstance(section, Text):
            where.markdown(section.text, unsafe_allow_html=section.html)
        elif isinstance(section, Caption):
            where.caption(section.text)
        elif isinstance(section, Notice):
            where.info(section.text)
        elif isinstance(section, Formula):
            where.latex(section.latex)
        elif isinstance(section, Note):
            {"warning": where.warning, "success": where.success}.get(section.level, where.info)(section.text)
        elif isinstance(section, Pictures):
            if len(section.items) == 1:
                (caption, rgb), *_ = section.items
                show_picture(where, rgb, caption)
                continue
            for column, (caption, rgb) in zip(where.columns(len(section.items)), section.items):
                show_picture(column, rgb, caption)
        elif isinstance(section, Tiles):
            show_tiles(where, section.items, section.width)
        elif isinstance(section, Plot):
            png = memo(("plot-png", *section.key), lambda make=section.make: figure_bytes(make(), "png"))
            where.image(png, caption=section.caption, output_format="PNG")
        elif isinstance(section, Scale):
            show_colorbar(where, section.cmap, section.vmin, section.vmax, section.label)
        elif isinstance(section, Charts):
            if len(section.specs) == 1:
                show_chart(where, section.specs[0])
                continue
            for column, spec in zip(where.columns(len(section.specs)), section.specs):
                show_chart(column, spec)
        elif isinstance(section, Table):
            where.dataframe(list(section.rows), hide_index=True, column_config=_column_config(section.columns))
        elif isinstance(section, Metrics):
            for column, (label, value, delta) in zip(where.columns(len(section.items)), section.items):
                column.metric(label, value, delta)
        elif isinstance(section, Columns):
            for column, part in zip(where.columns(list(section.widths)), section.parts):
                show_sections(part, column)
        elif isinstance(section, Fold):
            show_sections(section.sections, where.expander(section.title, expanded=section.expanded))
        else:
            raise TypeError(f"no way to show a {type(section).__name__}")
