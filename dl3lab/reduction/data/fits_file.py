"""Read a DL3 FITS file once, as far as needed, and hand out its table HDUs, with clear errors."""

import os
import weakref

from ..errors import DataFormatError, MissingDataError
from .fits_tables import BytesSource, TableReader

try:  # Intel's ISA-L inflate: the same bytes, about 1.6x faster than zlib on DL3 files
    from isal.isal_zlib import decompressobj as _decompressobj
except ImportError:  # pragma: no cover -- a platform without isal wheels
    from zlib import decompressobj as _decompressobj

__all__ = ["FitsFileCache", "GzipSource"]

_GZIP_MAGIC = b"\x1f\x8b"

_CACHES = weakref.WeakSet()


def _forget_reads_after_fork():
    # A read in a helper thread of the parent never finishes in a forked child (and may hold the
    # inflater's lock there): forget it, and any reader it made, and read again in the child.
    for cache in list(_CACHES):
        for key in cache._loading:
            cache._open.pop(key, None)
        cache._loading = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_reads_after_fork)


class GzipSource:
    """The decompressed bytes of a gzip file, inflated only as far as they are asked for (see `TableReader`).

    Like Python's ``gzip`` (and so astropy), the checksum and length at the end of
    the stream are checked when the stream is read to its end, and concatenated
    gzip members are read one after the other (zero padding after the last one is
    ignored). The last bytes of the file are inflated together with its last
    checksum, so they are never handed out unchecked.
    """

    CHUNK = 65536  # compressed bytes inflated per step

    def __init__(self, raw):
        self._raw = memoryview(raw)
        self._fed = 0
        self._inflate = _decompressobj(wbits=31)
        self._out = bytearray()
        self._broken = False
        self.ended = False

    def read_to(self, n):
        """The bytes inflated so far, at least ``n`` of them unless the stream is shorter."""
        while len(self._out) < n and not self.ended:
            self._step()
        return self._out

    def region(self, start, end):
        """A copy of bytes ``start:end`` (tables must not keep views of the growing buffer)."""
        with memoryview(self._out) as view:
            return view[start:end].tobytes(), 0

    def finish(self):
        """Inflate to the end of the stream, checking its checksum."""
        while not self.ended:
            self._step()

    def _step(self):
        if self._broken:
            raise OSError("an earlier read of this stream was interrupted")
        try:
            self._inflate_step()
        except BaseException as exc:
            if not isinstance(exc, Exception):  # an interrupt may leave input and output out of step
                self._broken = True
            raise

    def _inflate_step(self):
        if self._fed >= len(self._raw):
            self.ended = True
            if not self._inflate.eof:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
            return
        end = self._fed + self.CHUNK
        if len(self._raw) - end < self.CHUNK:
            end = len(self._raw)  # the last step takes the rest: the last bytes come out checked
        chunk = self._raw[self._fed : end]
        self._fed = end
        self._out += self._inflate.decompress(chunk)  # a wrong checksum raises here
        if self._inflate.eof:
            self._fed -= len(self._inflate.unused_data)  # where the next member (if any) starts
            if self._raw[self._fed : self._fed + 2] == _GZIP_MAGIC:
                self._inflate = _decompressobj(wbits=31)
            elif self._raw[self._fed :].tobytes().strip(b"\x00"):
                raise OSError("not a gzipped file: unexpected bytes after the gzip stream")
            else:  # the end, perhaps with zero padding
                self._fed = len(self._raw)


class FitsFileCache:
    """Keeps the parsed tables of each file of one observation until released.

    A GADF run file holds all HDUs of the run in one gzip stream: it is read once,
    and decompressed and parsed in file order only as far as the HDUs asked for so
    far (the GTI and pointing of a run need only its first quarter); every table is
    parsed straight from those bytes.
    """

    def __init__(self):
        self._open = {}
        self._loading = {}  # path -> future of a read started by `prefetch`
        _CACHES.add(self)

    def get_hdu(self, location):
        """The table HDU at ``location`` (a `HDULocation`)."""
        reader = self._reader(location)
        try:
            hdu = reader.get(location.hdu_name.strip().upper())
        except BaseException as exc:  # gzip, zlib, EOF and format errors all mean "unreadable file"
            self._open.pop(str(location.path), None)  # read again (and fail again) if asked again
            if not isinstance(exc, Exception):  # an interrupt: the next request starts afresh
                raise
            raise _unreadable(exc, location) from exc
        if hdu is None:
            raise MissingDataError(
                "HDU not found in file", obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name
            )
        return hdu

    def prefetch(self, location):
        """Start reading the file of ``location`` in a helper thread (no-op if read or being read).

        A failure is not reported here: the next :meth:`get_hdu` reads the file again
        and raises the usual error.
        """
        from ..executor import thread_pool

        key = str(location.path)
        if key not in self._open and key not in self._loading:
            self._loading[key] = thread_pool().submit(self._read_quietly, location)

    def _read_quietly(self, location):
        try:
            reader = self._read(location, publish=False)
            reader.read_all()
        except Exception:  # reported by the caller's own read of the file, from the start
            return
        self._open[str(location.path)] = reader  # only complete readers: nothing half-read is shared

    def _wait(self, key):
        future = self._loading.get(key)
        if future is not None:
            future.result()
            self._loading.pop(key, None)

    def _reader(self, location):
        key = str(location.path)
        self._wait(key)
        if key in self._open:
            return self._open[key]
        return self._read(location)

    def _read(self, location, publish=True):
        key = str(location.path)
        if not location.path.exists():
            raise MissingDataError(
                "file listed in the HDU index does not exist",
                obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name,
            )
        try:
            raw = location.path.read_bytes()
            source = GzipSource(raw) if raw[:2] == _GZIP_MAGIC else BytesSource(raw)
            reader = TableReader(source, filename=str(location.path))
        except Exception as exc:  # gzip, zlib, EOF and format errors all mean "unreadable file"
            raise _unreadable(exc, location) from exc
        if publish:
            self._open[key] = reader
        return reader

    def close(self, path=None):
        """Forget one file, or all of them (after any read in progress has finished)."""
        for key in list(self._loading) if path is None else [str(path)]:
            self._wait(key)
        if path is None:
            self._open.clear()
        else:
            self._open.pop(str(path), None)


def _unreadable(exc, location):
    return DataFormatError(
        f"not a readable FITS file ({type(exc).__name__}: {exc})",
        obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name,
    )
