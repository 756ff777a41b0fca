"""One seam for running per-observation work: serially, on several processes, or on any executor.

``executor`` may be ``"serial"``, ``"processes"`` (``n_jobs`` processes: this one and
forked workers where processes can be forked, else a pool of spawned workers), a
`concurrent.futures.Executor`, or anything with the same ``submit(fn, *args)`` method
returning futures (such as a ``dask.distributed.Client``). Results are yielded in task
order, so stacking is deterministic.
"""

import concurrent.futures
import contextlib
import multiprocessing
import os
import threading
import traceback

from .errors import DL3LabError, ReductionError
from .forked_workers import run_forked
from .shared_memory import discard_result, load_result, share_result

__all__ = [
    "run_tasks",
    "resolve_n_jobs",
    "capture_failure",
    "failure_from_exception",
    "max_threads",
    "set_max_threads",
    "thread_pool",
]

_MAX_THREADS = None
_POOL = None
_THIS_THREAD = threading.local()  # a limit for one thread only (see `_one_thread`)


def max_threads():
    """Upper limit on helper threads inside one reduction (default: the CPU count; 1 in worker processes)."""
    own = getattr(_THIS_THREAD, "limit", None)
    if own is not None:
        return own
    if _MAX_THREADS is not None:
        return _MAX_THREADS
    env = os.environ.get("DL3LAB_THREADS")
    return max(1, int(env)) if env else max(1, os.cpu_count() or 1)


def set_max_threads(n):
    """Limit the helper threads used inside one reduction (None restores the default)."""
    global _MAX_THREADS
    _MAX_THREADS = None if n is None else max(1, int(n))


def thread_pool():
    """A process-local thread pool for work that runs beside the main computation of one observation."""
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():
        _POOL = (os.getpid(), concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="dl3lab"))
    return _POOL[1]


def _worker_init():
    set_max_threads(1)


def resolve_n_jobs(n_jobs, n_tasks):
    """Number of processes: ``n_jobs`` capped at the task and CPU counts (at least 1)."""
    n_jobs = 1 if n_jobs is None else int(n_jobs)
    return max(1, min(n_jobs, n_tasks, os.cpu_count() or 1))


def failure_from_exception(exc, obs_id):
    """`ReductionError` for an exception being handled: obs id, file and HDU if known, and the traceback."""
    text = "".join(traceback.format_exception(exc))
    located = isinstance(exc, DL3LabError)
    return ReductionError(
        f"reducing observation {obs_id} failed: {type(exc).__name__}: {exc}",
        obs_id=obs_id,
        filename=getattr(exc, "filename", None) if located else None,
        hdu=getattr(exc, "hdu", None) if located else None,
        traceback=text,
    )


def capture_failure(func, obs_id, *args):
    """Call ``func(*args)``; on failure return a `ReductionError` carrying obs id and traceback text."""
    try:
        return func(*args)
    except Exception as exc:
        return failure_from_exception(exc, obs_id)


def runs_in_process(executor, n_jobs, n_tasks):
    """Whether `run_tasks` would run ``n_tasks`` tasks in this process (serially)."""
    return executor in (None, "serial") or (executor == "processes" and resolve_n_jobs(n_jobs, n_tasks) == 1)


def forks_workers(executor, n_jobs, n_tasks):
    """Whether `run_tasks` would run ``n_tasks`` tasks here and in forked workers, which inherit them."""
    return (executor == "processes" and resolve_n_jobs(n_jobs, n_tasks) > 1 and os.name == "posix"
            and "fork" in multiprocessing.get_all_start_methods())


def run_tasks(func, tasks, executor="serial", n_jobs=None, on_lost=None):
    """Run ``func(*task)`` for each task and yield ``(index, result)`` in task order.

    Parameters
    ----------
    func : callable
        A picklable, module-level function.
    tasks : list of tuple
        Argument tuples.
    executor : str or executor
        ``"serial"``, ``"processes"``, or an object with ``submit``.
    n_jobs : int, optional
        Number of processes working for ``"processes"`` (see `_run_on_processes`).
    on_lost : callable, optional
        ``on_lost(index, error)``: the value to yield for a task whose forked worker died
        (`~dl3lab.reduction.forked_workers.WorkerDiedError`); by default the error is raised.
    """
    tasks = list(tasks)
    if runs_in_process(executor, n_jobs, len(tasks)):
        for idx, args in enumerate(tasks):
            yield idx, func(*args)
        return
    if executor == "processes":
        yield from _run_on_processes(func, tasks, resolve_n_jobs(n_jobs, len(tasks)), on_lost)
        return
    if not hasattr(executor, "submit"):
        raise TypeError(f"executor must be 'serial', 'processes' or have a submit() method, got {executor!r}")
    futures = [executor.submit(func, *args) for args in tasks]
    for idx, future in enumerate(futures):
        yield idx, future.result()


def _run_shared(func, *args):
    return share_result(func(*args))


@contextlib.contextmanager
def _one_thread():
    """Limit the calling thread to one core while it works beside worker processes (restored afterwards)."""
    previous = getattr(_THIS_THREAD, "limit", None)
    _THIS_THREAD.limit = 1
    try:
        yield
    finally:
        _THIS_THREAD.limit = previous


def _run_on_processes(func, tasks, n_jobs, on_lost=None):
    """`run_tasks` on ``n_jobs`` processes.

    Where processes can be forked, this process works as one of them beside
    ``n_jobs - 1`` forked workers (`~dl3lab.reduction.forked_workers.run_forked`).
    Elsewhere a pool of ``n_jobs`` spawned workers runs the tasks. On POSIX systems
    large results come back through shared memory
    (`~dl3lab.reduction.shared_memory.share_result`).
    """
    if forks_workers("processes", n_jobs, len(tasks)):
        yield from run_forked(func, tasks, n_jobs, _one_thread, on_lost=on_lost)
        return
    context = multiprocessing.get_context("spawn")
    futures = []
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=n_jobs, mp_context=context, initializer=_worker_init)
    try:
        futures = [pool.submit(_run_shared, func, *args) for args in tasks]
        for idx, future in enumerate(futures):
            yield idx, load_result(future.result())
            futures[idx] = None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # stopping early: tasks not started never run
        for future in futures:
            if future is not None and future.done() and not future.cancelled() and future.exception() is None:
                discard_result(future.result())
