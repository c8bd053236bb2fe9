"""The sidebar's page list, drawn by us so the landing page is called "Home" (not "app", its file name).

Streamlit runs the files in ``pages/`` as the app's pages (its pages-directory mode, which also serves a page
opened directly by its URL) and its automatic list is switched off in ``.streamlit/config.toml``
(``client.showSidebarNavigation = false``). Every page calls :func:`page_links` first.
"""

from __future__ import annotations

import streamlit as st

PAGES = (
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Explore.py", "Explore", ":material/biotech:"),
    ("pages/2_Attribution.py", "Attribution", ":material/insights:"),
    ("pages/3_Teach.py", "Teach", ":material/school:"),
    ("pages/4_About.py", "About", ":material/info:"),
)


def page_links() -> None:
    """One link per page at the top of the sidebar."""
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
