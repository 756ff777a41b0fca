"""A helper process that computes background maps beside the calling process.

The background map of an observation (spec §4.3) is the largest single piece of
work in `MapDatasetMaker.run`. A helper *thread* computing it competes with the
calling thread for Python's global interpreter lock at every numpy operation; a
helper *process* does not. `BackgroundWorker` starts such a process once (in the
background: until it is ready, callers use their helper thread) and sends it a
`BackgroundTask` (a few hundred kB of tables) plus, once per sky grid, the pixel
centres and solid angles. The process writes the map into a memory-mapped file
shared with the caller, which copies it out. It runs exactly the code the thread
runs, so the numbers are identical.

If the process cannot be started, dies, or reports an error, the caller computes
the map itself (an error then surfaces, with its observation, from that
computation). Set ``DL3LAB_HELPER_PROCESS=0`` or call `set_helper_process` to
never start it.
"""

import atexit
import mmap
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import numpy as np

from ..shared_memory import mapped_file

__all__ = ["BackgroundWorker", "background_worker", "helper_process_enabled", "set_helper_process", "WorkerLost"]

_HEADER = struct.Struct("<Q")
#: Sky grids (pixel centres and solid angles) the helper process keeps.
GRIDS_KEPT = 8
#: How often a helper process that worked and then died is replaced.
MAX_RESTARTS = 3
_ENABLED = None
_WORKER = None
_RESTARTS = 0
_WORKER_LOCK = threading.Lock()


class WorkerLost(RuntimeError):
    """The helper process is gone or answered with an error: compute in the calling process instead."""


def helper_process_enabled():
    """Whether background maps may be computed in a helper process (``DL3LAB_HELPER_PROCESS``, default on)."""
    if _ENABLED is not None:
        return _ENABLED
    return os.environ.get("DL3LAB_HELPER_PROCESS", "1").strip().lower() not in ("0", "false", "no", "off")


def set_helper_process(enabled):
    """Allow (True) or forbid (False) the helper process; None restores the default. Forbidding stops it."""
    global _ENABLED
    _ENABLED = None if enabled is None else bool(enabled)
    if _ENABLED is False:
        shutdown()


def background_worker(start=True):
    """This process's `BackgroundWorker` (started on first use), or None if disabled or not ready to start."""
    global _WORKER
    if not helper_process_enabled():
        return None
    global _RESTARTS
    with _WORKER_LOCK:
        if _WORKER is not None and _WORKER.pid_owner != os.getpid():
            _WORKER = None  # inherited through fork: the process belongs to the parent
        if _WORKER is not None and _WORKER.broken and _WORKER.was_ready and _RESTARTS < MAX_RESTARTS and start:
            _WORKER.close()  # it worked, then died (killed, out of memory): start a new one
            _WORKER, _RESTARTS = None, _RESTARTS + 1
        if _WORKER is None and start:
            _WORKER = BackgroundWorker()
        return _WORKER


def shutdown():
    """Stop this process's helper process, if any."""
    global _WORKER
    with _WORKER_LOCK:
        worker, _WORKER = _WORKER, None
    if worker is not None and worker.pid_owner == os.getpid():
        worker.close()


atexit.register(shutdown)


def _write(stream, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream):
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)  # noqa: S301 -- messages between this process and its own helper


class _Buffer:
    """A memory-mapped file both processes see; grown (as a new file) when a larger map is needed.

    Made by `~dl3lab.reduction.shared_memory.mapped_file` (in ``/dev/shm`` when that
    has room, its space reserved up front, so a full file system fails here with an
    `OSError` and never later while the map is written).
    """

    _made = 0

    def __init__(self, size):
        self.size = max(int(size), 1)
        _Buffer._made += 1
        self.generation = (os.getpid(), _Buffer._made)  # names a file even after its path is reused
        self.unlinked = False
        self.map, self.path = mapped_file(self.size, prefix="dl3lab-bkg-")

    def unlink(self):
        """Remove the file's name once both processes have it mapped (nothing is left behind after a crash)."""
        if not self.unlinked:
            self.path.unlink(missing_ok=True)
            self.unlinked = True

    def close(self):
        self.map.close()
        self.unlink()


class BackgroundWorker:
    """Client of one helper process; one request at a time (see the module docstring)."""

    def __init__(self):
        self.pid_owner = os.getpid()
        self._lock = threading.Lock()
        self._grids = {}  # key -> number of pixels of the grids the process has (most recent last)
        self._buffer = None
        self._ready = False
        self.broken = False
        #: Maps the process has delivered.
        self.completed = 0
        package_root = str(Path(__file__).resolve().parents[3])
        code = (f"import sys; sys.path.insert(0, {package_root!r}); "
                "from dl3lab.reduction.makers.background_worker import serve; serve()")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, close_fds=True,
            )
        except OSError:
            self._proc, self.broken = None, True

    @property
    def pid(self):
        """Process id of the helper process (None if it could not start)."""
        return None if self._proc is None else self._proc.pid

    @property
    def was_ready(self):
        """Whether the process started and announced itself (it may have died since)."""
        return self._ready

    def ready(self, timeout=0.0):
        """Whether the process has started and can take work (waits at most ``timeout`` seconds)."""
        if self._ready or self.broken:
            return self._ready and not self.broken
        with self._lock:
            if not self._ready and not self.broken:
                try:
                    if select.select([self._proc.stdout], [], [], timeout)[0]:
                        message = _read(self._proc.stdout)
                        self._ready = message is not None and message[0] == "ready"
                        self.broken = not self._ready
                except (OSError, ValueError):
                    self.broken = True
        return self._ready and not self.broken

    def try_submit(self, task, grid_key, grid, pointing_rad):
        """Start computing ``task`` and return a `PendingBackground`, or None if busy, not ready or broken.

        ``grid`` is a callable returning ``(trig, solid_angle)`` for ``grid_key``
        (called only when the process does not hold that grid yet).
        """
        if not self.ready() or not self._lock.acquire(blocking=False):
            return None
        try:
            n_pixels = self._grids[grid_key] if grid_key in self._grids else int(np.size(grid()[1]))
            shape = (task.n_energy, n_pixels)
            nbytes = int(np.prod(shape)) * task.dtype.itemsize
            if self._buffer is None or self._buffer.size < nbytes:
                if self._buffer is not None:
                    self._buffer.close()
                    self._buffer = None
                self._buffer = _Buffer(nbytes)
        except OSError:  # no room for the shared file: this map is computed in the calling process
            self._lock.release()
            return None
        try:
            target = (str(self._buffer.path), self._buffer.generation)
            request = ("compute", (task, grid_key, pointing_rad, target, shape))
            self._send_grid(grid_key, grid, n_pixels)
            _write(self._proc.stdin, request)
        except Exception:
            self._fail()
            self._lock.release()
            return None
        return PendingBackground(self, request, grid_key, grid, shape, task.dtype)

    def _send_grid(self, key, grid, n_pixels):
        if key not in self._grids:
            trig, solid = grid()
            _write(self._proc.stdin, ("grid", (key, trig, solid)))
        self._grids[key] = self._grids.pop(key, n_pixels)  # most recently used last, as the process keeps them
        while len(self._grids) > GRIDS_KEPT:
            self._grids.pop(next(iter(self._grids)))

    def _finish(self, request, key, grid, shape, dtype):
        """Wait for the answer to ``request``; returns the map (a copy) or raises `WorkerLost`."""
        try:
            answer = _read(self._proc.stdout)
            if answer is not None and answer[0] == "missing":  # the process dropped the grid: send it again
                n_pixels = self._grids.pop(key, shape[1])
                self._send_grid(key, grid, n_pixels)
                _write(self._proc.stdin, request)
                answer = _read(self._proc.stdout)
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            self._fail()
            raise WorkerLost(f"background helper process lost: {exc}") from exc
        finally:
            self._lock.release()
        if answer is None:
            self._fail()
            raise WorkerLost("background helper process ended unexpectedly")
        if answer[0] != "ok":
            raise WorkerLost(f"background helper process failed:\n{answer[1]}")
        self._buffer.unlink()  # the process has it mapped now
        view = np.frombuffer(self._buffer.map, dtype=dtype, count=int(np.prod(shape))).reshape(shape)
        self.completed += 1
        return view.copy()

    def _fail(self):
        self.broken = True
        self._kill()

    def _kill(self):
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass

    def close(self):
        """Stop the process and remove the shared file."""
        if self._proc is not None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=2)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self._kill()
            try:
                self._proc.stdout.close()
            except OSError:
                pass
        self.broken = True
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None


class PendingBackground:
    """A background map being computed by the helper process."""

    def __init__(self, worker, request, key, grid, shape, dtype):
        self._args = (request, key, grid, shape, dtype)
        self._worker = worker
        self._value = None

    def result(self):
        """The map, shape ``(n_energy, n_pixels)``; raises `WorkerLost` if the process could not deliver it."""
        if self._value is None:
            self._value = self._worker._finish(*self._args)
        return self._value


# ------------------------------------------------------------------ helper process side
def serve(stdin=None, stdout=None):
    """Main loop of the helper process: answer requests on ``stdin`` until it closes."""
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write to the answer stream
    grids = {}
    mapped = {}
    _write(stdout, ("ready", os.getpid()))
    while True:
        message = _read(stdin)
        if message is None:
            return
        kind, body = message
        if kind == "grid":
            key, trig, solid = body
            grids.pop(key, None)
            grids[key] = (trig, solid)
            while len(grids) > GRIDS_KEPT:
                grids.pop(next(iter(grids)))
            continue
        task, key, pointing_rad, target, shape = body
        if key not in grids:
            _write(stdout, ("missing", key))
            continue
        grids[key] = grids.pop(key)  # most recently used last, as the client keeps them
        try:
            _compute_into(task, grids[key], pointing_rad, target, shape, mapped)
            _write(stdout, ("ok", None))
        except Exception:
            _write(stdout, ("error", traceback.format_exc()))


def _compute_into(task, grid, pointing_rad, target, shape, mapped):
    """Compute ``task`` on ``grid`` into the mapped file ``target`` (path, generation); every view of the
    file ends with the call."""
    from .background_projection import BackgroundComputation

    if target not in mapped:
        for old in mapped.values():
            old.close()
        mapped.clear()
        with open(target[0], "r+b") as handle:
            mapped[target] = mmap.mmap(handle.fileno(), 0)
    out = np.frombuffer(mapped[target], dtype=task.dtype, count=int(np.prod(shape))).reshape(shape)
    trig, solid = grid
    direct = out if task.work_dtype == task.dtype else None
    data = BackgroundComputation.from_arrays(task, trig, solid, pointing_rad, out=direct).result()
    if direct is None:
        out[...] = data.reshape(shape)
