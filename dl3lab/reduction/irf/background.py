"""Background rate tables ``bkg_3d`` and ``bkg_2d`` (spec §1.4, §4.3, §5).

Values are interpolated in log scale (spec §0.1). A float32 table keeps its
dtype, so stored zeros become ``exp(ln(1.175e-38))`` ≈ 1.2e-38 (not 0), as in
Gammapy (spec §0.1 quirk, §14 item 2).
"""

import logging

import numpy as np
from astropy import units as u

from ..axes import MapAxis
from ..interpolation import trapz_loglog
from .core import IRF
from .fitsio import check_unit, parse_unit

__all__ = ["BackgroundIRF", "Background3D", "Background2D"]

log = logging.getLogger(__name__)

_TINY64 = np.finfo(np.float64).tiny


class BackgroundIRF(IRF):
    """Common part of the background tables (rate per energy, time and solid angle)."""

    data_column = ("BKG", "BGD")
    default_unit = u.Unit("s-1 MeV-1 sr-1")
    values_scale = "log"
    extname = "BACKGROUND"
    hduclas2 = "BKG"

    @classmethod
    def _data_unit(cls, text, column, fail):
        unit, missing = parse_unit(text)
        if missing or isinstance(unit, u.UnrecognizedUnit):
            log.warning("background column %s has no valid unit (%r); assuming %s", column, text, cls.default_unit)
            return cls.default_unit
        check_unit(unit, cls.default_unit, column, fail)
        return unit

    @classmethod
    def _orient(cls, raw, axes, column, fail):
        """``column[0].T``, transposed back if its shape does not match the axes (spec §1.4)."""
        shape = axes.shape
        size = int(np.prod(shape))
        if raw.size != size:
            fail(f"column {column} holds {raw.size} values, but axes {axes.names} of shape {shape} need {size}")
        if raw.ndim != len(shape):
            return raw.reshape(shape[::-1]).T
        if shape == shape[::-1]:
            log.error("ambiguous axes order in background table (axes %s, shape %s)", axes.names, shape)
        data = raw.T
        if data.shape != shape:
            data = raw
        if data.shape != shape:
            fail(f"column {column} has shape {raw.shape}, which does not match axes {axes.names} {shape}")
        return data

    def interp_missing_data(self, axis_name="energy"):
        """Copy with holes filled along an axis (spec §4.3 step 2).

        Every entry that is 0 or non-finite is replaced by linear interpolation
        of ``ln(value)`` in bin-index space between the nearest valid entries of
        its line along ``axis_name``; gaps at either end are left unchanged.
        The logs are taken in the stored precision and the result is cast back
        to the stored dtype, which reproduces Gammapy's per-entry loop exactly.
        """
        axis = self.axes.index(axis_name)
        values = np.moveaxis(self.data, axis, -1)
        n = values.shape[-1]
        lines = values.reshape(-1, n)  # one row per line along the axis
        mask = ~np.isfinite(lines) | (lines == 0)
        # Only lines with a hole between two valid entries change.
        holes = mask[:, 1:-1].any(axis=1) & ~mask.all(axis=1)
        if not holes.any():
            return self.copy()
        rows = np.flatnonzero(holes)
        sub, mask = lines[rows], mask[rows]
        index = np.arange(n)
        prev = np.maximum.accumulate(np.where(mask, -1, index), axis=-1)
        nxt = np.flip(np.minimum.accumulate(np.flip(np.where(mask, n, index), -1), axis=-1), -1)
        fill = mask & (prev >= 0) & (nxt < n)
        tiny = np.finfo(sub.dtype).tiny
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.clip(sub, tiny, np.inf))
        f0 = np.take_along_axis(logs, np.clip(prev, 0, n - 1), axis=-1)[fill].astype(float)
        f1 = np.take_along_axis(logs, np.clip(nxt, 0, n - 1), axis=-1)[fill].astype(float)
        x0 = prev[fill].astype(float)
        x = np.broadcast_to(index, sub.shape)[fill].astype(float)
        slope = (f1 - f0) / (nxt[fill] - x0)
        filled = np.exp(slope * (x - x0) + f0)
        filled[np.abs(filled) - _TINY64 <= _TINY64] = 0.0
        sub[fill] = filled
        result = lines.copy()
        result[rows] = sub
        result = result.reshape(values.shape)
        return self.copy(data=np.moveaxis(result, -1, axis))

    def integrate_log_log(self, energy_edges, **spatial_coords):
        """Rate integrated over reconstructed energy bins (spec §0.2, §4.3 steps 6-7).

        The rate is evaluated at each energy edge and at the spatial coordinates,
        then integrated between consecutive edges with the power-law trapezoid.

        Parameters
        ----------
        energy_edges : `~astropy.units.Quantity`
            1-D reconstructed energy edges (``n + 1`` values).
        **spatial_coords : `~astropy.units.Quantity`
            ``fov_lon``/``fov_lat`` (3-D) or ``offset`` (2-D), broadcastable.

        Returns
        -------
        `~astropy.units.Quantity`
            Integrated rate in s⁻¹ sr⁻¹, shape ``(n,) + broadcast spatial shape``.
        """
        edges = u.Quantity(energy_edges).ravel()
        ndim = len(np.broadcast_shapes(*[np.shape(v) for v in spatial_coords.values()]))
        energy = edges.reshape((-1,) + (1,) * ndim)
        rate = self.evaluate(energy=energy, **spatial_coords)
        integral = trapz_loglog(rate.value, energy.value, axis=0)
        return u.Quantity(integral, rate.unit * edges.unit).to(u.Unit("s-1 sr-1"))


class Background3D(BackgroundIRF):
    """Background rate on (reco energy, fov_lon, fov_lat), e.g. s⁻¹ MeV⁻¹ sr⁻¹.

    Axis orientation on read (spec §1.4): the data column cell is transposed;
    if that does not match ``(n_energy, n_lon, n_lat)`` it is transposed back.
    For GADF files written DETX-fastest (HESS) this makes numpy axis 1 the
    ``fov_lon`` axis. Square tables are ambiguous (an error is logged). The
    writer stores ``data.T``, i.e. ``TDIM = (n_energy, n_lon, n_lat)``, which
    reads back unambiguously.
    """

    tag = "bkg_3d"
    required_axes = ("energy", "fov_lon", "fov_lat")

    @classmethod
    def _default_meta(cls):
        return {**super()._default_meta(), "FOVALIGN": "RADEC"}

    def to_2d(self):
        """`Background2D` from the values at ``fov_lat = 0`` and ``fov_lon >= 0`` (as Gammapy's ``to_2d``).

        The offset axis is made of the ``fov_lon`` edges from the bin that
        contains 0. No Jacobian is applied; this is meant for the DL3 ``bkg-peak``
        safe mask (spec §5), e.g. ``bkg.to_2d().integral("offset", offset=..., energy=...)``.
        """
        lon, lat = self.axes["fov_lon"], self.axes["fov_lat"]
        idx_lon = int(lon.coord_to_idx(0 * u.deg))
        idx_lat = int(lat.coord_to_idx(0 * u.deg))
        if idx_lon < 0 or idx_lat < 0:
            raise ValueError("the background table does not contain fov_lon = fov_lat = 0")
        offset = MapAxis.from_edges(lon.edges[idx_lon:], name="offset", interp="lin")
        data = self.data[:, idx_lon:, idx_lat].copy()
        return Background2D(axes=[self.axes["energy"], offset], data=data, unit=self.unit)


class Background2D(BackgroundIRF):
    """Background rate on (reco energy, offset), radially symmetric."""

    tag = "bkg_2d"
    required_axes = ("energy", "offset")

    def pad_offset(self):
        """Copy with one offset bin added on each side, values copied from the adjacent bin (spec §4.3 step 3)."""
        return self.pad(1, "offset", mode="edge")
