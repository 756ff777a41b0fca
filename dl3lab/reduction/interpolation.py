"""Numerical primitives shared by IRFs and maps (reduction spec §0).

- :func:`interpolate_grid`: multilinear interpolation on a rectilinear grid with
  linear extrapolation, equivalent to scipy's ``RegularGridInterpolator(method=
  "linear", bounds_error=False, fill_value=None)`` but vectorised over
  broadcast query arrays without building an ``(N, ndim)`` point list.
- :class:`ScaledGridInterpolator`: the IRF evaluation of spec §0.1 (scaled axes,
  scaled values, single-node axes dropped, inverse scale and clipping).
- :func:`trapz_loglog`: the power-law trapezoid integral of spec §0.2.
"""

import numpy as np

from .axes import scale_forward

__all__ = ["interpolate_grid", "ScaledGridInterpolator", "trapz_loglog"]

_TINY64 = np.finfo(np.float64).tiny


def _cell_index_and_weight(grid, x):
    """Lower cell index and fractional position of ``x`` in ``grid`` (extrapolating)."""
    n = len(grid)
    idx = np.searchsorted(grid, x, side="right") - 1
    idx = np.clip(idx, 0, n - 2)
    x0 = grid[idx]
    x1 = grid[idx + 1]
    return idx, (x - x0) / (x1 - x0)


def interpolate_grid(grids, values, points, method="linear"):
    """Interpolate ``values`` defined on ``grids`` at ``points``.

    Parameters
    ----------
    grids : list of 1-D arrays
        Increasing node coordinates, one per dimension of ``values``; each has
        at least two nodes.
    values : ndarray
        Values on the grid, shape ``tuple(len(g) for g in grids)``.
    points : list of arrays
        Query coordinates per dimension; they are broadcast against each other.
    method : {"linear", "nearest"}
        Multilinear with linear extrapolation, or nearest node (clipped).

    Returns
    -------
    ndarray
        Interpolated values with the broadcast shape of ``points``.
    """
    points = np.broadcast_arrays(*[np.asarray(p, dtype=float) for p in points])
    if method == "nearest":
        index = []
        for grid, x in zip(grids, points):
            idx, w = _cell_index_and_weight(grid, x)
            index.append(np.where(w >= 0.5, idx + 1, idx))
        return values[tuple(index)]
    if method != "linear":
        raise ValueError(f"unknown interpolation method {method!r}")
    lows, weights = [], []
    for grid, x in zip(grids, points):
        idx, w = _cell_index_and_weight(grid, x)
        lows.append(idx)
        weights.append(w)
    ndim = len(grids)
    result = np.zeros(points[0].shape, dtype=np.result_type(values, float))
    for corner in range(2**ndim):
        index = []
        weight = 1.0
        for dim in range(ndim):
            if (corner >> dim) & 1:
                index.append(lows[dim] + 1)
                weight = weight * weights[dim]
            else:
                index.append(lows[dim])
                weight = weight * (1.0 - weights[dim])
        result += weight * values[tuple(index)]
    return result


class ScaledGridInterpolator:
    """IRF-style interpolator (spec §0.1 steps 1-4).

    Parameters
    ----------
    nodes : list of 1-D arrays
        Node coordinates per axis, in axis units.
    values : ndarray
        Values on the nodes.
    axis_scales : list of str
        ``"lin"``, ``"log"`` or ``"sqrt"`` per axis.
    values_scale : {"lin", "log"}
        Scale of the values. Log values are ``ln(max(v, tiny))`` with the
        ``tiny`` of the stored data type, and results are zeroed where
        ``|exp(y)| - tiny64 <= tiny64``.
    method : {"linear", "nearest"}
        Interpolation method.
    tiny_dtype : dtype, optional
        Data type whose ``finfo.tiny`` is used when log-scaling the values
        (the stored IRF dtype; default float64).
    """

    def __init__(self, nodes, values, axis_scales, values_scale="lin", method="linear", tiny_dtype=None):
        values = np.asarray(values)
        tiny_in = np.finfo(np.dtype(tiny_dtype) if tiny_dtype is not None else np.float64).tiny
        self._keep = [i for i, n in enumerate(nodes) if len(n) > 1]
        squeeze = tuple(i for i, n in enumerate(nodes) if len(n) == 1)
        values = values.astype(float)
        if squeeze:
            values = values.squeeze(axis=squeeze)
        self._grids = [scale_forward(np.asarray(nodes[i], dtype=float), axis_scales[i]) for i in self._keep]
        self._scales = [axis_scales[i] for i in self._keep]
        self.values_scale = values_scale
        self.method = method
        if values_scale == "log":
            values = np.log(np.maximum(values, tiny_in))
        self._values = values

    def __call__(self, points):
        """Evaluate at ``points``, a list with one coordinate array per axis (broadcastable)."""
        scaled = [scale_forward(points[i], s) for i, s in zip(self._keep, self._scales)]
        if not scaled:
            shape = np.broadcast_shapes(*[np.shape(p) for p in points])
            result = np.full(shape, float(self._values))
        else:
            result = interpolate_grid(self._grids, self._values, scaled, method=self.method)
            if len(scaled) < len(points):
                shape = np.broadcast_shapes(*[np.shape(p) for p in points])
                result = np.broadcast_to(result, shape).copy()
        if self.values_scale == "log":
            result = np.exp(result)
            result[np.abs(result) - _TINY64 <= _TINY64] = 0.0
        return np.clip(result, 0, None)


def trapz_loglog(y, x, axis=0):
    """Integrate ``y(x)`` between consecutive nodes assuming a power law per bin.

    Parameters
    ----------
    y, x : ndarray
        Values and nodes; ``x`` broadcasts against ``y`` along ``axis``.
    axis : int
        Integration axis.

    Returns
    -------
    ndarray
        One integral per interval (length reduced by one along ``axis``).
    """
    y = np.moveaxis(np.asarray(y, dtype=float), axis, 0)
    x = np.asarray(x, dtype=float)
    if x.ndim == y.ndim:
        x = np.moveaxis(x, axis, 0)
    if x.ndim == 1 and y.ndim > 1:
        x = x.reshape((-1,) + (1,) * (y.ndim - 1))
    x0, x1 = x[:-1], x[1:]
    y0, y1 = y[:-1], y[1:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gamma = -np.log(np.maximum(y0 / y1, _TINY64)) / np.log(np.maximum(x0 / x1, _TINY64))
        gamma = np.where(np.isnan(gamma), np.inf, gamma)
        ratio = x1 / x0
        one_minus = 1.0 - gamma
        power = y0 * x0 / one_minus * (ratio**one_minus - 1.0)
        logint = y0 * x0 * np.log(ratio)
        result = np.where(np.isclose(one_minus, 0), logint, power)
    result = np.where(np.isfinite(result), result, 0.0)
    return np.moveaxis(result, 0, axis)
