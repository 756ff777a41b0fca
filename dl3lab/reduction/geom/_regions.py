"""Sky-region helpers: parsing, pixel containment, bounding boxes and areas on a WCS.

Circles are converted to pixels here rather than by the ``regions`` package:
the pixel radius is the sky radius divided by the local pixel scale measured
along a 1 arcsec step to the north of the centre, and a pixel is inside when
its pixel distance to the centre is strictly less than that radius (spec §2.6,
§2.7; this is what Gammapy 2.1 with regions 0.10 computes). Other shapes use
the ``regions`` pixel regions.
"""

import functools
import operator

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import (
    CircleAnnulusSkyRegion,
    CirclePixelRegion,
    CircleSkyRegion,
    CompoundPixelRegion,
    CompoundSkyRegion,
    EllipseSkyRegion,
    PixCoord,
    PixelRegion,
    PointSkyRegion,
    RectangleSkyRegion,
    Regions,
    SkyRegion,
)

from ._utils import angular_separation_deg

__all__ = [
    "parse_regions",
    "regions_to_compound",
    "compound_to_regions",
    "contains_pix",
    "region_mask_image",
    "pixel_bbox",
    "pixel_area",
    "pixel_scale_north",
    "compound_center",
    "count_pixels",
    "sky_to_pixel_region",
    "pixel_to_sky_region",
]


def parse_regions(regions):
    """List of regions from a region, a list of regions, a `~regions.Regions` or a DS9 string."""
    if regions is None:
        return []
    if isinstance(regions, str):
        return list(Regions.parse(regions, format="ds9"))
    if isinstance(regions, (SkyRegion, PixelRegion)):
        return [regions]
    out = []
    for reg in regions:
        out.extend(parse_regions(reg))
    return out


def regions_to_compound(regions):
    """Union of several regions (a single region is returned unchanged)."""
    regions = parse_regions(regions)
    if not regions:
        return None
    return functools.reduce(operator.or_, regions)


def compound_to_regions(region):
    """Flatten a compound region into its component regions."""
    if isinstance(region, (CompoundSkyRegion, CompoundPixelRegion)):
        return compound_to_regions(region.region1) + compound_to_regions(region.region2)
    return [region]


def pixel_scale_north(skycoord, wcs, offset_arcsec=1.0):
    """Pixel position and local scale (arcsec per pixel) along a northward step.

    Returns
    -------
    x, y : float
        0-based pixel position of ``skycoord``.
    scale : float
        ``offset / |Δpix|`` in arcsec per pixel.
    """
    x, y = wcs.world_to_pixel(skycoord)
    north = skycoord.directional_offset_by(0.0 * u.deg, offset_arcsec * u.arcsec)
    xn, yn = wcs.world_to_pixel(north)
    return float(x), float(y), offset_arcsec / float(np.hypot(xn - x, yn - y))


def _circle_pixel(region, wcs):
    x, y, scale = pixel_scale_north(region.center, wcs)
    radius = region.radius.to_value("deg") / scale * 3600.0
    return x, y, radius


def sky_to_pixel_region(region, wcs):
    """Pixel region of a sky region on ``wcs`` (circles with the northward pixel scale)."""
    if isinstance(region, PixelRegion):
        return region
    if isinstance(region, CircleSkyRegion):
        x0, y0, radius = _circle_pixel(region, wcs)
        return CirclePixelRegion(PixCoord(x0, y0), radius, meta=region.meta.copy())
    return region.to_pixel(wcs)


def pixel_to_sky_region(region, wcs):
    """Sky region of a pixel region on ``wcs`` (inverse of :func:`sky_to_pixel_region`)."""
    if isinstance(region, CirclePixelRegion):
        center = wcs.pixel_to_world(region.center.x, region.center.y)
        _, _, scale = pixel_scale_north(center, wcs)
        radius = u.Quantity(region.radius * scale, "arcsec").to("deg")
        return CircleSkyRegion(center, radius, meta=region.meta.copy())
    return region.to_sky(wcs)


def contains_pix(region, wcs, x, y):
    """Whether pixel positions ``(x, y)`` (0-based) are inside ``region`` on ``wcs``.

    Point regions contain no pixel; compound regions combine their parts with
    their operator.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if isinstance(region, CompoundSkyRegion):
        return region.operator(
            contains_pix(region.region1, wcs, x, y), contains_pix(region.region2, wcs, x, y)
        )
    if isinstance(region, CircleSkyRegion):
        x0, y0, radius = _circle_pixel(region, wcs)
        inside = np.hypot(x - x0, y - y0) < radius
    elif isinstance(region, PointSkyRegion):
        inside = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=bool)
    else:
        pix_region = region if isinstance(region, PixelRegion) else region.to_pixel(wcs)
        inside = np.asarray(pix_region.contains(PixCoord(*np.broadcast_arrays(x, y))), dtype=bool)
    if not region.meta.get("include", True):
        inside = ~inside
    return inside


def pixel_bbox(region, wcs):
    """Integer pixel bounding box ``(ixmin, ixmax, iymin, iymax)`` (max exclusive) on ``wcs``."""
    if isinstance(region, CompoundSkyRegion):
        boxes = [pixel_bbox(reg, wcs) for reg in compound_to_regions(region)]
        boxes = np.array(boxes)
        return int(boxes[:, 0].min()), int(boxes[:, 1].max()), int(boxes[:, 2].min()), int(boxes[:, 3].max())
    if isinstance(region, CircleSkyRegion):
        x0, y0, radius = _circle_pixel(region, wcs)
        xmin, xmax, ymin, ymax = x0 - radius, x0 + radius, y0 - radius, y0 + radius
    elif isinstance(region, PointSkyRegion):
        x0, y0 = wcs.world_to_pixel(region.center)
        xmin = xmax = float(x0)
        ymin = ymax = float(y0)
    else:
        pix_region = region if isinstance(region, PixelRegion) else region.to_pixel(wcs)
        bbox = pix_region.bounding_box
        return int(bbox.ixmin), int(bbox.ixmax), int(bbox.iymin), int(bbox.iymax)
    return (
        int(np.floor(xmin + 0.5)),
        int(np.floor(xmax + 0.5)) + 1,
        int(np.floor(ymin + 0.5)),
        int(np.floor(ymax + 0.5)) + 1,
    )


def region_mask_image(regions, wcs, shape):
    """Boolean image (``shape = (ny, nx)``) of pixels whose centre is inside any extended region.

    Only the pixels inside each region's bounding box are tested.
    """
    ny, nx = shape
    mask = np.zeros(shape, dtype=bool)
    for region in regions:
        try:
            ixmin, ixmax, iymin, iymax = pixel_bbox(region, wcs)
            valid = np.all(np.isfinite([ixmin, ixmax, iymin, iymax]))
        except (ValueError, TypeError, AttributeError):
            valid = False
        if not valid:
            ixmin, ixmax, iymin, iymax = 0, nx, 0, ny
        ixmin, ixmax = max(ixmin, 0), min(ixmax, nx)
        iymin, iymax = max(iymin, 0), min(iymax, ny)
        if ixmax <= ixmin or iymax <= iymin:
            continue
        ys, xs = np.mgrid[iymin:iymax, ixmin:ixmax]
        mask[iymin:iymax, ixmin:ixmax] |= contains_pix(region, wcs, xs, ys)
    return mask


def pixel_area(region, wcs):
    """Area of a (non-compound) region in pixels of ``wcs``.

    Circles, annuli, rectangles and ellipses are scaled with the northward
    pixel scale at their centre; other shapes use ``regions``.
    """
    if isinstance(region, CircleSkyRegion):
        _, _, radius = _circle_pixel(region, wcs)
        return np.pi * radius**2
    if isinstance(region, PointSkyRegion):
        return 0.0
    if isinstance(region, (CircleAnnulusSkyRegion, RectangleSkyRegion, EllipseSkyRegion)):
        _, _, scale = pixel_scale_north(region.center, wcs)

        def to_pix(angle):
            return angle.to_value("deg") / scale * 3600.0

        if isinstance(region, CircleAnnulusSkyRegion):
            return np.pi * (to_pix(region.outer_radius) ** 2 - to_pix(region.inner_radius) ** 2)
        area = to_pix(region.width) * to_pix(region.height)
        return area if isinstance(region, RectangleSkyRegion) else np.pi * area / 4.0
    return float(region.to_pixel(wcs).area)


def compound_center(region):
    """Centre of a compound region: geometric median of its parts' centres (ICRS).

    The sum of angular distances is minimised with L-BFGS-B, starting from
    the mean position and bounded by the parts' RA/Dec range (as Gammapy
    does; for two parts any point between them is a minimum).
    """
    from scipy.optimize import Bounds, minimize

    parts = compound_to_regions(region)
    if len(parts) == 1:
        return parts[0].center
    centers = SkyCoord([reg.center.icrs for reg in parts])
    ra = centers.ra.wrap_at("180d").deg
    dec = centers.dec.deg

    def total_distance(x):
        return np.sum(angular_separation_deg(x[0], x[1], ra, dec))

    upper = np.array([ra.max(), dec.max()])
    lower = np.array([ra.min(), dec.min()])
    bounds = None if np.all(upper == lower) else Bounds(ub=upper, lb=lower)
    result = minimize(total_distance, x0=[ra.mean(), dec.mean()], bounds=bounds, method="L-BFGS-B")
    return SkyCoord(result.x[0], result.x[1], unit="deg", frame="icrs")


def count_pixels(region, wcs):
    """Number of pixel centres of ``wcs`` inside ``region`` (over its whole bounding box, not clipped)."""
    ixmin, ixmax, iymin, iymax = pixel_bbox(region, wcs)
    ys, xs = np.mgrid[iymin:iymax, ixmin:ixmax]
    return int(np.count_nonzero(contains_pix(region, wcs, xs, ys)))
