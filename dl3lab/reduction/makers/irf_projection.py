"""Evaluate IRF tables on (energy grid) x (sky pixels) quickly, with Gammapy's rules (spec §0.1).

Multilinear interpolation is separable, so an IRF is first interpolated along its
non-spatial axes at the few fixed energies (and rad or migra values) a dataset
needs, and only then along offset (or FoV lon/lat) for every pixel. The result
equals a direct evaluation at every point up to floating-point rounding, at a
fraction of the cost. Values are clipped at zero and set to the fill value
outside the axis edges exactly as in :meth:`IRF.evaluate`.
"""

import numpy as np

from ..axes import scale_forward

__all__ = ["interp_along", "evaluate_separable", "outside_edges"]

_TINY64 = np.finfo(np.float64).tiny


def interp_along(values, grid, x, axis):
    """Linear interpolation (with extrapolation) of ``values`` along ``axis`` at ``x``.

    Parameters
    ----------
    values : ndarray
        Values on the grid.
    grid : 1-D array
        Increasing node positions (already in interpolation scale).
    x : 1-D array
        Query positions (same scale). The axis is replaced by one of length ``len(x)``.
    axis : int
        Axis of ``values`` to interpolate.
    """
    x = np.asarray(x, dtype=float)
    if len(grid) == 1:
        return np.repeat(np.take(values, [0], axis=axis), len(x), axis=axis)
    idx = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
    w = (x - grid[idx]) / (grid[idx + 1] - grid[idx])
    shape = [1] * values.ndim
    shape[axis] = len(x)
    w = w.reshape(shape)
    v0 = np.take(values, idx, axis=axis)
    v1 = np.take(values, idx + 1, axis=axis)
    return v0 * (1.0 - w) + v1 * w


def outside_edges(axis, values):
    """True where ``values`` lie outside the axis edges or are not finite (spec §0.1 step 5)."""
    edges = axis.edges.to_value(axis.unit)
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (values < edges[0]) | (values > edges[-1])


def evaluate_separable(irf, fixed, pixel_axes, values_scale="lin", fill_value=0.0, oob_mode="any", raw_log=False):
    """Evaluate an IRF on a product grid of fixed coordinates and pixel coordinates.

    Parameters
    ----------
    irf : `~dl3lab.reduction.irf.IRF`
        IRF with ``axes``, ``data`` and ``unit``.
    fixed : dict
        ``{axis_name: 1-D array in axis units}`` for the non-spatial axes.
    pixel_axes : dict
        ``{axis_name: array of pixel coordinates (same shape for all)}``.
    values_scale : {"lin", "log"}
        Scale of the IRF values.
    fill_value : float or None
        Value outside the axis edges; None disables the rule.
    oob_mode : {"any", "edisp"}
        ``"edisp"`` zeroes only where (energy_true and migra are both outside) or
        offset is outside, as Gammapy's energy dispersion does.
    raw_log : bool
        With ``values_scale="log"``, return ``(log_values, zero)`` instead: the
        interpolated logarithms and a boolean array marking values that evaluate to 0.

    Returns
    -------
    ndarray
        Shape ``[len(v) for v in fixed.values()] + pixel_shape``, in the IRF's unit,
        with axes in the order of ``fixed`` followed by the pixel dimensions.
    """
    names = irf.axes.names
    stored = np.asarray(irf.data)
    if values_scale == "log":
        # Logarithms in the stored precision, as Gammapy takes them (float32 tables give float32 logs).
        dtype = stored.dtype if np.issubdtype(stored.dtype, np.floating) else np.dtype(float)
        tiny_in = np.finfo(dtype).tiny
        data = np.log(np.maximum(stored.astype(dtype, copy=False), dtype.type(tiny_in))).astype(float)
    else:
        data = stored.astype(float)
    order = list(fixed) + list(pixel_axes)
    missing = set(names) - set(order)
    if missing:
        raise ValueError(f"coordinates missing for IRF axes {sorted(missing)}")
    # Bring the data into the requested order, then interpolate the fixed axes.
    data = np.transpose(data, [names.index(n) for n in order])
    for i, name in enumerate(fixed):
        axis = irf.axes[name]
        grid = scale_forward(axis.center.to_value(axis.unit), axis.interp)
        data = interp_along(data, grid, scale_forward(fixed[name], axis.interp), axis=i)
    pix_shape = np.shape(next(iter(pixel_axes.values()))) if pixel_axes else ()
    n_fixed = len(fixed)
    if pixel_axes:
        data = _interp_pixels(data, irf, pixel_axes, n_fixed)
    if values_scale == "log" and raw_log:
        zero = np.exp(data) <= 2 * _TINY64
        if fill_value is not None:
            bad = _oob_mask(irf, fixed, pixel_axes, oob_mode)
            if bad is not None:
                zero = zero | bad
        shape = data.shape[:n_fixed] + tuple(pix_shape)
        return data.reshape(shape), zero.reshape(shape)
    if values_scale == "log":
        data = np.exp(data)
        data[np.abs(data) - _TINY64 <= _TINY64] = 0.0
    data = np.clip(data, 0, None)
    if fill_value is not None:
        bad = _oob_mask(irf, fixed, pixel_axes, oob_mode)
        if bad is not None:
            data = np.where(bad, fill_value, data)
    return data.reshape(data.shape[:n_fixed] + tuple(pix_shape))


def _interp_pixels(data, irf, pixel_axes, n_fixed):
    """Multilinear interpolation over the trailing pixel axes, one coordinate set per pixel.

    ``data`` has shape ``fixed + (n_1, ..., n_k)``; the result has shape ``fixed + (P,)``.
    """
    lows, weights, sizes = [], [], []
    for name, values in pixel_axes.items():
        axis = irf.axes[name]
        grid = scale_forward(axis.center.to_value(axis.unit), axis.interp)
        xs = scale_forward(np.ravel(np.asarray(values, dtype=float)), axis.interp)
        sizes.append(len(grid))
        if len(grid) == 1:
            lows.append(np.zeros(len(xs), dtype=np.intp))
            weights.append(np.zeros(len(xs)))
            continue
        idx = np.clip(np.searchsorted(grid, xs, side="right") - 1, 0, len(grid) - 2)
        lows.append(idx)
        weights.append((xs - grid[idx]) / (grid[idx + 1] - grid[idx]))
    lead = (slice(None),) * n_fixed
    out = None
    for corner in range(2 ** len(lows)):
        bits = [(corner >> d) & 1 for d in range(len(lows))]
        if any(b and n == 1 for b, n in zip(bits, sizes)):
            continue
        index = lead + tuple(low + b for low, b in zip(lows, bits))
        weight = 1.0
        for b, w in zip(bits, weights):
            weight = weight * (w if b else 1.0 - w)
        term = data[index] * weight
        out = term if out is None else out + term
    return out


def _oob_mask(irf, fixed, pixel_axes, mode):
    n_fixed = len(fixed)
    n_dim = n_fixed + 1
    masks = {}
    for i, (name, values) in enumerate(fixed.items()):
        shape = [1] * n_dim
        shape[i] = len(values)
        masks[name] = outside_edges(irf.axes[name], values).reshape(shape)
    for name, values in pixel_axes.items():
        masks[name] = outside_edges(irf.axes[name], np.ravel(values)).reshape((1,) * n_fixed + (-1,))
    if mode == "edisp":
        bad = masks["energy_true"] & masks["migra"]
        return bad | masks["offset"]
    bad = None
    for m in masks.values():
        bad = m if bad is None else (bad | m)
    return bad
