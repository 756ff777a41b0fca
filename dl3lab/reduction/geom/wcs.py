"""WCS map geometry: :class:`WcsGeom` (spec §2.2–§2.5, §2.7)."""

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from ..axes import MapAxes
from ._bands import axes_from_header, axes_to_header
from ._utils import (
    angular_separation_deg,
    frame_from_wcs,
    make_celestial_wcs,
    parse_angle_pair,
    pixel_solid_angles,
    skycoord_lonlat,
    wcs_from_state,
    wcs_state,
)
from ._wcs_ops import WcsCutoutMaskMixin
from .base import Geom, _as_axes, pix_to_idx_array
from .coord import MapCoord

__all__ = ["WcsGeom"]


class WcsGeom(WcsCutoutMaskMixin, Geom):
    """Geometry of a map with a celestial WCS projection plus non-spatial axes.

    Parameters
    ----------
    wcs : `~astropy.wcs.WCS`
        Two-dimensional celestial WCS; it is copied.
    npix : pair of int, optional
        ``(nx, ny)``; taken from the WCS pixel shape when omitted.
    axes : list of `~dl3lab.reduction.axes.MapAxis`, optional
        Non-spatial axes.
    """

    def __init__(self, wcs, npix=None, axes=None, _share=None, _own_wcs=False):
        if _share is not None:
            # A copy with other non-spatial axes: the sky grid (WCS and its caches) is shared.
            self._wcs, self._npix, self._frame, self._cache = _share
            self._axes = _as_axes(axes)
            return
        if not _own_wcs:  # a WCS made for this geometry alone (e.g. by a cutout) needs no copy
            wcs = wcs.deepcopy()
        if npix is None:
            if wcs.pixel_shape is None:
                raise ValueError("npix is required when the WCS has no pixel shape")
            npix = wcs.pixel_shape
        if np.ndim(npix) == 0:
            npix = (npix, npix)
        nx, ny = (int(np.ravel(n)[0]) for n in npix)
        wcs.array_shape = (ny, nx)
        self._wcs = wcs
        self._npix = (nx, ny)
        self._axes = _as_axes(axes)
        self._frame = frame_from_wcs(wcs)
        self._cache = {}

    def __getstate__(self):
        # The caches are derived (and may hold large arrays); the WCS travels as its keywords.
        state = self.__dict__.copy()
        state["_cache"] = {}
        state["_wcs"] = wcs_state(self._wcs)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state["_wcs"] = wcs_from_state(state["_wcs"])
        self.__dict__.update(state)

    # ----------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        npix=None,
        binsz=0.5,
        proj="CAR",
        frame="icrs",
        refpix=None,
        axes=None,
        skydir=None,
        width=None,
    ):
        """Create a geometry centred on ``skydir`` (spec §2.2).

        Parameters
        ----------
        npix : int or pair of int, optional
            Number of pixels ``(nx, ny)``.
        binsz : float, str, Quantity or pair
            Pixel size (deg).
        proj : str
            Projection code, e.g. ``"CAR"``, ``"TAN"``.
        frame : {"icrs", "galactic", "fk5"}
            Sky frame.
        refpix : pair of float, optional
            1-based reference pixel; default the map centre ``((nx+1)/2, (ny+1)/2)``.
        axes : list of MapAxis, optional
            Non-spatial axes.
        skydir : tuple of float (deg) or `~astropy.coordinates.SkyCoord`, optional
            Map centre (CRVAL); default ``(0, 0)``.
        width : float, str, Quantity or pair, optional
            Map width (deg); ``npix = rint(width / binsz)``. With neither
            ``npix`` nor ``width`` the map covers the whole sky.
        """
        if skydir is None:
            crval = (0.0, 0.0)
        elif isinstance(skydir, SkyCoord):
            lon, lat = skycoord_lonlat(skydir, frame)
            crval = (float(np.ravel(lon)[0]), float(np.ravel(lat)[0]))
        elif isinstance(skydir, (tuple, list)):
            crval = tuple(float(u.Quantity(v, "deg").value) for v in skydir)
        else:
            raise ValueError(f"invalid skydir type {type(skydir).__name__}")
        binsz = parse_angle_pair(binsz)
        if npix is None:
            width = (360.0, 180.0) if width is None else parse_angle_pair(width)
            npix = (int(np.rint(width[0] / binsz[0])), int(np.rint(width[1] / binsz[1])))
        elif np.ndim(npix) == 0:
            npix = (int(npix), int(npix))
        else:
            npix = (int(npix[0]), int(npix[1]))
        if refpix is None:
            refpix = ((npix[0] + 1) / 2.0, (npix[1] + 1) / 2.0)
        wcs = make_celestial_wcs(crval, refpix, (-binsz[0], binsz[1]), proj=proj, frame=frame, npix=npix)
        return cls(wcs, npix, axes=axes)

    def _init_copy(self, **kwargs):
        if set(kwargs) <= {"axes"}:
            share = (self._wcs, self._npix, self._frame, self._cache)
            return self.__class__(self._wcs, axes=kwargs.get("axes", self._axes), _share=share)
        params = dict(wcs=self._wcs, npix=self._npix, axes=self._axes)
        params.update(kwargs)
        return self.__class__(**params)

    def copy(self, **kwargs):
        """Copy, optionally replacing ``wcs``, ``npix`` or ``axes``."""
        return self._init_copy(**kwargs)

    # ----------------------------------------------------------- properties
    @property
    def wcs(self):
        """The celestial `~astropy.wcs.WCS`."""
        return self._wcs

    @property
    def npix(self):
        """Number of pixels ``(nx, ny)``."""
        return self._npix

    @property
    def _spatial_shape(self):
        return (self._npix[1], self._npix[0])

    @property
    def frame(self):
        """Sky frame name."""
        return self._frame

    @property
    def projection(self):
        """Projection code, e.g. ``"CAR"``."""
        return self._wcs.wcs.ctype[0][5:]

    @property
    def is_allsky(self):
        """Whether the map spans 360 x 180 deg."""
        width = self.width.to_value("deg")
        return bool(np.isclose(width[0], 360.0) and np.isclose(width[1], 180.0))

    @property
    def is_regular(self):
        """Always True (one pixel grid for all image planes)."""
        return True

    @property
    def is_hpx(self):
        return False

    @property
    def pixel_scales(self):
        """Pixel scales along longitude and latitude (`~astropy.coordinates.Angle`, deg)."""
        return Angle(proj_plane_pixel_scales(self._wcs), "deg")

    @property
    def pixel_area(self):
        """Nominal pixel area ``|cdelt1 * cdelt2|`` in deg²."""
        cdelt = self._wcs.wcs.cdelt
        return float(abs(cdelt[0] * cdelt[1]))

    @property
    def width(self):
        """Map width ``(nx |cdelt1|, ny |cdelt2|)`` (Quantity, deg)."""
        cdelt = np.abs(self._wcs.wcs.cdelt)
        return u.Quantity([self._npix[0] * cdelt[0], self._npix[1] * cdelt[1]], "deg")

    @property
    def center_pix(self):
        """Pixel coordinates of the map centre (spatial and non-spatial)."""
        return ((self._npix[0] - 1) / 2.0, (self._npix[1] - 1) / 2.0) + self._axes_center_pix()

    @property
    def center_coord(self):
        """Coordinates of the map centre ``(lon, lat, *axis values)``."""
        return self.pix_to_coord(self.center_pix)

    @property
    def center_skydir(self):
        """Sky position of the map centre (pixel ``((nx-1)/2, (ny-1)/2)``)."""
        if "center_skydir" not in self._cache:  # the geometry is immutable: compute once
            x, y = self.center_pix[:2]
            lon, lat = self._wcs.wcs_pix2world(x, y, 0)
            self._cache["center_skydir"] = SkyCoord(float(lon), float(lat), unit="deg", frame=self._frame)
        return self._cache["center_skydir"]

    # ------------------------------------------------------------ pixels
    def _spatial_pix(self, mode="center"):
        nx, ny = self._npix
        if mode == "edges":
            x = np.arange(nx + 1, dtype=float) - 0.5
            y = np.arange(ny + 1, dtype=float) - 0.5
        else:
            x = np.arange(nx, dtype=float)
            y = np.arange(ny, dtype=float)
        return np.meshgrid(x, y)

    def _spatial_world(self, mode="center"):
        """Cached lon/lat (deg) of the pixel centres or corners, shape (ny, nx) or (ny+1, nx+1)."""
        key = ("world", mode)
        if key not in self._cache:
            x, y = self._spatial_pix(mode)
            lon, lat = self._wcs.wcs_pix2world(x, y, 0)
            lon.setflags(write=False)
            lat.setflags(write=False)
            self._cache[key] = (lon, lat)
        return self._cache[key]

    def get_idx(self):
        """Index arrays ``(ix, iy, i_axis1, ...)`` broadcast to the data shape (float)."""
        grids = np.meshgrid(*[np.arange(n, dtype=float) for n in self.data_shape], indexing="ij")
        return tuple(grids[::-1])

    def get_pix(self):
        """Pixel coordinates of all bin centres (same as :meth:`get_idx`)."""
        return self.get_idx()

    def get_coord(self, mode="center", frame=None, sparse=False, axis_name=None):
        """Coordinates of all bins.

        Parameters
        ----------
        mode : {"center", "edges"}
            ``"edges"`` gives the pixel corners for the spatial axes, or the
            bin edges of the axis ``axis_name`` if given.
        frame : str, optional
            Frame of the returned sky coordinates; default the geometry's.
        sparse : bool
            Keep small broadcastable arrays instead of the full data shape.
        axis_name : str, optional
            Axis whose edges are returned with ``mode="edges"``.

        Returns
        -------
        coords : `MapCoord`
        """
        spatial_mode = "edges" if (mode == "edges" and axis_name in (None, "lon", "lat")) else "center"
        lon, lat = self._spatial_world(spatial_mode)
        naxes = len(self._axes)
        lon = lon.reshape((1,) * naxes + lon.shape)
        lat = lat.reshape((1,) * naxes + lat.shape)
        data = {"lon": lon, "lat": lat}
        data.update(self._axes_coords(mode=mode, axis_name=axis_name))
        coords = MapCoord(data, frame=self._frame)
        if not sparse:
            coords = coords.broadcasted
        if frame is not None and frame != self._frame:
            coords = coords.to_frame(frame)
        return coords

    def coord_to_pix(self, coords):
        """Fractional pixel coordinates ``(x, y, p_axis1, ...)`` of map coordinates.

        Parameters
        ----------
        coords : `MapCoord`, dict, SkyCoord or tuple
            See `MapCoord.create`.
        """
        coords = MapCoord.create(coords, frame=self._frame, axis_names=self._axes.names)
        lon = np.asarray(coords.lon.to_value("deg"), dtype=float)
        lat = np.asarray(coords.lat.to_value("deg"), dtype=float)
        lon, lat = np.broadcast_arrays(lon, lat)
        if lon.size == 0:
            x, y = np.zeros(lon.shape), np.zeros(lat.shape)
        else:
            x, y = self._wcs.wcs_world2pix(lon, lat, 0)
        pix = [x, y] + self._axes_coord_to_pix(coords)
        return tuple(np.broadcast_arrays(*pix))

    def pix_to_coord(self, pix):
        """Coordinates ``(lon, lat, *axis values)`` of fractional pixel coordinates."""
        x, y = np.broadcast_arrays(np.asarray(pix[0], dtype=float), np.asarray(pix[1], dtype=float))
        lon, lat = self._wcs.wcs_pix2world(x, y, 0)
        out = [u.Quantity(lon, "deg"), u.Quantity(lat, "deg")]
        out += [ax.pix_to_coord(p) for ax, p in zip(self._axes, pix[2:])]
        return tuple(out)

    def pix_to_idx(self, pix, clip=False):
        """Bin indices ``floor(pix + 0.5)``; -1 outside ``[0, n)`` unless ``clip``."""
        nx, ny = self._npix
        idx = [pix_to_idx_array(pix[0], nx, clip), pix_to_idx_array(pix[1], ny, clip)]
        idx += self._axes_pix_to_idx(pix[2:], clip=clip)
        return tuple(idx)

    # ------------------------------------------------------- solid angle
    def solid_angle(self):
        """Solid angle of every pixel (Quantity, sr; spec §2.3).

        Each pixel is split into two planar triangles whose sides are the
        great-circle distances between its corners. The shape is
        ``(1,) * n_axes + (ny, nx)`` as in Gammapy: ``(ny, nx)`` for an image
        geometry, broadcastable against the data otherwise.
        """
        if "solid_angle" not in self._cache:
            area = pixel_solid_angles(*self._spatial_world("edges"))
            area.setflags(write=False)
            self._cache["solid_angle"] = area
        shape = (1,) * len(self._axes) + self._spatial_shape
        return u.Quantity(self._cache["solid_angle"].reshape(shape), "sr", copy=True)

    def separation(self, center):
        """Angular distance of every pixel centre from ``center`` (Angle, deg, ``(ny, nx)``)."""
        lon0, lat0 = skycoord_lonlat(center, self._frame)
        lon, lat = self._spatial_world("center")
        return Angle(angular_separation_deg(lon0, lat0, lon, lat), "deg")

    # ---------------------------------------------------------- resampling
    def _resampled_wcs(self, factor, up):
        wcs = self._wcs.deepcopy()
        crpix = np.asarray(wcs.wcs.crpix, dtype=float)
        if up:
            wcs.wcs.cdelt = wcs.wcs.cdelt / factor
            wcs.wcs.crpix = (crpix - 0.5) * factor + 0.5
            npix = (self._npix[0] * factor, self._npix[1] * factor)
        else:
            wcs.wcs.cdelt = wcs.wcs.cdelt * factor
            wcs.wcs.crpix = (crpix - 0.5) / factor + 0.5
            npix = (int(np.ceil(self._npix[0] / factor)), int(np.ceil(self._npix[1] / factor)))
        return wcs, npix

    def upsample(self, factor, axis_name=None):
        """Split pixels (``axis_name=None``) or the bins of a non-spatial axis into ``factor`` parts."""
        factor = int(factor)
        if axis_name is not None:
            return self._resample_axis(factor, axis_name, up=True)
        wcs, npix = self._resampled_wcs(factor, up=True)
        return self._init_copy(wcs=wcs, npix=npix)

    def downsample(self, factor, axis_name=None):
        """Merge ``factor`` pixels (``axis_name=None``) or bins of a non-spatial axis."""
        factor = int(factor)
        if axis_name is not None:
            return self._resample_axis(factor, axis_name, up=False)
        wcs, npix = self._resampled_wcs(factor, up=False)
        return self._init_copy(wcs=wcs, npix=npix)

    def to_binsz(self, binsz):
        """Geometry with the same centre and width but pixel size ``binsz`` (spec §2.5)."""
        cdelt = np.abs(self._wcs.wcs.cdelt)
        width = (self._npix[0] * cdelt[0], self._npix[1] * cdelt[1])
        return WcsGeom.create(
            skydir=self.center_skydir,
            binsz=binsz,
            width=width,
            proj=self.projection,
            frame=self._frame,
            axes=self._axes,
        )

    # ---------------------------------------------------------- comparison
    def is_aligned(self, other, tolerance=1e-6):
        """Whether ``other`` has the same projection and pixel grid, up to an integer pixel shift."""
        if not isinstance(other, WcsGeom):
            return False
        w1, w2 = self._wcs.wcs, other.wcs.wcs
        if list(w1.ctype) != list(w2.ctype) or self._frame != other.frame:
            return False
        same_crval = np.allclose(w1.crval, w2.crval, rtol=tolerance)
        if not (same_crval and np.allclose(w1.cdelt, w2.cdelt, rtol=tolerance)):
            return False
        shift = np.asarray(w1.crpix) - np.asarray(w2.crpix)
        return bool(np.allclose(shift, np.round(shift), atol=tolerance))

    def is_allclose(self, other, rtol_axes=1e-6, atol_axes=1e-6, rtol_wcs=1e-6):
        """Whether two geometries have the same shape, axes and WCS (within tolerances)."""
        if not isinstance(other, WcsGeom):
            return False
        if self.data_shape != other.data_shape:
            return False
        if not self._axes_equal(other, rtol_axes, atol_axes):
            return False
        w1, w2 = self._wcs.wcs, other.wcs.wcs
        if list(w1.ctype) != list(w2.ctype) or self._frame != other.frame:
            return False
        for a, b in ((w1.crval, w2.crval), (w1.crpix, w2.crpix), (w1.cdelt, w2.cdelt)):
            if not np.allclose(a, b, rtol=rtol_wcs, atol=0):
                return False
        return True

    # ----------------------------------------------------------- headers
    def to_header(self):
        """FITS header: the 2-D WCS, ``AXCOLSi``/``INTERPi`` per axis and ``WCSSHAPE`` (spec §12.1)."""
        header = self._wcs.to_header()
        axes_to_header(self._axes, header)
        shape = list(self._npix) + [ax.nbin for ax in self._axes]
        header["WCSSHAPE"] = "(" + ",".join(str(n) for n in shape) + ")"
        return header

    @classmethod
    def from_header(cls, header, axes=None, hdu_bands=None):
        """Geometry from a FITS header written by :meth:`to_header`.

        Parameters
        ----------
        header : `~astropy.io.fits.Header`
        axes : list of MapAxis, optional
            Non-spatial axes; read from ``hdu_bands`` when given instead.
        hdu_bands : `~astropy.io.fits.BinTableHDU`, optional
            The ``<NAME>_BANDS`` table.
        """
        wcs = WCS(header, naxis=2)
        if "WCSSHAPE" in header:
            shape = [int(v) for v in header["WCSSHAPE"].strip("()").split(",") if v.strip()]
            npix = (shape[0], shape[1])
        else:
            npix = (int(header["NAXIS1"]), int(header["NAXIS2"]))
            shape = [header.get(f"NAXIS{i}") for i in range(1, int(header.get("NAXIS", 2)) + 1)]
        if axes is None and hdu_bands is not None:
            axes = axes_from_header(hdu_bands, shape[2:], header=header)
        return cls(wcs, npix, axes=MapAxes(axes) if axes is not None else None)

    def __repr__(self):
        lon, lat = self.center_skydir.data.lon.deg, self.center_skydir.data.lat.deg
        cdelt = np.abs(self._wcs.wcs.cdelt)
        return (
            f"WcsGeom(npix={self._npix}, binsz=({cdelt[0]:.4g}, {cdelt[1]:.4g}) deg, "
            f"proj={self.projection!r}, frame={self._frame!r}, center=({lon:.4f}, {lat:.4f}) deg, "
            f"axes={self._axes.names})"
        )
