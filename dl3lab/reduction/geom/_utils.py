"""Small helpers shared by the geometry classes: argument parsing, WCS creation, spherical trigonometry."""

import numpy as np
from astropy import units as u
from astropy.coordinates import CartesianRepresentation, SkyCoord, UnitSphericalRepresentation
from astropy.wcs import WCS

from ..errors import NoOverlapError

__all__ = [
    "parse_angle_pair",
    "make_celestial_wcs",
    "frame_from_wcs",
    "wcs_state",
    "wcs_from_state",
    "skycoord_lonlat",
    "rotate_lonlat",
    "rotated_lonlat",
    "lonlat_to_frame",
    "pixel_centre_lonlat",
    "frame_skycoord",
    "angular_separation_deg",
    "position_angle_rad",
    "pixel_solid_angles",
    "overlap_slices",
    "round_up_to_odd",
]

_FRAME_CTYPES = {"icrs": ("RA---", "DEC--"), "fk5": ("RA---", "DEC--"), "galactic": ("GLON-", "GLAT-")}


def _angle_deg(value):
    """One angle in deg from a float (deg), a Quantity or a string such as ``"6 deg"``."""
    if isinstance(value, str):
        value = u.Quantity(value)
    if isinstance(value, u.Quantity):
        return float(value.to_value("deg"))
    return float(value)


def parse_angle_pair(value):
    """Parse a width or bin size into a ``(lon, lat)`` pair of floats in deg.

    Parameters
    ----------
    value : float, str, `~astropy.units.Quantity` or pair of those
        A single value applies to both axes.

    Returns
    -------
    tuple of float
    """
    if isinstance(value, str):
        value = u.Quantity(value)
    if isinstance(value, u.Quantity):
        values = np.atleast_1d(value.to_value("deg")).ravel()
    elif np.isscalar(value):
        values = np.array([float(value)])
    else:
        values = np.array([_angle_deg(v) for v in value], dtype=float).ravel()
    if values.size == 1:
        return float(values[0]), float(values[0])
    if values.size != 2:
        raise ValueError(f"expected one or two angles, got {value!r}")
    return float(values[0]), float(values[1])


def make_celestial_wcs(crval, crpix, cdelt, proj="CAR", frame="icrs", npix=None):
    """Create a two-dimensional celestial `~astropy.wcs.WCS` (spec §2.2).

    Parameters
    ----------
    crval, crpix, cdelt : pair of float
        Reference value (deg), 1-based reference pixel and increments (deg).
    proj : str
        Three-letter projection code such as ``"CAR"`` or ``"TAN"``.
    frame : {"icrs", "galactic", "fk5"}
        Sky frame.
    npix : pair of int, optional
        ``(nx, ny)``; sets the WCS pixel shape.
    """
    frame = frame.lower()
    if frame not in _FRAME_CTYPES:
        raise ValueError(f"unsupported frame {frame!r}; use one of {sorted(_FRAME_CTYPES)}")
    wcs = WCS(naxis=2)
    lon_prefix, lat_prefix = _FRAME_CTYPES[frame]
    wcs.wcs.ctype = [lon_prefix + proj, lat_prefix + proj]
    wcs.wcs.cunit = ["deg", "deg"]
    if frame != "galactic":
        wcs.wcs.radesys = frame.upper()
    if frame == "fk5":
        wcs.wcs.equinox = 2000.0
    wcs.wcs.crpix = [float(crpix[0]), float(crpix[1])]
    wcs.wcs.crval = [float(crval[0]), float(crval[1])]
    wcs.wcs.cdelt = [float(cdelt[0]), float(cdelt[1])]
    if npix is not None:
        wcs.array_shape = (int(npix[1]), int(npix[0]))
    wcs.wcs.datfix()
    return wcs


def wcs_state(wcs):
    """A small picklable description of a plain celestial ``wcs``, or ``wcs`` itself if it has more.

    Astropy pickles a WCS as a FITS file and parses it back (about 2 ms); a WCS made of
    the standard keywords alone is rebuilt from them by `wcs_from_state` in 0.05 ms.
    The description is used only if the rebuilt WCS compares equal to ``wcs``.
    """
    w = wcs.wcs
    if (wcs.naxis != 2 or wcs.sip is not None or wcs.cpdis1 is not None or wcs.cpdis2 is not None
            or wcs.det2im1 is not None or wcs.det2im2 is not None or w.has_cd() or w.has_crota()):
        return wcs
    state = {
        "ctype": list(w.ctype), "crval": w.crval.tolist(), "crpix": w.crpix.tolist(), "cdelt": w.cdelt.tolist(),
        "cunit": [str(unit) for unit in w.cunit], "radesys": w.radesys, "equinox": float(w.equinox),
        "lonpole": float(w.lonpole), "latpole": float(w.latpole), "pv": list(w.get_pv()),
        "pc": None if np.array_equal(w.get_pc(), np.eye(2)) else w.get_pc().tolist(), "pixel_shape": wcs.pixel_shape,
    }
    if not wcs_from_state(state).wcs.compare(w):
        return wcs
    return state


def wcs_from_state(state):
    """The WCS described by :func:`wcs_state` (or the WCS itself)."""
    if isinstance(state, WCS):
        return state
    wcs = WCS(naxis=2)
    w = wcs.wcs
    w.ctype, w.crval, w.crpix, w.cdelt, w.cunit = (state[k] for k in ("ctype", "crval", "crpix", "cdelt", "cunit"))
    if state["radesys"]:
        w.radesys = state["radesys"]
    if state["equinox"] == state["equinox"]:  # not NaN
        w.equinox = state["equinox"]
    w.lonpole, w.latpole = state["lonpole"], state["latpole"]
    if state["pv"]:
        w.set_pv(state["pv"])
    if state["pc"] is not None:
        w.pc = state["pc"]
    if state["pixel_shape"] is not None:
        wcs.pixel_shape = state["pixel_shape"]
    return wcs


def frame_from_wcs(wcs):
    """Frame name (``"icrs"``, ``"fk5"`` or ``"galactic"``) of a celestial WCS."""
    ctype = wcs.wcs.ctype[0].upper()
    if ctype.startswith("GLON"):
        return "galactic"
    if ctype.startswith("RA"):
        radesys = (wcs.wcs.radesys or "ICRS").strip().lower()
        return radesys if radesys in ("icrs", "fk5") else "icrs"
    raise ValueError(f"unsupported celestial CTYPE {wcs.wcs.ctype[0]!r}")


def skycoord_lonlat(skycoord, frame):
    """Longitude and latitude (float arrays, deg) of a SkyCoord in ``frame`` (astropy's transformation)."""
    if skycoord.frame.name != frame:
        skycoord = skycoord.transform_to(frame)
    rep = skycoord.represent_as(UnitSphericalRepresentation)
    return rep.lon.to_value("deg"), rep.lat.to_value("deg")


def rotated_lonlat(skycoord, frame):
    """:func:`skycoord_lonlat` by `rotate_lonlat` between ICRS and Galactic (about 1e-12 deg from astropy).

    For per-observation work (cutout positions, pixel lookups), where astropy's general
    transformation machinery costs about a millisecond per call. Geometry definitions
    use :func:`skycoord_lonlat`, which is exact to the last bit.
    """
    source = skycoord.frame.name
    if source != frame and (source, frame) in _ROTATABLE:
        rep = skycoord.represent_as(UnitSphericalRepresentation)
        return rotate_lonlat(rep.lon.to_value("deg"), rep.lat.to_value("deg"), source, frame)
    return skycoord_lonlat(skycoord, frame)


def lonlat_to_frame(lon, lat, source, target):
    """:func:`rotated_lonlat` of positions given as lon/lat arrays (deg) in frame ``source``.

    Unchanged if the frames are the same; no `SkyCoord` is built between ICRS and Galactic.
    """
    if source == target:
        return lon, lat
    if (source, target) in _ROTATABLE:
        return rotate_lonlat(lon, lat, source, target)
    return skycoord_lonlat(SkyCoord(lon, lat, unit="deg", frame=source), target)


def pixel_centre_lonlat(geom, frame=None):
    """Longitude and latitude (deg) of the pixel centres of a WCS image, shape ``(ny, nx)``, in ``frame``
    (default: the geometry's own frame)."""
    nx, ny = (int(n) for n in np.ravel(geom.npix)[:2])
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = geom.wcs.wcs_pix2world(xx, yy, 0)
    return lonlat_to_frame(lon, lat, geom.frame, frame or geom.frame)


_ROTATABLE = {("icrs", "galactic"), ("galactic", "icrs")}
_ROTATIONS = {}


def _rotation(source, target):
    """The fixed rotation matrix from ``source`` to ``target`` cartesian coordinates (from astropy, once)."""
    matrix = _ROTATIONS.get((source, target))
    if matrix is None:
        basis = SkyCoord(CartesianRepresentation(np.eye(3)), frame=source)
        columns = basis.transform_to(target).cartesian  # column j: the image of unit vector j
        matrix = np.array([columns.x.value, columns.y.value, columns.z.value])
        _ROTATIONS[(source, target)] = matrix
    return matrix


def rotate_lonlat(lon, lat, source, target):
    """Longitude and latitude (deg) from ``source`` to ``target`` frame ("icrs" and "galactic").

    ICRS and Galactic coordinates differ by a fixed rotation (astropy's transformation
    between them involves no time), so the matrix is taken once from astropy and
    applied with numpy; results agree with `SkyCoord.transform_to` to about 1e-12 deg.
    The longitude is wrapped to [0, 360).
    """
    lon, lat = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    clat = np.cos(lat)
    xyz = np.stack([clat * np.cos(lon), clat * np.sin(lon), np.sin(lat)])
    x, y, z = np.tensordot(_rotation(source, target), xyz, axes=1)
    out_lon = np.degrees(np.arctan2(y, x)) % 360.0
    out_lon = np.where(out_lon >= 360.0, 0.0, out_lon)  # -1e-17 % 360 rounds to 360
    out_lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return out_lon, out_lat


def frame_skycoord(skycoord, frame):
    """``skycoord`` in ``frame``, by `rotate_lonlat` between ICRS and Galactic, else by astropy."""
    if skycoord.frame.name == frame:
        return skycoord
    return lonlat_skycoord(*rotated_lonlat(skycoord, frame), frame)


def lonlat_skycoord(lon, lat, frame):
    """SkyCoord from lon/lat in deg."""
    return SkyCoord(lon, lat, unit="deg", frame=frame)


_DEG2RAD = np.pi / 180.0
_RAD2DEG = 180.0 / np.pi
_TWO_PI = 2 * np.pi


def angular_separation_deg(lon1, lat1, lon2, lat2):
    """Great-circle distance (Vincenty formula) in deg between points given in deg.

    The arithmetic follows astropy's ``SkyCoord.separation`` step by step
    (longitude difference taken in degrees), so results agree to the last bit.
    """
    return _NeighbourPairs.from_deg(lon1, lat1, lon2, lat2).separation()


def position_angle_rad(lon1, lat1, lon2, lat2):
    """Position angle (east of north, rad, wrapped to [0, 2π)) of point 2 from point 1 (inputs in deg)."""
    return _NeighbourPairs.from_deg(lon1, lat1, lon2, lat2).position_angle()


_DEG2_TO_SR = float((u.deg**2).to(u.sr))


def pixel_solid_angles(lon, lat):
    """Solid angle (sr) of every pixel from its corner positions (spec §2.3).

    Parameters
    ----------
    lon, lat : ndarray
        Sky positions (deg) of the pixel corners, shape ``(ny + 1, nx + 1)``.

    Returns
    -------
    ndarray
        Shape ``(ny, nx)``: two planar triangles whose sides are the
        great-circle distances between the corners (in deg², converted to sr).
    """
    # corners: a = (x-, y-), b = (x-, y+), c = (x+, y-), d = (x+, y+). Every side joins two
    # neighbouring corners along x or along y, so the sines and cosines are computed once per
    # corner and per neighbour pair and shared; each value is computed with exactly the
    # arithmetic of `angular_separation_deg` and `position_angle_rad`.
    lat_r = lat * _DEG2RAD
    slat, clat = np.sin(lat_r), np.cos(lat_r)
    along_x = _NeighbourPairs(lon[:, :-1], lon[:, 1:], (slat[:, :-1], clat[:, :-1]), (slat[:, 1:], clat[:, 1:]))
    along_y = _NeighbourPairs(lon[:-1], lon[1:], (slat[:-1], clat[:-1]), (slat[1:], clat[1:]))
    backward_y = _NeighbourPairs(lon[1:], lon[:-1], (slat[1:], clat[1:]), (slat[:-1], clat[:-1]))
    sep_x, sep_y = along_x.separation(), along_y.separation()
    pa_x, pa_y, pa_back_y = along_x.position_angle(), along_y.position_angle(), backward_y.position_angle()
    side_ab, side_cd = sep_y[:, :-1], sep_y[:, 1:]
    side_ac, side_bd = sep_x[:-1], sep_x[1:]
    angle_b = pa_x[1:] - pa_back_y[:, :-1]  # PA(b -> d) - PA(b -> a)
    angle_c = pa_y[:, 1:] - pa_x[:-1]  # PA(c -> d) - PA(a -> c)
    area = 0.5 * side_ab * side_bd * np.sin(angle_b) + 0.5 * side_cd * side_ac * np.sin(angle_c)
    return np.abs(area * _DEG2_TO_SR)


class _NeighbourPairs:
    """Great-circle distance and position angle from points 1 to points 2 (deg), sharing their trigonometry.

    The latitudes come as ``(sin, cos)`` pairs (:meth:`from_deg` computes them).
    """

    def __init__(self, lon1, lon2, trig1, trig2):
        dlon = (lon2 - lon1) * _DEG2RAD
        self.sdlon, self.cdlon = np.sin(dlon), np.cos(dlon)
        (self.slat1, self.clat1), (self.slat2, self.clat2) = trig1, trig2

    @classmethod
    def from_deg(cls, lon1, lat1, lon2, lat2):
        lat1, lat2 = lat1 * _DEG2RAD, lat2 * _DEG2RAD
        return cls(lon1, lon2, (np.sin(lat1), np.cos(lat1)), (np.sin(lat2), np.cos(lat2)))

    def separation(self):
        num1 = self.clat2 * self.sdlon
        num2 = self.clat1 * self.slat2 - self.slat1 * self.clat2 * self.cdlon
        denominator = self.slat1 * self.slat2 + self.clat1 * self.clat2 * self.cdlon
        return np.arctan2(np.hypot(num1, num2), denominator) * _RAD2DEG

    def position_angle(self):
        x = self.slat2 * self.clat1 - self.clat2 * self.slat1 * self.cdlon
        y = self.sdlon * self.clat2
        angle = np.arctan2(y, x)
        with np.errstate(invalid="ignore"):
            angle = angle - (angle // _TWO_PI) * _TWO_PI
            angle = np.where(angle >= _TWO_PI, angle - _TWO_PI, angle)
            angle = np.where(angle < 0, angle + _TWO_PI, angle)
        return angle


def overlap_slices(large_shape, small_shape, position, mode="partial"):
    """Slices of a small array centred at ``position`` inside a large array.

    Follows astropy's ``overlap_slices`` (spec §2.4): for each dimension the
    small array starts at ``ceil(p - n/2)``.

    Parameters
    ----------
    large_shape, small_shape : tuple of int
    position : tuple of float
        Position of the small array's centre in the large array's pixel
        coordinates, in the same (numpy) order as the shapes.
    mode : {"partial", "trim", "strict"}

    Returns
    -------
    slices_large, slices_small : tuple of slice

    Raises
    ------
    NoOverlapError
        If the arrays do not overlap (or the position is not finite).
    """
    if mode not in ("partial", "trim", "strict"):
        raise ValueError(f"mode must be 'partial', 'trim' or 'strict', got {mode!r}")
    if not np.all(np.isfinite(position)):
        raise NoOverlapError("cutout position is outside the projection (non-finite pixel)")
    starts = [int(np.ceil(p - n / 2.0)) for p, n in zip(position, small_shape)]
    stops = [s + int(n) for s, n in zip(starts, small_shape)]
    for start, stop, n_large in zip(starts, stops, large_shape):
        if stop <= 0 or start >= n_large:
            raise NoOverlapError("the cutout does not overlap the geometry")
    if mode == "strict":
        for start, stop, n_large in zip(starts, stops, large_shape):
            if start < 0 or stop > n_large:
                raise NoOverlapError("the cutout overlaps the geometry only partially (mode='strict')")
    large = tuple(slice(max(0, s), min(n, e)) for s, e, n in zip(starts, stops, large_shape))
    if mode == "trim":
        small = tuple(slice(0, sl.stop - sl.start) for sl in large)
    else:
        small = tuple(slice(max(0, -s), min(n - s, e - s)) for s, e, n in zip(starts, stops, large_shape))
    return large, small


def round_up_to_odd(values):
    """Round up to the next odd integer (``ceil(x) // 2 * 2 + 1``)."""
    return (np.ceil(values) // 2 * 2 + 1).astype(int)
