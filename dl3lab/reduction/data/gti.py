"""Good time intervals (reduction spec §1.3)."""

import numpy as np
from astropy import units as u
from astropy.table import Table
from astropy.time import Time

from ..lru import LRUCache

__all__ = ["GTI", "time_reference_from_header"]


def time_reference_from_header(header, default_scale="tt"):
    """Reference time ``MJDREFI + MJDREFF`` in the header's ``TIMESYS`` scale."""
    mjdi = header.get("MJDREFI", 0)
    mjdf = header.get("MJDREFF", 0.0)
    if "MJDREF" in header and "MJDREFI" not in header:
        mjdi, mjdf = 0, header["MJDREF"]
    scale = str(header.get("TIMESYS", default_scale)).strip().lower() or default_scale
    return Time(mjdi, mjdf, format="mjd", scale=scale)


_SHIFTS = LRUCache(16)


class GTI:
    """Good time intervals: start and stop times relative to a reference time.

    Parameters
    ----------
    start, stop : `~astropy.units.Quantity`
        Interval bounds in time units since ``reference_time``.
    reference_time : `~astropy.time.Time`
        Time origin.
    """

    def __init__(self, start, stop, reference_time):
        self._start = u.Quantity(np.atleast_1d(start), "s").astype(float)
        self._stop = u.Quantity(np.atleast_1d(stop), "s").astype(float)
        if self._start.shape != self._stop.shape:
            raise ValueError("GTI start and stop must have the same length")
        self.reference_time = reference_time

    @classmethod
    def create(cls, start, stop, reference_time="2000-01-01"):
        """GTI from start/stop quantities; ``reference_time`` defaults to 2000-01-01 (UTC)."""
        if not isinstance(reference_time, Time):
            reference_time = Time(reference_time)
        return cls(start, stop, reference_time)

    @classmethod
    def from_table_hdu(cls, hdu):
        """Read a GADF GTI table HDU."""
        header = hdu.header
        unit = u.Unit(str(header.get("TIMEUNIT", "s")).strip() or "s")
        data = hdu.data
        start = u.Quantity(np.asarray(data["START"], dtype=float), unit)
        stop = u.Quantity(np.asarray(data["STOP"], dtype=float), unit)
        return cls(start, stop, time_reference_from_header(header))

    @property
    def met_start(self):
        """Interval starts relative to the reference time."""
        return self._start.copy()

    @property
    def met_stop(self):
        """Interval stops relative to the reference time."""
        return self._stop.copy()

    @property
    def time_start(self):
        """Interval starts as `~astropy.time.Time`."""
        return self.reference_time + self._start

    @property
    def time_stop(self):
        """Interval stops as `~astropy.time.Time`."""
        return self.reference_time + self._stop

    @property
    def time_delta(self):
        """Duration of each interval."""
        return self._stop - self._start

    @property
    def time_sum(self):
        """Total good time."""
        return self.time_delta.sum()

    @property
    def time_ref(self):
        """Alias of ``reference_time``."""
        return self.reference_time

    def __len__(self):
        return len(self._start)

    @property
    def table(self):
        """Intervals as an astropy Table with ``START``/``STOP`` as Time columns."""
        return Table({"START": self.time_start, "STOP": self.time_stop})

    def _in_reference(self, other):
        mine, theirs = self.reference_time, other.reference_time
        key = (mine.scale, float(mine.jd1), float(mine.jd2), theirs.scale, float(theirs.jd1), float(theirs.jd2))
        plain = mine.location is None and theirs.location is None  # a location changes TDB offsets
        if plain and key[:3] == key[3:]:
            return other._start, other._stop  # the same origin: no shift (adding it would add 0 s)
        shift = _SHIFTS.get(key) if plain else None  # stacking converts between the same origins again and again
        if shift is None:
            shift = (theirs - mine).to("s")
            if plain:
                _SHIFTS.put(key, shift)
        return other._start + shift, other._stop + shift

    def copy(self):
        """Copy."""
        return GTI(self._start.copy(), self._stop.copy(), self.reference_time)

    def stack(self, other):
        """New GTI with the intervals of both, in this GTI's reference time."""
        start, stop = self._in_reference(other)
        return GTI(np.concatenate([self._start, start]), np.concatenate([self._stop, stop]), self.reference_time)

    def union(self):
        """Sort by start and merge overlapping or touching intervals."""
        if len(self) == 0:
            return GTI(self._start, self._stop, self.reference_time)
        order = np.argsort(self._start.value, kind="stable")
        start = self._start.value[order]
        stop = self._stop.value[order]
        run_stop = np.maximum.accumulate(stop)
        new = np.ones(len(start), bool)
        new[1:] = start[1:] > run_stop[:-1]
        merged_start = start[new]
        merged_stop = np.maximum.reduceat(stop, np.flatnonzero(new))
        return GTI(merged_start * u.s, merged_stop * u.s, self.reference_time)

    def to_table_hdu(self, name="GTI"):
        """GADF GTI BinTableHDU (``START``/``STOP`` in s, ``MJDREFI/F``, ``TIMESYS`` lower case)."""
        from astropy.io import fits

        ref = self.reference_time
        mjd = ref.mjd
        mjdi = int(np.floor(mjd))
        cols = [
            fits.Column("START", "D", unit="s", array=self._start.to_value("s")),
            fits.Column("STOP", "D", unit="s", array=self._stop.to_value("s")),
        ]
        hdu = fits.BinTableHDU.from_columns(cols, name=name)
        hdu.header["MJDREFI"] = mjdi
        hdu.header["MJDREFF"] = (ref - Time(mjdi, format="mjd", scale=ref.scale)).to_value("day")
        hdu.header["TIMESYS"] = ref.scale
        hdu.header["TIMEUNIT"] = "s"
        return hdu

    def __repr__(self):
        return (
            f"GTI(n_intervals={len(self)}, time_sum={self.time_sum:.2f}, "
            f"start={self.time_start[0].iso if len(self) else None})"
        )
