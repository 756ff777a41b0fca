"""Where the example DL3 data live, and what they are (real H.E.S.S. DL3 DR1 or simulated).

`find_example_data` looks, in this order, at

1. ``$DL3LAB_DATA`` if set (it must then be a data store);
2. the download cache, ``$DL3LAB_CACHE/hess-dl3-dr1`` (default cache:
   ``$XDG_CACHE_HOME/dl3lab`` or ``~/.cache/dl3lab``), if it holds the index files,
   the licence and the four Crab runs (``dl3lab download hess-dl3-dr1``);
3. ``shared/data/hess-dl3-dr1`` beside the working directory or the dl3lab checkout;
4. a simulated store with a Crab-like source and the four Crab run ids, generated
   once (deterministically) into ``<cache>/simulated-crab``.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingDataError

__all__ = [
    "ExampleData",
    "find_example_data",
    "example_data_dir",
    "cache_dir",
    "download_cache_dir",
    "simulated_example_dir",
    "make_simulated_example",
    "is_simulated_store",
    "describe_data_store",
]

_STORE_NAME = "hess-dl3-dr1"
_SIMULATED_NAME = "simulated-crab"
#: Seed of the simulated example store.
SIMULATED_SEED = 20041204
#: The Crab runs of HESS DL3 DR1 that the tutorial uses (the simulated store reuses these ids).
CRAB_RUNS = (23523, 23526, 23559, 23592)
_REQUIRED = ("hdu-index.fits.gz", "obs-index.fits.gz", "README.txt") + tuple(
    f"data/hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz" for obs_id in CRAB_RUNS
)


@dataclass(frozen=True)
class ExampleData:
    """A data store found by `find_example_data`: its path, where it came from and what it is."""

    path: Path
    source: str
    simulated: bool

    @property
    def description(self):
        """One line saying what the data are."""
        return describe_data_store(self.path, self.simulated)


def cache_dir():
    """dl3lab's cache directory: ``$DL3LAB_CACHE``, else ``$XDG_CACHE_HOME/dl3lab``, else ``~/.cache/dl3lab``."""
    env = os.environ.get("DL3LAB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "dl3lab"


def download_cache_dir():
    """Where ``dl3lab download hess-dl3-dr1`` puts the data by default."""
    return cache_dir() / _STORE_NAME


def simulated_example_dir():
    """Where the simulated example store is generated."""
    return cache_dir() / _SIMULATED_NAME


def _is_complete_download(path):
    return all((path / name).is_file() for name in _REQUIRED)


def _shared_candidates():
    here = Path(__file__).resolve()
    for base in (Path.cwd(), here.parents[2]):
        yield base.parent / "shared" / "data" / _STORE_NAME
        yield base / "shared" / "data" / _STORE_NAME


def is_simulated_store(path):
    """Whether the data store at ``path`` was written by `dl3lab.reduction.simulate`."""
    index = Path(path) / "obs-index.fits.gz"
    if not index.is_file():
        return False
    from astropy.io import fits

    try:
        header = fits.getheader(index, 1)
    except Exception:
        return False
    return str(header.get("ORIGIN", "")).strip() == "dl3lab simulation"


def describe_data_store(path, simulated=None):
    """``"simulated data ..."`` or ``"real H.E.S.S. DL3 DR1 data ..."`` for a data store."""
    simulated = is_simulated_store(path) if simulated is None else simulated
    if simulated:
        return "simulated data: dl3lab simulate, H.E.S.S.-like IRFs, not real observations"
    return "real H.E.S.S. DL3 DR1 data: HESS DL3 DR1, H.E.S.S. collaboration, CC BY 4.0"


def make_simulated_example(path=None, overwrite=False):
    """Generate the simulated example store: a Crab-like source and four wobble runs with the Crab run ids.

    The result is the same on every machine (fixed seed).
    """
    from .simulate import crab_like_source, simulate_data_store

    path = simulated_example_dir() if path is None else Path(path)
    simulate_data_store(
        path, [crab_like_source()], seed=SIMULATED_SEED, obs_ids=CRAB_RUNS, offset=0.5,
        angles=(180.0, 0.0, 90.0, 270.0), zenith=(45.0, 47.0, 46.0, 48.0), duration=1680.0, deadc=0.94,
        overwrite=overwrite,
    )
    return path


def find_example_data(simulate=True):
    """The example data store, following the order of the module docstring.

    Parameters
    ----------
    simulate : bool
        Generate the simulated store when nothing else is found.

    Raises
    ------
    MissingDataError
        If ``DL3LAB_DATA`` names no data store, or nothing is found (and ``simulate``
        is False or the simulation cannot be written).
    """
    env = os.environ.get("DL3LAB_DATA")
    if env:
        path = Path(env).expanduser()
        if not (path / "hdu-index.fits.gz").is_file():
            raise MissingDataError(f"DL3LAB_DATA={env!r} is not a data store (no hdu-index.fits.gz)")
        return ExampleData(path, "DL3LAB_DATA", is_simulated_store(path))
    tried = []
    cached = download_cache_dir()
    if _is_complete_download(cached):
        return ExampleData(cached, "download cache", False)
    tried.append(str(cached))
    for path in _shared_candidates():
        if (path / "hdu-index.fits.gz").is_file():
            return ExampleData(path, "shared data directory", is_simulated_store(path))
        tried.append(str(path))
    simulated = simulated_example_dir()
    if (simulated / "hdu-index.fits.gz").is_file():
        return ExampleData(simulated, "simulated example", True)
    if simulate:
        try:
            make_simulated_example(simulated, overwrite=True)  # only an interrupted earlier attempt is there
        except OSError as exc:
            raise MissingDataError(f"no example DL3 data found and the simulated store cannot be written: {exc}",
                                   filename=simulated) from exc
        return ExampleData(simulated, "simulated example", True)
    raise MissingDataError(
        "no example DL3 data store found; run `dl3lab download hess-dl3-dr1` or set DL3LAB_DATA "
        f"(looked in: {', '.join(tried)})"
    )


def example_data_dir():
    """Directory of the example data store (see `find_example_data` for the search order).

    Raises
    ------
    MissingDataError
        If ``DL3LAB_DATA`` is set but is not a data store, or no store is found or can be simulated.
    """
    return find_example_data().path
