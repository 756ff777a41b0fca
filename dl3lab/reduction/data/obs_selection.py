"""Selecting observations from the observation index by pointing, zenith angle and livetime.

The observation index (``obs-index.fits.gz``, read into ``DataStore.obs_table``) holds
one row per run with its pointing (``RA_PNT``, ``DEC_PNT``, ICRS), its zenith angle
(``ZEN_PNT``, or ``ALT_PNT`` from which ``ZEN_PNT = 90 deg - ALT_PNT``) and its
livetime (``LIVETIME``). :func:`select_observations` applies cuts on these;
:class:`ObservationFilter` holds the same cuts as validated traits (the state an
observation browser edits).

A missing column is an error only when a cut needs it; the error names the
observation index file when it is known.
"""

import math
from pathlib import Path

import numpy as np
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from ..errors import DataFormatError, MissingDataError

__all__ = ["ObservationFilter", "observation_summary", "selection_mask", "select_observations"]

_DEFAULT_INDEX_NAME = "obs-index.fits.gz"


def _table_and_filename(obs_table, filename):
    """Accept a `DataStore` or a table; return the table and the file to name in errors."""
    if isinstance(obs_table, Table):
        return obs_table, filename
    store_table = getattr(obs_table, "obs_table", False)
    base_dir = getattr(obs_table, "base_dir", None)
    if store_table is False or base_dir is None:
        raise TypeError(f"expected an observation index table or a DataStore, got {type(obs_table).__name__}")
    if filename is None:
        default = Path(base_dir) / _DEFAULT_INDEX_NAME
        filename = default if default.exists() else base_dir
    if store_table is None:
        raise MissingDataError("the data store has no observation index (obs-index.fits.gz)", filename=filename)
    return store_table, filename


def _column(table, name, unit, filename, purpose):
    """A float column in ``unit`` (masked entries as NaN); a missing column is a `DataFormatError`."""
    if name not in table.colnames:
        raise DataFormatError(f"observation index lacks column {name}, needed for {purpose}", filename=filename)
    column = table[name]
    try:
        values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    except (TypeError, ValueError):
        raise DataFormatError(f"column {name} of the observation index is not numeric", filename=filename) from None
    if column.unit is not None:
        try:
            values = u.Quantity(values, column.unit).to_value(unit)
        except (u.UnitsError, TypeError, ValueError):
            raise DataFormatError(
                f"column {name} of the observation index has unit {column.unit!s}, expected a unit of {unit}",
                filename=filename,
            ) from None
    return np.asarray(values, dtype=float)


def _zenith(table, filename):
    if "ZEN_PNT" in table.colnames:
        return _column(table, "ZEN_PNT", "deg", filename, "the zenith cut")
    if "ALT_PNT" in table.colnames:
        return 90.0 - _column(table, "ALT_PNT", "deg", filename, "the zenith cut")
    raise DataFormatError("observation index lacks both ZEN_PNT and ALT_PNT, needed for the zenith cut",
                          filename=filename)


def _pointing(table, filename):
    ra = _column(table, "RA_PNT", "deg", filename, "the distance to the target")
    dec = _column(table, "DEC_PNT", "deg", filename, "the distance to the target")
    return SkyCoord(ra, dec, unit="deg", frame="icrs")


def _as_target(target):
    if isinstance(target, SkyCoord):
        if not target.isscalar:
            raise ValueError("the target must be a single sky position")
        return target
    try:
        lon, lat = target
    except (TypeError, ValueError):
        raise TypeError(f"the target must be a SkyCoord or an ICRS (ra, dec) pair in deg, got {target!r}") from None
    return SkyCoord(float(lon), float(lat), unit="deg", frame="icrs")


def _angle_deg(value, what):
    angle = float(u.Quantity(value, "deg").to_value("deg"))
    if not angle >= 0:
        raise ValueError(f"{what} must be a non-negative angle, got {value}")
    return angle


def _obs_ids(table, filename):
    if "OBS_ID" not in table.colnames:
        raise DataFormatError("observation index lacks column OBS_ID", filename=filename)
    return np.asarray(table["OBS_ID"], dtype=np.int64)


def _objects(table):
    if "OBJECT" not in table.colnames:
        return np.full(len(table), "", dtype=object)
    return np.array([str(v).strip() for v in np.ma.filled(np.ma.asarray(table["OBJECT"]), "")], dtype=object)


def observation_summary(obs_table, target=None, filename=None):
    """One row per observation with the quantities the selection uses.

    Columns missing from the index (other than ``OBS_ID``) give NaN (or an empty
    ``OBJECT``) here; :func:`select_observations` raises if a cut needs them.

    Parameters
    ----------
    obs_table : `~astropy.table.Table` or `~dl3lab.reduction.DataStore`
        Observation index.
    target : `~astropy.coordinates.SkyCoord` or (ra, dec), optional
        Position to measure the pointing distance from (a pair is ICRS deg).
    filename : path, optional
        Observation index file, named in errors.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``OBS_ID``, ``OBJECT``, ``RA_PNT``, ``DEC_PNT`` (deg), ``DISTANCE``
        (deg, NaN without target), ``ZENITH`` (deg) and ``LIVETIME`` (s).
    """
    table, filename = _table_and_filename(obs_table, filename)
    n = len(table)
    nan = np.full(n, np.nan)

    def optional(compute):
        try:
            return compute()
        except DataFormatError:
            return nan

    ra = optional(lambda: _column(table, "RA_PNT", "deg", filename, "the pointing"))
    dec = optional(lambda: _column(table, "DEC_PNT", "deg", filename, "the pointing"))
    distance = nan
    if target is not None:
        distance = SkyCoord(ra, dec, unit="deg", frame="icrs").separation(_as_target(target)).deg
    summary = Table()
    summary["OBS_ID"] = _obs_ids(table, filename)
    summary["OBJECT"] = np.array(_objects(table), dtype=str) if n else np.zeros(0, dtype=str)
    summary["RA_PNT"] = u.Quantity(ra, "deg")
    summary["DEC_PNT"] = u.Quantity(dec, "deg")
    summary["DISTANCE"] = u.Quantity(distance, "deg")
    summary["ZENITH"] = u.Quantity(optional(lambda: _zenith(table, filename)), "deg")
    summary["LIVETIME"] = u.Quantity(optional(lambda: _column(table, "LIVETIME", "s", filename, "")), "s")
    return summary


def selection_mask(obs_table, target=None, max_distance=None, zenith_range=None, min_livetime=None,
                   object_name=None, filename=None):
    """Boolean mask of the observation-index rows that pass all the given cuts.

    A cut given as None is not applied. Rows whose value is missing (NaN) fail a cut
    on that value.

    Parameters
    ----------
    obs_table : `~astropy.table.Table` or `~dl3lab.reduction.DataStore`
        Observation index.
    target : `~astropy.coordinates.SkyCoord` or (ra, dec), optional
        Target position (a pair is ICRS deg); needed by ``max_distance``.
    max_distance : `~astropy.units.Quantity` or float, optional
        Largest angular distance (deg for a float) of the pointing from ``target``,
        inclusive.
    zenith_range : (min, max), optional
        Zenith angle range (deg for floats), inclusive; either bound may be None.
    min_livetime : `~astropy.units.Quantity` or float, optional
        Smallest livetime (s for a float), inclusive.
    object_name : str, optional
        Case-insensitive part of the ``OBJECT`` name.
    filename : path, optional
        Observation index file, named in errors (found from a `DataStore` otherwise).

    Returns
    -------
    `numpy.ndarray` of bool
        One entry per row of the observation index.

    Raises
    ------
    DataFormatError
        If a column that a cut needs is missing, not numeric or has a wrong unit.
    ValueError
        For inconsistent cuts (``max_distance`` without target, negative values,
        ``zenith_range`` with min above max).
    """
    table, filename = _table_and_filename(obs_table, filename)
    mask = np.ones(len(table), dtype=bool)
    if max_distance is not None:
        if target is None:
            raise ValueError("max_distance needs a target position")
        limit = _angle_deg(max_distance, "max_distance")
        distance = _pointing(table, filename).separation(_as_target(target)).deg
        mask &= distance <= limit
    if zenith_range is not None:
        low, high = zenith_range
        low = None if low is None else float(u.Quantity(low, "deg").to_value("deg"))
        high = None if high is None else float(u.Quantity(high, "deg").to_value("deg"))
        if low is not None and high is not None and low > high:
            raise ValueError(f"zenith_range minimum {low} deg exceeds its maximum {high} deg")
        if low is not None or high is not None:
            zenith = _zenith(table, filename)
            if low is not None:
                mask &= zenith >= low
            if high is not None:
                mask &= zenith <= high
    if min_livetime is not None:
        limit = float(u.Quantity(min_livetime, "s").to_value("s"))
        if not limit >= 0:
            raise ValueError(f"min_livetime must be non-negative, got {min_livetime}")
        mask &= _column(table, "LIVETIME", "s", filename, "the livetime cut") >= limit
    if object_name:
        if "OBJECT" not in table.colnames:
            raise DataFormatError("observation index lacks column OBJECT, needed for the object-name cut",
                                  filename=filename)
        wanted = object_name.strip().casefold()
        mask &= np.array([wanted in name.casefold() for name in _objects(table)], dtype=bool)
    return mask


def select_observations(obs_table, target=None, max_distance=None, zenith_range=None, min_livetime=None,
                        object_name=None, filename=None):
    """Ids of the observations that pass the cuts, in observation-index order.

    Takes the arguments of :func:`selection_mask`.

    Returns
    -------
    list of int
    """
    table, filename = _table_and_filename(obs_table, filename)
    mask = selection_mask(table, target=target, max_distance=max_distance, zenith_range=zenith_range,
                          min_livetime=min_livetime, object_name=object_name, filename=filename)
    return [int(i) for i in _obs_ids(table, filename)[mask]]


def _finite(obj, name, value):
    if not math.isfinite(value):
        raise traitlets.TraitError(f"The '{name}' trait of {type(obj).__name__} must be finite, got {value}")
    return value


class ObservationFilter(traitlets.HasTraits):
    """Observation cuts as validated traits; the default values select every observation.

    Parameters
    ----------
    lon, lat : float
        Target position (deg) in ``frame``; the distance column is measured from it.
    frame : {"icrs", "galactic"}
        Frame of the target position.
    max_distance : float
        Largest pointing distance from the target (deg); 180 applies no cut.
    zenith_min, zenith_max : float
        Zenith angle range (deg); 0 to 90 applies no cut.
    min_livetime : float
        Smallest livetime (s); 0 applies no cut.
    object_name : str
        Case-insensitive part of the ``OBJECT`` name; empty applies no cut.
    """

    lon = traitlets.Float(83.633)
    lat = traitlets.Float(22.0145)
    frame = traitlets.Enum(["icrs", "galactic"], default_value="icrs")
    max_distance = traitlets.Float(180.0)
    zenith_min = traitlets.Float(0.0, min=0.0, max=90.0)
    zenith_max = traitlets.Float(90.0, min=0.0, max=90.0)
    min_livetime = traitlets.Float(0.0, min=0.0)
    object_name = traitlets.Unicode("")

    @traitlets.validate("lon")
    def _check_lon(self, proposal):
        return _finite(self, "lon", proposal["value"])

    @traitlets.validate("lat")
    def _check_lat(self, proposal):
        value = _finite(self, "lat", proposal["value"])
        if abs(value) > 90:
            raise traitlets.TraitError(f"target latitude must be within -90 and 90 deg, got {value}")
        return value

    @traitlets.validate("max_distance")
    def _check_max_distance(self, proposal):
        value = _finite(self, "max_distance", proposal["value"])
        if not 0 <= value <= 180:
            raise traitlets.TraitError(f"max_distance must be within 0 and 180 deg, got {value}")
        return value

    @traitlets.validate("zenith_min")
    def _check_zenith_min(self, proposal):
        if proposal["value"] > self.zenith_max:
            raise traitlets.TraitError(
                f"zenith_min ({proposal['value']}) must not exceed zenith_max ({self.zenith_max})")
        return proposal["value"]

    @traitlets.validate("zenith_max")
    def _check_zenith_max(self, proposal):
        if proposal["value"] < self.zenith_min:
            raise traitlets.TraitError(
                f"zenith_max ({proposal['value']}) must not be below zenith_min ({self.zenith_min})")
        return proposal["value"]

    @property
    def target(self):
        """The target position as a SkyCoord."""
        return SkyCoord(self.lon, self.lat, unit="deg", frame=self.frame)

    def cuts(self):
        """The cuts as :func:`select_observations` keyword arguments (None where no cut applies)."""
        zenith = (self.zenith_min if self.zenith_min > 0 else None, self.zenith_max if self.zenith_max < 90 else None)
        return {
            "target": self.target,
            "max_distance": self.max_distance if self.max_distance < 180 else None,
            "zenith_range": None if zenith == (None, None) else zenith,
            "min_livetime": self.min_livetime if self.min_livetime > 0 else None,
            "object_name": self.object_name or None,
        }

    def mask(self, obs_table, filename=None):
        """Boolean row mask of the observation index (see :func:`selection_mask`)."""
        return selection_mask(obs_table, filename=filename, **self.cuts())

    def select(self, obs_table, filename=None):
        """Ids of the observations passing the cuts, in index order (see :func:`select_observations`)."""
        return select_observations(obs_table, filename=filename, **self.cuts())

    def summary(self, obs_table, filename=None):
        """:func:`observation_summary` with the distance to this filter's target."""
        return observation_summary(obs_table, target=self.target, filename=filename)

    def update(self, values):
        """Set several traits at once; the zenith range is checked after all are set."""
        with self.hold_trait_notifications():
            for key, value in dict(values).items():
                if key not in self.trait_names():
                    raise KeyError(f"unknown observation filter parameter {key!r}")
                setattr(self, key, value)
