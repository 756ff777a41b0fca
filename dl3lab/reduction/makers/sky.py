"""Sky-coordinate helpers for the per-observation projections (plain numpy on degrees)."""

import numpy as np
from astropy.coordinates import SkyCoord

__all__ = ["pixel_centres", "to_frame_deg", "angular_separation_deg", "sky_offset_deg"]


def to_frame_deg(coord, frame):
    """Longitude and latitude (deg) of a SkyCoord in ``frame`` ("icrs" or "galactic")."""
    c = coord.transform_to(frame)
    return c.spherical.lon.deg, c.spherical.lat.deg


def pixel_centres(geom, frame="icrs"):
    """Longitude and latitude (deg) of the pixel centres of a WCS image, shape ``(ny, nx)``."""
    nx, ny = (int(n) for n in np.ravel(geom.npix)[:2])
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = geom.wcs.wcs_pix2world(xx, yy, 0)
    if geom.frame != frame:
        c = SkyCoord(lon, lat, unit="deg", frame=geom.frame).transform_to(frame)
        return c.spherical.lon.deg, c.spherical.lat.deg
    return np.asarray(lon), np.asarray(lat)


def angular_separation_deg(lon1, lat1, lon2, lat2):
    """Great-circle distance in degrees (Vincenty formula, stable at all separations)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    dlon = lon2 - lon1
    slat1, clat1 = np.sin(lat1), np.cos(lat1)
    slat2, clat2 = np.sin(lat2), np.cos(lat2)
    num1 = clat2 * np.sin(dlon)
    num2 = clat1 * slat2 - slat1 * clat2 * np.cos(dlon)
    denom = slat1 * slat2 + clat1 * clat2 * np.cos(dlon)
    return np.degrees(np.arctan2(np.hypot(num1, num2), denom))


def sky_offset_deg(lon, lat, lon0, lat0):
    """Coordinates (deg) in the offset frame centred on ``(lon0, lat0)`` (astropy SkyOffsetFrame).

    Returns ``(xi, eta)``: longitude wrapped to [-180, 180) and latitude, where the
    origin maps to (0, 0) and north of the origin is +eta.
    """
    lon, lat = np.radians(lon), np.radians(lat)
    lon0, lat0 = np.radians(lon0), np.radians(lat0)
    dlon = lon - lon0
    x = np.cos(lat) * np.cos(dlon)
    y = np.cos(lat) * np.sin(dlon)
    z = np.sin(lat)
    x2 = x * np.cos(lat0) + z * np.sin(lat0)
    z2 = -x * np.sin(lat0) + z * np.cos(lat0)
    xi = np.degrees(np.arctan2(y, x2))
    eta = np.degrees(np.arcsin(np.clip(z2, -1, 1)))
    return xi, eta
