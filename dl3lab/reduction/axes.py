"""Non-spatial map axes: :class:`MapAxis` and the :class:`MapAxes` container.

An axis is a sorted list of nodes, either bin *edges* or bin *centres*, plus
an interpolation scale (``lin``, ``log`` or ``sqrt``). Pixel coordinates are
piecewise linear in the scaled node values, with extrapolation, and for
edge-type axes edge ``i`` sits at pixel ``i - 0.5`` so that bin ``i`` is
centred on pixel ``i`` (reduction spec §2.1).
"""

import math

import numpy as np
from astropy import units as u
from scipy.interpolate import make_interp_spline

from .lru import LRUCache

__all__ = ["MapAxis", "MapAxes", "scale_forward", "scale_inverse"]

_INTERPS = ("lin", "log", "sqrt")
_NODE_TYPES = ("edges", "center")


def scale_forward(values, interp):
    """Map axis values to the space in which they are interpolated linearly."""
    values = np.asarray(values, dtype=float)
    if interp == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(values)
    if interp == "sqrt":
        with np.errstate(invalid="ignore"):
            return np.sqrt(values)
    return values


def scale_inverse(values, interp):
    """Inverse of :func:`scale_forward`."""
    values = np.asarray(values, dtype=float)
    if interp == "log":
        return np.exp(values)
    if interp == "sqrt":
        return values**2
    return values


#: Interpolants by their nodes: the axes read from each observation's IRFs repeat from run to run.
_SPLINES = LRUCache(64)


def _linear_spline(xp, fp):
    """Piecewise-linear interpolant with linear extrapolation (None for a single node)."""
    if len(xp) == 1:
        return None
    xp, fp = np.asarray(xp, dtype=float), np.asarray(fp, dtype=float)
    key = (xp.tobytes(), fp.tobytes())
    spline = _SPLINES.get(key)
    if spline is None:
        spline = _SPLINES.put(key, make_interp_spline(xp, fp, k=1))
    return spline


def _interp_extrapolate(x, xp, fp):
    """Piecewise-linear interpolation of ``fp(xp)`` at ``x`` with linear extrapolation.

    ``xp`` must be increasing. With a single node the result is ``fp[0]``.
    The line segments are evaluated as a degree-1 B-spline (scipy
    ``make_interp_spline(k=1)``), which is what Gammapy's axis transforms
    (``interp1d(kind=1)``) compute, so pixel coordinates and bin centres agree
    with Gammapy to the last bit (e.g. the centre of bin 2 maps back to pixel
    1.9999999999999996, not 2.0, and this decides boolean casts of
    interpolated masks).
    """
    x = np.asarray(x, dtype=float)
    if len(xp) == 1:
        return np.full(x.shape, fp[0], dtype=float)
    spline = make_interp_spline(np.asarray(xp, dtype=float), np.asarray(fp, dtype=float), k=1)
    return np.asarray(spline(x), dtype=float)


def _as_quantity(values, unit):
    if isinstance(values, u.Quantity):
        return values.to(unit) if unit is not None else values
    return u.Quantity(values, unit if unit is not None else "")


class MapAxis:
    """A one-dimensional, non-spatial map axis.

    Parameters
    ----------
    nodes : array-like or `~astropy.units.Quantity`
        Bin edges (``node_type="edges"``) or bin centres (``node_type="center"``),
        strictly increasing.
    interp : {"lin", "log", "sqrt"}
        Scale in which the axis is interpolated.
    name : str
        Axis name, e.g. ``"energy"``, ``"energy_true"``, ``"rad"``, ``"migra"``.
    node_type : {"edges", "center"}
        Meaning of ``nodes``.
    unit : str or `~astropy.units.Unit`, optional
        Unit of the nodes; taken from ``nodes`` when it is a Quantity.
    """

    def __init__(self, nodes, interp="lin", name="", node_type="edges", unit=None):
        if interp not in _INTERPS:
            raise ValueError(f"interp must be one of {_INTERPS}, got {interp!r}")
        if node_type not in _NODE_TYPES:
            raise ValueError(f"node_type must be one of {_NODE_TYPES}, got {node_type!r}")
        if unit is None and not isinstance(nodes, u.Quantity):
            unit = ""
        nodes = _as_quantity(nodes, unit)
        values = np.atleast_1d(np.asarray(nodes.value, dtype=float))
        if values.ndim != 1:
            raise ValueError("MapAxis nodes must be one-dimensional")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"MapAxis {name!r}: nodes must be finite")
        if len(values) > 1 and np.any(np.diff(values) <= 0):
            raise ValueError(f"MapAxis {name!r}: nodes must be strictly increasing")
        if node_type == "edges" and len(values) < 2:
            raise ValueError(f"MapAxis {name!r}: an edges axis needs at least two edges")
        if interp == "log" and np.any(values <= 0):
            raise ValueError(f"MapAxis {name!r}: log axis nodes must be positive")
        self._nodes = values
        self._unit = nodes.unit
        self._interp = interp
        self._name = name
        self._node_type = node_type
        self._scaled = scale_forward(values, interp)
        self._index = np.arange(len(values), dtype=float)

    def _evaluate_spline(self, name, x, xp, fp):
        """Evaluate (building once) the cached pixel <-> scaled-coordinate interpolant ``name``."""
        spline = self.__dict__.get(name, False)
        if spline is False:
            spline = _linear_spline(xp, fp)
            self.__dict__[name] = spline
        x = np.asarray(x, dtype=float)
        if spline is None:
            return np.full(x.shape, fp[0], dtype=float)
        return np.asarray(spline(x), dtype=float)

    # ------------------------------------------------------------------ basics
    @property
    def name(self):
        """Axis name."""
        return self._name

    @property
    def interp(self):
        """Interpolation scale."""
        return self._interp

    @property
    def node_type(self):
        """``"edges"`` or ``"center"``."""
        return self._node_type

    @property
    def unit(self):
        """Unit of the axis values."""
        return self._unit

    @property
    def nbin(self):
        """Number of bins."""
        return len(self._nodes) - 1 if self._node_type == "edges" else len(self._nodes)

    @property
    def nodes(self):
        """The defining nodes as a Quantity."""
        return u.Quantity(self._nodes, self._unit, copy=True)

    @property
    def edges(self):
        """Bin edges (``nbin + 1`` values)."""
        if self._node_type == "edges":
            return self.nodes
        return self.pix_to_coord(np.arange(self.nbin + 1) - 0.5)

    @property
    def edges_min(self):
        """Lower bin edges."""
        return self.edges[:-1]

    @property
    def edges_max(self):
        """Upper bin edges."""
        return self.edges[1:]

    @property
    def center(self):
        """Bin centres; the log centre ``sqrt(lo * hi)`` on log axes."""
        if self._node_type == "center":
            return self.nodes
        return self.pix_to_coord(np.arange(self.nbin, dtype=float))

    @property
    def bin_width(self):
        """Bin widths."""
        return np.diff(self.edges)

    @property
    def bounds(self):
        """First and last edge."""
        edges = self.edges
        return edges[0], edges[-1]

    @property
    def is_energy_axis(self):
        """Whether this is a reco or true energy axis."""
        return self._name in ("energy", "energy_true")

    @property
    def as_plot_edges(self):
        """Edges suitable for plotting."""
        return self.edges

    def __len__(self):
        return self.nbin

    def __repr__(self):
        lo, hi = self.bounds
        return (
            f"MapAxis(name={self._name!r}, nbin={self.nbin}, node_type={self._node_type!r}, "
            f"interp={self._interp!r}, bounds=({lo.value:.4g}, {hi.value:.4g}) {self._unit})"
        )

    def is_allclose(self, other, rtol=1e-6, atol=1e-12):
        """Whether two axes have the same name, type, interpolation and nodes."""
        if not isinstance(other, MapAxis):
            return False
        if (self._name, self._node_type, self._interp) != (other._name, other._node_type, other._interp):
            return False
        if len(self._nodes) != len(other._nodes):
            return False
        try:
            other_nodes = other.nodes.to_value(self._unit)
        except u.UnitConversionError:
            return False
        return bool(np.allclose(self._nodes, other_nodes, rtol=rtol, atol=atol))

    def __eq__(self, other):
        return self.is_allclose(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    # ------------------------------------------------------- pixel <-> coord
    def _values_in_unit(self, coord):
        if isinstance(coord, u.Quantity):
            return coord.to_value(self._unit)
        return np.asarray(coord, dtype=float)

    def coord_to_pix(self, coord):
        """Fractional pixel coordinate of axis values (extrapolated outside)."""
        scaled = scale_forward(self._values_in_unit(coord), self._interp)
        pix = self._evaluate_spline("_to_pix", scaled, self._scaled, self._index)
        if self._node_type == "edges":
            pix = pix - 0.5
        return pix

    def pix_to_coord(self, pix):
        """Axis values at fractional pixel coordinates (extrapolated outside)."""
        pix = np.asarray(pix, dtype=float)
        if self._node_type == "edges":
            pix = pix + 0.5
        scaled = self._evaluate_spline("_to_coord", pix, self._index, self._scaled)
        return u.Quantity(scale_inverse(scaled, self._interp), self._unit)

    def coord_to_idx(self, coord, clip=False):
        """Bin index of axis values using the bin edges.

        Values below the first or above the last edge, and non-finite values,
        give ``-1`` unless ``clip`` is set. The last edge itself belongs to the
        last bin (this is the IRF validity rule of spec §0.1; histogramming
        uses :meth:`coord_to_bin`).
        """
        values = self._values_in_unit(coord)
        edges = self.edges.to_value(self._unit)
        idx = np.digitize(values, edges) - 1
        idx = np.where(values == edges[-1], self.nbin - 1, idx)
        if clip:
            return np.clip(idx, 0, self.nbin - 1)
        bad = (values < edges[0]) | (values > edges[-1]) | ~np.isfinite(values)
        return np.where(bad, -1, idx)

    def coord_to_bin(self, coord):
        """Histogram bin index: ``floor(pix + 0.5)``, ``-1`` outside ``[0, nbin)``."""
        pix = self.coord_to_pix(coord)
        with np.errstate(invalid="ignore"):
            idx = np.floor(pix + 0.5)
        valid = np.isfinite(idx) & (idx >= 0) & (idx < self.nbin)
        return np.where(valid, idx, -1).astype(np.int64)

    # ----------------------------------------------------------- factories
    @classmethod
    def from_bounds(cls, lo_bnd, hi_bnd, nbin, interp="lin", name="", node_type="edges", unit=None):
        """Axis with ``nbin`` bins between two bounds, uniform in the ``interp`` scale."""
        if isinstance(lo_bnd, u.Quantity) or isinstance(hi_bnd, u.Quantity):
            unit = u.Unit(unit) if unit is not None else u.Quantity(lo_bnd).unit
            lo_bnd = u.Quantity(lo_bnd).to_value(unit)
            hi_bnd = u.Quantity(hi_bnd).to_value(unit)
        nbin = int(nbin)
        if nbin < 1:
            raise ValueError("nbin must be at least 1")
        npts = nbin + 1 if node_type == "edges" else nbin
        if interp == "log":
            nodes = np.geomspace(lo_bnd, hi_bnd, npts)
        elif interp == "sqrt":
            nodes = np.linspace(lo_bnd**0.5, hi_bnd**0.5, npts) ** 2
        else:
            nodes = np.linspace(lo_bnd, hi_bnd, npts)
        return cls(nodes, interp=interp, name=name, node_type=node_type, unit=unit)

    @classmethod
    def from_energy_bounds(
        cls, energy_min, energy_max, nbin, unit=None, per_decade=False, name=None, node_type="edges"
    ):
        """Log-spaced energy axis.

        Parameters
        ----------
        energy_min, energy_max : `~astropy.units.Quantity`, float or str
            Bounds; plain numbers need ``unit``.
        nbin : int
            Number of bins, or bins per decade with ``per_decade=True``
            (then ``ceil(log10(max/min) * nbin)`` bins).
        name : str, optional
            Default ``"energy"``.
        """
        energy_min = u.Quantity(energy_min, unit)
        energy_max = u.Quantity(energy_max, unit)
        if unit is None:
            unit = energy_max.unit
            energy_min = energy_min.to(unit)
        if per_decade:
            nbin = math.ceil(np.log10((energy_max / energy_min).to_value("")) * nbin)
        if name is None:
            name = "energy"
        if name not in ("energy", "energy_true"):
            raise ValueError(f"an energy axis is named 'energy' or 'energy_true', not {name!r}")
        return cls.from_bounds(
            energy_min.to_value(unit),
            energy_max.to_value(unit),
            nbin=nbin,
            interp="log",
            name=name,
            node_type=node_type,
            unit=unit,
        )

    @classmethod
    def from_edges(cls, edges, interp="lin", name="", unit=None):
        """Axis from bin edges."""
        return cls(edges, interp=interp, name=name, node_type="edges", unit=unit)

    @classmethod
    def from_nodes(cls, nodes, interp="lin", name="", unit=None):
        """Axis from bin centres."""
        return cls(nodes, interp=interp, name=name, node_type="center", unit=unit)

    @classmethod
    def from_gadf_columns(cls, lo, hi, name, interp, unit=None):
        """Axis from the ``<PREFIX>_LO``/``_HI`` columns of a GADF IRF table (spec §1.4).

        Equal ``LO`` and ``HI`` define centre nodes; otherwise the edges are
        ``LO`` with the last ``HI`` appended.
        """
        lo = np.atleast_1d(np.asarray(lo, dtype=float)).ravel()
        hi = np.atleast_1d(np.asarray(hi, dtype=float)).ravel()
        if np.allclose(lo, hi):
            return cls(lo, interp=interp, name=name, node_type="center", unit=unit)
        return cls(np.append(lo, hi[-1]), interp=interp, name=name, node_type="edges", unit=unit)

    # -------------------------------------------------------- transforms
    def copy(self, **kwargs):
        """Copy, optionally replacing ``nodes``, ``interp``, ``name``, ``node_type`` or ``unit``."""
        params = dict(
            nodes=self.nodes, interp=self._interp, name=self._name, node_type=self._node_type, unit=None
        )
        params.update(kwargs)
        return MapAxis(**params)

    def rename(self, name):
        """Copy with a new name."""
        return self.copy(name=name)

    def squash(self):
        """One bin spanning the whole axis."""
        lo, hi = self.bounds
        return MapAxis.from_bounds(
            lo.value, hi.value, nbin=1, interp=self._interp, name=self._name, unit=self._unit
        )

    def upsample(self, factor):
        """Split each bin into ``factor`` bins, uniformly in the scaled pixel space."""
        factor = int(factor)
        if self._node_type == "edges":
            pix = np.linspace(-0.5, self.nbin - 0.5, self.nbin * factor + 1)
        else:
            pix = np.linspace(0, self.nbin - 1, (self.nbin - 1) * factor + 1)
        return self.copy(nodes=self.pix_to_coord(pix))

    def downsample(self, factor):
        """Merge every ``factor`` bins (keeps every ``factor``-th edge)."""
        factor = int(factor)
        if self.nbin % factor:
            raise ValueError(f"cannot downsample {self.nbin} bins by {factor}")
        return self.copy(nodes=self.nodes[::factor])

    def pad(self, pad_width):
        """Extend by ``pad_width`` (int or pair) bins on each side, extrapolating the pixel mapping."""
        lo, hi = (pad_width, pad_width) if np.isscalar(pad_width) else pad_width
        if self._node_type == "edges":
            pix = np.arange(-lo, self.nbin + hi + 1) - 0.5
        else:
            pix = np.arange(-lo, self.nbin + hi)
        return self.copy(nodes=self.pix_to_coord(pix))

    def slice(self, idx):
        """Sub-axis for a slice of bins."""
        if not isinstance(idx, slice):
            idx = slice(int(idx), int(idx) + 1)
        start, stop, _ = idx.indices(self.nbin)
        if self._node_type == "edges":
            return self.copy(nodes=self.nodes[start : stop + 1])
        return self.copy(nodes=self.nodes[start:stop])

    def to_node_type(self, node_type):
        """The same bins expressed with the other node type."""
        if node_type == self._node_type:
            return self.copy()
        nodes = self.edges if node_type == "edges" else self.center
        return self.copy(nodes=nodes, node_type=node_type)


class MapAxes(tuple):
    """An ordered, immutable collection of :class:`MapAxis` with lookup by name."""

    def __new__(cls, axes=()):
        axes = tuple(axes)
        for ax in axes:
            if not isinstance(ax, MapAxis):
                raise TypeError(f"expected MapAxis, got {type(ax).__name__}")
        names = [ax.name for ax in axes]
        if len(set(names)) != len(names):
            raise ValueError(f"axis names must be unique, got {names}")
        return super().__new__(cls, axes)

    @property
    def names(self):
        """Axis names in order."""
        return [ax.name for ax in self]

    @property
    def shape(self):
        """Number of bins per axis, in axis order."""
        return tuple(ax.nbin for ax in self)

    def __getitem__(self, key):
        if isinstance(key, str):
            for ax in self:
                if ax.name == key:
                    return ax
            raise KeyError(f"no axis named {key!r} among {self.names}")
        result = super().__getitem__(key)
        if isinstance(key, slice):
            return MapAxes(result)
        return result

    def __contains__(self, item):
        if isinstance(item, str):
            return item in self.names
        return super().__contains__(item)

    def index(self, name):
        """Position of the axis called ``name``."""
        return self.names.index(name)

    def replace(self, axis):
        """Copy with the axis of the same name replaced by ``axis``."""
        return MapAxes(axis if ax.name == axis.name else ax for ax in self)

    def drop(self, name):
        """Copy without the axis called ``name``."""
        return MapAxes(ax for ax in self if ax.name != name)

    def squash(self, name):
        """Copy with the axis called ``name`` squashed to one bin."""
        return MapAxes(ax.squash() if ax.name == name else ax for ax in self)

    def is_allclose(self, other):
        """Whether both collections hold the same axes in the same order."""
        return len(self) == len(other) and all(a.is_allclose(b) for a, b in zip(self, other))

    def __eq__(self, other):
        return isinstance(other, tuple) and self.is_allclose(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = tuple.__hash__
