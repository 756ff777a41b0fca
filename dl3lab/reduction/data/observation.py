"""One observation (run): events, GTI, pointing and IRFs, each read at most once."""

import weakref

from astropy import units as u

from ..errors import DataFormatError, DL3LabError, MissingDataError
from .events import EventList
from .fits_file import FitsFileCache
from .gti import GTI
from .pointing import FixedPointingInfo, earth_location_from_header

__all__ = ["Observation", "Observations"]

_IRF_TYPES = ("aeff", "edisp", "psf", "bkg", "rad_max")
_OLD_HESS_CREATOR = "SASH FITS::EventListWriter"


class Observation:
    """Data and responses of one observation, loaded lazily from its DL3 file(s).

    Each HDU is read at most once and kept until :meth:`release` is called (or
    the observation is garbage collected); a file stays open only until every
    HDU needed from it has been read.

    Parameters
    ----------
    obs_id : int
        Observation id.
    locations : dict
        ``{hdu_type: HDULocation}``.
    """

    def __init__(self, obs_id, locations):
        self.obs_id = int(obs_id)
        self._locations = dict(locations)
        self._cache = {}
        self._files = FitsFileCache()
        self._pending = {}
        self._successor = None  # weak reference to the next observation of an iteration
        for loc in self._locations.values():
            if loc.hdu_type != "pointing":
                key = str(loc.path)
                self._pending.setdefault(key, set()).add(loc.hdu_name.upper())

    # ------------------------------------------------------------- plumbing
    def __getstate__(self):
        return {"obs_id": self.obs_id, "locations": self._locations}

    def __setstate__(self, state):
        self.__init__(state["obs_id"], state["locations"])

    @property
    def available_hdus(self):
        """HDU types listed for this observation."""
        return [t for t in self._locations if t != "pointing"]

    @property
    def available_irfs(self):
        """IRF types listed for this observation."""
        return [t for t in self._locations if t in _IRF_TYPES]

    def location(self, hdu_type):
        """`HDULocation` of an HDU type, or None."""
        return self._locations.get(hdu_type)

    def prefetch(self):
        """Start reading this observation's files in a helper thread.

        Nothing happens when the observation is already read or helper threads are
        disabled (``DL3LAB_THREADS=1``, worker processes). Errors surface, as usual,
        when the data are used.
        """
        from ..executor import max_threads

        if max_threads() < 2:
            return
        for location in self._locations.values():
            if self._pending.get(str(location.path)):  # a file with HDUs still to read
                self._files.prefetch(location)

    def _read_hdu(self, location):
        successor = self._successor() if self._successor is not None else None
        if successor is not None:
            # iterating over `Observations`: read the next observation while this one is reduced
            self._successor = None
            successor.prefetch()
        hdu = self._files.get_hdu(location)
        key = str(location.path)
        pending = self._pending.get(key)
        if pending is not None:
            pending.discard(location.hdu_name.upper())
            if not pending:
                self._files.close(location.path)
                del self._pending[key]
        return hdu

    def _load(self, hdu_type, loader):
        if hdu_type in self._cache:
            return self._cache[hdu_type]
        location = self._locations.get(hdu_type)
        if location is None:
            self._cache[hdu_type] = None
            return None
        hdu = self._read_hdu(location)
        try:
            value = loader(hdu, location)
        except DL3LabError:
            raise
        except Exception as exc:
            raise DataFormatError(
                f"cannot interpret {hdu_type} HDU: {type(exc).__name__}: {exc}",
                obs_id=self.obs_id, filename=location.path, hdu=location.hdu_name,
            ) from exc
        self._cache[hdu_type] = value
        return value

    def release(self):
        """Drop every loaded HDU and close open files."""
        self._cache.clear()
        self._files.close()

    # ------------------------------------------------------------- content
    @property
    def events_header(self):
        """Header of the EVENTS HDU (pointing, dead time and observatory keywords).

        Reading it does not build the event list, nor read the file beyond the EVENTS HDU.
        """
        if "events" in self._cache and self._cache["events"] is not None:
            return self._cache["events"].meta
        if "events_header" not in self._cache:
            location = self._locations.get("events")
            if location is None:
                raise MissingDataError("no EVENTS HDU is listed for this observation", obs_id=self.obs_id)
            # read from the open file without marking the events as read: they are still to come
            self._cache["events_header"] = dict(self._files.get_hdu(location).header)
        return self._cache["events_header"]

    @property
    def events(self):
        """The `EventList`."""
        return self._load("events", lambda hdu, loc: EventList.from_table_hdu(hdu, loc))

    @property
    def gti(self):
        """The `GTI`."""
        return self._load("gti", lambda hdu, loc: GTI.from_table_hdu(hdu))

    def _irf(self, hdu_type):
        from ..irf.io import load_irf

        return self._load(hdu_type, lambda hdu, loc: load_irf(hdu, loc.hdu_class, location=loc))

    @property
    def aeff(self):
        """Effective area IRF, or None."""
        return self._irf("aeff")

    @property
    def edisp(self):
        """Energy dispersion IRF, or None."""
        return self._irf("edisp")

    @property
    def psf(self):
        """PSF IRF, or None."""
        return self._irf("psf")

    @property
    def bkg(self):
        """Background IRF, or None.

        Old HESS files (EVENTS ``CREATOR`` = ``SASH FITS::EventListWriter`` and
        ``HDUVERS`` = ``0.2``) get the ``REVERSE_LON_RADEC`` alignment (spec §1.2).
        """
        if "bkg" in self._cache:
            return self._cache["bkg"]
        bkg = self._irf("bkg")
        if bkg is not None and "events" in self._locations:
            header = self.events_header
            creator = str(header.get("CREATOR", "")).strip()
            if creator == _OLD_HESS_CREATOR and str(header.get("HDUVERS", "")).strip() == "0.2":
                bkg.fov_alignment = "REVERSE_LON_RADEC"
        return bkg

    @property
    def rad_max(self):
        """RAD_MAX table: the ``rad_max_2d`` HDU, else the ``RAD_MAX`` keyword of a point-like aeff, else None."""
        if "rad_max" in self._locations:
            return self._irf("rad_max")
        if "rad_max_fixed" not in self._cache:
            value = None
            aeff = self.aeff if "aeff" in self._locations else None
            if aeff is not None and aeff.is_pointlike and "RAD_MAX" in aeff.meta:
                from ..irf import RadMax2D

                value = RadMax2D.from_irf(aeff)
            self._cache["rad_max_fixed"] = value
        return self._cache["rad_max_fixed"]

    @property
    def is_pointlike(self):
        """Whether the IRFs are point-like (``HDUCLAS3 = POINT-LIKE``)."""
        aeff = self.aeff
        return bool(aeff is not None and aeff.is_pointlike)

    @property
    def pointing(self):
        """`FixedPointingInfo` from the EVENTS header."""
        if "pointing" not in self._cache:
            loc = self._locations.get("events")
            text = loc.describe() if loc else f"obs {self.obs_id}"
            self._cache["pointing"] = FixedPointingInfo.from_header(self.events_header, text)
        return self._cache["pointing"]

    @property
    def observatory_earth_location(self):
        """Observatory location from the EVENTS header, or None."""
        return earth_location_from_header(self.events_header)

    @property
    def meta(self):
        """Dict of observation metadata: telescope (from the aeff header), mode, dead time, creator."""
        if "meta" not in self._cache:
            header = self.events_header
            aeff = self.aeff if "aeff" in self._locations else None
            self._cache["meta"] = {
                "obs_id": self.obs_id,
                "telescope": (aeff.meta.get("TELESCOP", "Unknown") if aeff is not None else "Unknown"),
                "obs_mode": self.pointing.mode,
                "deadtime_fraction": self.observation_dead_time_fraction,
                "creator": str(header.get("CREATOR", "")).strip(),
                "object": str(header.get("OBJECT", "")).strip(),
            }
        return self._cache["meta"]

    # --------------------------------------------------------------- times
    @property
    def observation_dead_time_fraction(self):
        """``1 - DEADC`` from the EVENTS header."""
        header = self.events_header
        if "DEADC" not in header:
            loc = self._locations["events"]
            raise DataFormatError("EVENTS header lacks DEADC", obs_id=self.obs_id, filename=loc.path,
                                  hdu=loc.hdu_name)
        return 1.0 - float(header["DEADC"])

    @property
    def observation_time_duration(self):
        """Total good time (sum of the GTI intervals); Gammapy's ``ontime``."""
        return self.gti.time_sum

    ontime = observation_time_duration

    @property
    def observation_live_time_duration(self):
        """Ontime times ``DEADC``."""
        return self.observation_time_duration * (1.0 - self.observation_dead_time_fraction)

    livetime = observation_live_time_duration

    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _time(self, met_seconds):
        from astropy.time import TimeDelta

        gti = self.gti
        return gti.reference_time + TimeDelta(met_seconds, format="sec")

    @property
    def tstart(self):
        """Start of the first good time interval."""
        return self._cached("tstart", lambda: self._time(self.gti.met_start[0].to_value("s")))

    @property
    def tstop(self):
        """Stop of the **last** good time interval (Gammapy 2.1 uses the first; spec §14.3)."""
        return self._cached("tstop", lambda: self._time(self.gti.met_stop[-1].to_value("s")))

    @property
    def tmid(self):
        """Midpoint of ``tstart`` and ``tstop``."""
        def compute():
            start, stop = self.gti.met_start[0].to_value("s"), self.gti.met_stop[-1].to_value("s")
            return self._time(start + (stop - start) / 2)

        return self._cached("tmid", compute)

    def get_pointing_icrs(self, time=None):
        """Pointing position in ICRS at ``time`` (default ``tmid``)."""
        if self.pointing.mode == "POINTING":
            return self.pointing.fixed_icrs
        return self.pointing.get_icrs(self.tmid if time is None else time)

    def get_pointing_altaz(self, time=None):
        """Pointing position in Alt/Az at ``time`` (default ``tmid``)."""
        return self.pointing.get_altaz(self.tmid if time is None else time, self.observatory_earth_location)

    def __repr__(self):
        return f"Observation(obs_id={self.obs_id}, hdus={self.available_hdus})"

    def __str__(self):
        lines = [f"Observation {self.obs_id}"]
        try:
            lines += [
                f"  tstart, tstop : {self.tstart.iso}, {self.tstop.iso}",
                f"  ontime        : {self.observation_time_duration.to(u.s):.1f}",
                f"  livetime      : {self.livetime.to(u.s):.1f}",
                f"  pointing ICRS : {self.get_pointing_icrs().ra.deg:.4f} {self.get_pointing_icrs().dec.deg:.4f} deg",
                f"  events        : {len(self.events)}",
            ]
        except DL3LabError as exc:
            lines.append(f"  (unreadable: {exc})")
        lines.append(f"  HDUs          : {', '.join(self.available_hdus)}")
        return "\n".join(lines)


class Observations(list):
    """A list of `Observation` with access by position or obs id."""

    @property
    def ids(self):
        """Observation ids as strings (Gammapy convention)."""
        return [str(obs.obs_id) for obs in list.__iter__(self)]

    def __iter__(self):
        """Iterate; reading an observation's data starts reading the next one in a helper thread."""
        items = list(super().__iter__())
        for obs, successor in zip(items, items[1:] + [None]):
            obs._successor = None if successor is None else weakref.ref(successor)
            yield obs

    def __getitem__(self, key):
        if isinstance(key, str):
            for obs in list.__iter__(self):  # a lookup, not an iteration that reads ahead
                if str(obs.obs_id) == key:
                    return obs
            raise KeyError(f"no observation {key} in this list")
        result = super().__getitem__(key)
        return Observations(result) if isinstance(key, slice) else result

    def __str__(self):
        return f"Observations\nNumber of observations: {len(self)}\n" + "\n".join(str(o) for o in self)
