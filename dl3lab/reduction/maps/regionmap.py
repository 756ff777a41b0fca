"""Maps on a region geometry: :class:`RegionNDMap` (one spatial bin)."""

import numpy as np

from .core import Map

__all__ = ["RegionNDMap"]


class RegionNDMap(Map):
    """Map on a :class:`~dl3lab.reduction.geom.RegionGeom` (data shape ``(..., n1, 1, 1)``)."""

    def _outside_for_fill(self, pix):
        # like scipy's RegularGridInterpolator: out of bounds along any dimension
        # longer than one bin (the spatial dimensions are ignored)
        outside = np.zeros(np.broadcast_shapes(*[np.shape(p) for p in pix]), dtype=bool)
        for p, n in zip(pix[2:], self.geom.axes.shape):
            if n > 1:
                p = np.asarray(p, dtype=float)
                outside = outside | ~((p >= 0) & (p <= n - 1))
        return outside

    def cutout(self, *args, **kwargs):
        """Return self (a region map has a single spatial bin)."""
        return self

    def upsample(self, factor, order=0, preserve_counts=True, axis_name=None):
        """Upsample a non-spatial axis (default the first) by linear interpolation at the new bin centres.

        With ``preserve_counts`` the values are divided by ``factor``.
        """
        axis_name = axis_name or self.geom.axes[0].name
        geom = self.geom.upsample(int(factor), axis_name=axis_name)
        data = self.interp_by_coord(geom.get_coord())
        if preserve_counts:
            data = data / factor
        return self._init_copy(geom=geom, data=data)

    def downsample(self, factor, preserve_counts=True, axis_name=None, weights=None):
        """Merge ``factor`` bins of a non-spatial axis (default the first).

        NaN-ignoring sum with ``preserve_counts``, else NaN-ignoring mean;
        boolean maps keep a bin only if all merged bins are True.
        """
        axis_name = axis_name or self.geom.axes[0].name
        factor = int(factor)
        axis = self.geom.axes[axis_name]
        if axis.nbin % factor:
            raise ValueError(f"cannot downsample {axis.nbin} bins of {axis_name!r} by {factor}")
        geom = self.geom.downsample(factor, axis_name=axis_name)
        index = self.geom.axis_data_index(axis_name)
        data = self.data if weights is None else self.data * weights.data
        shape = data.shape[:index] + (axis.nbin // factor, factor) + data.shape[index + 1 :]
        blocks = data.reshape(shape)
        if self.is_mask:
            data = np.all(blocks, axis=index + 1)
        elif preserve_counts:
            data = np.nansum(blocks, axis=index + 1)
        else:
            data = np.nanmean(blocks, axis=index + 1)
        return self._init_copy(geom=geom, data=data)

    def plot(self, ax=None, axis_name=None, **kwargs):
        """Step plot of the values against a non-spatial axis (log x scale for log axes).

        Parameters
        ----------
        ax : `~matplotlib.axes.Axes`, optional
        axis_name : str, optional
            Axis on the x axis; default the first one. Other axes give one
            line per bin.
        **kwargs
            Passed to ``Axes.stairs``.
        """
        import matplotlib.pyplot as plt

        axes = self.geom.axes
        if len(axes) == 0:
            raise ValueError("a region map without non-spatial axes cannot be plotted")
        axis_name = axis_name or axes[0].name
        axis = axes[axis_name]
        ax = ax if ax is not None else plt.gca()
        index = self.geom.axis_data_index(axis_name)
        data = np.moveaxis(self.data.reshape(self.data.shape[:-2]), index, -1)
        edges = axis.edges.value
        rows = data.reshape(-1, axis.nbin)
        for i, row in enumerate(rows):
            label = kwargs.pop("label", None) if i == 0 else None
            ax.stairs(np.asarray(row, dtype=float), edges, label=label, **kwargs)
        if axis.interp == "log":
            ax.set_xscale("log")
        unit = f" [{axis.unit.to_string()}]" if axis.unit.to_string() else ""
        ax.set_xlabel(f"{axis.name}{unit}")
        if self.unit.to_string():
            ax.set_ylabel(f"[{self.unit.to_string()}]")
        return ax
