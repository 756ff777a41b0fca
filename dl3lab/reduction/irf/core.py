"""Base class of the DL3 IRF tables (reduction spec §0.1 and §1.4).

An :class:`IRF` is a data array on a fixed sequence of :class:`~dl3lab.reduction.axes.MapAxis`
(``required_axes``), a unit and the relevant header keywords. Reading and writing
of the one-row GADF binary tables is inherited from
:class:`~dl3lab.reduction.irf.tableio.IRFTableIO`.

Evaluation follows spec §0.1: multilinear interpolation on the bin centres in the
axes' scales (log for energies), optional log scaling of the values, linear
extrapolation, clipping at zero and, unless ``fill_value`` is None, the value
``fill_value`` for points outside the bin edges or with non-finite results.
"""

import numpy as np
from astropy import units as u

from ..axes import MapAxes, MapAxis
from ..interpolation import ScaledGridInterpolator
from .tableio import AXIS_SPEC, FOV_ALIGNMENTS, IRFLocation, IRFTableIO

__all__ = ["IRF", "IRFLocation", "AXIS_SPEC", "FOV_ALIGNMENTS"]

_COMMON_META = {
    "HDUCLASS": "GADF",
    "HDUDOC": "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats",
    "HDUVERS": "0.2",
    "HDUCLAS1": "RESPONSE",
}

_GADF_ORDER = ("EXTNAME", "HDUCLASS", "HDUDOC", "HDUVERS", "HDUCLAS1", "HDUCLAS2", "HDUCLAS3", "HDUCLAS4")

_DEFAULT = object()


class IRF(IRFTableIO):
    """An instrument response table on named axes (spec §0.1, §1.4).

    Parameters
    ----------
    axes : sequence of `~dl3lab.reduction.axes.MapAxis`
        The axes, named and ordered as ``required_axes``.
    data : array-like or `~astropy.units.Quantity`
        Values with shape ``axes.shape``; a scalar fills the table. The dtype is
        kept (float32 files stay float32, which sets ``tiny`` for log values).
    unit : str or `~astropy.units.Unit`, optional
        Data unit; taken from ``data`` if it is a Quantity, else ``default_unit``.
    meta : dict, optional
        Header keywords. Missing GADF keywords are added; ``HDUCLASS``,
        ``HDUCLAS1``, ``HDUCLAS2`` and ``HDUCLAS4`` are set to the class values and
        ``HDUCLAS3`` follows ``is_pointlike``.
    is_pointlike : bool, optional
        Default: ``meta["HDUCLAS3"] == "POINT-LIKE"``.
    fov_alignment : {"RADEC", "ALTAZ", "REVERSE_LON_RADEC"}, optional
        Default: ``meta["FOVALIGN"]`` or ``"RADEC"``. An explicit value is stored in meta.
    fill_value : float or None, optional
        Value outside the axes' edges (class default, usually 0); None disables
        the out-of-bounds rule (pure extrapolation).
    method : {"linear", "nearest"}
        Default interpolation method.
    validate_unit : bool
        Require ``unit`` to be equivalent to ``default_unit``.
    """

    #: GADF HDU class (``HDUCLAS4`` lower case, and the HDU index ``HDU_CLASS``).
    tag = None
    #: Axis names in data order.
    required_axes = ()
    #: Data column name, or tuple of accepted names (the first is written).
    data_column = None
    default_unit = u.dimensionless_unscaled
    #: ``"lin"`` or ``"log"`` (spec §0.1 step 2).
    values_scale = "lin"
    default_fill_value = 0.0
    #: Default ``EXTNAME`` when writing.
    extname = None
    #: ``HDUCLAS2`` of the class.
    hduclas2 = None
    default_pointlike = False

    def __init__(
        self,
        axes,
        data,
        unit=None,
        meta=None,
        is_pointlike=None,
        fov_alignment=None,
        fill_value=_DEFAULT,
        method="linear",
        validate_unit=True,
    ):
        axes = MapAxes(axes)
        if tuple(axes.names) != tuple(self.required_axes):
            raise ValueError(f"{self.tag} needs axes {list(self.required_axes)}, got {axes.names}")
        self._axes = axes
        data, unit = self._coerce_data(data, unit)
        if validate_unit:
            self._validate_unit(unit)
        self._unit = unit
        self._set_data(data)
        meta = dict(meta or {})
        if is_pointlike is None:
            is_pointlike = meta.get("HDUCLAS3", "POINT-LIKE" if self.default_pointlike else "") == "POINT-LIKE"
        if fov_alignment is None:
            fov_alignment = meta.get("FOVALIGN", "RADEC")
        else:
            meta["FOVALIGN"] = str(fov_alignment)
        self._is_pointlike = bool(is_pointlike)
        merged = {**self._default_meta(), **meta, **self._class_meta()}
        merged["HDUCLAS3"] = "POINT-LIKE" if self._is_pointlike else "FULL-ENCLOSURE"
        first = [key for key in _GADF_ORDER if key in merged]
        self.meta = {key: merged[key] for key in first + [key for key in merged if key not in first]}
        self.fov_alignment = fov_alignment
        self.fill_value = self.default_fill_value if fill_value is _DEFAULT else fill_value
        self.method = method
        self.location = IRFLocation()

    # ----------------------------------------------------------- construction
    def _coerce_data(self, data, unit):
        if isinstance(data, u.Quantity):
            if unit is not None:
                data = data.to(unit)
            unit = data.unit
            data = data.value
        unit = u.Unit(self.default_unit if unit is None else unit)
        data = np.asarray(data)
        if data.ndim == 0:
            data = np.full(self._axes.shape, data, dtype=float)
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(float)
        return data, unit

    def _validate_unit(self, unit):
        if not unit.is_equivalent(self.default_unit):
            raise ValueError(f"{self.tag}: unit {unit} is not equivalent to {self.default_unit}")

    def _set_data(self, data):
        if data.shape != self._axes.shape:
            raise ValueError(
                f"{self.tag}: data shape {data.shape} does not match axes {self._axes.names} shape {self._axes.shape}"
            )
        self._data = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("="))
        self._interp = None
        self._cache = {}

    @classmethod
    def _default_meta(cls):
        meta = dict(_COMMON_META)
        if cls.extname:
            meta["EXTNAME"] = cls.extname
        return meta

    @classmethod
    def _class_meta(cls):
        return {
            "HDUCLASS": "GADF",
            "HDUCLAS1": "RESPONSE",
            "HDUCLAS2": cls.hduclas2,
            "HDUCLAS4": cls.tag.upper(),
        }

    # ------------------------------------------------------------- properties
    @property
    def axes(self):
        """The `~dl3lab.reduction.axes.MapAxes`, in ``required_axes`` order."""
        return self._axes

    @property
    def data(self):
        """The data array (stored dtype, native byte order)."""
        return self._data

    @data.setter
    def data(self, value):
        self._set_data(np.asarray(value))

    @property
    def unit(self):
        """Data unit."""
        return self._unit

    @property
    def quantity(self):
        """Data as a Quantity (no copy)."""
        return u.Quantity(self._data, self._unit, copy=False)

    @property
    def is_pointlike(self):
        """Whether the IRF is point-like (``HDUCLAS3 == "POINT-LIKE"``)."""
        return self._is_pointlike

    @property
    def fov_alignment(self):
        """FoV alignment: ``"RADEC"``, ``"ALTAZ"`` or ``"REVERSE_LON_RADEC"``."""
        return self._fov_alignment

    @fov_alignment.setter
    def fov_alignment(self, value):
        value = str(value).strip()
        if value not in FOV_ALIGNMENTS:
            raise ValueError(f"FOVALIGN must be one of {FOV_ALIGNMENTS}, got {value!r}")
        self._fov_alignment = value
        if "FOVALIGN" in self.meta or value != "RADEC":
            self.meta["FOVALIGN"] = value

    def __repr__(self):
        axes = ", ".join(f"{ax.name}[{ax.nbin}]" for ax in self._axes)
        return f"{type(self).__name__}({axes}, unit={self._unit}, dtype={self._data.dtype})"

    def copy(self, **kwargs):
        """Copy, optionally replacing constructor arguments (``axes``, ``data``, ``unit``, ``meta``...)."""
        params = dict(
            axes=self._axes,
            data=self._data.copy(),
            unit=self._unit,
            meta=dict(self.meta),
            is_pointlike=self._is_pointlike,
            fov_alignment=self._fov_alignment,
            fill_value=self.fill_value,
            method=self.method,
        )
        params.update(kwargs)
        new = type(self)(**params)
        new.location = self.location
        return new

    # ------------------------------------------------------------- evaluation
    def _interpolator(self):
        if self._interp is None:
            self._interp = ScaledGridInterpolator(
                [ax.center.to_value(ax.unit) for ax in self._axes],
                self._data,
                [ax.interp for ax in self._axes],
                values_scale=self.values_scale,
                method=self.method,
                tiny_dtype=self._data.dtype,
            )
            self._bounds = [(e[0], e[-1]) for e in (ax.edges.to_value(ax.unit) for ax in self._axes)]
        return self._interp

    def _coord_values(self, coords):
        unknown = set(coords) - set(self._axes.names)
        if unknown:
            raise ValueError(f"unknown coordinates {sorted(unknown)} for {self.tag}; axes are {self._axes.names}")
        missing = [name for name in self._axes.names if name not in coords]
        if missing:
            raise ValueError(f"{self.tag}.evaluate needs coordinates for {missing}")
        values = []
        for ax in self._axes:
            value = coords[ax.name]
            if isinstance(value, u.Quantity):
                value = value.to_value(ax.unit)
            values.append(np.asarray(value, dtype=float))
        return values

    def _mask_out_bounds(self, invalid):
        """Combine the per-axis invalid masks into the points to fill (any axis invalid)."""
        mask = invalid[0]
        for item in invalid[1:]:
            mask = mask | item
        return mask

    def evaluate(self, method=None, **coords):
        """Evaluate the IRF at coordinates given by axis name (spec §0.1).

        Parameters
        ----------
        method : {"linear", "nearest"}, optional
            Interpolation method; default ``self.method``.
        **coords : `~astropy.units.Quantity` or array-like
            One value per axis (floats are in the axis unit); arrays broadcast.

        Returns
        -------
        `~astropy.units.Quantity`
            Values with the broadcast shape of the coordinates, in ``self.unit``.
        """
        values = self._coord_values(coords)
        interp = self._interpolator()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # non-finite coordinates give NaN here and are filled below
            result = np.asarray(interp(values, method=method), dtype=float)
        if self.fill_value is not None:
            with np.errstate(invalid="ignore"):
                invalid = [~((x >= lo) & (x <= hi)) for x, (lo, hi) in zip(values, self._bounds)]
            mask = self._mask_out_bounds(invalid)
            if np.any(mask):
                np.copyto(result, self.fill_value, where=mask)
            bad = ~np.isfinite(result)
            if np.any(bad):
                np.copyto(result, self.fill_value, where=bad)
        return u.Quantity(result, self._unit, copy=False)

    def cumsum(self, axis_name):
        """Cumulative integral along an axis (spec §0.3).

        The values are multiplied by the bin widths (and by ``2 pi r`` for ``rad``
        and ``offset``) and accumulated; the result is an IRF of the same class
        whose axis is a node axis at the upper bin edges.
        """
        axis = self._axes[axis_name]
        idx = self._axes.index(axis_name)
        shape = [1] * len(self._axes)
        shape[idx] = -1
        width = axis.bin_width
        values = self.quantity * width.reshape(shape)
        if axis_name in ("rad", "offset"):
            values = 2 * np.pi * axis.center.reshape(shape) * values
        data = np.cumsum(values.value, axis=idx)
        nodes = MapAxis.from_nodes(axis.edges[1:], interp=axis.interp, name=axis.name)
        return type(self)(
            axes=self._axes.replace(nodes),
            data=data,
            unit=values.unit,
            meta=dict(self.meta),
            is_pointlike=self._is_pointlike,
            fov_alignment=self._fov_alignment,
            validate_unit=False,
        )

    def integral(self, axis_name, **coords):
        """Integral along ``axis_name`` up to the given coordinate: :meth:`cumsum` evaluated at ``coords``."""
        key = ("cumsum", axis_name)
        if key not in self._cache:
            self._cache[key] = self.cumsum(axis_name)
        return self._cache[key].evaluate(**coords)

    def pad(self, pad_width, axis_name, mode="edge"):
        """Copy with ``pad_width`` bins added on each side of an axis (edges extrapolated, `numpy.pad` values)."""
        idx = self._axes.index(axis_name)
        widths = (pad_width, pad_width) if np.isscalar(pad_width) else tuple(pad_width)
        np_widths = [(0, 0)] * self._data.ndim
        np_widths[idx] = widths
        axes = self._axes.replace(self._axes[axis_name].pad(widths))
        return self.copy(axes=axes, data=np.pad(self._data, np_widths, mode=mode))
