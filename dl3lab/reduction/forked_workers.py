"""Run tasks on this process and forked workers that take the next task as soon as they are free.

`run_forked` is the ``"processes"`` executor on systems that can fork. The calling
process and ``n_jobs - 1`` forked workers share one counter of the next task to
run; each takes a task, runs it, and takes the next, so all of them stay busy
until the last task. Workers inherit the tasks through the fork (nothing is
pickled on the way in) and send each result back through a pipe of their own,
large ones through shared memory (`~dl3lab.reduction.shared_memory.share_result`).
The calling process yields the results in task order, in between its own tasks.
A worker that dies loses only the task it was running; the others go on.
"""

import gc
import itertools
import multiprocessing
import multiprocessing.connection
import signal
import traceback

from .shared_memory import discard_result, load_result, share_result

__all__ = ["run_forked", "WorkerDiedError", "WorkerTraceback"]

#: State of running `run_forked` calls by token, inherited by the workers forked for them.
_INHERITED = {}
_TOKENS = itertools.count()


class WorkerDiedError(RuntimeError):
    """A worker process ended (killed, crashed) while it was running task ``index``."""

    def __init__(self, message, index=None):
        super().__init__(message)
        self.index = index


class WorkerTraceback(Exception):
    """The traceback of an exception raised in a worker process (the ``__cause__`` of the re-raised one)."""

    def __str__(self):
        return "\n" + self.args[0]


class _Raised:
    """An exception raised by a task, raised again by the caller when the task's turn comes."""

    def __init__(self, exc, remote=True):
        self.exc = exc
        self.text = "".join(traceback.format_exception(exc)) if remote else None

    def reraise(self):
        if self.text is None:
            raise self.exc
        raise self.exc from WorkerTraceback(self.text)


def _claim(counter, n, current=None, slot=None):
    """The next task to run (``n`` when none is left), recorded as ``current[slot]`` under the same lock."""
    with counter.get_lock():
        index = counter.value
        if index < n:
            counter.value = index + 1
            if current is not None:
                current[slot] = index
    return index


def _worker(token, slot):
    from .executor import set_max_threads

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides what an interrupt stops
    # Inherited objects live as long as the worker: the garbage collector need not scan them
    # (nor write to their pages, which the fork shares with this process's parent).
    gc.freeze()
    set_max_threads(1)
    func, tasks, counter, current, writers = _INHERITED[token]
    writer = writers[slot]
    while (index := _claim(counter, len(tasks), current, slot)) < len(tasks):
        try:
            value = share_result(func(*tasks[index]))
        except Exception as exc:
            value = _Raised(exc)
        try:
            writer.send((index, value))
        except Exception as exc:  # the value could not be pickled: report that instead
            discard_result(value)
            writer.send((index, _Raised(exc)))
        current[slot] = -1
    writer.close()


def run_forked(func, tasks, n_jobs, run_here, on_lost=None):
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
    on_lost : callable, optional
        ``on_lost(index, error)`` gives the value to yield for a task whose worker died
        (a `WorkerDiedError`); without it the error is raised in the task's turn.

    Raises
    ------
    WorkerDiedError
        If a worker ends while it runs a task (and there is no ``on_lost``).
    """
    context = multiprocessing.get_context("fork")
    n = len(tasks)
    counter = context.Value("q", 0)
    current = context.Array("q", [-1] * (n_jobs - 1))
    pipes = [context.Pipe(duplex=False) for _ in range(n_jobs - 1)]
    readers, writers = [p[0] for p in pipes], [p[1] for p in pipes]
    token = next(_TOKENS)
    _INHERITED[token] = (func, tasks, counter, current, writers)
    workers, done, open_readers = [], {}, list(readers)
    try:
        for slot in range(n_jobs - 1):
            worker = context.Process(target=_worker, args=(token, slot), daemon=True)
            worker.start()
            workers.append(worker)
        for writer in writers:
            writer.close()  # the workers hold their own ends
        for index in range(n):
            while index not in done:
                _receive(open_readers, done)
                _collect_lost(workers, current, done)
                if index in done:
                    break
                mine = _claim(counter, n)
                if mine < n:
                    try:
                        with run_here():
                            done[mine] = func(*tasks[mine])
                    except Exception as exc:  # raised in its turn, after the results before it
                        done[mine] = _Raised(exc, remote=False)
                    continue
                _wait(open_readers, workers, done, current)
            value = done.pop(index)
            if isinstance(value, _Raised):
                if on_lost is not None and isinstance(value.exc, WorkerDiedError):
                    yield index, on_lost(index, value.exc)
                    continue
                value.reraise()
            yield index, load_result(value)
    except KeyboardInterrupt:
        for worker in workers:
            worker.terminate()
        raise
    finally:
        _INHERITED.pop(token, None)
        for writer in writers:
            writer.close()
        with counter.get_lock():
            counter.value = n  # no new tasks for anyone
        try:
            _finish(open_readers, workers, done)
        finally:
            for value in done.values():  # results nobody will load (the caller stopped early)
                discard_result(value)
            for reader in readers:
                reader.close()


def _receive(open_readers, done):
    """Move the results waiting in the pipes into ``done``; drop closed pipes."""
    for reader in list(open_readers):
        try:
            while reader.poll():
                index, value = reader.recv()
                done[index] = value
        except (EOFError, OSError):  # the worker has closed its end (or ended)
            open_readers.remove(reader)


def _collect_lost(workers, current, done):
    """Record a `WorkerDiedError` for the task of every worker that ended while running it."""
    for slot, worker in enumerate(workers):
        index = current[slot]
        if index >= 0 and index not in done and worker.exitcode is not None:
            done[index] = _Raised(WorkerDiedError(
                f"worker process {worker.pid} ended with exit code {worker.exitcode} while running task {index}",
                index=index), remote=False)
            current[slot] = -1


def _wait(open_readers, workers, done, current):
    """Wait for a result, or for a worker to end."""
    alive = [w.sentinel for w in workers if w.exitcode is None]  # one look, so the list is never stale
    if not open_readers and not alive:
        raise WorkerDiedError("every worker process ended before all tasks were done")
    multiprocessing.connection.wait(open_readers + alive)
    _receive(open_readers, done)  # every pipe: also what an ending worker sent
    _collect_lost(workers, current, done)


def _finish(open_readers, workers, done):
    """Let the workers end their current tasks (reading what they send, so none blocks), then reap them."""
    while alive := [w.sentinel for w in workers if w.exitcode is None]:
        multiprocessing.connection.wait(open_readers + alive)
        _receive(open_readers, done)
    _receive(open_readers, done)
    for worker in workers:
        worker.join()
