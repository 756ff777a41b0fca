"""Per-observation products in a sky region: counts, RAD_MAX selections, IRF positions and background (spec §4, §9).

These are the region-geometry counterparts of :mod:`.map_products`: the IRFs are
evaluated at the region centre (or at the helper-WCS pixels overlapping the
region, weighted by their covered fraction), and events are counted with the
region's containment rule or, for point regions, with the energy-dependent
RAD_MAX cut. Everything is vectorised over events and energies.
"""

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from ..errors import MissingDataError
from ..geom._regions import compound_to_regions
from ..geom._utils import frame_from_wcs, rotated_lonlat
from ..interpolation import trapz_loglog_from_log
from .background_projection import fov_coordinates
from .irf_projection import evaluate_separable
from .sky import angular_separation_deg, events_in_frame, solid_angle_sr

__all__ = [
    "north_pixel_scale",
    "circle_on_wcs",
    "icrs_deg",
    "region_center_icrs",
    "region_pixels_icrs",
    "histogram_energy",
    "count_in_region",
    "events_pointing_deg",
    "rad_max_selection",
    "count_rad_max",
    "point_centres_icrs",
    "region_background",
]


_NORTH_OFFSET_ARCSEC = 1.0


def north_pixel_scale(wcs, lon, lat):
    """Pixel positions of sky positions and the local scale (arcsec per pixel) along a 1 arcsec northward step.

    Vectorised version of the scale ``regions`` uses to convert circle radii between
    sky and pixels (``pixel_scale_angle_at_skycoord``, the same spherical formula);
    ``lon``/``lat`` are in the WCS frame, in deg.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = wcs.wcs_world2pix(lon, lat, 0)
    d = np.radians(_NORTH_OFFSET_ARCSEC / 3600.0)
    lat_r = np.radians(lat)
    lat_n = np.degrees(np.arcsin(np.sin(lat_r) * np.cos(d) + np.cos(lat_r) * np.sin(d)))
    xn, yn = wcs.wcs_world2pix(lon, lat_n, 0)
    return np.asarray(x), np.asarray(y), _NORTH_OFFSET_ARCSEC / np.hypot(xn - x, yn - y)


def circle_on_wcs(region, wcs):
    """Pixel centre ``(x, y)`` and pixel radius of a `~regions.CircleSkyRegion` on ``wcs`` (spec §2.6 rule)."""
    lon, lat = rotated_lonlat(region.center, frame_from_wcs(wcs))
    x, y, scale = north_pixel_scale(wcs, lon, lat)
    return float(x), float(y), float(region.radius.to_value("arcsec") / scale)


def icrs_deg(skycoord):
    """ICRS longitude and latitude (deg) of a SkyCoord, as float arrays."""
    c = skycoord.icrs
    return np.asarray(c.ra.deg, dtype=float), np.asarray(c.dec.deg, dtype=float)


def region_center_icrs(geom):
    """ICRS ``(lon, lat)`` (deg) of a region geometry's centre, each of shape ``(1,)``."""
    lon, lat = icrs_deg(geom.center_skydir)
    return np.atleast_1d(lon), np.atleast_1d(lat)


def region_pixels_icrs(geom, factor=10):
    """Helper-WCS pixels overlapping a region (spec §2.6): ICRS lon/lat (deg), weights and solid angles (sr).

    The weight of a pixel is the fraction of its ``factor x factor`` sub-pixel
    centres inside the region; pixels with weight 0 are dropped.
    """
    wcs_geom = geom.to_wcs_geom().to_image()
    weights = wcs_geom.region_weights([geom.region], oversampling_factor=factor).data
    keep = weights > 0
    ny, nx = weights.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    lon, lat = wcs_geom.wcs.wcs_pix2world(xx[keep], yy[keep], 0)
    if wcs_geom.frame != "icrs":
        lon, lat = icrs_deg(SkyCoord(lon, lat, unit="deg", frame=wcs_geom.frame))
    omega = np.asarray(solid_angle_sr(wcs_geom))[keep]
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), weights[keep], omega


def histogram_energy(energy_axis, energy_tev, select=None):
    """Counts per reco-energy bin (lower edge included, upper excluded), shape ``(n_E, 1, 1)`` float32."""
    if select is not None:
        energy_tev = energy_tev[select]
    idx = energy_axis.coord_to_bin(u.Quantity(energy_tev, "TeV"))
    counts = np.bincount(idx[idx >= 0], minlength=energy_axis.nbin)
    return counts.astype(np.float32).reshape((energy_axis.nbin, 1, 1))


def count_in_region(geom, events):
    """Counts of an extended region per reco-energy bin (TAN-pixel containment of spec §2.6)."""
    frame = frame_from_wcs(geom.wcs)
    lon, lat = events_in_frame(events, frame)
    if len(lon) == 0:
        inside = np.zeros(0, bool)
    elif isinstance(geom.region, CircleSkyRegion):
        x0, y0, radius = circle_on_wcs(geom.region, geom.wcs)
        # only events near the circle can be inside (the TAN pixel test differs from the angle by far less)
        c_lon, c_lat = rotated_lonlat(geom.region.center, frame)
        reach = 1.5 * geom.region.radius.to_value("deg") + np.max(np.abs(geom.wcs.wcs.cdelt))
        near = np.flatnonzero(angular_separation_deg(lon, lat, c_lon, c_lat) < reach)
        x, y = geom.wcs.wcs_world2pix(lon[near], lat[near], 0)
        inside = np.zeros(len(lon), bool)
        inside[near] = np.hypot(np.asarray(x) - x0, np.asarray(y) - y0) < radius
    else:
        x, y = geom.wcs.wcs_world2pix(lon, lat, 0)
        inside = geom.contains_wcs_pix((np.asarray(x), np.asarray(y)))
    return histogram_energy(geom.axes["energy"], events.energy_tev, inside)


def events_pointing_deg(events, observation=None):
    """Pointing ``(RA_PNT, DEC_PNT)`` (deg) from the EVENTS header, else the observation's pointing at tmid."""
    meta = events.meta
    if "RA_PNT" in meta and "DEC_PNT" in meta:
        return float(meta["RA_PNT"]), float(meta["DEC_PNT"])
    if observation is None:
        raise MissingDataError("EVENTS header lacks RA_PNT/DEC_PNT")
    lon, lat = icrs_deg(observation.get_pointing_icrs(observation.tmid))
    return float(lon), float(lat)


def rad_max_selection(events, rad_max, lon, lat, pointing):
    """Events within the energy-dependent cut around ``(lon, lat)`` (ICRS deg), spec §4.1.

    An event is kept when its distance to the position is at most
    ``RAD_MAX(E_event, offset)``, looked up by nearest neighbour, where ``offset``
    is the distance of the position from the events' pointing ``(ra, dec)``.
    """
    offset = float(angular_separation_deg(lon, lat, pointing[0], pointing[1]))
    separation = angular_separation_deg(events.ra_deg, events.dec_deg, lon, lat)
    cut = rad_max.evaluate(method="nearest", energy=u.Quantity(events.energy_tev, "TeV"), offset=offset * u.deg)
    return separation <= cut.to_value("deg")


def count_rad_max(centres, events, rad_max, energy_axis, pointing):
    """Counts summed over point positions ``[(lon, lat), ...]`` (ICRS deg), each with the RAD_MAX cut."""
    counts = np.zeros((energy_axis.nbin, 1, 1), np.float32)
    for lon, lat in centres:
        select = rad_max_selection(events, rad_max, lon, lat, pointing)
        counts += histogram_energy(energy_axis, events.energy_tev, select)
    return counts


def point_centres_icrs(region):
    """ICRS ``(lon, lat)`` (deg) of every part of a (compound) point region."""
    return [tuple(float(v) for v in icrs_deg(part.center)) for part in compound_to_regions(region)]


def region_background(bkg, geom, pointing, ontime, oversampling=None, use_region_center=True):
    """Background counts in a region per reco-energy bin, shape ``(n_E, 1, 1)`` (spec §4.3, §9).

    With ``use_region_center`` the energy-integrated rate at the region centre is
    multiplied by the region solid angle and the ontime; otherwise the rates at the
    overlapping helper-WCS pixels are summed with weights ``fraction x pixel solid angle``.
    """
    energy_axis = geom.axes["energy"]
    if oversampling:
        energy_axis = energy_axis.upsample(int(oversampling))
    if use_region_center:
        lon, lat = region_center_icrs(geom)
        solid = np.array([geom.solid_angle().to_value("sr")])
    else:
        lon, lat, weights, omega = region_pixels_icrs(geom)
        solid = weights * omega
    if "fov_lon" in bkg.axes.names:
        fov_lon, fov_lat = fov_coordinates(lon, lat, pointing, bkg.fov_alignment)
        pixels = {"fov_lon": fov_lon, "fov_lat": fov_lat}
    else:
        p_lon, p_lat = icrs_deg(pointing)
        pixels = {"offset": angular_separation_deg(lon, lat, p_lon, p_lat)}
    e_unit = bkg.axes["energy"].unit
    edges = energy_axis.edges.to_value(e_unit)
    log_rate, zero = evaluate_separable(bkg, {"energy": edges}, pixels, values_scale="log", raw_log=True)
    integral = trapz_loglog_from_log(log_rate, zero, edges, axis=0)
    factor = (u.Unit(bkg.unit) * e_unit).to("s-1 sr-1") * u.Quantity(ontime).to_value("s")
    data = (integral * (solid * factor)[None, :]).sum(axis=1)
    if oversampling:
        data = data.reshape(-1, int(oversampling)).sum(axis=1)
    return data.reshape((-1, 1, 1))
