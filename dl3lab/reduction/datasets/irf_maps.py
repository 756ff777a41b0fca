"""IRF maps carried by a dataset: `PSFMap`, `EDispKernelMap` and `EDispMap`.

Each holds an IRF map on a coarse spatial grid (the IRF geometry) plus the
exposure map on the same grid, which weights the mean when datasets are
stacked (reduction spec §3, §4.4, §4.5, §10.1).
"""

import numpy as np
from astropy import units as u

from ..geom._utils import rotated_lonlat
from ..geom.grid import overlap_slices
from ..interpolation import ScaledGridInterpolator
from .stacking import PLANE_MIN, all_finite, finite

__all__ = ["IRFMap", "PSFMap", "EDispKernelMap", "EDispMap", "diagonal_kernel"]


def _pixel_of(geom, position):
    """Fractional (x, y) pixel of a sky position in a WCS geometry.

    The last few results are kept per geometry, for the same position object.
    """
    cache = getattr(geom, "_cache", None)
    recent = cache.setdefault("pixel_of", []) if cache is not None else []
    for known, result in recent:
        if known is position:
            return result
    if hasattr(position, "transform_to"):
        lon, lat = rotated_lonlat(position, geom.frame)
    else:
        lon, lat = position.spherical.lon.deg, position.spherical.lat.deg
    x, y = geom.wcs.wcs_world2pix(lon, lat, 0)
    result = (np.asarray(x, float), np.asarray(y, float))
    if cache is not None:
        recent[:] = [(position, result)] + recent[:7]
    return result


def _nearest_pixel(geom, position):
    """Index (y, x) of the pixel containing ``position``, clipped to the map."""
    x, y = _pixel_of(geom, position)
    nx, ny = (int(n) for n in np.ravel(geom.npix)[:2]) if np.ndim(geom.npix) == 1 else geom.npix
    ix = int(np.clip(np.floor(x + 0.5), 0, nx - 1))
    iy = int(np.clip(np.floor(y + 0.5), 0, ny - 1))
    return iy, ix


class IRFMap:
    """Base class: an IRF map and its exposure map, both `Map` on the IRF geometry."""

    _map_attr = "irf_map"

    def __init__(self, irf_map, exposure_map=None):
        setattr(self, self._map_attr, irf_map)
        self.exposure_map = exposure_map

    @property
    def _irf_map(self):
        return getattr(self, self._map_attr)

    @_irf_map.setter
    def _irf_map(self, value):
        setattr(self, self._map_attr, value)

    def copy(self):
        """Deep copy."""
        exposure = None if self.exposure_map is None else self.exposure_map.copy()
        return self.__class__(self._irf_map.copy(), exposure)

    def cutout(self, position, width, mode="trim", min_npix=3):
        """Cutout of both maps (at least ``min_npix`` pixels per side)."""
        irf = self._irf_map.cutout(position, width, mode=mode, min_npix=min_npix)
        exposure = None
        if self.exposure_map is not None:
            exposure = self.exposure_map.cutout(position, width, mode=mode, min_npix=min_npix)
        return self.__class__(irf, exposure)

    def stack(self, other, weights=None):
        """Exposure-weighted mean with ``other``, in place.

        ``P <- (P X + P_o X_o w) / (X + X_o w)`` and ``X <- X + X_o w``, where ``w``
        (broadcastable to the other IRF map data) is the stacking weight.
        """
        self.stack_many([(other, weights)])

    def stack_many(self, others):
        """:meth:`stack` of each ``(other, weights)`` in ``others``, in order."""
        data = self._irf_map.data
        for other, weights in others:
            slices, a, b, other_data = self._stack_step(other, weights)
            target = data[slices]
            if target.size < PLANE_MIN or target.ndim < 2 or not len(target) == len(a) == len(b):
                np.multiply(target, a, out=target)
                target += other_data * b
            else:
                # One true-energy plane at a time, so that the temporaries stay in the CPU cache.
                scratch = np.empty(np.broadcast_shapes(other_data[0].shape, b[0].shape))
                for k in range(len(target)):
                    plane = target[k]
                    np.multiply(plane, a[k], out=plane)
                    plane += np.multiply(other_data[k], b[k], out=scratch)
            if not all_finite(target):
                data[slices] = np.nan_to_num(target, nan=0.0, posinf=0.0, neginf=0.0)

    def _stack_step(self, other, weights):
        """Update the exposure map for ``other`` and return ``(slices, a, b, other_data)`` such that the
        IRF map becomes ``P a + P_o b`` on ``slices``."""
        if self.exposure_map is None or other.exposure_map is None:
            raise ValueError(f"{type(self).__name__}.stack needs exposure maps on both sides")
        slices = (Ellipsis,) + tuple(overlap_slices(other._irf_map.geom, self._irf_map.geom)[0])
        w_irf = 1.0 if weights is None else np.asarray(weights, dtype=float)
        w_exp = w_irf
        if weights is not None and w_irf.ndim == 4 and w_irf.shape[1] > 1:
            w_exp = np.any(w_irf > 0, axis=1, keepdims=True).astype(float)
        expo = self.exposure_map.data
        other_expo = finite(other.exposure_map.data) * u.Unit(other.exposure_map.unit).to(self.exposure_map.unit)
        old_expo = expo[slices].copy()
        new_expo = old_expo + other_expo * w_exp
        expo[slices] = new_expo
        # P <- (P X + P_o X_o w) / (X + X_o w), written as P a + P_o b with small weight arrays.
        with np.errstate(invalid="ignore", divide="ignore"):
            inverse = np.where(new_expo > 0, 1.0 / new_expo, 0.0)
        a = old_expo * inverse
        b = other_expo * w_irf * inverse
        other_data = other._irf_map.data
        scale = u.Unit(other._irf_map.unit).to(self._irf_map.unit)
        if scale != 1:
            other_data = other_data * scale
        return slices, a, b, finite(other_data)


class PSFMap(IRFMap):
    """PSF map with axes ``[rad, energy_true]`` (or ``[rad, energy]`` for a reco PSF)."""

    _map_attr = "psf_map"

    @property
    def energy_name(self):
        """Name of the energy axis."""
        return "energy_true" if "energy_true" in self.psf_map.geom.axes.names else "energy"

    def containment(self, rad, energy_true, position=None):
        """Fraction of the PSF within ``rad`` at ``energy_true`` and ``position``.

        The PSF map is treated as an IRF on (energy, rad, pixel y, pixel x) with
        fractional pixel coordinates, its cumulative integral over ``rad`` placed
        on the rad upper edges and interpolated linearly (zero outside).
        """
        geom = self.psf_map.geom
        if position is None:
            position = geom.center_skydir
        x, y = _pixel_of(geom, position)
        rad_axis = geom.axes["rad"]
        e_axis = geom.axes[self.energy_name]
        r_c = rad_axis.center.to_value("deg")
        dr = rad_axis.bin_width.to_value("deg")
        psf = self.psf_map.quantity.to_value("deg-2")
        cumsum = np.cumsum(psf * (2 * np.pi * r_c * dr)[None, :, None, None], axis=1)
        ny, nx = cumsum.shape[-2:]
        r_nodes = rad_axis.edges[1:].to_value("deg")
        nodes = [e_axis.center.to_value("TeV"), r_nodes, np.arange(ny, dtype=float), np.arange(nx, dtype=float)]
        interp = ScaledGridInterpolator(nodes, cumsum, ["log", "lin", "lin", "lin"])
        energy = u.Quantity(energy_true, "TeV").value
        rad = u.Quantity(rad, "deg").value
        result = interp([energy, rad, y, x])
        # Out-of-bounds rule: zero outside the node-derived edges of each axis.
        from ..axes import MapAxis

        for value, axis_nodes, scale in (
            (energy, nodes[0], "log"),
            (rad, nodes[1], "lin"),
            (y, nodes[2], "lin"),
            (x, nodes[3], "lin"),
        ):
            if len(axis_nodes) < 2:
                continue
            edges = MapAxis.from_nodes(axis_nodes, interp=scale).edges.value
            outside = (np.asarray(value) < edges[0]) | (np.asarray(value) > edges[-1])
            result = np.where(outside, 0.0, result)
        return result

    def containment_radius(self, fraction, energy_true, position=None, factor=20):
        """Radius containing ``fraction`` of the PSF.

        The rad axis is upsampled by ``factor`` and the upsampled bin centre whose
        containment is closest to ``fraction`` is returned.
        """
        rad = self.psf_map.geom.axes["rad"].upsample(factor).center.to_value("deg")
        energy = np.atleast_1d(u.Quantity(energy_true, "TeV").value)
        cont = self.containment(rad[:, None] * u.deg, energy[None, :] * u.TeV, position)
        idx = np.argmin(np.abs(cont - fraction), axis=0)
        radius = rad[idx]
        return u.Quantity(radius if np.ndim(energy_true) else radius[0], "deg")


def diagonal_kernel(energy_axis, energy_axis_true):
    """Overlap fraction of each true-energy bin with each reco bin, shape ``(n_true, n_reco)``."""
    e_lo, e_hi = (energy_axis.edges[:-1].to_value("TeV"), energy_axis.edges[1:].to_value("TeV"))
    t_edges = energy_axis_true.edges.to_value("TeV")
    t_lo, t_hi = t_edges[:-1, None], t_edges[1:, None]
    overlap = np.minimum(e_hi[None, :], t_hi) - np.maximum(e_lo[None, :], t_lo)
    return np.clip(overlap, 0, None) / (t_hi - t_lo)


class EDispKernelMap(IRFMap):
    """Energy dispersion kernel map with axes ``[energy, energy_true]``."""

    _map_attr = "edisp_map"

    def get_edisp_kernel(self, position=None):
        """Kernel matrix ``(n_true, n_reco)`` at the pixel nearest to ``position``."""
        geom = self.edisp_map.geom
        iy, ix = _nearest_pixel(geom, geom.center_skydir if position is None else position)
        return self.edisp_map.data[:, :, iy, ix].copy()


class EDispMap(IRFMap):
    """Energy dispersion map with axes ``[migra, energy_true]``: a density in migration."""

    _map_attr = "edisp_map"
