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

__all__ = ["interpolate_grid", "ScaledGridInterpolator", "trapz_loglog", "trapz_loglog_from_log"]

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
        Cell indices and weights are computed on the un-broadcast arrays, so an
        outer-product query (e.g. shapes ``(n, 1, 1)`` and ``(1, ny, nx)``) costs
        one lookup per distinct coordinate.
    method : {"linear", "nearest"}
        Multilinear with linear extrapolation, or nearest node (clipped; a query
        exactly half-way between two nodes takes the lower one, as scipy does).

    Returns
    -------
    ndarray
        Interpolated values with the broadcast shape of ``points``.
    """
    points = [np.asarray(p, dtype=float) for p in points]
    shape = np.broadcast_shapes(*[p.shape for p in points])
    if method == "nearest":
        index = []
        for grid, x in zip(grids, points):
            idx, w = _cell_index_and_weight(grid, x)
            index.append(np.where(w > 0.5, idx + 1, idx))
        return np.broadcast_to(values[tuple(index)], shape).copy()
    if method != "linear":
        raise ValueError(f"unknown interpolation method {method!r}")
    lows, weights = [], []
    for grid, x in zip(grids, points):
        idx, w = _cell_index_and_weight(grid, x)
        lows.append(idx)
        weights.append(w)
    order = _contraction_order(values.shape, [p.shape for p in points], shape)
    if order is not None:
        return _interpolate_separable(values, lows, weights, order, shape)
    ndim = len(grids)
    result = np.zeros(shape, dtype=np.result_type(values, float))
    # Corners in the order of scipy's RegularGridInterpolator (last dimension fastest),
    # so that the floating-point sums agree with it bit for bit.
    for corner in range(2**ndim):
        index = []
        weight = 1.0
        for dim in range(ndim):
            if (corner >> (ndim - 1 - dim)) & 1:
                index.append(lows[dim] + 1)
                weight = weight * weights[dim]
            else:
                index.append(lows[dim])
                weight = weight * (1.0 - weights[dim])
        result += weight * values[tuple(index)]
    return result


def _contraction_order(value_shape, point_shapes, shape):
    """Axis order for :func:`_interpolate_separable`, or None when the corner sum is cheaper.

    Interpolating one axis at a time only pays when the query arrays vary along
    different dimensions (an outer-product query such as energies ``(n, 1, 1)``
    times offsets ``(1, ny, nx)``): the intermediate arrays then stay small.
    """
    ndim = len(value_shape)
    total = int(np.prod(shape))
    if ndim < 2 or total < 4096:
        return None
    ndim_q = len(shape)
    padded = [(1,) * (ndim_q - len(s)) + tuple(s) for s in point_shapes]
    order = sorted(range(ndim), key=lambda k: int(np.prod(padded[k])))
    cost, current = 0, (1,) * ndim_q
    for step, k in enumerate(order):
        current = np.broadcast_shapes(current, padded[k])
        remaining = int(np.prod([value_shape[j] for j in order[step + 1 :]]))
        cost += 5 * int(np.prod(current)) * remaining
    corner_cost = 4 * total * 2**ndim
    return order if cost < corner_cost else None


def _interpolate_separable(values, lows, weights, order, shape):
    """Multilinear interpolation done one axis at a time (same result to rounding)."""
    ndim_q = len(shape)
    data = np.transpose(values, order).astype(float, copy=False)
    data = data.reshape((1,) * ndim_q + data.shape)
    for k in order:
        idx = lows[k].reshape((1,) * (ndim_q - lows[k].ndim) + lows[k].shape)
        w = np.asarray(weights[k]).reshape(idx.shape)
        trailing = (1,) * (data.ndim - ndim_q)
        idx = idx.reshape(idx.shape + trailing)
        w = w.reshape(w.shape + trailing[1:])
        lo = _gather(data, idx, ndim_q)
        hi = _gather(data, idx + 1, ndim_q)
        if lo.shape == np.broadcast_shapes(lo.shape, w.shape):
            lo *= 1.0 - w
            hi *= w
            lo += hi
            data = lo
        else:
            data = (1.0 - w) * lo + w * hi
    return np.broadcast_to(data, shape)


def _gather(data, idx, ndim_q):
    """``out[b, r] = data[b, idx[b], r]`` with the leading ``ndim_q`` dimensions broadcast.

    ``data`` has shape ``B + (n,) + R`` and ``idx`` shape ``S + (1,) + (1,) * len(R)``.
    When ``B`` and ``S`` vary along different dimensions, `numpy.take` (an outer
    product) and a transpose are much cheaper than ``take_along_axis``.
    """
    prefix, index_shape = data.shape[:ndim_q], idx.shape[:ndim_q]
    rest = data.shape[ndim_q + 1 :]
    if any(b != 1 and s != 1 for b, s in zip(prefix, index_shape)):
        return np.take_along_axis(data, idx, axis=ndim_q)[(Ellipsis, 0) + (slice(None),) * len(rest)]
    taken = np.take(data, idx.reshape(index_shape), axis=ndim_q)  # B + S + R
    picked = [d if prefix[d] != 1 else ndim_q + d for d in range(ndim_q)]
    others = [d for d in range(2 * ndim_q) if d not in picked]
    perm = picked + others + list(range(2 * ndim_q, taken.ndim))
    shape = tuple(max(b, s) for b, s in zip(prefix, index_shape)) + rest
    return np.transpose(taken, perm).reshape(shape)


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
        ``tiny`` of the stored data type, computed in the precision of
        ``values`` (a float32 table is log-scaled in float32, as Gammapy does),
        and results are zeroed where ``|exp(y)| - tiny64 <= tiny64``.
    method : {"linear", "nearest"}
        Default interpolation method (can be overridden per call).
    tiny_dtype : dtype, optional
        Data type whose ``finfo.tiny`` is used when log-scaling the values
        (the stored IRF dtype; default float64).
    """

    def __init__(self, nodes, values, axis_scales, values_scale="lin", method="linear", tiny_dtype=None):
        values = np.asarray(values)
        tiny_in = np.finfo(np.dtype(tiny_dtype) if tiny_dtype is not None else np.float64).tiny
        if not np.issubdtype(values.dtype, np.floating) or np.finfo(values.dtype).tiny > tiny_in:
            values = values.astype(float)
        self._keep = [i for i, n in enumerate(nodes) if len(n) > 1]
        squeeze = tuple(i for i, n in enumerate(nodes) if len(n) == 1)
        if squeeze:
            values = values.squeeze(axis=squeeze)
        self._grids = [scale_forward(np.asarray(nodes[i], dtype=float), axis_scales[i]) for i in self._keep]
        self._scales = [axis_scales[i] for i in self._keep]
        self.values_scale = values_scale
        self.method = method
        if values_scale == "log":
            # Log in the stored precision (float32 tables give float32 logs, like Gammapy's LogScale).
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.log(np.maximum(values, values.dtype.type(tiny_in)))
        self._values = values.astype(float)

    def __call__(self, points, method=None):
        """Evaluate at ``points``, a list with one coordinate array per axis (broadcastable).

        ``method`` overrides the default interpolation method for this call.
        """
        method = self.method if method is None else method
        scaled = [scale_forward(points[i], s) for i, s in zip(self._keep, self._scales)]
        if not scaled:
            shape = np.broadcast_shapes(*[np.shape(p) for p in points])
            result = np.full(shape, float(self._values))
        else:
            result = interpolate_grid(self._grids, self._values, scaled, method=method)
            if len(scaled) < len(points):
                shape = np.broadcast_shapes(*[np.shape(p) for p in points])
                result = np.broadcast_to(result, shape).copy()
        if self.values_scale == "log":
            result = np.exp(result)
            result = np.where(np.abs(result) - _TINY64 <= _TINY64, 0.0, result)
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


def trapz_loglog_from_log(log_y, zero, x, axis=0):
    """:func:`trapz_loglog` from ``ln y`` directly.

    Parameters
    ----------
    log_y : ndarray
        Natural logarithm of the integrand at the nodes.
    zero : ndarray of bool
        Where the integrand is exactly zero; intervals touching such a node give 0.
    x : 1-D array
        Positive nodes.
    axis : int
        Axis of ``log_y`` along which the nodes run.
    """
    axis = axis % log_y.ndim
    x = np.asarray(x, dtype=float)
    lo = (slice(None),) * axis + (slice(None, -1),)
    hi = (slice(None),) * axis + (slice(1, None),)
    shape = [1] * log_y.ndim
    shape[axis] = len(x) - 1
    log_ratio = np.log(x[1:] / x[:-1]).reshape(shape)
    # The power law through (x0, y0) and (x1, y1) integrates to (x1 y1 - x0 y0) / (1 - gamma), with
    # 1 - gamma = z / L, z = L + ln y1 - ln y0 and L = ln(x1/x0); z -> 0 gives y0 x0 L.
    node_shape = [1] * log_y.ndim
    node_shape[axis] = len(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        xy = np.exp(log_y)
        xy *= x.reshape(node_shape)
        z = log_y[hi] - log_y[lo]
        z += log_ratio
        near = np.abs(z) <= 1e-8 * np.abs(log_ratio)
        result = xy[hi] - xy[lo]
        result /= z
        result *= log_ratio
        if near.any():
            result[near] = (xy[lo] * np.broadcast_to(log_ratio, result.shape))[near]
    bad = zero[lo] | zero[hi]
    bad |= ~np.isfinite(result)
    result[bad] = 0.0
    return result
