"""The "processes" executor: the calling process and forked workers share the tasks; results come back in order."""

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dl3lab.reduction import executor
from dl3lab.reduction.forked_workers import WorkerDiedError
from dl3lab.reduction.shared_memory import SHARED_MIN_BYTES, SharedResult, load_result, share_result

pytestmark = pytest.mark.skipif(os.name != "posix", reason="forked workers need fork")


def _leftover_files():
    shm = Path("/dev/shm")
    return sorted(p.name for p in shm.glob("dl3lab-result-*")) if shm.is_dir() else []


def _slow_square(x, delay=0.05):
    time.sleep(delay)
    return x * x, os.getpid(), executor.max_threads()


def test_tasks_run_here_and_in_workers_and_come_back_in_order():
    lock = threading.Lock()  # not picklable: forked workers inherit their tasks
    tasks = [(i, 0.05 + 0.01 * (i % 3)) for i in range(12)]
    out = list(executor.run_tasks(lambda x, d: (_slow_square(x, d), lock)[0], tasks, executor="processes",
                                  n_jobs=2))
    assert [idx for idx, _ in out] == list(range(12))
    assert [value for _, (value, _, _) in out] == [i * i for i in range(12)]
    pids = {pid for _, (_, pid, _) in out}
    assert os.getpid() in pids and len(pids) == 2  # this process worked too
    assert {threads for _, (_, _, threads) in out} == {1}  # one core per working process
    assert executor.max_threads() == (int(os.environ["DL3LAB_THREADS"]) if "DL3LAB_THREADS" in os.environ
                                      else os.cpu_count())  # restored afterwards


def _fail_on(x, bad):
    if x == bad:
        raise ValueError(f"task {x} is broken")
    return x


def _values_before(error, match, func, tasks):
    """The values yielded on two processes before ``error`` is raised (the test fails without it)."""
    seen = []
    with pytest.raises(error, match=match):
        for _, value in executor.run_tasks(func, tasks, executor="processes", n_jobs=2):
            seen.append(value)
    return seen


def test_an_exception_in_a_task_is_raised_in_its_turn():
    assert _values_before(ValueError, "task 5 is broken", _fail_on, [(i, 5) for i in range(8)]) == [0, 1, 2, 3, 4]
    # the same in a worker, whose traceback comes along
    with pytest.raises(ValueError, match="task 3 is broken") as info:
        list(executor.run_tasks(_fail_in_worker, [(i, os.getpid()) for i in range(4)], executor="processes",
                                n_jobs=2))
    assert "_fail_in_worker" in str(info.value.__cause__)


def _fail_in_worker(x, parent):
    # this process is slow, so the worker takes tasks 1 to 3
    time.sleep(0.3 if os.getpid() == parent else 0.01)
    return _fail_on(x, 3 if os.getpid() != parent else None)


def _die_in_worker(x, parent):
    time.sleep(0.3 if os.getpid() == parent else 0.01)
    if x == 3 and os.getpid() != parent:
        os._exit(7)
    return x


def test_a_worker_that_dies_is_reported():
    import multiprocessing

    tasks = [(i, os.getpid()) for i in range(4)]
    assert _values_before(WorkerDiedError, "exit code 7 while running task 3", _die_in_worker, tasks) == [0, 1, 2]
    assert multiprocessing.active_children() == []


def test_stopping_early_leaves_no_processes_or_files():
    import multiprocessing

    before = _leftover_files()
    results = executor.run_tasks(np.full, [((300_000,), float(i)) for i in range(10)], executor="processes",
                                 n_jobs=2)
    idx, first = next(results)
    assert idx == 0 and first[0] == 0.0
    results.close()
    assert multiprocessing.active_children() == []
    assert _leftover_files() == before


def test_large_results_come_back_through_shared_memory():
    before = _leftover_files()
    out = dict(executor.run_tasks(np.full, [((SHARED_MIN_BYTES // 8 + 1000,), float(i)) for i in range(6)],
                                  executor="processes", n_jobs=2))
    for i, array in out.items():
        assert array.shape == (SHARED_MIN_BYTES // 8 + 1000,) and np.all(array == i)
        assert array.flags.writeable
    assert _leftover_files() == before  # names removed as soon as the results were mapped


def test_share_result_round_trip():
    big = np.arange(SHARED_MIN_BYTES // 4, dtype=np.float64).reshape(-1, 16)
    value = {"c": big, "f": np.asfortranarray(big[:1000]), "view": big[::2], "small": np.ones(3), "text": "x"}
    shared = share_result(value)
    assert isinstance(shared, SharedResult) and shared.path.exists()
    loaded = load_result(shared)
    assert not shared.path.exists()
    for key in ("c", "f", "view", "small"):
        np.testing.assert_array_equal(loaded[key], value[key])
    assert loaded["f"].flags.f_contiguous and loaded["text"] == "x"
    loaded["c"][0, 0] = -1.0  # writable, and independent of the original
    assert big[0, 0] == 0.0
    small = {"a": np.ones(10)}
    assert share_result(small) is small  # small results go through the pipe as they are
    discarded = share_result(value)
    discarded.discard()
    assert not discarded.path.exists()


def test_share_result_resumes_short_writes_and_leaves_nothing_when_full(monkeypatch):
    import os

    from dl3lab.reduction import shared_memory

    value = {"a": np.arange(SHARED_MIN_BYTES // 8 + 7, dtype=np.float64), "b": np.arange(1001, dtype=np.int8)}
    real_writev = os.writev
    monkeypatch.setattr(shared_memory.os, "writev", lambda fd, views: real_writev(fd, [views[0][:100_000]]))
    loaded = load_result(share_result(value))  # written 100 kB at a time
    np.testing.assert_array_equal(loaded["a"], value["a"])
    np.testing.assert_array_equal(loaded["b"], value["b"])

    def full(fd, views):
        real_writev(fd, [views[0][:10]])
        raise OSError(28, "No space left on device")

    before = _leftover_files()
    monkeypatch.setattr(shared_memory.os, "writev", full)
    assert share_result(value) is value  # through the pipe instead
    assert _leftover_files() == before


def test_spawned_pool_where_fork_is_missing(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    out = list(executor.run_tasks(np.full, [((SHARED_MIN_BYTES // 8,), 2.0), ((3,), 1.0)], executor="processes",
                                  n_jobs=2))
    assert [idx for idx, _ in out] == [0, 1]
    assert np.all(out[0][1] == 2.0) and np.all(out[1][1] == 1.0)


def _slow_worker_fails_on_two(x, parent):
    time.sleep(0.01 if os.getpid() == parent else 0.3)
    return _fail_on(x, 2)


def test_an_exception_in_the_callers_own_task_comes_after_the_results_before_it():
    tasks = [(i, os.getpid()) for i in range(5)]
    assert _values_before(ValueError, "task 2 is broken", _slow_worker_fails_on_two, tasks) == [0, 1]


def test_a_dead_worker_loses_only_its_task():
    import multiprocessing

    lost = []
    out = list(executor.run_tasks(_die_in_worker, [(i, os.getpid()) for i in range(8)], executor="processes",
                                  n_jobs=3, on_lost=lambda i, exc: lost.append((i, str(exc))) or "lost"))
    assert [v for _, v in out] == [0, 1, 2, "lost", 4, 5, 6, 7]
    assert lost[0][0] == 3 and "exit code 7" in lost[0][1]
    assert multiprocessing.active_children() == []


def test_forked_workers_do_not_inherit_held_cache_locks_or_unfinished_reads():
    import concurrent.futures

    from dl3lab.reduction.data.fits_file import FitsFileCache
    from dl3lab.reduction.lru import LRUCache

    cache, files = LRUCache(4), FitsFileCache()
    files._loading["run.fits.gz"] = concurrent.futures.Future()  # a read that never finishes here
    files._open["run.fits.gz"] = "half-read reader"  # ... and the reader it is filling
    files._open["done.fits.gz"] = "complete reader"
    held, release = threading.Event(), threading.Event()

    def hold():
        with cache._lock:  # another thread holds the lock while the workers are forked
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        def probe(i, parent):
            if os.getpid() == parent:
                time.sleep(0.2)
                return None
            free = cache._lock.acquire(timeout=2)
            if free:
                cache._lock.release()
            return free, len(files._loading), sorted(files._open)

        out = [v for _, v in executor.run_tasks(probe, [(i, os.getpid()) for i in range(6)], executor="processes",
                                                n_jobs=2) if v is not None]
    finally:
        release.set()
        holder.join()
    assert out and all(v == (True, 0, ["done.fits.gz"]) for v in out)
    assert len(files._loading) == 1 and len(files._open) == 2  # this process is untouched
