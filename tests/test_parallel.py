"""scse_viz.parallel: results in the items' order, errors raised as a serial loop raises them, real threads used."""

from __future__ import annotations

import threading

import pytest

from scse_viz.parallel import parallel_map, torch_call, torch_map, torch_workers, usable_cores


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


def failing_at(bad: int, message: str):
    """Work that returns its item, except for ``bad``, where it raises ValueError(message)."""

    def work(n: int) -> int:
        if n == bad:
            raise ValueError(message)
        return n

    return work


def test_an_error_in_any_item_reaches_the_caller():
    with pytest.raises(ValueError, match="three"):
        parallel_map(failing_at(3, "three"), range(6), workers=2)


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


# ---------------------------------------------------------------------------------------------- torch_map

needs_two_cores = pytest.mark.skipif(
    not torch_workers(), reason="torch_map works serially here (one core, or no OpenMP)"
)


@needs_two_cores
def test_torch_work_runs_in_the_pool_on_one_torch_thread_while_the_caller_keeps_its_count():
    import torch

    before = torch.get_num_threads()
    seen = torch_map(lambda _: (threading.current_thread().name, torch.get_num_threads()), range(4))
    assert all(name.startswith("scse-torch") for name, _ in seen)
    assert [count for _, count in seen] == [1, 1, 1, 1]
    assert torch.get_num_threads() == before  # the caller's own count is untouched
    # and a thread started afterwards still gets the process's count, not the workers' one
    later: list[int] = []
    thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    thread.start(), thread.join()
    assert later == [before]


@needs_two_cores
def test_torch_map_runs_items_side_by_side_keeps_their_order_and_reports_each_on_the_callers_thread():
    import time

    barrier = threading.Barrier(2, timeout=10)  # passes only if two items run at the same time

    def item(n: int) -> int:
        if n < 2:
            barrier.wait()
        time.sleep(0.002 * (5 - n))
        return n * n

    reports: list[tuple[int, str]] = []
    results = torch_map(item, range(5), on_done=lambda k: reports.append((k, threading.current_thread().name)))
    assert results == [0, 1, 4, 9, 16]
    assert reports == [(k, threading.current_thread().name) for k in range(1, 6)]


def test_torch_map_raises_an_items_error_and_runs_nested_calls_on_the_worker_that_asked():
    with pytest.raises(ValueError, match="two"):
        torch_map(failing_at(2, "two"), range(4))

    # every worker of the pool busy with an item that itself calls torch_map: the inner items must run on the worker
    # that asked (queued behind their own callers they would never run: a deadlock, failed by the suite's timeout)
    def outer(_: int) -> tuple[str, list[str]]:
        return threading.current_thread().name, torch_map(lambda m: threading.current_thread().name, range(3))

    for name, inner in torch_map(outer, range(usable_cores() * 2)):
        assert inner == [name] * 3


def test_one_item_runs_where_many_do():
    import torch

    caller = threading.current_thread().name
    name, threads = torch_call(lambda: (threading.current_thread().name, torch.get_num_threads()))
    if torch_workers():
        assert name.startswith("scse-torch") and threads == 1
    else:
        assert name == caller
    assert torch_map(lambda _: 1, []) == []
