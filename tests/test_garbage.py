"""The full garbage collection runs at most once every few seconds per process instead of after every script run
(scse_viz/ui/garbage.py and runner.postScriptGC in .streamlit/config.toml). Each check runs in a fresh interpreter
with Python's automatic collection off, so only the collections under test can free a reference cycle."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.app_helpers import REPO


def _python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


CYCLE = """
    import gc, weakref
    gc.disable()  # only explicit collections free a cycle from here on

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)
"""


def test_the_served_config_turns_streamlits_collection_after_every_run_off():
    # Streamlit itself reads the repository's .streamlit/config.toml, as `streamlit run app.py` does.
    assert _python(
        """
        from streamlit import config
        config.get_config_options(force_reparse=True)
        print(config.get_option("runner.postScriptGC"))
        """
    ) == ["False"]


def test_a_cycle_is_collected_at_most_once_per_interval():
    ran_first, freed_first, ran_again, kept, ran_later, freed_later = _python(
        CYCLE
        + """
    import time
    from scse_viz.ui.garbage import collect_now_and_then
    first = cycle()
    ran = collect_now_and_then(0.5)
    print(ran, first() is None)
    second = cycle()
    print(collect_now_and_then(0.5), second() is not None)  # within the interval: nothing collected
    time.sleep(0.6)
    print(collect_now_and_then(0.5), second() is None)
    """
    )
    assert (ran_first, freed_first) == ("True", "True")
    assert (ran_again, kept) == ("False", "True")
    assert (ran_later, freed_later) == ("True", "True")


def test_every_page_run_collects_when_the_interval_has_passed():
    # A real Explore run with Streamlit's own post-run collection off: the cycle made before it is freed by the
    # page's own call, and a second run within the interval leaves a new cycle alone.
    freed, kept = _python(
        CYCLE
        + """
    from streamlit import config
    config.set_option("runner.postScriptGC", False)
    from streamlit.testing.v1 import AppTest
    import scse_viz
    at = AppTest.from_file("app.py", default_timeout=300)
    at.switch_page("pages/1_Explore.py")
    before = cycle()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    print(before() is None)
    again = cycle()
    at.run()
    print(again() is not None)
    """
    )
    assert (freed, kept) == ("True", "True")
