"""About: installed versions and where the method comes from."""

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import streamlit as st

import scse_viz  # noqa: F401  (before torch: see scse_viz/__init__.py)
from scse_viz.ui import links
from scse_viz.ui.navigation import page_links

st.set_page_config(page_title="About · scSE Lens", layout="wide")
page_links()


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:  # running from the source tree without `pip install .`
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        return f"{tomllib.loads(pyproject.read_text())['project']['version']} (source tree)"


st.title("About scSE Lens")

st.subheader("Installed versions")
st.table(
    {
        "package": ["torch", "streamlit", "scse_viz"],
        "version": [_version("torch"), st.__version__, _version("scse_viz")],
    }
)

st.subheader("The method")
st.markdown(
    """
The scSE block is due to Abhijit Guha Roy, Nassir Navab and Christian Wachinger:
*Concurrent Spatial and Channel Squeeze & Excitation in Fully Convolutional Networks*,
Medical Image Computing and Computer Assisted Intervention (MICCAI) 2018.
[arXiv:1803.02579](https://arxiv.org/abs/1803.02579)
"""
)

links.finish()
