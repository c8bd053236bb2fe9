"""Vega-Lite charts on a page, each at the height its spec asks for (see ``render.charts.element_height``)."""

from __future__ import annotations

from typing import Any

from scse_viz.render.charts import element_height
from scse_viz.ui import presenter


def show_chart(where: Any, spec: dict[str, Any], numbers: bool = True) -> None:
    """Draw ``spec`` in ``where`` (``st``, a column, a container) across its width, with the numbers it draws in a
    folded table beneath (a chart must never be the only way to read a value: screen readers, colour vision,
    copying into a slide)."""
    theme = None if presenter.active() else "streamlit"  # Streamlit's theme would set its own (small) type sizes
    where.vega_lite_chart(presenter.readable(spec), width="stretch", height=element_height(spec), theme=theme)
    values = spec.get("data", {}).get("values")
    if numbers and values:
        where.expander(f"Numbers of “{spec.get('title') or 'this chart'}”", icon=":material/table:").dataframe(
            values, hide_index=True
        )
