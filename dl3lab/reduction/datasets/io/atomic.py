"""Safe file writing: everything is written to temporary files first, then renamed into place.

An exception while writing leaves no file at the targets and does not touch files
that were already there; existing files are only replaced with ``overwrite=True``.
"""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["check_writable", "atomic_paths"]


def check_writable(paths, overwrite=False):
    """Raise `FileExistsError` naming the first existing path unless ``overwrite``."""
    if overwrite:
        return
    for path in paths:
        if Path(path).exists():
            raise FileExistsError(f"{path} already exists; use overwrite=True to replace it")


@contextlib.contextmanager
def atomic_paths(paths, overwrite=False):
    """Give temporary paths to write to; on success rename them to ``paths``.

    Parameters
    ----------
    paths : list of path
        Final file paths (their directories must exist).
    overwrite : bool
        Allow replacing existing files.

    Yields
    ------
    list of `~pathlib.Path`
        Temporary paths in the same directories (so the rename is atomic).
    """
    paths = [Path(p) for p in paths]
    check_writable(paths, overwrite=overwrite)
    temporary = []
    try:
        for path in paths:
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            os.close(handle)
            os.unlink(name)
            temporary.append(Path(name))
        yield temporary
        check_writable(paths, overwrite=overwrite)
        for tmp, path in zip(temporary, paths):
            os.replace(tmp, path)
    finally:
        for tmp in temporary:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
