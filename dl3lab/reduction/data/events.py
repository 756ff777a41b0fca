"""Event lists (reduction spec §1.2)."""

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from ..errors import DataFormatError
from .gti import time_reference_from_header

__all__ = ["EventList"]

_REQUIRED = {"RA": "deg", "DEC": "deg", "ENERGY": "TeV", "TIME": "s"}


class EventList:
    """Reconstructed gamma-like events of one observation.

    The columns used by the reduction are kept as plain float64 arrays (``ra``,
    ``dec`` in deg, ``energy`` in TeV, ``time`` in s since the reference time);
    the full table is available through :attr:`table`.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Events with at least ``RA``, ``DEC``, ``ENERGY`` and ``TIME``; its ``meta``
        is the EVENTS header.
    """

    def __init__(self, table):
        self._table = table
        self.meta = dict(table.meta)
        self._ra = np.asarray(u.Quantity(table["RA"]).to_value("deg"), dtype=float)
        self._dec = np.asarray(u.Quantity(table["DEC"]).to_value("deg"), dtype=float)
        self._energy = np.asarray(u.Quantity(table["ENERGY"]).to_value("TeV"), dtype=float)
        self._time = np.asarray(u.Quantity(table["TIME"]).to_value("s"), dtype=float)

    @classmethod
    def from_table_hdu(cls, hdu, location=None):
        """Read an EVENTS BinTableHDU, checking columns and units.

        Raises
        ------
        DataFormatError
            If a required column is missing, has an incompatible unit, or holds
            non-finite values.
        """
        where = {}
        if location is not None:
            where = dict(obs_id=location.obs_id, filename=location.path, hdu=location.hdu_name)
        names = [c.name.upper() for c in hdu.columns]
        missing = [c for c in _REQUIRED if c not in names]
        if missing:
            raise DataFormatError(f"EVENTS table lacks column(s) {missing}", **where)
        columns = {}
        for col in hdu.columns:
            unit = u.Unit(col.unit, parse_strict="silent") if col.unit else None
            values = hdu.data[col.name]
            columns[col.name.upper()] = values * unit if unit is not None and values.dtype.kind in "iuf" else values
        table = Table(columns, copy=False)
        table.meta = dict(hdu.header)
        for name, unit in _REQUIRED.items():
            col = table[name]
            col_unit = getattr(col, "unit", None)
            if col_unit is None and name != "ENERGY":
                col_unit = u.Unit(unit)
            if col_unit is None:
                eunit = hdu.header.get("EUNIT")
                if eunit is None:
                    raise DataFormatError("ENERGY column has no unit", **where)
                col_unit = u.Unit(eunit)
            try:
                factor = u.Unit(col_unit).to(unit)
            except (u.UnitConversionError, ValueError, TypeError) as exc:
                raise DataFormatError(f"column {name} has unit {col_unit!s}, expected {unit}", **where) from exc
            values = np.asarray(getattr(col, "value", col), dtype=float)
            if len(values) and not np.all(np.isfinite(values)):
                bad = int(np.sum(~np.isfinite(values)))
                raise DataFormatError(f"column {name} has {bad} non-finite value(s)", **where)
            table[name] = u.Quantity(values * factor, unit)
        return cls(table)

    @property
    def table(self):
        """The event table (astropy Table)."""
        return self._table

    def __len__(self):
        return len(self._energy)

    @property
    def ra_deg(self):
        """Right ascension in deg (float64 array)."""
        return self._ra

    @property
    def dec_deg(self):
        """Declination in deg (float64 array)."""
        return self._dec

    @property
    def energy_tev(self):
        """Reconstructed energy in TeV (float64 array)."""
        return self._energy

    @property
    def radec(self):
        """Event directions (ICRS)."""
        return SkyCoord(self._ra, self._dec, unit="deg", frame="icrs")

    @property
    def energy(self):
        """Reconstructed energies."""
        return u.Quantity(self._energy, "TeV")

    @property
    def time_ref(self):
        """Reference time of the ``TIME`` column."""
        return time_reference_from_header(self.meta)

    @property
    def time(self):
        """Event times as `~astropy.time.Time`."""
        return self.time_ref + u.Quantity(self._time, "s")

    def select_row_subset(self, row_specifier):
        """New event list with a subset of rows (boolean mask or indices)."""
        table = self._table[row_specifier]
        table.meta = dict(self.meta)
        return EventList(table)

    def select_energy(self, energy_range):
        """Events with ``energy_min <= E < energy_max``."""
        emin, emax = (u.Quantity(e).to_value("TeV") for e in energy_range)
        return self.select_row_subset((self._energy >= emin) & (self._energy < emax))

    def select_offset(self, offset_band, center):
        """Events whose separation from ``center`` lies in ``[min, max)``."""
        sep = center.separation(self.radec).deg
        lo, hi = (u.Quantity(x, "deg").value for x in offset_band)
        return self.select_row_subset((sep >= lo) & (sep < hi))

    def __repr__(self):
        return f"EventList(n_events={len(self)}, obs_id={self.meta.get('OBS_ID')})"
