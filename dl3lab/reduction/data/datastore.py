"""Data store: the obs and HDU index tables of a GADF DL3 directory (reduction spec §1.1)."""

import os
import warnings
from pathlib import Path

import numpy as np
from astropy.table import Table, unique

from ..errors import DataFormatError, MissingDataError, UnknownObservationError
from .hdu_index import build_hdu_locations
from .observation import Observation, Observations

__all__ = ["DataStore", "REQUIRED_IRFS"]

REQUIRED_IRFS = {
    "full-enclosure": ("events", "gti", "aeff", "edisp", "psf", "bkg"),
    "point-like": ("events", "gti", "aeff", "edisp"),
    "all-optional": ("events", "gti"),
}


def _read_index(path, what):
    try:
        return Table.read(path, unit_parse_strict="silent")
    except FileNotFoundError:
        raise MissingDataError(f"{what} not found", filename=path) from None
    except Exception as exc:
        raise DataFormatError(f"cannot read {what}: {type(exc).__name__}: {exc}", filename=path) from exc


class DataStore:
    """Index of a GADF DL3 data directory.

    Parameters
    ----------
    hdu_table : `~astropy.table.Table`
        HDU index.
    obs_table : `~astropy.table.Table`, optional
        Observation index (used for selection only).
    base_dir : path
        Directory that ``FILE_DIR`` entries are relative to.
    """

    def __init__(self, hdu_table, obs_table=None, base_dir="."):
        self.base_dir = Path(base_dir)
        self.hdu_table = hdu_table
        if obs_table is not None:
            if "OBS_ID" not in obs_table.colnames:
                raise DataFormatError("observation index lacks column OBS_ID", filename=self.base_dir)
            obs_table = unique(obs_table, keys="OBS_ID", keep="first")
        self.obs_table = obs_table
        self._locations = build_hdu_locations(hdu_table, self.base_dir, index_file=self.base_dir)

    @classmethod
    def from_dir(cls, base_dir, hdu_table_filename=None, obs_table_filename=None):
        """Open a directory holding ``hdu-index.fits.gz`` and optionally ``obs-index.fits.gz``.

        Environment variables in ``base_dir`` (``"$DL3LAB_DATA"``) are expanded.
        """
        text = str(base_dir)
        expanded = os.path.expandvars(text)
        if "$" in expanded:
            raise MissingDataError(f"environment variable in {text!r} is not set", filename=text)
        base_dir = Path(expanded).expanduser()
        if not base_dir.is_dir():
            raise MissingDataError("data store directory does not exist", filename=base_dir)
        hdu_path = base_dir / (hdu_table_filename or "hdu-index.fits.gz")
        obs_path = base_dir / (obs_table_filename or "obs-index.fits.gz")
        hdu_table = _read_index(hdu_path, "HDU index")
        obs_table = _read_index(obs_path, "observation index") if obs_path.exists() else None
        return cls(hdu_table, obs_table, base_dir)

    @property
    def obs_ids(self):
        """Observation ids, from the obs index if present, else from the HDU index."""
        if self.obs_table is not None:
            return [int(i) for i in np.asarray(self.obs_table["OBS_ID"])]
        return sorted(self._locations)

    def __len__(self):
        return len(self.obs_ids)

    def info(self):
        """Short text summary."""
        n_hdu = len(self.hdu_table)
        return f"Data store at {self.base_dir}: {len(self)} observations, {n_hdu} HDU index rows"

    def __str__(self):
        return self.info()

    def obs(self, obs_id, required_irf="full-enclosure"):
        """The `Observation` with this id.

        Raises
        ------
        UnknownObservationError
            If the id is not in the HDU index.
        MissingDataError
            If a required HDU is not listed or its file does not exist.
        """
        obs_id = int(obs_id)
        locations = self._locations.get(obs_id)
        if locations is None:
            raise UnknownObservationError(obs_id, self.base_dir)
        required = REQUIRED_IRFS[required_irf] if isinstance(required_irf, str) else tuple(required_irf)
        for hdu_type in required:
            loc = locations.get(hdu_type)
            if loc is None:
                raise MissingDataError(
                    f"required HDU type {hdu_type!r} is not listed in the HDU index", obs_id=obs_id,
                    filename=self.base_dir,
                )
            if not loc.path.exists():
                raise MissingDataError(
                    "file listed in the HDU index does not exist", obs_id=obs_id, filename=loc.path,
                    hdu=loc.hdu_name,
                )
        return Observation(obs_id, locations)

    def get_observations(self, obs_id=None, skip_missing=False, required_irf="full-enclosure"):
        """Observations for a list of ids (all when None).

        Parameters
        ----------
        obs_id : list of int, optional
            Ids to load, in this order.
        skip_missing : bool
            Warn about and skip unknown ids and observations whose required HDUs or
            files are missing, instead of raising.
        required_irf : str or list of str
            ``"full-enclosure"`` (events, gti, aeff, edisp, psf, bkg), ``"point-like"``
            (events, gti, aeff, edisp), ``"all-optional"``, or a list of HDU types.
        """
        ids = self.obs_ids if obs_id is None else [int(i) for i in np.atleast_1d(obs_id)]
        observations = Observations()
        for oid in ids:
            try:
                observations.append(self.obs(oid, required_irf=required_irf))
            except (UnknownObservationError, MissingDataError) as exc:
                if not skip_missing:
                    raise
                warnings.warn(f"Skipping observation {oid}: {exc}", stacklevel=2)
        return observations
