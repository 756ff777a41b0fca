"""One seam for running per-observation work: serially, in a process pool, or on any executor.

``executor`` may be ``"serial"``, ``"processes"`` (a process pool of ``n_jobs``
workers), a `concurrent.futures.Executor`, or anything with the same
``submit(fn, *args)`` method returning futures (such as a ``dask.distributed.Client``).
Results are yielded in submission order, so stacking is deterministic.
"""

import concurrent.futures
import multiprocessing
import os
import traceback

from .errors import DL3LabError, ReductionError

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


def max_threads():
    """Upper limit on helper threads inside one reduction (default: the CPU count; 1 in worker processes)."""
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
    """Number of worker processes: ``n_jobs`` capped at the task and CPU counts (at least 1)."""
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


def run_tasks(func, tasks, executor="serial", n_jobs=None):
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
        Pool size for ``"processes"``.
    """
    tasks = list(tasks)
    if runs_in_process(executor, n_jobs, len(tasks)):
        for idx, args in enumerate(tasks):
            yield idx, func(*args)
        return
    if executor == "processes":
        workers = resolve_n_jobs(n_jobs, len(tasks))
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_worker_init
        ) as pool:
            futures = [pool.submit(func, *args) for args in tasks]
            for idx, future in enumerate(futures):
                yield idx, future.result()
        return
    if not hasattr(executor, "submit"):
        raise TypeError(f"executor must be 'serial', 'processes' or have a submit() method, got {executor!r}")
    futures = [executor.submit(func, *args) for args in tasks]
    for idx, future in enumerate(futures):
        yield idx, future.result()
