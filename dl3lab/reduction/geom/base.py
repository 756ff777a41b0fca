"""Behaviour shared by :class:`WcsGeom` and :class:`RegionGeom`: the non-spatial axes."""

import numpy as np
from astropy import units as u

from ..axes import MapAxes, MapAxis

__all__ = ["Geom", "pix_to_idx_array", "transform_edges"]


def transform_edges(axis):
    """Bin edges of an axis computed through its pixel transform, as Gammapy does.

    They can differ from the nodes in the last bit (e.g. ``10.000000000000002``
    for a 1-10 TeV log axis); Gammapy uses these values for bin widths and
    energy masks, so the same values are used here where it matters.
    """
    return axis.pix_to_coord(np.arange(axis.nbin + 1, dtype=float) - 0.5)


def pix_to_idx_array(pix, nbin=None, clip=False):
    """Bin index ``floor(pix + 0.5)`` of fractional pixel coordinates (spec §2.1).

    Non-finite values, and values outside ``[0, nbin)`` when ``nbin`` is
    given, become ``-1`` (or are clipped with ``clip=True``).
    """
    pix = np.asarray(pix, dtype=float)
    with np.errstate(invalid="ignore"):
        idx = np.floor(pix + 0.5)
    finite = np.isfinite(idx)
    idx = np.where(finite, idx, -1).astype(np.int64)
    if nbin is None:
        return idx
    if clip:
        return np.clip(idx, 0, nbin - 1)
    return np.where((idx < 0) | (idx >= nbin), -1, idx)


def _as_axes(axes):
    if axes is None:
        return MapAxes(())
    if isinstance(axes, MapAxis):
        return MapAxes((axes,))
    return MapAxes(axes)


class Geom:
    """Base class of map geometries: two spatial dimensions plus non-spatial axes.

    Subclasses provide the spatial part; this class handles the axes, data
    shapes and the axis-based masks.
    """

    is_region = False

    @property
    def axes(self):
        """Non-spatial axes (`~dl3lab.reduction.axes.MapAxes`)."""
        return self._axes

    @property
    def axes_names(self):
        """Names of the non-spatial axes."""
        return self._axes.names

    @property
    def is_image(self):
        """Whether the geometry has no non-spatial axis."""
        return len(self._axes) == 0

    @property
    def ndim(self):
        """Number of dimensions (2 spatial plus the non-spatial axes)."""
        return 2 + len(self._axes)

    @property
    def is_flat(self):
        """Whether every non-spatial axis has a single bin."""
        return all(ax.nbin == 1 for ax in self._axes)

    @property
    def data_shape(self):
        """Shape of the data array: reversed non-spatial axes, then ``(ny, nx)``."""
        return tuple(ax.nbin for ax in reversed(self._axes)) + self._spatial_shape

    @property
    def data_shape_axes(self):
        """Data shape with 1 for the spatial dimensions."""
        return tuple(ax.nbin for ax in reversed(self._axes)) + (1, 1)

    def axis_data_index(self, axis_name):
        """Index of the data array dimension of a non-spatial axis."""
        return len(self._axes) - 1 - self._axes.index(axis_name)

    def data_nbytes(self, dtype="float32"):
        """Memory needed by a data array of this geometry (Quantity, MB)."""
        nbytes = int(np.prod(self.data_shape)) * np.dtype(dtype).itemsize
        return u.Quantity(nbytes, "byte").to("MB")

    # ------------------------------------------------------- axis transforms
    def to_cube(self, axes):
        """Copy with ``axes`` appended to the non-spatial axes."""
        return self._init_copy(axes=list(self._axes) + list(_as_axes(axes)))

    def to_image(self):
        """Copy without non-spatial axes."""
        return self._init_copy(axes=None)

    def squash(self, axis_name):
        """Copy with the axis ``axis_name`` reduced to one bin."""
        return self._init_copy(axes=self._axes.squash(axis_name))

    def drop(self, axis_name):
        """Copy without the axis ``axis_name``."""
        if axis_name not in self._axes.names:
            raise KeyError(f"no axis named {axis_name!r} among {self._axes.names}")
        return self._init_copy(axes=self._axes.drop(axis_name))

    def replace_axis(self, axis):
        """Copy with the axis of the same name replaced by ``axis``."""
        return self._init_copy(axes=self._axes.replace(axis))

    def rename_axes(self, names, new_names):
        """Copy with axes renamed."""
        names = [names] if isinstance(names, str) else list(names)
        new_names = [new_names] if isinstance(new_names, str) else list(new_names)
        mapping = dict(zip(names, new_names))
        axes = [ax.rename(mapping[ax.name]) if ax.name in mapping else ax for ax in self._axes]
        return self._init_copy(axes=axes)

    def _resample_axis(self, factor, axis_name, up):
        # as Gammapy: new nodes from the pixel transform of the (transform) edges or centres
        axis = self._axes[axis_name]
        if not up:
            if axis.nbin % factor:
                raise ValueError(f"cannot downsample {axis.nbin} bins of {axis_name!r} by {factor}")
            new = axis.copy(nodes=transform_edges(axis)[::factor], node_type="edges")
        elif axis.node_type == "edges":
            pix = axis.coord_to_pix(transform_edges(axis))
            pix_new = np.linspace(pix.min(), pix.max(), axis.nbin * factor + 1)
            new = axis.copy(nodes=axis.pix_to_coord(pix_new))
        else:
            pix = axis.coord_to_pix(axis.center)
            pix_new = np.linspace(pix.min(), pix.max(), (axis.nbin - 1) * factor + 1)
            new = axis.copy(nodes=axis.pix_to_coord(pix_new))
        return self._init_copy(axes=self._axes.replace(new))

    def slice_by_idx(self, slices):
        """Copy restricted to index slices of non-spatial axes.

        Parameters
        ----------
        slices : dict
            Axis name to a slice or an integer; an integer removes the axis.
        """
        axes = []
        for ax in self._axes:
            if ax.name in slices:
                idx = slices[ax.name]
                if isinstance(idx, slice):
                    axes.append(ax.slice(idx))
                continue
            axes.append(ax)
        return self._init_copy(axes=axes)

    # ------------------------------------------------------------ pix/coords
    def _axes_coord_to_pix(self, coords):
        pix = []
        for i, ax in enumerate(self._axes):
            if coords.match_by_name:
                if ax.name not in coords:
                    raise KeyError(f"coordinates lack a value for axis {ax.name!r}")
                values = coords[ax.name]
            else:
                values = coords[i + 2]
            pix.append(ax.coord_to_pix(values))
        return pix

    def _axes_pix_to_idx(self, pix, clip=False):
        return [pix_to_idx_array(p, ax.nbin, clip=clip) for p, ax in zip(pix, self._axes)]

    def coord_to_idx(self, coords, clip=False):
        """Bin indices ``(ix, iy, i_axis1, ...)`` of coordinates; -1 outside unless ``clip``."""
        return self.pix_to_idx(self.coord_to_pix(coords), clip=clip)

    def contains(self, coords):
        """Whether coordinates fall inside the geometry (all indices valid)."""
        idx = self.coord_to_idx(coords)
        return np.all(np.stack(np.broadcast_arrays(*[i != -1 for i in idx])), axis=0)

    def contains_pix(self, pix):
        """Whether fractional pixel coordinates fall inside the geometry."""
        idx = self.pix_to_idx(pix)
        return np.all(np.stack(np.broadcast_arrays(*[i != -1 for i in idx])), axis=0)

    def _axes_center_pix(self):
        return tuple((ax.nbin - 1) / 2.0 for ax in self._axes)

    def _axes_coords(self, mode="center", axis_name=None, sparse=False):
        """Per-axis coordinate arrays shaped to broadcast against the data shape."""
        ndim = len(self._axes) + 2
        out = {}
        for i, ax in enumerate(self._axes):
            values = ax.edges if (mode == "edges" and ax.name == axis_name) else ax.center
            shape = [1] * ndim
            shape[len(self._axes) - 1 - i] = -1
            out[ax.name] = values.reshape(shape)
        return out

    # ------------------------------------------------------------ masks
    def _energy_axis_name(self):
        for name in ("energy", "energy_true"):
            if name in self._axes.names:
                return name
        raise ValueError(f"geometry has no energy axis (axes: {self._axes.names})")

    def energy_mask(self, energy_min=None, energy_max=None, round_to_edge=False):
        """Mask of the energy bins fully inside ``[energy_min, energy_max]``.

        A bin is kept iff ``E_lo >= energy_min`` and ``E_hi <= energy_max``, with
        the edges computed through the axis pixel transform like Gammapy (so a
        bound equal to a nominal edge can fall on either side of the float edge).
        With ``round_to_edge`` the bounds are first moved to the nearest bin
        edge (in pixel space).

        Returns
        -------
        mask : `~dl3lab.reduction.maps.Map`
            Boolean map of this geometry (usable as a numpy array).
        """
        from ..maps import Map

        name = self._energy_axis_name()
        axis = self._axes[name]
        # edges from the pixel transform, as Gammapy computes them (they can differ from
        # the nodes in the last bit, e.g. 10.000000000000002, which decides edge cases)
        edges = transform_edges(axis)
        e_min = edges[0] if energy_min is None else u.Quantity(energy_min, axis.unit)
        e_max = edges[-1] if energy_max is None else u.Quantity(energy_max, axis.unit)
        if round_to_edge:
            pix = axis.coord_to_pix(u.Quantity([e_min, e_max]))
            pix = np.round(pix + 0.5) - 0.5
            e_min, e_max = axis.pix_to_coord(pix)
        keep = (edges[:-1] >= e_min) & (edges[1:] <= e_max)
        shape = [1] * self.ndim
        shape[self.axis_data_index(name)] = -1
        data = np.broadcast_to(keep.reshape(shape), self.data_shape).copy()
        return Map.from_geom(self, data=data)

    def _bin_volume(self, solid_angle):
        # product of the axis bin widths first, then times the solid angle (Gammapy's order)
        widths = 1
        for i, ax in enumerate(self._axes):
            shape = [1] * self.ndim
            shape[len(self._axes) - 1 - i] = -1
            widths = widths * np.diff(transform_edges(ax)).reshape(shape)
        return np.broadcast_to(solid_angle * widths, self.data_shape, subok=True) * 1

    def bin_volume(self):
        """Solid angle times the width of every non-spatial bin (Quantity, data shape)."""
        return self._bin_volume(self.solid_angle())

    def _axes_equal(self, other, rtol, atol):
        if len(self._axes) != len(other.axes):
            return False
        return all(a.is_allclose(b, rtol=rtol, atol=atol) for a, b in zip(self._axes, other.axes))

    def __eq__(self, other):
        if not isinstance(other, Geom):
            return NotImplemented
        return self.is_allclose(other)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None
