"""Cutouts and region masks of :class:`~dl3lab.reduction.geom.WcsGeom` (spec §2.4, §2.7)."""

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from ._regions import parse_regions, region_mask_image
from ._utils import overlap_slices, parse_angle_pair, rotated_lonlat, round_up_to_odd

__all__ = ["WcsCutoutMaskMixin"]


class WcsCutoutMaskMixin:
    """Cutout and region-mask methods of `WcsGeom`."""

    # ------------------------------------------------------------ masks
    def region_mask(self, regions, inside=True):
        """Boolean map of the pixels whose centre lies in any of ``regions`` (spec §2.7).

        Parameters
        ----------
        regions : str, region or list of regions
            Sky regions (or a DS9 string). Point regions mark the (up to four)
            pixels within one pixel of the point in both directions.
        inside : bool
            With False, the mask is negated (exclusion-mask convention).

        Returns
        -------
        mask : `~dl3lab.reduction.maps.Map`
            Boolean map of this geometry.
        """
        from regions import PointSkyRegion

        from ..maps import Map

        regions = parse_regions(regions)
        ny, nx = self._spatial_shape
        image = np.zeros((ny, nx), dtype=bool)
        extended = []
        for reg in regions:
            if isinstance(reg, PointSkyRegion):
                x0, y0 = self._wcs.world_to_pixel(reg.center)
                x, y = self._spatial_pix("center")
                image |= (np.abs(x - x0) < 1) & (np.abs(y - y0) < 1)
            else:
                extended.append(reg)
        if extended:
            image |= region_mask_image(extended, self._wcs, (ny, nx))
        if not inside:
            image = ~image
        data = np.broadcast_to(image, self.data_shape).copy()
        return Map.from_geom(self, data=data)

    def region_weights(self, regions, oversampling_factor=10):
        """Fraction of every pixel inside ``regions`` (float map of the image geometry)."""
        from ..maps import Map

        fine = self.to_image().upsample(oversampling_factor)
        mask = fine.region_mask(regions).data.astype(float)
        ny, nx = self._spatial_shape
        f = int(oversampling_factor)
        weights = mask.reshape(ny, f, nx, f).mean(axis=(1, 3))
        return Map.from_geom(self.to_image(), data=weights)

    # --------------------------------------------------------------- cutout
    def cutout(self, position, width, mode="trim", odd_npix=False, min_npix=1):
        """Cut out a geometry around ``position`` (astropy ``Cutout2D`` semantics, spec §2.4).

        Parameters
        ----------
        position : `~astropy.coordinates.SkyCoord` or tuple of float (deg, geometry frame)
            Centre of the cutout.
        width : float, str, Quantity or pair
            Angular size ``(lon, lat)``; ``n = round_half_even(width / pixel_scale)``.
        mode : {"trim", "partial", "strict"}
            ``"trim"`` keeps only the overlap.
        odd_npix : bool
            Round the number of pixels up to an odd number.
        min_npix : int
            Minimum number of pixels per axis.

        Raises
        ------
        NoOverlapError
            If the cutout does not overlap the geometry.
        """
        return self._cutout_and_slices(position, width, mode=mode, odd_npix=odd_npix, min_npix=min_npix)[0]

    def _cutout_and_slices(self, position, width, mode="trim", odd_npix=False, min_npix=1):
        """:meth:`cutout` and the ``(parent_slices, cutout_slices)`` (y, x) of its pixels in this geometry."""
        width = np.array(parse_angle_pair(width))
        npix = np.clip(width / self.pixel_scales.to_value("deg"), min_npix, None)
        if odd_npix:
            npix = round_up_to_odd(npix)
        shape = (int(np.round(npix[1])), int(np.round(npix[0])))
        x, y = self._position_pix(position)
        large, small = overlap_slices(self._spatial_shape, shape, (y, x), mode=mode)
        if mode == "trim":
            new_shape = (large[0].stop - large[0].start, large[1].stop - large[1].start)
            shift = (large[1].start, large[0].start)
            small = (slice(0, new_shape[0]), slice(0, new_shape[1]))
        else:
            new_shape = shape
            shift = (large[1].start - small[1].start, large[0].start - small[0].start)
        if shift == (0, 0) and new_shape == self._spatial_shape:
            # The cutout covers this geometry exactly: it shares the sky grid (WCS and caches).
            return self._init_copy(axes=self._axes), (large, small)
        wcs = self._wcs.deepcopy()
        wcs.wcs.crpix = np.asarray(wcs.wcs.crpix, dtype=float) - np.array(shift, dtype=float)
        cut = self.__class__(wcs, npix=(new_shape[1], new_shape[0]), axes=self._axes, _own_wcs=True)
        return cut, (large, small)

    def _position_pix(self, position):
        if isinstance(position, SkyCoord):
            lon, lat = rotated_lonlat(position, self._frame)
        else:
            lon, lat = (u.Quantity(v, "deg").value for v in position)
        x, y = self._wcs.wcs_world2pix(np.ravel(lon)[:1], np.ravel(lat)[:1], 0)
        return float(x[0]), float(y[0])

    def overlap_slices(self, parent, mode="partial"):
        """Spatial slices of this (cutout) geometry inside a ``parent`` geometry.

        The child's centre is located in the parent's pixel grid and the
        slices follow spec §2.4 (used for stacking, spec §10.1).

        Returns
        -------
        parent_slices, cutout_slices : tuple of slice
            ``(slice_y, slice_x)`` for the parent and for this geometry.
        """
        x, y = parent._position_pix(self.center_skydir)
        return overlap_slices(parent._spatial_shape, self._spatial_shape, (y, x), mode=mode)

    def cutout_slices(self, geom, mode="partial"):
        """Gammapy-style dict ``{"parent-slices", "cutout-slices"}`` of :meth:`overlap_slices`."""
        parent, cutout = self.overlap_slices(geom, mode=mode)
        return {"parent-slices": parent, "cutout-slices": cutout}

