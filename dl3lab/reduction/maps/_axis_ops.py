"""Operations along a non-spatial axis: cumulative sums, integrals, normalisation, padding, resampling."""

import numpy as np
from astropy import units as u

from ..axes import MapAxis
from ..geom.base import transform_edges

__all__ = ["AxisOpsMixin"]


def _broadcast_shape(ndim, axis_index):
    shape = [1] * ndim
    shape[axis_index] = -1
    return shape


class AxisOpsMixin:
    """Axis operations of :class:`~dl3lab.reduction.maps.Map` (spec §0.3)."""

    def cumsum(self, axis_name):
        """Cumulative integral along an axis, starting at 0 (spec §0.3).

        Values are multiplied by the bin width (and by ``2π r`` for ``rad``)
        and accumulated; a 0 is prepended, so the result is defined on a
        node axis at the bin edges.
        """
        axis = self.geom.axes[axis_name]
        index = self.geom.axis_data_index(axis_name)
        shape = _broadcast_shape(self.data.ndim, index)
        edges = transform_edges(axis)
        values = self.data * np.diff(edges.value).reshape(shape)
        unit = self.unit * axis.unit
        if axis_name == "rad":
            values = 2 * np.pi * axis.center.value.reshape(shape) * values
            unit = unit * axis.unit
        data = np.insert(np.cumsum(values, axis=index), 0, 0, axis=index)
        nodes_axis = MapAxis.from_nodes(edges, name=axis.name, interp=axis.interp)
        geom = self.geom.to_image().to_cube(self.geom.axes.replace(nodes_axis))
        return self._init_copy(geom=geom, data=data, unit=unit)

    def integral(self, axis_name, coords, **kwargs):
        """Integral from the first edge up to ``coords[axis_name]`` (interpolated cumulative sum).

        The cumulative sum is padded by one node at each end (edge values)
        and interpolated linearly in pixel space (spec §0.3).

        Returns
        -------
        `~astropy.units.Quantity`
        """
        cumsum = self.cumsum(axis_name=axis_name)
        cumsum = cumsum.pad(1, axis_name=axis_name, mode="edge")
        return u.Quantity(cumsum.interp_by_coord(coords, **kwargs), cumsum.unit, copy=None)

    def normalize(self, axis_name=None):
        """Normalise in place so that the integral along ``axis_name`` is 1 (NaN → 0)."""
        cumsum = self.cumsum(axis_name=axis_name)
        index = self.geom.axis_data_index(axis_name)
        with np.errstate(invalid="ignore", divide="ignore"):
            normed = self.data / cumsum.data.max(axis=index, keepdims=True)
        self._data = np.nan_to_num(normed)
        self._unit = self.unit / cumsum.unit

    def pad(self, pad_width, axis_name, mode="constant", cval=0):
        """Pad a non-spatial axis by ``pad_width`` bins (int or pair) on each side.

        Parameters
        ----------
        mode : {"constant", "edge"}
            Fill with ``cval`` or repeat the edge values.
        """
        if axis_name is None:
            raise NotImplementedError("spatial padding is not implemented; give an axis_name")
        axis = self.geom.axes[axis_name]
        lo, hi = (pad_width, pad_width) if np.isscalar(pad_width) else pad_width
        index = self.geom.axis_data_index(axis_name)
        widths = [(0, 0)] * self.data.ndim
        widths[index] = (int(lo), int(hi))
        if mode == "constant":
            data = np.pad(self.data, widths, mode="constant", constant_values=cval)
        elif mode == "edge":
            data = np.pad(self.data, widths, mode="edge")
        else:
            raise ValueError(f"unsupported pad mode {mode!r}")
        geom = self.geom.to_image().to_cube(self.geom.axes.replace(axis.pad((int(lo), int(hi)))))
        return self._init_copy(geom=geom, data=data)

    def _upsample_axis(self, factor, axis_name, preserve_counts):
        """Repeat the values of each bin ``factor`` times (nearest-value upsampling).

        With ``preserve_counts`` the values are treated as integrals over the bin
        volume (divided by the old and multiplied by the new bin volume).
        """
        geom = self.geom.upsample(factor, axis_name=axis_name)
        index = self.geom.axis_data_index(axis_name)
        data = self.data / self.geom.bin_volume().value if preserve_counts else self.data
        data = np.repeat(data, factor, axis=index)
        if preserve_counts:
            data = data * geom.bin_volume().value
        return self._init_copy(geom=geom, data=data.astype(self.data.dtype))

    def _downsample_axis(self, factor, axis_name, preserve_counts, weights=None):
        """Merge ``factor`` bins: NaN-ignoring weighted sum, or weighted mean without ``preserve_counts``."""
        axis = self.geom.axes[axis_name]
        if axis.nbin % factor:
            raise ValueError(f"cannot downsample {axis.nbin} bins of {axis_name!r} by {factor}")
        geom = self.geom.downsample(factor, axis_name=axis_name)
        index = self.geom.axis_data_index(axis_name)
        data = self._block_reduce(index, factor, preserve_counts, weights)
        return self._init_copy(geom=geom, data=data)

    def _block_reduce(self, dims, factor, preserve_counts, weights=None):
        dims = (dims,) if np.isscalar(dims) else tuple(dims)
        weights = np.ones_like(self.data) if weights is None else getattr(weights, "data", weights)

        def blocks(array):
            array = np.broadcast_to(array, self.data.shape)
            shape, sum_axes = [], []
            for k, n in enumerate(array.shape):
                if k in dims:
                    shape += [n // factor, factor]
                    sum_axes.append(len(shape) - 1)
                else:
                    shape.append(n)
            return np.nansum(array.reshape(shape), axis=tuple(sum_axes))

        data = blocks(self.data * weights)
        if not preserve_counts:
            weight_sum = blocks(weights)
            data = np.divide(data, weight_sum, out=np.zeros_like(data, dtype=float), where=weight_sum != 0)
        return data.astype(self.data.dtype)

    def resample_axis(self, axis, weights=None, ufunc=np.add):
        """Regroup the bins of an axis onto the coarser edges of ``axis`` (which must be a subset).

        The values of each group are combined with ``ufunc.reduceat``.
        """
        old = self.geom.axes[axis.name]
        old_edges = old.edges.to_value(old.unit)
        new_edges = axis.edges.to_value(old.unit)
        positions = np.array([np.argmin(np.abs(old_edges - e)) for e in new_edges])
        if not np.allclose(old_edges[positions], new_edges, rtol=1e-9, atol=0):
            raise ValueError("the new axis edges must be a subset of the old ones")
        index = self.geom.axis_data_index(axis.name)
        data = self.data if weights is None else self.data * weights.data
        data = np.take(data, np.arange(positions[0], positions[-1]), axis=index)
        data = ufunc.reduceat(data, positions[:-1] - positions[0], axis=index)
        geom = self.geom.replace_axis(axis)
        return self._init_copy(geom=geom, data=data)
