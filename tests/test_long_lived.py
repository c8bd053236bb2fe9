"""The app freezes the process's long-lived objects once, at its first script run, so Streamlit's full garbage
collection after every run (``runner.postScriptGC``) visits only what sessions made since (scse_viz.ui.long_lived).
Each check runs in a fresh interpreter: freezing is once per process, and pytest's own process is not fresh."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.app_helpers import REPO as REPO_ROOT


def _python(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.split()


def test_the_first_script_run_freezes_the_libraries_and_the_gc_pass_after_a_run_visits_few_objects():
    # A real script run of the Explore page (AppTest runs it as the server does): afterwards the heavy libraries sit
    # in the permanent generation and the tracked objects, what a post-run gc.collect(2) visits, are a small share.
    frozen, tracked, second = _python(
        """
        import gc
        import streamlit
        from streamlit.testing.v1 import AppTest
        import scse_viz
        from scse_viz.ui.long_lived import freeze_loaded
        at = AppTest.from_file("app.py", default_timeout=300)
        at.switch_page("pages/1_Explore.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        at.run()  # a second run must not freeze again
        gc.collect()
        print(gc.get_freeze_count(), len(gc.get_objects()), freeze_loaded())
        """
    )
    assert int(frozen) > 200_000  # torch, streamlit, pandas, matplotlib and ours: over 400,000 here
    assert int(tracked) < int(frozen) / 5
    assert second == "False"


def test_objects_made_after_the_freeze_are_still_collected_and_it_happens_once():
    first, cycle_collected, again = _python(
        """
        import gc, weakref
        from scse_viz.ui.long_lived import freeze_loaded
        first = freeze_loaded()

        class Node:
            pass

        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the cycle collector frees it
        probe = weakref.ref(a)
        del a, b
        gc.collect(2)
        print(first, probe() is None, freeze_loaded())
        """
    )
    assert (first, cycle_collected, again) == ("True", "True", "False")
