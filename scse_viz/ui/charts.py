"""Vega-Lite charts on a page, each at the height its spec asks for (see ``render.charts.element_height``)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from scse_viz.render.charts import element_height


def show_chart(where: Any, spec: dict[str, Any]) -> None:
    """Draw ``spec`` in ``where`` (``st``, a column, a container) across its width."""
    where.vega_lite_chart(spec, width="stretch", height=element_height(spec))
