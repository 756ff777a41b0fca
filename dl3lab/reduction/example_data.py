"""Where the example DL3 data live."""

import os
from pathlib import Path

from .errors import MissingDataError

__all__ = ["example_data_dir"]

_STORE_NAME = "hess-dl3-dr1"


def _candidates():
    env = os.environ.get("DL3LAB_DATA")
    if env:
        yield Path(env).expanduser()
        return
    here = Path(__file__).resolve()
    for base in (Path.cwd(), here.parents[2]):
        yield base.parent / "shared" / "data" / _STORE_NAME
        yield base / "shared" / "data" / _STORE_NAME


def example_data_dir():
    """Directory of the HESS DL3 DR1 example data store.

    ``DL3LAB_DATA`` wins when set; otherwise ``shared/data/hess-dl3-dr1`` beside the
    working directory or beside the dl3lab checkout is used.

    Raises
    ------
    MissingDataError
        If no data store is found.
    """
    tried = []
    for path in _candidates():
        if (path / "hdu-index.fits.gz").exists():
            return path
        tried.append(str(path))
    raise MissingDataError(
        "no example DL3 data store found; set DL3LAB_DATA to a GADF data directory "
        f"(looked in: {', '.join(tried)})"
    )
