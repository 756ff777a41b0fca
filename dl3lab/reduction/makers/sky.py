"""Sky-coordinate helpers for the per-observation projections (plain numpy on degrees, cached per geometry).

Pixel-centre coordinates, pointing offsets and pixel solid angles depend only on
the geometry (and the pointing), so they are computed once and reused by every
map of an observation, and by later observations on the same geometry.
"""

import numpy as np

from ..geom._utils import pixel_centre_lonlat, pixel_solid_angles, rotated_lonlat
from ..geom.grid import sky_grid_key
from ..lru import LRUCache

__all__ = [
    "pixel_centres",
    "events_in_frame",
    "angular_separation_deg",
    "sky_offset_deg",
    "pointing_offsets",
    "pixel_trig",
    "pointing_radians",
    "solid_angle_sr",
    "clear_caches",
]

_centres = LRUCache(32)
_trig = LRUCache(32)
_offsets = LRUCache(32)
_solid = LRUCache(32)


def clear_caches():
    """Forget every cached coordinate, offset and solid-angle array."""
    _centres.clear()
    _trig.clear()
    _offsets.clear()
    _solid.clear()


def events_in_frame(events, frame):
    """Event longitudes and latitudes (deg) in ``frame`` ("icrs" or "galactic")."""
    if frame == "icrs":
        return events.ra_deg, events.dec_deg
    return rotated_lonlat(events.radec, frame)


def pixel_centres(geom, frame="icrs"):
    """Longitude and latitude (deg) of the pixel centres of a WCS image, shape ``(ny, nx)`` (read-only)."""
    key = (sky_grid_key(geom), frame)
    cached = _centres.get(key)
    if cached is not None:
        return cached
    lon, lat = (np.asarray(a) for a in pixel_centre_lonlat(geom, frame))
    lon.flags.writeable = lat.flags.writeable = False
    return _centres.put(key, (lon, lat))


def pointing_radians(pointing):
    """ICRS ``(ra, dec)`` of a pointing in radians."""
    p = pointing.icrs
    return float(np.radians(p.ra.deg)), float(np.radians(p.dec.deg))


def pixel_trig(geom):
    """ICRS pixel centres of an image geometry in radians with the sine and cosine of the latitude (read-only).

    These depend only on the geometry; the pointing-dependent formulas below start from them.
    """
    key = sky_grid_key(geom)
    cached = _trig.get(key)
    if cached is not None:
        return cached
    lon, lat = (np.radians(np.asarray(a, dtype=float)) for a in pixel_centres(geom, frame="icrs"))
    values = (lon, lat, np.sin(lat), np.cos(lat))
    for array in values:
        array.flags.writeable = False
    return _trig.put(key, values)


def pointing_offsets(geom, pointing):
    """Separation (deg) of every pixel centre of an image geometry from ``pointing``, shape ``(ny, nx)``."""
    p = pointing.icrs
    key = (sky_grid_key(geom), round(float(p.ra.deg), 12), round(float(p.dec.deg), 12))
    cached = _offsets.get(key)
    if cached is not None:
        return cached
    lon1, lat1, slat1, clat1 = pixel_trig(geom)
    sep = _separation_deg(lon1, slat1, clat1, *pointing_radians(p))
    sep.flags.writeable = False
    return _offsets.put(key, sep)


def solid_angle_sr(geom):
    """Pixel solid angles (sr) of an image geometry, shape ``(ny, nx)`` (read-only).

    Geometries that differ only by an integer shift of the reference pixel (the
    cutouts of one parent) share their values, so the array is cached per WCS
    family in "absolute" pixel indices and sliced.
    """
    family = sky_grid_key(geom, with_crpix=False)
    crpix = geom.wcs.wcs.crpix
    frac = tuple(np.round(crpix - np.round(crpix), 9))
    shift = np.round(crpix).astype(int)
    nx, ny = (int(n) for n in np.ravel(geom.npix)[:2])
    lo = (-shift[0], -shift[1])
    hi = (lo[0] + nx, lo[1] + ny)
    entry = _solid.get((family, frac))
    if entry is not None:
        (elo_x, elo_y), array = entry
        ehi_x, ehi_y = elo_x + array.shape[1], elo_y + array.shape[0]
        if elo_x <= lo[0] and elo_y <= lo[1] and hi[0] <= ehi_x and hi[1] <= ehi_y:
            return array[lo[1] - elo_y : hi[1] - elo_y, lo[0] - elo_x : hi[0] - elo_x]
        lo = (min(lo[0], elo_x), min(lo[1], elo_y))
        hi = (max(hi[0], ehi_x), max(hi[1], ehi_y))
    array = _compute_solid_angle(geom.wcs, shift, lo, hi)
    array.flags.writeable = False
    _solid.put((family, frac), (lo, array))
    return solid_angle_sr(geom)


def _compute_solid_angle(wcs, shift, lo, hi):
    """Pixel solid angles (spec §2.3) on absolute pixel indices ``[lo, hi)``."""
    # Absolute index a maps to the 0-based pixel coordinate a + shift of this geometry.
    xs = np.arange(lo[0], hi[0] + 1) + shift[0] - 0.5
    ys = np.arange(lo[1], hi[1] + 1) + shift[1] - 0.5
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = wcs.wcs_pix2world(xx, yy, 0)
    return pixel_solid_angles(np.asarray(lon), np.asarray(lat))


def angular_separation_deg(lon1, lat1, lon2, lat2):
    """Great-circle distance in degrees (Vincenty formula, stable at all separations)."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(a, dtype=float)) for a in (lon1, lat1, lon2, lat2))
    return _separation_deg(lon1, np.sin(lat1), np.cos(lat1), lon2, lat2)


def _separation_deg(lon1, slat1, clat1, lon2, lat2):
    """:func:`angular_separation_deg` from radians, with the sine and cosine of ``lat1`` given."""
    dlon = lon2 - lon1
    slat2, clat2 = np.sin(lat2), np.cos(lat2)
    cdlon = np.cos(dlon)
    num1 = clat2 * np.sin(dlon)
    num2 = clat1 * slat2 - slat1 * clat2 * cdlon
    denom = slat1 * slat2 + clat1 * clat2 * cdlon
    return np.degrees(np.arctan2(np.hypot(num1, num2), denom))


def sky_offset_deg(lon, lat, lon0, lat0):
    """Coordinates (deg) in the offset frame centred on ``(lon0, lat0)`` (astropy SkyOffsetFrame).

    Returns ``(xi, eta)``: longitude wrapped to [-180, 180) and latitude, where the
    origin maps to (0, 0) and north of the origin is +eta.
    """
    lon, lat = np.radians(lon), np.radians(lat)
    return _sky_offset(lon, np.sin(lat), np.cos(lat), np.radians(lon0), np.radians(lat0))


def _sky_offset(lon, slat, clat, lon0, lat0):
    """:func:`sky_offset_deg` from radians, with the sine and cosine of ``lat`` given."""
    dlon = lon - lon0
    x = clat * np.cos(dlon)
    y = clat * np.sin(dlon)
    z = slat
    x2 = x * np.cos(lat0) + z * np.sin(lat0)
    z2 = -x * np.sin(lat0) + z * np.cos(lat0)
    xi = np.degrees(np.arctan2(y, x2))
    eta = np.degrees(np.arcsin(np.clip(z2, -1, 1)))
    return xi, eta
