"""Maps on a WCS geometry: :class:`WcsNDMap`."""

import numpy as np

from .core import Map

__all__ = ["WcsNDMap"]


class WcsNDMap(Map):
    """Map on a :class:`~dl3lab.reduction.geom.WcsGeom` (data shape ``(..., ny, nx)``)."""

    def _stack_slices(self, other):
        if self.geom.data_shape[-2:] == other.geom.data_shape[-2:] and self.geom.to_image() == (
            other.geom.to_image()
        ):
            return (Ellipsis,), (Ellipsis,)
        if not self.geom.is_aligned(other.geom):
            raise ValueError("can only stack equivalent maps or a cutout of the same geometry")
        parent, child = other.geom.overlap_slices(self.geom)
        return (Ellipsis,) + parent, (Ellipsis,) + child

    def cutout(self, position, width, mode="trim", odd_npix=False, min_npix=1):
        """Cut out a map around ``position`` (see `WcsGeom.cutout`); pixels outside the parent are 0."""
        geom = self.geom.cutout(
            position=position, width=width, mode=mode, odd_npix=odd_npix, min_npix=min_npix
        )
        parent, child = geom.overlap_slices(self.geom, mode="partial" if mode != "strict" else "strict")
        data = np.zeros(geom.data_shape, dtype=self.data.dtype)
        data[(Ellipsis,) + child] = self.data[(Ellipsis,) + parent]
        return self._init_copy(geom=geom, data=data)

    def upsample(self, factor, order=0, preserve_counts=True, axis_name=None):
        """Split every pixel (or bin of ``axis_name``) into ``factor`` parts.

        Values are repeated (``order=0``) or spline-interpolated in pixel space
        (``order > 0``, spatial only). With ``preserve_counts`` the values are
        treated as integrals over the bin volume.
        """
        factor = int(factor)
        if factor == 1:
            return self
        if axis_name is not None:
            return self._upsample_axis(factor, axis_name, preserve_counts)
        geom = self.geom.upsample(factor)
        data = self.data / self.geom.bin_volume().value if preserve_counts else self.data
        if order == 0:
            data = np.repeat(np.repeat(data, factor, axis=-1), factor, axis=-2)
        else:
            from scipy import ndimage

            idx = geom.get_idx()
            pix = ((idx[0] - 0.5 * (factor - 1)) / factor, (idx[1] - 0.5 * (factor - 1)) / factor) + idx[2:]
            data = ndimage.map_coordinates(data.T, pix, order=order, mode="nearest").T
        if preserve_counts:
            data = data * geom.bin_volume().value
        return self._init_copy(geom=geom, data=data.astype(self.data.dtype))

    def downsample(self, factor, preserve_counts=True, axis_name=None, weights=None):
        """Merge ``factor`` pixels (or bins of ``axis_name``).

        NaN-ignoring weighted sum with ``preserve_counts``, otherwise the
        weighted mean. The number of pixels must be divisible by ``factor``.
        """
        factor = int(factor)
        if factor == 1:
            return self
        if axis_name is not None:
            return self._downsample_axis(factor, axis_name, preserve_counts, weights=weights)
        ny, nx = self.data.shape[-2:]
        if nx % factor or ny % factor:
            raise ValueError(f"cannot downsample ({ny}, {nx}) pixels by {factor}")
        ndim = self.data.ndim
        data = self._block_reduce((ndim - 2, ndim - 1), factor, preserve_counts, weights)
        return self._init_copy(geom=self.geom.downsample(factor), data=data)

    def plot(self, ax=None, fig=None, add_cbar=False, stretch="linear", **kwargs):
        """Plot an image with matplotlib on the map's WCS projection.

        Parameters
        ----------
        ax : `~astropy.visualization.wcsaxes.WCSAxes`, optional
            Axes to draw on; a new WCS axes of the current figure by default.
        fig : `~matplotlib.figure.Figure`, optional
            Figure for the new axes.
        add_cbar : bool
            Add a colour bar labelled with the unit.
        stretch : {"linear", "sqrt", "log", ...}
            Colour stretch (astropy ``simple_norm``) unless ``norm`` is given.
        **kwargs
            Passed to ``imshow``.

        Returns
        -------
        ax : WCSAxes
        """
        import matplotlib.pyplot as plt
        from astropy.visualization import simple_norm

        if not self.geom.is_flat:
            raise TypeError("plot() needs an image; select a plane with get_image_by_idx() first")
        image = np.asarray(self.data, dtype=float).reshape(self.data.shape[-2:])
        if ax is None:
            fig = fig if fig is not None else plt.gcf()
            ax = fig.add_subplot(1, 1, 1, projection=self.geom.wcs)
        kwargs.setdefault("interpolation", "nearest")
        kwargs.setdefault("origin", "lower")
        kwargs.setdefault("cmap", "afmhot")
        finite = np.isfinite(image)
        if "norm" not in kwargs and finite.any():
            vmin = kwargs.pop("vmin", None)
            vmax = kwargs.pop("vmax", None)
            kwargs["norm"] = simple_norm(image[finite], stretch=stretch, vmin=vmin, vmax=vmax)
        im = ax.imshow(image, **kwargs)
        if add_cbar:
            ax.figure.colorbar(im, ax=ax, label=self.unit.to_string() or None)
        if hasattr(ax, "coords"):
            lon, lat = ax.coords[0], ax.coords[1]
            if self.geom.frame == "galactic":
                lon.set_axislabel("Galactic Longitude")
                lat.set_axislabel("Galactic Latitude")
            else:
                lon.set_axislabel("Right Ascension")
                lat.set_axislabel("Declination")
        return ax
