"""The landing page and the About page run headlessly through Streamlit's AppTest."""

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import streamlit
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"
PYPROJECT = APP.parent / "pyproject.toml"


def installed_scse_viz_version() -> str:
    """scse_viz's version as the About page must show it: the installed distribution's, or, run from the source tree
    without ``pip install .``, pyproject's version marked as such."""
    try:
        return version("scse_viz")
    except PackageNotFoundError:
        return f"{tomllib.loads(PYPROJECT.read_text())['project']['version']} (source tree)"


def _run_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_landing_page_runs_and_explains_scse():
    at = _run_app()
    assert [t.value for t in at.title] == ["scSE Lens"]
    text = "\n".join(m.value for m in at.markdown)
    assert "cSE" in text and "sSE" in text
    assert "one weight `w` in (0, 1) per channel" in text
    assert "per pixel" in text
    assert "x·w + x·q" in text


def test_about_page_runs_and_cites_the_paper():
    at = _run_app()
    at.switch_page("pages/4_About.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["About scSE Lens"]
    text = "\n".join(m.value for m in at.markdown)
    assert "Concurrent Spatial and Channel Squeeze & Excitation in Fully Convolutional Networks" in text
    assert "MICCAI" in text and "Roy" in text and "Navab" in text and "Wachinger" in text
    table = at.table[0].value
    assert list(table["package"]) == ["torch", "streamlit", "scse_viz"]
    # the versions of what is installed, as exact strings (torch's local tag, e.g. "+cpu", included)
    assert list(table["version"]) == [version("torch"), streamlit.__version__, installed_scse_viz_version()]
