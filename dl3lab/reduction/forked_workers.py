"""Run tasks on this process and forked workers that take the next task as soon as they are free.

`run_forked` is the ``"processes"`` executor on systems that can fork. The calling
process and ``n_jobs - 1`` forked workers share one counter of the next task to
run; each takes a task, runs it, and takes the next, so all of them stay busy
until the last task.
Workers inherit the tasks through the fork (nothing is pickled on the way in) and
send each result back through one pipe, large ones through shared memory
(`~dl3lab.reduction.shared_memory.share_result`). The calling process yields the
results in task order, in between its own tasks.
"""

import gc
import itertools
import multiprocessing
import multiprocessing.connection
import traceback

from .shared_memory import discard_result, load_result, share_result

__all__ = ["run_forked", "WorkerDiedError", "WorkerTraceback"]

#: State of running `run_forked` calls by token, inherited by the workers forked for them.
_INHERITED = {}
_TOKENS = itertools.count()


class WorkerDiedError(RuntimeError):
    """A worker process ended (killed, crashed) while it was running a task."""


class WorkerTraceback(Exception):
    """The traceback of an exception raised in a worker process (the ``__cause__`` of the re-raised one)."""

    def __str__(self):
        return "\n" + self.args[0]


class _Raised:
    """An exception raised by a task in a worker, re-raised by the caller when its turn comes."""

    def __init__(self, exc):
        self.exc = exc
        self.text = "".join(traceback.format_exception(exc))

    def reraise(self):
        raise self.exc from WorkerTraceback(self.text)


def _claim(counter, n):
    with counter.get_lock():
        index = counter.value
        if index < n:
            counter.value = index + 1
    return index


def _worker(token, slot):
    from .executor import set_max_threads

    # Inherited objects live as long as the worker: the garbage collector need not scan them
    # (nor write to their pages, which the fork shares with this process's parent).
    gc.freeze()
    set_max_threads(1)
    func, tasks, counter, current, writer, lock = _INHERITED[token]
    while (index := _claim(counter, len(tasks))) < len(tasks):
        current[slot] = index
        try:
            value = share_result(func(*tasks[index]))
        except Exception as exc:
            value = _Raised(exc)
        try:
            with lock:
                writer.send((index, value))
        except Exception as exc:  # the value could not be pickled: report that instead
            discard_result(value)
            with lock:
                writer.send((index, _Raised(exc)))
        current[slot] = -1
    writer.close()


def run_forked(func, tasks, n_jobs, run_here):
    """Yield ``(index, func(*tasks[index]))`` in task order, computed here and in ``n_jobs - 1`` forked workers.

    Parameters
    ----------
    func : callable
        Called as ``func(*task)``.
    tasks : list of tuple
        Argument tuples.
    n_jobs : int
        Number of processes working, this one included (at least 2).
    run_here : callable
        Context manager factory wrapped around each task this process runs (e.g. to
        limit its threads while workers run beside it).

    Raises
    ------
    WorkerDiedError
        If a worker ends while it runs a task.
    """
    context = multiprocessing.get_context("fork")
    n = len(tasks)
    counter = context.Value("q", 0)
    current = context.Array("q", [-1] * (n_jobs - 1))
    reader, writer = context.Pipe(duplex=False)
    lock = context.Lock()
    token = next(_TOKENS)
    _INHERITED[token] = (func, tasks, counter, current, writer, lock)
    workers = []
    done = {}
    try:
        for slot in range(n_jobs - 1):
            worker = context.Process(target=_worker, args=(token, slot), daemon=True)
            worker.start()
            workers.append(worker)
        writer.close()  # the workers hold their own ends
        for index in range(n):
            while index not in done:
                _receive(reader, done)
                if index in done:
                    break
                mine = _claim(counter, n)
                if mine < n:
                    with run_here():
                        done[mine] = func(*tasks[mine])
                    continue
                _wait(reader, done, workers, current, index)
            value = done.pop(index)
            if isinstance(value, _Raised):
                value.reraise()
            yield index, load_result(value)
    except KeyboardInterrupt:
        for worker in workers:
            worker.terminate()
        raise
    finally:
        _INHERITED.pop(token, None)
        writer.close()
        with counter.get_lock():
            counter.value = n  # no new tasks for anyone
        try:
            _finish(reader, done, workers)
        finally:
            for value in done.values():  # results nobody will load (the caller stopped early)
                discard_result(value)
            reader.close()


def _receive(reader, done, block=False):
    """Move the results waiting in the pipe into ``done`` (with ``block``, wait for one first).

    Returns False once every worker has closed its end of the pipe.
    """
    try:
        while block or reader.poll():
            index, value = reader.recv()
            done[index] = value
            block = False
    except EOFError:
        return False
    return True


def _wait(reader, done, workers, current, index):
    """Wait until a result arrives; raise `WorkerDiedError` if the worker running ``index`` ended."""
    open_pipe = True
    while True:
        alive = [w.sentinel for w in workers if w.exitcode is None]  # one look, so the list is never stale
        ready = multiprocessing.connection.wait(([reader] if open_pipe else []) + alive)
        open_pipe = _receive(reader, done, block=reader in ready)  # also what an ending worker sent
        if index in done:
            return
        for slot, worker in enumerate(workers):
            if worker.exitcode is not None and (worker.exitcode != 0 or current[slot] >= 0):
                raise WorkerDiedError(
                    f"worker process {worker.pid} ended with exit code {worker.exitcode} "
                    f"while running task {current[slot]}"
                )
        if not alive:
            raise WorkerDiedError(f"every worker process ended before task {index} was done")


def _finish(reader, done, workers):
    """Let the workers end their current tasks (reading what they send, so none blocks), then reap them."""
    open_pipe = True
    while alive := [w.sentinel for w in workers if w.exitcode is None]:
        multiprocessing.connection.wait(([reader] if open_pipe else []) + alive)
        open_pipe = _receive(reader, done)
    _receive(reader, done)
    for worker in workers:
        worker.join()
