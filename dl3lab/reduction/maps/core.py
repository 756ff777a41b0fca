"""The :class:`Map` base class: data array + geometry + unit + meta."""

import copy as _copy

import numpy as np
from astropy import units as u

from ..geom import MapCoord, RegionGeom, WcsGeom
from ._axis_ops import AxisOpsMixin
from ._interp import interp_data_by_pix
from ._ops import ArithmeticMixin

__all__ = ["Map"]


def _default_data(geom, data, dtype):
    shape = geom.data_shape
    if data is None:
        return np.zeros(shape, dtype=dtype)
    if isinstance(data, u.Quantity):
        raise TypeError("map data must be a numpy array; pass the unit separately")
    if np.isscalar(data) or np.ndim(data) == 0:
        fill_dtype = np.bool_ if isinstance(data, (bool, np.bool_)) else dtype
        return np.full(shape, data, dtype=fill_dtype)
    data = np.asarray(data)
    if data.shape != shape:
        try:
            data = np.broadcast_to(data, shape).copy()
        except ValueError:
            raise ValueError(f"data shape {data.shape} does not match geometry data shape {shape}") from None
    return data


class Map(ArithmeticMixin, AxisOpsMixin):
    """A map: an array of values on a geometry, with a unit and a meta dict.

    Use :meth:`Map.from_geom` (or :meth:`Map.create`) to build a map; it
    returns a :class:`~dl3lab.reduction.maps.WcsNDMap` for a
    :class:`~dl3lab.reduction.geom.WcsGeom` and a
    :class:`~dl3lab.reduction.maps.RegionNDMap` for a
    :class:`~dl3lab.reduction.geom.RegionGeom`. Both share this API.

    Parameters
    ----------
    geom : `WcsGeom` or `RegionGeom`
        Geometry.
    data : ndarray, Quantity or scalar, optional
        Data of shape ``geom.data_shape`` (broadcast if possible); zeros by
        default. A Quantity sets the unit (or is converted to ``unit``).
    dtype : dtype
        Data type when ``data`` is None or a scalar.
    meta : dict, optional
        Metadata.
    unit : str or `~astropy.units.Unit`
        Data unit.
    """

    def __init__(self, geom, data=None, dtype=float, meta=None, unit=""):
        if isinstance(data, u.Quantity):
            unit = data.unit if u.Unit(unit) == u.dimensionless_unscaled else u.Unit(unit)
            data = data.to_value(unit)
        self._geom = geom
        self._data = _default_data(geom, data, dtype)
        self._unit = u.Unit(unit)
        self.meta = dict(meta) if meta is not None else {}

    # -------------------------------------------------------------- factories
    @staticmethod
    def _class_for_geom(geom):
        from .regionmap import RegionNDMap
        from .wcsmap import WcsNDMap

        if isinstance(geom, RegionGeom):
            return RegionNDMap
        if isinstance(geom, WcsGeom):
            return WcsNDMap
        raise TypeError(f"unsupported geometry type {type(geom).__name__}")

    @classmethod
    def from_geom(cls, geom, meta=None, data=None, unit="", dtype=float, **kwargs):
        """Map of the right class for ``geom`` (`WcsNDMap` or `RegionNDMap`)."""
        map_cls = cls._class_for_geom(geom)
        return map_cls(geom, data=data, dtype=dtype, meta=meta, unit=unit)

    @classmethod
    def create(cls, dtype=float, meta=None, unit="", data=None, **kwargs):
        """WCS map from :meth:`WcsGeom.create` keyword arguments (``region=...`` gives a region map)."""
        if "region" in kwargs:
            region = kwargs.pop("region")
            geom = RegionGeom.create(region, **kwargs)
        else:
            geom = WcsGeom.create(**kwargs)
        return cls.from_geom(geom, meta=meta, data=data, unit=unit, dtype=dtype)

    # ------------------------------------------------------------- properties
    @property
    def geom(self):
        """The map geometry."""
        return self._geom

    @property
    def data(self):
        """Data array (shape ``geom.data_shape``)."""
        return self._data

    @data.setter
    def data(self, value):
        if isinstance(value, u.Quantity):
            raise TypeError("map data must be a numpy array; set .quantity to assign a Quantity")
        value = np.asarray(value)
        if value.shape != self._geom.data_shape:
            value = np.broadcast_to(value, self._geom.data_shape).copy()
        self._data = value

    @property
    def unit(self):
        """Data unit."""
        return self._unit

    @unit.setter
    def unit(self, value):
        self._unit = u.Unit(value)

    @property
    def quantity(self):
        """Data as a Quantity (a view when the dtype allows)."""
        return u.Quantity(self._data, self._unit, copy=None)

    @quantity.setter
    def quantity(self, value):
        value = u.Quantity(value, copy=None)
        self.data = value.value
        self._unit = value.unit

    @property
    def is_mask(self):
        """Whether the data are boolean."""
        return self._data.dtype == bool

    @property
    def tag(self):
        """``"wcs"`` or ``"region"``."""
        return "region" if isinstance(self._geom, RegionGeom) else "wcs"

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._data, dtype=dtype)
        return np.asarray(self._data, dtype=dtype)

    def _init_copy(self, **kwargs):
        params = dict(geom=self._geom, data=None, unit=self._unit, meta=_copy.deepcopy(self.meta))
        params.update(kwargs)
        if params["data"] is None:
            params["data"] = self._data.copy()
        geom = params["geom"]
        return self._class_for_geom(geom)(
            geom, data=params["data"], meta=params["meta"], unit=params["unit"], dtype=self._data.dtype
        )

    def copy(self, **kwargs):
        """Deep copy, optionally replacing ``geom``, ``data``, ``unit`` or ``meta``."""
        if "geom" in kwargs and kwargs["geom"].data_shape != self._geom.data_shape and "data" not in kwargs:
            raise ValueError("a new geometry must have the same data shape unless data are given")
        return self._init_copy(**kwargs)

    def to_unit(self, unit):
        """Copy converted to ``unit``."""
        return self._init_copy(data=self.quantity.to_value(unit), unit=unit)

    def __repr__(self):
        return (
            f"{type(self).__name__}(geom={self._geom!r}, unit={self._unit!s}, dtype={self._data.dtype}, "
            f"shape={self._data.shape})"
        )

    def __str__(self):
        geom = self._geom
        names = ["lon", "lat"] + [ax.name for ax in geom.axes]
        shape = tuple(self._data.shape[::-1])
        return (
            f"{type(self).__name__}\n\n\tgeom  : {type(geom).__name__} \n \taxes  : {names}\n"
            f"\tshape : {shape}\n\tndim  : {self._data.ndim}\n\tunit  : {self._unit!s}\n"
            f"\tdtype : {self._data.dtype}\n"
        )

    def is_allclose(self, other, rtol_axes=1e-3, atol_axes=1e-6, **kwargs):
        """Whether two maps have equivalent geometries and close data (``np.allclose`` kwargs)."""
        if not isinstance(other, Map) or self._data.shape != other.data.shape:
            return False
        if not self._geom.is_allclose(other.geom, rtol_axes=rtol_axes, atol_axes=atol_axes):
            return False
        try:
            other_data = other.quantity.to_value(self._unit)
        except u.UnitConversionError:
            return False
        return bool(np.allclose(self._data, other_data, **kwargs))

    # ---------------------------------------------------------- value access
    def get_by_idx(self, idx):
        """Values at bin indices ``(ix, iy, i1, ...)`` (indices must be valid)."""
        return self._data[tuple(np.broadcast_arrays(*idx))[::-1]]

    def get_by_pix(self, pix, fill_value=np.nan):
        """Values of the bins containing fractional pixel positions; ``fill_value`` outside."""
        idx = self._geom.pix_to_idx(pix)
        idx = np.broadcast_arrays(*idx)
        valid = np.all([i != -1 for i in idx], axis=0)
        safe = tuple(np.where(valid, i, 0) for i in idx)
        vals = self._data[safe[::-1]]
        if not valid.all():
            vals = vals.astype(np.result_type(vals.dtype, np.asarray(fill_value).dtype))
            vals[~valid] = fill_value
        return vals

    def get_by_coord(self, coords, fill_value=np.nan):
        """Values of the bins containing ``coords`` (nearest bin); ``fill_value`` outside."""
        return self.get_by_pix(self._geom.coord_to_pix(coords), fill_value=fill_value)

    def set_by_idx(self, idx, vals):
        """Set values at bin indices."""
        self._data[tuple(np.broadcast_arrays(*idx))[::-1]] = vals

    def set_by_coord(self, coords, vals):
        """Set the values of the bins containing ``coords`` (points outside are ignored)."""
        idx = np.broadcast_arrays(*self._geom.coord_to_idx(coords))
        valid = np.all([i != -1 for i in idx], axis=0)
        vals = np.broadcast_to(vals, valid.shape)
        self._data[tuple(i[valid] for i in idx)[::-1]] = vals[valid]

    def fill_by_idx(self, idx, weights=None):
        """Add ``weights`` (default 1) at bin indices; invalid (-1) indices are skipped.

        The sum is histogrammed with ``np.bincount`` on flat indices, in float64,
        then cast to the data type and added.
        """
        idx = np.broadcast_arrays(*[np.asarray(i) for i in idx])
        valid = np.all([i != -1 for i in idx], axis=0)
        flat = np.ravel_multi_index(tuple(i[valid] for i in idx)[::-1], self._data.shape)
        if weights is not None:
            if isinstance(weights, u.Quantity):
                weights = weights.to_value(self._unit)
            weights = np.broadcast_to(np.asarray(weights, dtype=float), valid.shape)[valid]
        if self._data.size <= 50_000_000:
            counts = np.bincount(flat, weights=weights, minlength=self._data.size)
            self._data += counts.reshape(self._data.shape).astype(self._data.dtype)
        else:
            uniq, inverse = np.unique(flat, return_inverse=True)
            sums = np.bincount(inverse, weights=weights).astype(self._data.dtype)
            self._data.reshape(-1)[uniq] += sums

    def fill_by_pix(self, pix, weights=None):
        """Fill the bins containing fractional pixel positions."""
        self.fill_by_idx(self._geom.pix_to_idx(pix), weights=weights)

    def fill_by_coord(self, coords, weights=None):
        """Histogram coordinates into the map (bin ``i`` holds ``e_i <= x < e_{i+1}``, spec §2.1)."""
        self.fill_by_idx(self._geom.coord_to_idx(coords), weights=weights)

    def _event_coords(self, events):
        if hasattr(events, "map_coord"):
            return events.map_coord(self._geom)
        data = {}
        if self._geom.frame == "icrs" and hasattr(events, "ra_deg"):
            data["lon"], data["lat"] = events.ra_deg, events.dec_deg
        else:
            data["skycoord"] = events.radec
        for name in self._geom.axes.names:
            if name == "energy":
                data[name] = events.energy
            else:
                data[name] = u.Quantity(events.table[name.upper()])
        return MapCoord.create(data, frame=self._geom.frame if "lon" in data else None)

    def fill_events(self, events, weights=None):
        """Histogram an event list (RA/DEC, ENERGY and any other axis column) into the map."""
        self.fill_by_coord(self._event_coords(events), weights=weights)

    # ---------------------------------------------------------- interpolation
    def _outside_for_fill(self, pix):
        idx = np.broadcast_arrays(*self._geom.pix_to_idx(pix))
        return np.any([i == -1 for i in idx], axis=0)

    def interp_by_pix(self, pix, method="linear", fill_value=None, values_scale="lin"):
        """Interpolate at fractional pixel coordinates (linear in pixel space, extrapolating).

        With ``fill_value`` not None, points outside the map (and non-finite
        results) get ``fill_value``.
        """
        values = interp_data_by_pix(self._data, pix, method=method, values_scale=values_scale)
        if fill_value is not None:
            outside = np.broadcast_to(self._outside_for_fill(pix), values.shape)
            values = np.where(outside | ~np.isfinite(values), fill_value, values)
        return values

    def interp_by_coord(self, coords, method="linear", fill_value=None, values_scale="lin"):
        """Interpolate at map coordinates (spec §0.4).

        Parameters
        ----------
        coords : dict, `MapCoord`, SkyCoord or tuple
            ``"lon"``/``"lat"`` or ``"skycoord"`` plus one entry per non-spatial axis.
        method : {"linear", "nearest"}
        fill_value : float, optional
            Value outside the map; None extrapolates.
        values_scale : {"lin", "log", "sqrt"}

        Returns
        -------
        ndarray
        """
        pix = self._geom.coord_to_pix(coords)
        return self.interp_by_pix(pix, method=method, fill_value=fill_value, values_scale=values_scale)

    def interp_to_geom(self, geom, preserve_counts=False, fill_value=0, **kwargs):
        """Map on another geometry (spec §0.4).

        Boolean maps with a ``fill_value`` use nearest-bin lookup (outside:
        ``bool(fill_value)``); with ``fill_value=None`` they are interpolated
        linearly and cast back to bool. Other maps are interpolated linearly.
        With ``preserve_counts`` the values are treated as integrals over the
        pixel solid angle.
        """
        coords = geom.get_coord(sparse=True)
        source = self
        if preserve_counts:
            source = self.copy(data=self._data / self._geom.solid_angle().to_value("deg2"))
        if self.is_mask and fill_value is not None:
            data = source.get_by_coord(coords)
            data = np.nan_to_num(data, nan=fill_value).astype(bool)
        else:
            data = source.interp_by_coord(coords, fill_value=fill_value, **kwargs)
            if self.is_mask:
                data = data.astype(bool)
        data = np.broadcast_to(data, geom.data_shape).copy()
        if preserve_counts:
            data = data * geom.solid_angle().to_value("deg2")
        return Map.from_geom(geom, data=data, unit=self._unit)

    # --------------------------------------------------------------- slicing
    def slice_by_idx(self, slices):
        """Sub-map for index slices of non-spatial axes (an integer removes the axis)."""
        geom = self._geom.slice_by_idx(slices)
        index = [slice(None)] * self._data.ndim
        for name, idx in slices.items():
            index[self._geom.axis_data_index(name)] = idx
        return self._init_copy(geom=geom, data=self._data[tuple(index)].copy())

    def get_image_by_idx(self, idx):
        """Image at non-spatial indices ``idx`` (tuple in axis order)."""
        if len(idx) != len(self._geom.axes):
            raise ValueError(f"expected {len(self._geom.axes)} indices, got {len(idx)}")
        slices = {ax.name: int(i) for ax, i in zip(self._geom.axes, idx)}
        return self.slice_by_idx(slices)

    def get_image_by_coord(self, coords):
        """Image of the bins containing the given non-spatial coordinates (dict by axis name)."""
        idx = tuple(int(ax.coord_to_bin(coords[ax.name])) for ax in self._geom.axes)
        if any(i < 0 for i in idx):
            raise ValueError(f"coordinates {coords} are outside the map axes")
        return self.get_image_by_idx(idx)

    def iter_by_image_data(self):
        """Yield ``(image_data, idx)`` for every image plane (``idx`` in data order)."""
        for idx in np.ndindex(self._data.shape[:-2]):
            yield self._data[idx], idx

    # ------------------------------------------------------------- reduction
    def reduce(self, axis_name, func=np.add, keepdims=False, weights=None):
        """Reduce over one non-spatial axis with a ufunc (NaN values are skipped for ufuncs with identity)."""
        geom = self._geom.squash(axis_name) if keepdims else self._geom.drop(axis_name)
        axis = self._geom.axis_data_index(axis_name)
        data = self._data
        if weights is not None:
            data = data * (weights.data if isinstance(weights, Map) else weights)
        if getattr(func, "identity", None) is not None and data.dtype.kind == "f":
            data = func.reduce(data, axis=axis, keepdims=keepdims, where=~np.isnan(data))
        else:
            data = func.reduce(data, axis=axis, keepdims=keepdims)
        return self._init_copy(geom=geom, data=data)

    def reduce_over_axes(self, func=np.add, keepdims=False, axes_names=None, weights=None):
        """Reduce over several (default all) non-spatial axes."""
        names = self._geom.axes.names if axes_names is None else list(axes_names)
        out = self
        for name in names:
            out = out.reduce(name, func=func, keepdims=keepdims, weights=weights)
            weights = None
        return out if out is not self else self.copy()

    def sum_over_axes(self, axes_names=None, keepdims=True, weights=None):
        """Sum over several (default all) non-spatial axes."""
        return self.reduce_over_axes(np.add, keepdims=keepdims, axes_names=axes_names, weights=weights)

    # --------------------------------------------------------------- stacking
    def _stack_slices(self, other):
        return (Ellipsis,), (Ellipsis,)

    def stack(self, other, weights=None, nan_to_num=True):
        """Add ``other`` (optionally times ``weights``) into this map, in place.

        For WCS maps ``other`` may be a cutout of this map's geometry: only the
        overlapping pixels are touched (spec §10.1). The other data are
        converted to this unit and dtype, non-finite values set to 0, then
        multiplied by ``weights``.
        """
        parent, child = self._stack_slices(other)
        converter = other.unit.get_converter(self._unit)
        data = np.asarray(converter(other.data[child])).astype(self._data.dtype)
        if nan_to_num and data.dtype.kind in "fc":
            not_finite = ~np.isfinite(data)
            if np.any(not_finite):
                data = data.copy()
                data[not_finite] = 0
        if weights is not None:
            w = weights.data if isinstance(weights, Map) else np.asarray(weights)
            data = data * w[child]
        self._data[parent] += data

    # -------------------------------------------------------------------- I/O
    def to_hdulist(self, hdu="SKYMAP", hdu_bands=None):
        """HDU list in the gadf layout (spec §12.1, §12.2)."""
        from .io import map_to_hdulist

        return map_to_hdulist(self, hdu=hdu, hdu_bands=hdu_bands)

    @classmethod
    def from_hdulist(cls, hdulist, hdu=None, hdu_bands=None):
        """Read a map from an HDU list in the gadf layout."""
        from .io import map_from_hdulist

        return map_from_hdulist(hdulist, hdu=hdu, hdu_bands=hdu_bands)

    def write(self, filename, overwrite=False, hdu=None, hdu_bands=None):
        """Write to a FITS file; ``hdu=None`` puts the data in the primary HDU.

        Raises
        ------
        FileExistsError
            If the file exists and ``overwrite`` is False.
        """
        from .io import write_map

        write_map(self, filename, overwrite=overwrite, hdu=hdu, hdu_bands=hdu_bands)

    @classmethod
    def read(cls, filename, hdu=None, hdu_bands=None):
        """Read a map from a FITS file (the first map HDU unless ``hdu`` is given)."""
        from .io import read_map

        return read_map(filename, hdu=hdu, hdu_bands=hdu_bands)
