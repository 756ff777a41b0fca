"""Telescope pointing read from the EVENTS header (reduction spec §1.2, §1.3)."""

from astropy import units as u
from astropy.coordinates import AltAz, EarthLocation, SkyCoord

from ..errors import DataFormatError

__all__ = ["FixedPointingInfo", "earth_location_from_header"]


def earth_location_from_header(header):
    """Observatory location from ``GEOLON``, ``GEOLAT`` and ``GEOALT`` or ``ALTITUDE``; None if absent."""
    if "GEOLON" not in header or "GEOLAT" not in header:
        return None
    height = header.get("GEOALT", header.get("ALTITUDE", 0.0))
    return EarthLocation.from_geodetic(
        lon=float(header["GEOLON"]) * u.deg, lat=float(header["GEOLAT"]) * u.deg, height=float(height) * u.m
    )


class FixedPointingInfo:
    """A pointing fixed in ICRS (``POINTING`` mode) or in Alt/Az (``DRIFT`` mode).

    Parameters
    ----------
    mode : {"POINTING", "DRIFT"}
        Pointing mode. Any ``OBS_MODE`` other than ``DRIFT`` (e.g. HESS ``WOBBLE``)
        is a fixed ICRS pointing.
    fixed_icrs : `~astropy.coordinates.SkyCoord`, optional
        Pointing for ``POINTING`` mode (``RA_PNT``/``DEC_PNT``).
    fixed_altaz : `~astropy.coordinates.SkyCoord`, optional
        Alt/Az pointing for ``DRIFT`` mode, or the nominal Alt/Az if given.
    location : `~astropy.coordinates.EarthLocation`, optional
        Observatory location.
    """

    def __init__(self, mode="POINTING", fixed_icrs=None, fixed_altaz=None, location=None):
        self.mode = mode
        self.fixed_icrs = fixed_icrs
        self.fixed_altaz = fixed_altaz
        self.location = location

    @classmethod
    def from_header(cls, header, location_text=None):
        """Read from an EVENTS header (``location_text`` names obs and file in errors)."""
        mode = "DRIFT" if str(header.get("OBS_MODE", "")).strip().upper() == "DRIFT" else "POINTING"
        location = earth_location_from_header(header) if mode == "DRIFT" else None
        alt, az = header.get("ALT_PNT"), header.get("AZ_PNT")
        if mode == "DRIFT":
            if alt is None or az is None:
                raise DataFormatError(f"DRIFT mode needs ALT_PNT and AZ_PNT ({location_text})")
            fixed_altaz = SkyCoord(alt=float(alt) * u.deg, az=float(az) * u.deg, frame=AltAz(location=location))
            return cls(mode, None, fixed_altaz, location)
        if "RA_PNT" not in header or "DEC_PNT" not in header:
            raise DataFormatError(f"EVENTS header lacks RA_PNT/DEC_PNT ({location_text})")
        icrs = SkyCoord(float(header["RA_PNT"]), float(header["DEC_PNT"]), unit="deg", frame="icrs")
        return cls(mode, icrs, None, None)

    def get_icrs(self, time=None):
        """Pointing in ICRS at ``time`` (the fixed position in ``POINTING`` mode)."""
        if self.mode == "POINTING":
            return self.fixed_icrs
        if time is None or self.location is None:
            raise ValueError("a DRIFT pointing needs a time and an observatory location")
        frame = AltAz(obstime=time, location=self.location)
        altaz = SkyCoord(alt=self.fixed_altaz.alt, az=self.fixed_altaz.az, frame=frame)
        return altaz.icrs

    def get_altaz(self, time, location=None):
        """Pointing in Alt/Az at ``time``."""
        location = location or self.location
        if self.mode == "DRIFT":
            frame = AltAz(obstime=time, location=location)
            return SkyCoord(alt=self.fixed_altaz.alt, az=self.fixed_altaz.az, frame=frame)
        return self.fixed_icrs.transform_to(AltAz(obstime=time, location=location))

    def __repr__(self):
        pos = self.fixed_icrs if self.mode == "POINTING" else self.fixed_altaz
        return f"FixedPointingInfo(mode={self.mode!r}, position={pos})"
