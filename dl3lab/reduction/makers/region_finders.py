"""OFF-region finders: `ReflectedRegionsFinder` and `WobbleRegionsFinder` (spec §8.1-8.3).

Both work on a reference TAN geometry centred on the rotation point (the
pointing), rotate the ON region there in pixel space (counter-clockwise, i.e.
towards increasing position angle) and reject candidates that contain an
excluded pixel centre.

Gammapy projects the whole exclusion mask onto the reference geometry (a
630 x 630 grid for a source 1.6 deg off axis). A rotated region keeps its
distance from the rotation centre, so only reference pixels in the annulus swept
by the region can matter: only those are looked up in the mask (nearest bin,
outside the mask = allowed). Circles are then tested analytically, and the
accepted circles are converted to the sky with vectorised WCS calls. The
results equal Gammapy's: same regions, positions to floating-point rounding.
"""

import warnings
from collections import namedtuple
from itertools import combinations

import numpy as np
import traitlets
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from regions import (
    CirclePixelRegion,
    CircleSkyRegion,
    CompoundSkyRegion,
    PixCoord,
    PointPixelRegion,
    PointSkyRegion,
)

from ..geom import WcsGeom
from ..geom._regions import pixel_bbox
from ..geom._utils import lonlat_to_frame, rotated_lonlat
from .core import _format_value
from .region_products import circle_on_wcs, north_pixel_scale
from .sky import angular_separation_deg
from .traits import AngleTrait

__all__ = [
    "OffRegions",
    "RegionsFinder",
    "ReflectedRegionsFinder",
    "WobbleRegionsFinder",
    "circles_to_sky",
    "lookup_exclusion",
]

FULL_CIRCLE = 2 * np.pi

OffRegions = namedtuple("OffRegions", ["regions", "wcs", "circles"])
OffRegions.__doc__ = """OFF regions found by a finder.

``regions`` (list of sky regions), ``wcs`` (reference WCS) and ``circles``: for
circles, the arrays ``(lon, lat, radius)`` in deg (WCS frame), else None.
"""


def circles_to_sky(wcs, frame, x, y, radius_pix):
    """Sky circles of pixel circles ``(x, y, r)`` on ``wcs`` (what ``CirclePixelRegion.to_sky`` gives).

    Returns
    -------
    regions : list of `~regions.CircleSkyRegion`
    lon, lat, radius_deg : ndarray
        Centres (deg, WCS frame) and radii (deg).
    """
    lon, lat = wcs.wcs_pix2world(np.asarray(x, float), np.asarray(y, float), 0)
    lon, lat = np.atleast_1d(lon), np.atleast_1d(lat)
    _, _, scale = north_pixel_scale(wcs, lon, lat)
    radius_arcsec = np.asarray(radius_pix) * scale
    centres = SkyCoord(lon, lat, unit="deg", frame=frame)
    regions = [CircleSkyRegion(centres[i], Angle(radius_arcsec[i], "arcsec")) for i in range(len(lon))]
    return regions, lon, lat, radius_arcsec / 3600.0


def _mask_image(mask):
    data = np.asarray(mask.data, dtype=bool)
    if data.ndim > 2:
        data = data.reshape((-1,) + data.shape[-2:]).any(axis=0)
    return data


def lookup_exclusion(mask, wcs, frame, x, y):
    """Exclusion-mask values at reference pixels ``(x, y)``: nearest bin, True outside the mask (spec §8.1)."""
    values = np.ones(np.shape(x), dtype=bool)
    if len(values) == 0:
        return values
    data = _mask_image(mask)
    lon, lat = wcs.wcs_pix2world(np.asarray(x, float), np.asarray(y, float), 0)
    lon, lat = lonlat_to_frame(lon, lat, frame, mask.geom.frame)
    mx, my = mask.geom.wcs.wcs_world2pix(lon, lat, 0)
    with np.errstate(invalid="ignore"):
        ix = np.floor(np.asarray(mx) + 0.5)
        iy = np.floor(np.asarray(my) + 0.5)
    ny, nx = data.shape
    inside = np.isfinite(ix) & np.isfinite(iy) & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    values[inside] = data[iy[inside].astype(np.intp), ix[inside].astype(np.intp)]
    return values


class _Reference:
    """Reference TAN geometry of a finder run: WCS, shape, centre pixel and the ON region in pixels."""

    def __init__(self, region, center, binsz):
        if not hasattr(region, "center") or isinstance(region, CompoundSkyRegion):
            raise TypeError(f"the ON region must be a single sky region with a centre, got {type(region).__name__}")
        self.frame = region.center.frame.name
        c_lon, c_lat = rotated_lonlat(center, self.frame)
        r_lon, r_lat = rotated_lonlat(region.center, self.frame)
        width = 4 * float(angular_separation_deg(r_lon, r_lat, c_lon, c_lat)) + 0.3
        skydir = SkyCoord(float(c_lon), float(c_lat), unit="deg", frame=self.frame)
        self.geom = WcsGeom.create(skydir=skydir, binsz=binsz, width=width * u.deg, frame=self.frame, proj="TAN")
        self.wcs = self.geom.wcs
        self.binsz = binsz
        self.ny, self.nx = self.geom.data_shape[-2:]
        cx, cy = self.wcs.wcs_world2pix(c_lon, c_lat, 0)
        self.cx, self.cy = float(cx), float(cy)
        self.center_pix = PixCoord(self.cx, self.cy)
        if isinstance(region, CircleSkyRegion):
            x, y, radius = circle_on_wcs(region, self.wcs)
            self.region_pix = CirclePixelRegion(PixCoord(x, y), radius)
        elif isinstance(region, PointSkyRegion):
            x, y = self.wcs.wcs_world2pix(r_lon, r_lat, 0)
            self.region_pix = PointPixelRegion(PixCoord(float(x), float(y)))
        else:
            self.region_pix = region.to_pixel(self.wcs)

    def rotate_xy(self, x, y, angle):
        """Rotate pixel positions counter-clockwise by ``angle`` (rad) about the centre pixel."""
        dx, dy = x - self.cx, y - self.cy
        c, s = np.cos(angle), np.sin(angle)
        return self.cx + (c * dx - s * dy), self.cy + (s * dx + c * dy)

    def reach(self, margin):
        """Distance range (pixels) from the centre that the rotated region can cover, widened by ``margin``."""
        reg = self.region_pix
        if isinstance(reg, (CirclePixelRegion, PointPixelRegion)):
            d = np.hypot(reg.center.x - self.cx, reg.center.y - self.cy)
            radius = reg.radius if isinstance(reg, CirclePixelRegion) else 0.0
            return max(d - radius - margin, 0.0), d + radius + margin
        bbox = reg.bounding_box
        xs = np.array([bbox.ixmin, bbox.ixmax, bbox.ixmin, bbox.ixmax], float) - 0.5
        ys = np.array([bbox.iymin, bbox.iymin, bbox.iymax, bbox.iymax], float) - 0.5
        d = np.hypot(xs - self.cx, ys - self.cy)
        inside_x = bbox.ixmin - 0.5 <= self.cx <= bbox.ixmax - 0.5
        inside_y = bbox.iymin - 0.5 <= self.cy <= bbox.iymax - 0.5
        return (0.0 if inside_x or inside_y else max(d.min() - margin, 0.0)), d.max() + margin

    def excluded_pixels(self, exclusion_mask, margin=1.0):
        """Excluded reference-pixel centres ``(x, y)`` in the annulus the rotated region can reach.

        The candidates come either from the annulus itself or, when the mask has few
        excluded pixels, from the footprints of those pixels on the reference grid;
        both are then looked up in the mask with the nearest-bin rule.
        """
        if exclusion_mask is None:
            return np.zeros(0), np.zeros(0)
        r_lo, r_hi = self.reach(margin)
        data = _mask_image(exclusion_mask)
        n_false = int(data.size - np.count_nonzero(data))
        if n_false == 0:
            return np.zeros(0), np.zeros(0)
        if 8 * n_false < np.pi * (r_hi**2 - r_lo**2):
            x, y = self._footprint_candidates(exclusion_mask, data, r_lo, r_hi)
        else:
            x, y = self._annulus_candidates(r_lo, r_hi)
        keep = lookup_exclusion(exclusion_mask, self.wcs, self.frame, x, y)
        return x[~keep], y[~keep]

    def _in_annulus(self, x, y, r_lo, r_hi):
        d2 = (x - self.cx) ** 2 + (y - self.cy) ** 2
        return (d2 >= r_lo**2) & (d2 <= r_hi**2) & (x >= 0) & (x < self.nx) & (y >= 0) & (y < self.ny)

    def _annulus_candidates(self, r_lo, r_hi):
        x0, x1 = max(int(np.floor(self.cx - r_hi)), 0), min(int(np.ceil(self.cx + r_hi)), self.nx - 1)
        y0, y1 = max(int(np.floor(self.cy - r_hi)), 0), min(int(np.ceil(self.cy + r_hi)), self.ny - 1)
        if x1 < x0 or y1 < y0:
            return np.zeros(0), np.zeros(0)
        ys = np.arange(y0, y1 + 1, dtype=float)
        xs = np.arange(x0, x1 + 1, dtype=float)
        iy, ix = np.nonzero(self._in_annulus(xs[None, :], ys[:, None], r_lo, r_hi))
        return xs[ix], ys[iy]

    def _footprint_candidates(self, mask, data, r_lo, r_hi, pad=2):
        """Reference pixels within the (padded) footprints of the excluded mask pixels near the annulus."""
        iy, ix = np.nonzero(~data)
        corners_x = ix[:, None] + np.array([-0.5, 0.5, 0.5, -0.5])[None, :]
        corners_y = iy[:, None] + np.array([-0.5, -0.5, 0.5, 0.5])[None, :]
        lon, lat = mask.geom.wcs.wcs_pix2world(corners_x.ravel(), corners_y.ravel(), 0)
        lon, lat = lonlat_to_frame(lon, lat, mask.geom.frame, self.frame)
        px, py = self.wcs.wcs_world2pix(lon, lat, 0)
        px, py = np.asarray(px).reshape(-1, 4), np.asarray(py).reshape(-1, 4)
        valid = np.all(np.isfinite(px) & np.isfinite(py), axis=1)
        px, py = px[valid], py[valid]
        x_lo = np.clip(np.floor(px.min(axis=1)) - pad, 0, self.nx - 1).astype(np.intp)
        x_hi = np.clip(np.ceil(px.max(axis=1)) + pad, -1, self.nx - 1).astype(np.intp)
        y_lo = np.clip(np.floor(py.min(axis=1)) - pad, 0, self.ny - 1).astype(np.intp)
        y_hi = np.clip(np.ceil(py.max(axis=1)) + pad, -1, self.ny - 1).astype(np.intp)
        # footprints entirely outside the annulus do not matter
        dx = np.maximum(np.maximum(x_lo - self.cx, self.cx - x_hi), 0)
        dy = np.maximum(np.maximum(y_lo - self.cy, self.cy - y_hi), 0)
        far = np.maximum(np.abs(x_lo - self.cx), np.abs(x_hi - self.cx)) ** 2 + np.maximum(
            np.abs(y_lo - self.cy), np.abs(y_hi - self.cy)
        ) ** 2
        near = (x_hi >= x_lo) & (y_hi >= y_lo) & (dx**2 + dy**2 <= r_hi**2) & (far >= r_lo**2)
        x_lo, x_hi, y_lo, y_hi = x_lo[near], x_hi[near], y_lo[near], y_hi[near]
        if len(x_lo) == 0:
            return np.zeros(0), np.zeros(0)
        w, h = x_hi - x_lo + 1, y_hi - y_lo + 1
        ox, oy = np.arange(w.max()), np.arange(h.max())
        xx = x_lo[:, None, None] + ox[None, None, :]
        yy = y_lo[:, None, None] + oy[None, :, None]
        inside = (ox[None, None, :] < w[:, None, None]) & (oy[None, :, None] < h[:, None, None])
        flat = np.unique((yy * self.nx + xx)[inside])
        x, y = (flat % self.nx).astype(float), (flat // self.nx).astype(float)
        sel = self._in_annulus(x, y, r_lo, r_hi)
        return x[sel], y[sel]


def _contains_any(region_pix, x, y):
    """Whether a pixel region contains any of the pixel centres ``(x, y)``."""
    if len(x) == 0:
        return False
    if isinstance(region_pix, CirclePixelRegion):
        return bool(np.any(np.hypot(x - region_pix.center.x, y - region_pix.center.y) < region_pix.radius))
    return bool(np.any(region_pix.contains(PixCoord(x, y))))


class RegionsFinder(traitlets.HasTraits):
    """Base class of the OFF-region finders.

    Parameters
    ----------
    binsz : angle
        Pixel size of the reference geometry.
    """

    binsz = AngleTrait(0.01, positive=True)

    def __init__(self, binsz="0.01 deg", **kwargs):
        super().__init__(binsz=binsz, **kwargs)

    def run(self, region, center, exclusion_mask=None):
        """Find OFF regions.

        Parameters
        ----------
        region : `~regions.SkyRegion`
            ON region.
        center : `~astropy.coordinates.SkyCoord`
            Rotation centre (the pointing).
        exclusion_mask : `~dl3lab.reduction.maps.Map`, optional
            Boolean mask, False where regions must not fall.

        Returns
        -------
        regions : list of `~regions.SkyRegion`
            OFF regions, in order of increasing rotation angle.
        wcs : `~astropy.wcs.WCS`
            Reference WCS of the regions.
        """
        result = self.find(region, center, exclusion_mask)
        return result.regions, result.wcs

    def find(self, region, center, exclusion_mask=None):
        """Like :meth:`run`, returning an `OffRegions` that also holds circle centres and radii as arrays."""
        raise NotImplementedError

    @staticmethod
    def _result(reference, pixel_regions):
        """`OffRegions` of rotated pixel regions on the reference WCS."""
        if pixel_regions and all(isinstance(r, CirclePixelRegion) for r in pixel_regions):
            x = np.array([r.center.x for r in pixel_regions])
            y = np.array([r.center.y for r in pixel_regions])
            radius = np.array([r.radius for r in pixel_regions])
            regions, lon, lat, radius_deg = circles_to_sky(reference.wcs, reference.frame, x, y, radius)
            return OffRegions(regions, reference.wcs, (lon, lat, radius_deg))
        return OffRegions([r.to_sky(reference.wcs) for r in pixel_regions], reference.wcs, None)

    def __repr__(self):
        params = ", ".join(f"{name}={_format_value(getattr(self, name))}" for name in sorted(self.trait_names()))
        return f"{type(self).__name__}({params})"


def _rotate(reference, region_pix, angle):
    """The ON pixel region rotated by ``angle`` (rad) about the reference centre pixel."""
    if isinstance(region_pix, (CirclePixelRegion, PointPixelRegion)):
        x, y = reference.rotate_xy(region_pix.center.x, region_pix.center.y, angle)
        return region_pix.copy(center=PixCoord(float(x), float(y)))
    return region_pix.rotate(reference.center_pix, Angle(angle, "rad"))


class ReflectedRegionsFinder(RegionsFinder):
    """Find reflected OFF regions around a rotation centre (spec §8.2).

    Parameters
    ----------
    angle_increment : angle
        Rotation step applied after a candidate touched an excluded pixel (positive).
    min_distance : angle
        Minimum rotation angle between two consecutive OFF regions.
    min_distance_input : angle
        Minimum rotation angle between the ON region and the first OFF region.
    max_region_number : int
        Maximum number of OFF regions.
    binsz : angle
        Pixel size of the reference geometry.
    """

    angle_increment = AngleTrait(0.1, positive=True, unit="rad")
    min_distance = AngleTrait(0.0, unit="rad")
    min_distance_input = AngleTrait(0.1, unit="rad")
    max_region_number = traitlets.Int(10000, min=1)

    def __init__(
        self,
        angle_increment="0.1 rad",
        min_distance="0 rad",
        min_distance_input="0.1 rad",
        max_region_number=10000,
        binsz="0.01 deg",
    ):
        super().__init__(
            binsz=binsz,
            angle_increment=angle_increment,
            min_distance=min_distance,
            min_distance_input=min_distance_input,
            max_region_number=max_region_number,
        )

    @staticmethod
    def _angular_size(reference, region):
        """Angular extent (rad) seen from the centre of the reference pixels inside the ON region."""
        ixmin, ixmax, iymin, iymax = _region_bbox(reference, region)
        ys, xs = np.mgrid[iymin:iymax, ixmin:ixmax]
        reg = reference.region_pix
        if isinstance(reg, CirclePixelRegion):
            inside = np.hypot(xs - reg.center.x, ys - reg.center.y) < reg.radius
        else:
            inside = np.asarray(reg.contains(PixCoord(xs, ys)), dtype=bool)
        if not inside.any():
            raise ValueError("the ON region contains no pixel centre of the reference geometry; decrease binsz")
        angles = np.arctan2(reference.cx - xs[inside], reference.cy - ys[inside])
        size = angles.max() - angles.min()
        if size > np.pi:
            wrapped = np.where(angles >= 0, angles - FULL_CIRCLE, angles)
            size = wrapped.max() - wrapped.min()
        return size

    def find(self, region, center, exclusion_mask=None):
        """Reflected regions of ``region`` about ``center`` (see :meth:`RegionsFinder.run`).

        Raises
        ------
        TypeError
            For a point region (use `WobbleRegionsFinder`).
        """
        if isinstance(region, PointSkyRegion):
            raise TypeError("ReflectedRegionsFinder does not work with PointSkyRegion; use WobbleRegionsFinder")
        reference = _Reference(region, center, self.binsz.to_value("deg"))
        ex_x, ex_y = reference.excluded_pixels(exclusion_mask)
        size = self._angular_size(reference, region)
        angle_min = size + self.min_distance.to_value("rad")
        min_input = self.min_distance_input.to_value("rad")
        angle_max = FULL_CIRCLE - angle_min - min_input
        increment = self.angle_increment.to_value("rad")
        found = []
        angle = angle_min + min_input
        while angle < angle_max:
            candidate = _rotate(reference, reference.region_pix, angle)
            if not _contains_any(candidate, ex_x, ex_y):
                found.append(candidate)
                if len(found) >= self.max_region_number:
                    break
                angle += angle_min
            else:
                angle += increment
        return self._result(reference, found)


def _region_bbox(reference, region):
    """Pixel bounding box of the ON region on the reference grid, clipped to it."""
    reg = reference.region_pix
    if isinstance(reg, CirclePixelRegion):
        x, y, r = reg.center.x, reg.center.y, reg.radius
        ixmin, ixmax = int(np.floor(x - r + 0.5)), int(np.floor(x + r + 0.5)) + 1
        iymin, iymax = int(np.floor(y - r + 0.5)), int(np.floor(y + r + 0.5)) + 1
    else:
        ixmin, ixmax, iymin, iymax = pixel_bbox(region, reference.wcs)
    return max(ixmin, 0), min(ixmax, reference.nx), max(iymin, 0), min(iymax, reference.ny)


class WobbleRegionsFinder(RegionsFinder):
    """Place ``n_off_regions`` OFF regions symmetrically on the circle through the ON region (spec §8.3).

    Candidates touching an excluded pixel are dropped; if two of the remaining
    extended regions share a reference pixel, no region is returned (with a warning).

    Parameters
    ----------
    n_off_regions : int
        Number of OFF positions (at angles ``i 2 pi / (n + 1)``, ``i = 1..n``).
    binsz : angle
        Pixel size of the reference geometry.
    """

    n_off_regions = traitlets.Int(min=1)

    def __init__(self, n_off_regions, binsz="0.01 deg"):
        super().__init__(binsz=binsz, n_off_regions=n_off_regions)

    def find(self, region, center, exclusion_mask=None):
        """Symmetric OFF regions of ``region`` about ``center`` (see :meth:`RegionsFinder.run`)."""
        reference = _Reference(region, center, self.binsz.to_value("deg"))
        is_point = isinstance(region, PointSkyRegion)
        ex_x, ex_y = reference.excluded_pixels(exclusion_mask, margin=1.0)
        n_positions = self.n_off_regions + 1
        increment = FULL_CIRCLE / n_positions
        found = []
        for i in range(1, n_positions):
            candidate = _rotate(reference, reference.region_pix, i * increment)
            if is_point:
                cx, cy = candidate.center.x, candidate.center.y
                excluded = len(ex_x) > 0 and bool(np.any(np.hypot(ex_x - cx, ex_y - cy) < 1))
            else:
                excluded = _contains_any(candidate, ex_x, ex_y)
            if not excluded:
                found.append(candidate)
        if not is_point and self._are_regions_overlapping(found, reference):
            warnings.warn("Found overlapping OFF regions, returning no regions", stacklevel=3)
            return OffRegions([], reference.wcs, None)
        if is_point:
            regions = [PointSkyRegion(reference.wcs.pixel_to_world(r.center.x, r.center.y)) for r in found]
            return OffRegions(regions, reference.wcs, None)
        return self._result(reference, found)

    @staticmethod
    def _are_regions_overlapping(regions, reference):
        """Whether two regions share a reference pixel (pixel-centre masks on the reference grid)."""
        shape = (reference.ny, reference.nx)
        masks = [region.to_mask().to_image(shape) for region in regions]
        masks = [np.zeros(shape, bool) if m is None else m > 0 for m in masks]
        return any(np.any(a & b) for a, b in combinations(masks, 2))
