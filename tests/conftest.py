"""Shared test fixtures: where the real H.E.S.S. DL3 DR1 data and Gammapy reference figures live."""

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def hess_data_dir():
    """Directory of the HESS DL3 DR1 data store (``DL3LAB_DATA`` overrides the default)."""
    env = os.environ.get("DL3LAB_DATA")
    if env:
        return Path(env)
    return SHARED / "data" / "hess-dl3-dr1"


@pytest.fixture(scope="session")
def hess_dir():
    path = hess_data_dir()
    if not (path / "hdu-index.fits.gz").exists():
        pytest.fail(f"HESS DL3 DR1 data not found at {path}; set DL3LAB_DATA")
    return path


@pytest.fixture(scope="session")
def reference():
    """Figures Gammapy 2.1 produced on the Crab runs."""
    path = SHARED / "reference" / "gammapy-2.1-hess-crab.json"
    if not path.exists():
        pytest.fail(f"Gammapy reference figures not found at {path}")
    return json.loads(path.read_text())


def write_hdu_index(path, rows):
    """Write a GADF HDU index with rows ``(obs_id, hdu_type, hdu_class, file_dir, file_name, hdu_name)``."""
    from astropy.table import Table

    names = ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME")
    table = Table(rows=rows, names=names)
    table.meta["EXTNAME"] = "HDU_INDEX"
    table.write(path, overwrite=True)


STANDARD_HDUS = (
    ("events", "events", "EVENTS"),
    ("gti", "gti", "GTI"),
    ("aeff", "aeff_2d", "AEFF"),
    ("edisp", "edisp_2d", "EDISP"),
    ("psf", "psf_table", "PSF"),
    ("bkg", "bkg_3d", "BKG"),
)


@pytest.fixture
def copy_run(hess_dir, tmp_path):
    """Factory: copy one HESS run into a fresh single-run data store under ``tmp_path``.

    Returns ``(store_dir, run_file, obs_id)``; ``hdus`` overrides the HDU index rows.
    """
    import shutil

    def make(obs_id=23592, hdus=STANDARD_HDUS, file_name=None):
        store = tmp_path / f"store-{obs_id}"
        (store / "data").mkdir(parents=True, exist_ok=True)
        source = hess_dir / "data" / f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
        target = store / "data" / (file_name or source.name)
        shutil.copy(source, target)
        rows = [(obs_id, t, c, "data", target.name, h) for t, c, h in hdus]
        write_hdu_index(store / "hdu-index.fits.gz", rows)
        return store, target, obs_id

    return make


def store_with_truncated_run(hess_dir, store_dir, obs_ids, broken_id, keep_bytes=5000):
    """Data store under ``store_dir`` with copies of ``obs_ids``; the file of ``broken_id`` is truncated.

    Returns the path of the truncated file.
    """
    import shutil

    (store_dir / "data").mkdir(parents=True, exist_ok=True)
    rows = []
    for obs_id in obs_ids:
        name = f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
        shutil.copy(hess_dir / "data" / name, store_dir / "data" / name)
        rows += [(obs_id, t, c, "data", name, h) for t, c, h in STANDARD_HDUS]
    broken = store_dir / "data" / f"hess_dl3_dr1_obs_id_{broken_id:06d}.fits.gz"
    broken.write_bytes(broken.read_bytes()[:keep_bytes])
    write_hdu_index(store_dir / "hdu-index.fits.gz", rows)
    return broken
