"""Memory-mapped files shared between processes, and task results handed over through them.

A dataset a pool worker returns holds several MB of maps. Sent through the pool's
pipe, it is pickled into one byte string, copied through the pipe in small pieces
(while both processes wait on each other) and copied once more when unpickled.
`share_result` instead pickles it with its large arrays out of band (pickle
protocol 5), writes those arrays once into a file in shared memory (``/dev/shm``)
and returns a small `SharedResult` naming the file; `load_result` maps the file in
the receiving process (all pages at once) and rebuilds the result with its arrays
viewing the mapped memory, without copying.
The receiver removes the file's name as soon as it has mapped it, so nothing is left
behind once the result is released.
"""

import mmap
import os
import pickle
import tempfile
from pathlib import Path

__all__ = ["mapped_file", "share_result", "load_result", "discard_result", "SharedResult", "SHARED_MIN_BYTES"]

#: Results whose out-of-band buffers are smaller than this go through the pipe as usual.
SHARED_MIN_BYTES = 1 << 20
_ALIGN = 64
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux
_IOV_MAX = 512


def mapped_file(size, prefix="dl3lab-"):
    """A new file of ``size`` bytes, memory-mapped for reading and writing: ``(mmap, path)``.

    It lives in ``/dev/shm`` when that has room, else in the temporary directory. Its
    space is reserved up front (``posix_fallocate``), so a full file system fails
    here, with an `OSError`, and never later while the map is written.
    """
    size = max(int(size), 1)

    def reserve_and_map(fd):
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, size)
        else:
            os.ftruncate(fd, size)
        return mmap.mmap(fd, size)

    return _new_file(prefix, reserve_and_map)


def _new_file(prefix, fill):
    """``(fill(fd), path)`` of a new file in ``/dev/shm``, or in the temporary directory if that fails.

    A file whose ``fill`` raises is removed; the last `OSError` is raised if every place fails.
    """
    directories = (["/dev/shm"] if os.path.isdir("/dev/shm") else []) + [None]
    for i, directory in enumerate(directories):
        fd, name = tempfile.mkstemp(prefix=prefix, dir=directory)
        try:
            value = fill(fd)
        except BaseException as exc:
            os.unlink(name)
            if isinstance(exc, OSError) and i + 1 < len(directories):
                continue
            raise
        finally:
            os.close(fd)
        return value, Path(name)


class SharedResult:
    """A pickled result whose large buffers wait in a memory-mapped file (see `share_result`)."""

    def __init__(self, payload, path, spans):
        self.payload, self.path, self.spans = payload, Path(path), spans

    def load(self):
        """The result, its large arrays viewing the mapped file; the file's name is removed."""
        try:
            with open(self.path, "r+b") as file:
                # all pages mapped in one call, rather than one page fault per page when first read
                mapped = mmap.mmap(file.fileno(), 0, flags=mmap.MAP_SHARED | _POPULATE)
        finally:
            self.path.unlink(missing_ok=True)
        view = memoryview(mapped)
        return pickle.loads(self.payload, buffers=[view[start : start + size] for start, size in self.spans])  # noqa: S301 -- from our own pool workers

    def discard(self):
        """Remove the file of a result that will not be loaded."""
        self.path.unlink(missing_ok=True)


def share_result(result):
    """``result`` as a `SharedResult` when its out-of-band buffers are large, else unchanged.

    Only on POSIX systems (a mapped file's name can be removed while it is in use);
    if no file can be made, the result is returned unchanged.
    """
    if os.name != "posix":
        return result
    buffers = []
    payload = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    try:
        raws = [buffer.raw() for buffer in buffers]
    except BufferError:  # not contiguous: let the pipe pickle it
        return result
    spans, offset = [], 0
    for raw in raws:
        spans.append((offset, raw.nbytes))
        offset += -(-raw.nbytes // _ALIGN) * _ALIGN
    if offset < SHARED_MIN_BYTES:
        return result
    try:
        path = _write_file(raws, spans)
    except OSError:  # no room (nothing is left behind): the pipe takes it
        return result
    return SharedResult(payload, path, spans)


def _write_file(raws, spans):
    """A new file (see `_new_file`) holding ``raws`` at ``spans``, written by system calls.

    Written, not mapped: a full file system then fails with an `OSError` (and the file
    is removed), and the writer takes no page fault per page.
    """
    pieces, position = [], 0
    for (start, length), raw in zip(spans, raws):
        if start > position:
            pieces.append(memoryview(bytes(start - position)))  # alignment padding
        pieces.append(raw.cast("B"))
        position = start + length
    return _new_file("dl3lab-result-", lambda fd: _write_all(fd, pieces))[1]


def _write_all(fd, pieces):
    """Write the byte views ``pieces`` one after the other (``writev``, resumed after short writes)."""
    pieces = [p for p in pieces if p.nbytes]
    while pieces:
        written = os.writev(fd, pieces[:_IOV_MAX])
        while written:
            if written >= pieces[0].nbytes:
                written -= pieces.pop(0).nbytes
            else:
                pieces[0], written = pieces[0][written:], 0


def load_result(value):
    """The result behind ``value`` if it is a `SharedResult`, else ``value``."""
    return value.load() if isinstance(value, SharedResult) else value


def discard_result(value):
    """Remove the file behind ``value`` if it is a `SharedResult` that will not be loaded."""
    if isinstance(value, SharedResult):
        value.discard()
