"""Region geometry: one spatial bin defined by a sky region, plus non-spatial axes (spec §2.6)."""

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.wcs.utils import proj_plane_pixel_area
from regions import CompoundSkyRegion, PointSkyRegion

from ._regions import (
    compound_center,
    compound_to_regions,
    contains_pix,
    count_pixels,
    pixel_area,
    pixel_bbox,
    pixel_scale_north,
    regions_to_compound,
)
from ._utils import angular_separation_deg, frame_from_wcs, parse_angle_pair, skycoord_lonlat
from .base import Geom, _as_axes, pix_to_idx_array
from .coord import MapCoord
from .wcs import WcsGeom

__all__ = ["RegionGeom"]


class RegionGeom(Geom):
    """Geometry with a single spatial bin given by a sky region.

    A helper TAN WCS centred on the region (pixel size ``binsz_wcs``, just
    large enough for the region's pixel bounding box) is used for containment
    tests and areas.

    Parameters
    ----------
    region : `~regions.SkyRegion` or None
        The region; None for a point-like geometry without position.
    axes : list of MapAxis, optional
        Non-spatial axes.
    wcs : `~astropy.wcs.WCS`, optional
        Helper WCS; built around the region when omitted.
    binsz_wcs : str or Quantity
        Pixel size of the helper WCS.
    """

    is_region = True
    projection = "TAN"

    def __init__(self, region, axes=None, wcs=None, binsz_wcs="0.1 deg"):
        self._region = region
        self._axes = _as_axes(axes)
        self._binsz_wcs = u.Quantity(binsz_wcs, "deg")
        self._cache = {}
        if wcs is None and region is not None:
            center = compound_center(region) if isinstance(region, CompoundSkyRegion) else region.center
            frame = center.frame.name
            binsz = self._binsz_wcs.to_value("deg")
            # first an all-sky helper to measure the region, then one just covering it
            probe = WcsGeom.create(binsz=binsz, skydir=center, proj="TAN", frame=frame).wcs
            width = self._bbox_width(probe)
            wcs = WcsGeom.create(binsz=binsz, width=width, skydir=center, proj="TAN", frame=frame).wcs
        self._wcs = wcs

    @classmethod
    def create(cls, region, axes=None, wcs=None, binsz_wcs="0.1 deg", frame=None):
        """Create from a region, a list of regions (their union), a DS9 string or None.

        ``frame`` is accepted for compatibility; the helper WCS uses the region's frame.
        """
        if region is not None:
            region = regions_to_compound(region)
        return cls(region, axes=axes, wcs=wcs, binsz_wcs=binsz_wcs)

    @classmethod
    def from_regions(cls, regions, **kwargs):
        """Geometry of the union of ``regions``."""
        return cls.create(regions, **kwargs)

    def _init_copy(self, **kwargs):
        params = dict(region=self._region, axes=self._axes, wcs=self._wcs, binsz_wcs=self._binsz_wcs)
        params.update(kwargs)
        return self.__class__(**params)

    def copy(self, **kwargs):
        """Copy, optionally replacing ``region``, ``axes``, ``wcs`` or ``binsz_wcs``."""
        return self._init_copy(**kwargs)

    # ------------------------------------------------------------ properties
    @property
    def region(self):
        """The sky region."""
        return self._region

    @property
    def wcs(self):
        """Helper WCS."""
        return self._wcs

    @property
    def binsz_wcs(self):
        """Pixel size of the helper WCS (Quantity)."""
        return self._binsz_wcs

    @property
    def frame(self):
        """Sky frame of the region (``"icrs"`` without region)."""
        if self._region is None:
            return "icrs"
        if isinstance(self._region, CompoundSkyRegion) and self._wcs is not None:
            return frame_from_wcs(self._wcs)
        return compound_to_regions(self._region)[0].center.frame.name

    @property
    def _spatial_shape(self):
        return (1, 1)

    @property
    def npix(self):
        """``(1, 1)``: a single spatial bin."""
        return (1, 1)

    @property
    def is_all_point_sky_regions(self):
        """Whether every part of the region is a `~regions.PointSkyRegion`."""
        if self._region is None:
            return True
        return all(isinstance(reg, PointSkyRegion) for reg in compound_to_regions(self._region))

    def _pixel_bbox(self, wcs):
        return pixel_bbox(self._region, wcs)

    def _bbox_width(self, wcs):
        """Sky size (deg) of the region's pixel bounding box on ``wcs``."""
        ixmin, ixmax, iymin, iymax = self._pixel_bbox(wcs)
        xc, yc = 0.5 * (ixmin + ixmax - 1), 0.5 * (iymin + iymax - 1)
        center = wcs.pixel_to_world(xc, yc)
        _, _, scale = pixel_scale_north(center, wcs)
        width = max(ixmax - ixmin, 1) * scale / 3600.0
        height = max(iymax - iymin, 1) * scale / 3600.0
        return width, height

    @property
    def width(self):
        """Size of the region's bounding box (Quantity, deg, ``(lon, lat)``)."""
        if self._region is None:
            raise ValueError("a region is required")
        return u.Quantity(self._bbox_width(self._wcs), "deg")

    @property
    def center_skydir(self):
        """Centre of the region's pixel bounding box on the helper WCS."""
        if self._region is None:
            return SkyCoord(np.nan, np.nan, unit="deg", frame="icrs")
        if "center" not in self._cache:
            ixmin, ixmax, iymin, iymax = self._pixel_bbox(self._wcs)
            xc, yc = 0.5 * (ixmin + ixmax - 1), 0.5 * (iymin + iymax - 1)
            lon, lat = self._wcs.wcs_pix2world(xc, yc, 0)
            self._cache["center"] = SkyCoord(float(lon), float(lat), unit="deg", frame=self.frame)
        return self._cache["center"]

    @property
    def center_pix(self):
        """Pixel coordinates of the centre (spatial ``(0, 0)``)."""
        return (0.0, 0.0) + self._axes_center_pix()

    @property
    def center_coord(self):
        """``(lon, lat, *axis values)`` of the centre."""
        sky = self.center_skydir
        lon, lat = skycoord_lonlat(sky, self.frame) if self._region is not None else (np.nan, np.nan)
        coords = (u.Quantity(lon, "deg"), u.Quantity(lat, "deg"))
        return coords + tuple(ax.pix_to_coord(p) for ax, p in zip(self._axes, self._axes_center_pix()))

    # ------------------------------------------------------------ geometry
    def contains(self, coords):
        """Whether sky positions are inside the region (spec §2.6).

        Parameters
        ----------
        coords : SkyCoord, `MapCoord`, dict or tuple
        """
        if self._region is None:
            raise ValueError("a region is required")
        coords = MapCoord.create(coords, frame=frame_from_wcs(self._wcs), axis_names=self._axes.names)
        shape = np.broadcast_shapes(coords.lon.shape, coords.lat.shape)
        if self.is_all_point_sky_regions:
            return np.ones(shape, dtype=bool)
        lon, lat = np.broadcast_arrays(coords.lon.to_value("deg"), coords.lat.to_value("deg"))
        x, y = self._wcs.wcs_world2pix(lon, lat, 0) if lon.size else (lon, lat)
        return contains_pix(self._region, self._wcs, x, y)

    def contains_wcs_pix(self, pix):
        """Whether pixel positions of the helper WCS are inside the region."""
        x, y = pix[0], pix[1]
        if self.is_all_point_sky_regions:
            return np.ones(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=bool)
        return contains_pix(self._region, self._wcs, x, y)

    def separation(self, position):
        """Angular distance between the centre and ``position`` (Angle, deg)."""
        lon0, lat0 = skycoord_lonlat(self.center_skydir, self.frame)
        lon, lat = skycoord_lonlat(position, self.frame)
        return Angle(angular_separation_deg(lon0, lat0, lon, lat), "deg")

    def solid_angle(self):
        """Solid angle of the region (Quantity, sr).

        Pixel-region area times the helper pixel area; compound regions are
        rasterised with pixels ten times smaller than ``binsz_wcs``.
        """
        if self._region is None:
            raise ValueError("a region is required")
        if isinstance(self._region, CompoundSkyRegion):
            fine = RegionGeom(self._region, binsz_wcs=self._binsz_wcs / 10.0)
            area = count_pixels(self._region, fine.wcs) / 100.0
        else:
            area = pixel_area(self._region, self._wcs)
        pixel_deg2 = proj_plane_pixel_area(self._wcs)
        return u.Quantity(area * pixel_deg2, "deg2").to("sr")


    def to_wcs_geom(self, width_min=None):
        """Smallest WCS geometry on the helper WCS that contains the region, with this geometry's axes."""
        width = self.width.to_value("deg")
        if width_min is not None:
            width = np.maximum(width, parse_angle_pair(width_min))
        base = WcsGeom(self._wcs)
        geom = base.cutout(position=self.center_skydir, width=tuple(width))
        return geom.to_cube(self._axes)

    def to_binsz(self, binsz):
        """Return self (the single region bin has no pixel size; used for IRF geometries)."""
        return self

    def to_binsz_wcs(self, binsz):
        """Copy whose helper WCS has pixel size ``binsz``."""
        return RegionGeom(self._region, axes=self._axes, binsz_wcs=binsz)

    def get_wcs_coord_and_weights(self, factor=10):
        """Coordinates of the helper-WCS pixels overlapping the region and their weights.

        Each pixel's weight is the fraction of its ``factor x factor``
        sub-pixels whose centre lies in the region; pixels with weight 0 are
        dropped.

        Returns
        -------
        coords : `MapCoord`
            ``lon``/``lat`` of shape ``(k,)``; axis values shaped
            ``(..., n_axis, 1)`` so that they broadcast against ``(k,)``.
        weights : ndarray
            Shape ``(k,)``.
        """
        wcs_geom = self.to_wcs_geom()
        weights = wcs_geom.to_image().region_weights([self._region], oversampling_factor=factor).data
        mask = weights > 0
        lon, lat = wcs_geom._spatial_world("center")
        data = {"lon": lon[mask], "lat": lat[mask]}
        for name, values in self._axes_coords().items():
            data[name] = values.reshape(values.shape[:-2] + (1,))
        return MapCoord(data, frame=wcs_geom.frame), weights[mask]

    # ------------------------------------------------------------ pix/coords
    def get_idx(self):
        """Index arrays ``(ix, iy, i_axis1, ...)`` broadcast to the data shape (float)."""
        grids = np.meshgrid(*[np.arange(n, dtype=float) for n in self.data_shape], indexing="ij")
        return tuple(grids[::-1])

    def get_coord(self, mode="center", frame=None, sparse=False, axis_name=None):
        """Coordinates of all bins: the region centre and the axis centres (or edges of ``axis_name``)."""
        if mode == "edges" and axis_name is None:
            raise ValueError("mode='edges' requires an axis_name")
        if self._region is None:
            lon = lat = np.full((1,) * (len(self._axes) + 2), np.nan)
        else:
            lon, lat = skycoord_lonlat(self.center_skydir, self.frame)
            lon = np.full((1,) * (len(self._axes) + 2), lon)
            lat = np.full((1,) * (len(self._axes) + 2), lat)
        data = {"lon": lon, "lat": lat}
        data.update(self._axes_coords(mode=mode, axis_name=axis_name))
        coords = MapCoord(data, frame=self.frame)
        if not sparse:
            coords = coords.broadcasted
        if frame is not None and frame != self.frame:
            coords = coords.to_frame(frame)
        return coords

    def coord_to_pix(self, coords):
        """Pixel coordinates: spatial ``0`` inside the region and NaN outside, then the axes.

        Missing sky coordinates default to the region centre.
        """
        if isinstance(coords, dict) and not any(k in coords for k in ("lon", "lat", "skycoord")):
            coords = dict(coords, skycoord=self.center_skydir)
        elif isinstance(coords, (tuple, list)) and len(coords) == len(self._axes):
            coords = (self.center_skydir,) + tuple(coords)
        coords = MapCoord.create(coords, frame=self.frame, axis_names=self._axes.names)
        axes_pix = self._axes_coord_to_pix(coords)
        shape = np.broadcast_shapes(coords.lon.shape, coords.lat.shape)
        if self._region is None:
            x = np.zeros(shape)
        else:
            inside = self.contains(coords)
            x = np.where(inside, 0.0, np.nan)
        return tuple(np.broadcast_arrays(x, x.copy(), *axes_pix))

    def pix_to_coord(self, pix):
        """Coordinates of pixel positions (spatial: the centre for ``|p| < 0.5``, else NaN)."""
        lon0, lat0 = (np.nan, np.nan)
        if self._region is not None:
            lon0, lat0 = skycoord_lonlat(self.center_skydir, self.frame)
        x, y = np.asarray(pix[0], dtype=float), np.asarray(pix[1], dtype=float)
        lon = np.where((x > -0.5) & (x < 0.5), lon0, np.nan)
        lat = np.where((y > -0.5) & (y < 0.5), lat0, np.nan)
        out = [u.Quantity(lon, "deg"), u.Quantity(lat, "deg")]
        out += [ax.pix_to_coord(p) for ax, p in zip(self._axes, pix[2:])]
        return tuple(out)

    def pix_to_idx(self, pix, clip=False):
        """Bin indices; spatial indices are -1 only for non-finite (outside-region) pixels."""
        idx = [pix_to_idx_array(pix[0]), pix_to_idx_array(pix[1])]
        idx += self._axes_pix_to_idx(pix[2:], clip=clip)
        return tuple(idx)

    def upsample(self, factor, axis_name):
        """Split the bins of a non-spatial axis."""
        return self._resample_axis(int(factor), axis_name, up=True)

    def downsample(self, factor, axis_name):
        """Merge the bins of a non-spatial axis."""
        return self._resample_axis(int(factor), axis_name, up=False)

    def cutout(self, *args, **kwargs):
        """Return self (a region geometry has a single spatial bin)."""
        return self

    # ------------------------------------------------------------ comparison
    def is_allclose(self, other, rtol_axes=1e-6, atol_axes=1e-6):
        """Whether two region geometries have the same shape and axes (regions are not compared)."""
        if not isinstance(other, RegionGeom):
            return False
        return self.data_shape == other.data_shape and self._axes_equal(other, rtol_axes, atol_axes)

    def __repr__(self):
        name = type(self._region).__name__ if self._region is not None else None
        return f"RegionGeom(region={name}, axes={self._axes.names}, frame={self.frame!r})"
