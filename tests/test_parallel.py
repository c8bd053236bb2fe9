"""scse_viz.parallel: results in the items' order, errors raised as a serial loop raises them, real threads used."""

from __future__ import annotations

import threading

import pytest

from scse_viz.parallel import parallel_map


def test_results_keep_the_items_order_whatever_finishes_first():
    import time

    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (5 - n))  # the first items finish last
        return n * n

    assert parallel_map(slow_for_small, range(5), workers=3) == [0, 1, 4, 9, 16]
    assert parallel_map(slow_for_small, [], workers=3) == []


def test_work_runs_on_several_threads_when_asked_and_on_the_caller_alone_with_one_worker():
    barrier = threading.Barrier(2, timeout=10)  # passes only if two items run at the same time

    def meet(_: int) -> str:
        barrier.wait()
        return threading.current_thread().name

    names = parallel_map(meet, range(2), workers=2)
    assert len(set(names)) == 2 and all(n.startswith("scse-parallel") for n in names)
    caller = threading.current_thread().name
    assert parallel_map(lambda _: threading.current_thread().name, range(3), workers=1) == [caller] * 3


def test_an_error_in_any_item_reaches_the_caller():
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    with pytest.raises(ValueError, match="three"):
        parallel_map(fail_on_three, range(6), workers=2)


PINNED_PROBE = (
    "import threading; from scse_viz.parallel import parallel_map, usable_cores; "
    "print(usable_cores(), set(parallel_map(lambda _: threading.current_thread().name, range(4))))"
)


def test_usable_cores_follow_the_process_affinity():
    # A process pinned to one core (taskset, as the pinned benchmark pins a server) must see one usable core and
    # then work serially, on the caller's thread.
    import subprocess
    import sys

    from tests.app_helpers import REPO

    done = subprocess.run(
        [
            "taskset",
            "--cpu-list",
            "0",
            sys.executable,
            "-c",
            PINNED_PROBE,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 {'MainThread'}"
