"""The landing page and the About page run headlessly through Streamlit's AppTest."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "app.py"


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
    assert all(str(v) for v in table["version"])
