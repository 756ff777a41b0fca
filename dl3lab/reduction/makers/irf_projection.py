"""Evaluate IRF tables on (energy grid) x (sky pixels) quickly, with Gammapy's rules (spec §0.1).

Multilinear interpolation is separable, so an IRF is first interpolated along its
non-spatial axes at the few fixed energies (and rad or migra values) a dataset
needs, and only then along offset (or FoV lon/lat) for every pixel. The result
equals a direct evaluation at every point up to floating-point rounding, at a
fraction of the cost. Pixels are processed in chunks that stay in the CPU cache.
Values are clipped at zero and set to the fill value outside the axis edges
exactly as in :meth:`IRF.evaluate`.
"""

import numpy as np

from ..axes import scale_forward

__all__ = ["interp_along", "evaluate_separable", "outside_edges", "SeparableIRF", "pixel_chunks", "PIXEL_CHUNK"]

_TINY64 = np.finfo(np.float64).tiny
_LOG_TWO_TINY64 = np.log(2 * _TINY64)
#: Number of values (pixels times fixed coordinates) handled at once: the per-chunk arrays stay in the CPU cache.
CHUNK_VALUES = 65536
#: Values handled at once by the linear one-axis path (a few light operations per value: smaller chunks
#: keep all its temporaries in the per-core cache).
LINE_CHUNK_VALUES = 16384
#: Largest number of pixels handled at once.
PIXEL_CHUNK = 8192
#: Up to this many fixed values per pixel, tables are evaluated with the pixels along the contiguous axis.
COLUMNS_MAX = 64


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
    return _outside(edges[0], edges[-1], values)


def _outside(low, high, values):
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        inside = values >= low  # False for NaN
        inside &= values <= high
        return ~inside


class SeparableIRF:
    """An IRF interpolated at fixed non-spatial coordinates, ready for per-pixel evaluation.

    Parameters
    ----------
    irf : `~dl3lab.reduction.irf.IRF`
        IRF with ``axes``, ``data`` and ``unit``.
    fixed : dict
        ``{axis_name: 1-D array in axis units}`` for the non-spatial axes.
    pixel_names : list of str
        The remaining (per-pixel) axes, e.g. ``["offset"]`` or ``["fov_lon", "fov_lat"]``.
    values_scale : {"lin", "log"}
        Scale of the IRF values; log values are interpolated as logarithms taken in
        the stored precision.
    oob_mode : {"any", "edisp"}
        Out-of-bounds rule (``"edisp"``: zero only where energy_true and migra are both
        outside, or offset is outside).
    """

    def __init__(self, irf, fixed, pixel_names, values_scale="lin", oob_mode="any"):
        names = irf.axes.names
        order = list(fixed) + list(pixel_names)
        missing = set(names) - set(order)
        if missing:
            raise ValueError(f"coordinates missing for IRF axes {sorted(missing)}")
        stored = np.asarray(irf.data)
        if values_scale == "log":
            dtype = stored.dtype if np.issubdtype(stored.dtype, np.floating) else np.dtype(float)
            tiny = dtype.type(np.finfo(dtype).tiny)
            data = np.log(np.maximum(stored.astype(dtype, copy=False), tiny)).astype(float)
        else:
            data = stored.astype(float)
        data = np.transpose(data, [names.index(n) for n in order])
        for i, name in enumerate(fixed):
            axis = irf.axes[name]
            grid = scale_forward(axis.center.to_value(axis.unit), axis.interp)
            data = interp_along(data, grid, scale_forward(fixed[name], axis.interp), axis=i)
        self.irf = irf
        self.values_scale = values_scale
        self.oob_mode = oob_mode
        self.pixel_names = list(pixel_names)
        # Per pixel axis: node positions in interpolation scale, the scale, and the axis edges.
        self.pixel_specs = []
        for name in self.pixel_names:
            axis = irf.axes[name]
            edges = axis.edges.to_value(axis.unit)
            grid = scale_forward(axis.center.to_value(axis.unit), axis.interp)
            self.pixel_specs.append((grid, axis.interp, float(edges[0]), float(edges[-1])))
        self.fixed_shape = data.shape[: len(fixed)]
        n_fixed = int(np.prod(self.fixed_shape))
        # Columns: one row per fixed coordinate with the pixel-grid nodes along it, for few fixed values
        # and many pixels; rows (:attr:`rows`): the same table transposed, for contiguous per-pixel gathers.
        self.columns = np.ascontiguousarray(data.reshape(n_fixed, -1))
        self._rows = None
        self.fixed_bad = self._fixed_oob(irf, fixed)

    @property
    def rows(self):
        """:attr:`columns` transposed: one contiguous row of all fixed-coordinate values per pixel-grid node."""
        if self._rows is None:
            self._rows = np.ascontiguousarray(self.columns.T)
        return self._rows

    def __getstate__(self):
        # Pickles small (to a helper process): the tables and pixel-axis specs, without the IRF itself.
        state = dict(self.__dict__)
        state["irf"], state["_rows"] = None, None
        return state

    def _fixed_oob(self, irf, fixed):
        masks = []
        for i, (name, values) in enumerate(fixed.items()):
            shape = [1] * len(fixed)
            shape[i] = len(values)
            masks.append(outside_edges(irf.axes[name], values).reshape(shape))
        if not masks:
            return np.zeros(1, bool)
        if self.oob_mode == "edisp":
            names = list(fixed)
            bad = masks[names.index("energy_true")] & masks[names.index("migra")]
        else:
            bad = masks[0]
            for m in masks[1:]:
                bad = bad | m
        return np.broadcast_to(bad, self.fixed_shape).ravel()

    def pixel_weights(self, pixel_coords):
        """Per-pixel row indices and weights of the multilinear corners, plus the out-of-bounds mask."""
        parts = []
        bad = None
        for name, (grid, interp, low, high) in zip(self.pixel_names, self.pixel_specs):
            values = np.ravel(np.asarray(pixel_coords[name], dtype=float))
            xs = scale_forward(values, interp)
            if len(grid) == 1:
                parts.append((np.zeros(len(xs), dtype=np.intp), np.zeros(len(xs)), 1))
            else:
                idx = np.clip(np.searchsorted(grid, xs, side="right") - 1, 0, len(grid) - 2)
                lo, hi = np.take(grid, idx), np.take(grid, idx + 1)
                parts.append((idx, (xs - lo) / (hi - lo), len(grid)))
            out = _outside(low, high, values)
            bad = out if bad is None else (bad | out)
        sizes = [n for _, _, n in parts]
        strides = np.cumprod([1] + sizes[::-1][:-1])[::-1]
        base = sum(idx * stride for (idx, _, _), stride in zip(parts, strides))
        # Per axis the weights of the lower and upper node; a corner's weight is their product
        # (the same values as a product started from ones, since 1 * x == x).
        factors = [(1.0 - w, w) for _, w, _ in parts]
        corners = []
        for corner in range(2 ** len(parts)):
            bits = [(corner >> (len(parts) - 1 - d)) & 1 for d in range(len(parts))]
            if any(b and n == 1 for b, n in zip(bits, sizes)):
                continue
            weight = None
            for b, pair in zip(bits, factors):
                weight = pair[b] if weight is None else weight * pair[b]
            corners.append((int(sum(b * s for b, s in zip(bits, strides))), weight))
        return base, corners, bad

    def rows_at(self, base, corners, sl):
        """Interpolated (scaled, unclipped) values for the pixels ``sl``: shape ``(p, n_fixed)``."""
        index = base[sl]
        offset, weight = corners[0]
        # np.take gathers whole rows several times faster than fancy indexing.
        out = np.take(self.rows, index + offset, axis=0) * weight[sl, None]
        for offset, weight in corners[1:]:
            out += np.take(self.rows, index + offset, axis=0) * weight[sl, None]
        return out

    def columns_at(self, base, corners, sl):
        """:meth:`rows_at` transposed, ``(n_fixed, p)``: pixels contiguous, for few fixed values."""
        index = base[sl]
        offset, weight = corners[0]
        out = np.take(self.columns, index + offset, axis=1) * weight[sl]
        for offset, weight in corners[1:]:
            out += np.take(self.columns, index + offset, axis=1) * weight[sl]
        return out

    def finish(self, values, pixel_bad=None, fill_value=0.0, clip=True, columns=False):
        """Inverse scale, clip and apply the out-of-bounds rule to ``(p, n_fixed)`` values
        (``(n_fixed, p)`` with ``columns``)."""
        if self.values_scale == "log":
            values = np.exp(values)
            values[np.abs(values) - _TINY64 <= _TINY64] = 0.0
        if clip:
            np.clip(values, 0, None, out=values)
        if fill_value is not None:
            fixed = (self.fixed_bad, slice(None)) if columns else (slice(None), self.fixed_bad)
            if pixel_bad is not None:
                values[(slice(None), pixel_bad) if columns else pixel_bad] = fill_value
            values[fixed] = fill_value
        return values


def pixel_chunks(pixels, n_pix, n_fixed=1, values=None):
    """Selections of the flat ``pixels`` (slices when they are all ``n_pix``), each of at most
    `PIXEL_CHUNK` pixels and, with ``n_fixed`` values per pixel, about ``values`` values
    (default `CHUNK_VALUES`)."""
    size = max(1, min(PIXEL_CHUNK, (values or CHUNK_VALUES) // max(int(n_fixed), 1)))
    if len(pixels) == n_pix:
        return [slice(start, min(start + size, n_pix)) for start in range(0, n_pix, size)]
    return [pixels[start : start + size] for start in range(0, len(pixels), size)]


def evaluate_separable(
    irf, fixed, pixel_axes, values_scale="lin", fill_value=0.0, oob_mode="any", raw_log=False, clip=True,
    factor=None, dtype=np.float64,
):
    """Evaluate an IRF on a product grid of fixed coordinates and pixel coordinates.

    Parameters
    ----------
    irf : `~dl3lab.reduction.irf.IRF` or `SeparableIRF`
        IRF with ``axes``, ``data`` and ``unit``, or one already interpolated at
        ``fixed`` (then ``fixed``, ``values_scale`` and ``oob_mode`` are taken from it).
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
    clip : bool
        Clip the result at zero (Gammapy always does; turning it off serves callers
        that combine node values linearly and clip afterwards).
    factor : float, optional
        Multiplies the (clipped and filled) values, in float64, before they are stored.
    dtype : dtype
        Dtype of the result: the values are computed in float64 and converted once
        (as ``(values * factor).astype(dtype)``, without a float64 copy of the whole result).

    Returns
    -------
    ndarray
        Shape ``[len(v) for v in fixed.values()] + pixel_shape``, in the IRF's unit,
        with axes in the order of ``fixed`` followed by the pixel dimensions.
    """
    if isinstance(irf, SeparableIRF):
        sep = irf
        if list(pixel_axes) != sep.pixel_names:
            raise ValueError(f"pixel axes {list(pixel_axes)} differ from {sep.pixel_names}")
    else:
        sep = SeparableIRF(irf, fixed, list(pixel_axes), values_scale=values_scale, oob_mode=oob_mode)
    pix_shape = np.shape(next(iter(pixel_axes.values())))
    base, corners, pixel_bad = sep.pixel_weights(pixel_axes)
    n_pix = len(base)
    n_fixed = sep.rows.shape[1]
    # Pixels outside the axis edges take the fill value and are not evaluated.
    pixels = np.flatnonzero(~pixel_bad) if fill_value is not None else np.arange(n_pix)
    if raw_log:
        out = np.zeros((n_fixed, n_pix))
        zero = np.ones((n_fixed, n_pix), bool)
    elif len(pixels) == n_pix:  # every pixel is written below
        out = np.empty((n_fixed, n_pix), dtype)
    else:
        fill = 0.0 if fill_value is None else float(fill_value)
        out = np.full((n_fixed, n_pix), fill if factor is None else fill * factor, dtype)
    # Few fixed values (energies): pixels along the contiguous axis; many (energy x rad): per-pixel rows.
    columns = n_fixed <= COLUMNS_MAX
    if columns and not raw_log and sep.values_scale == "lin" and len(corners) == 2 and fill_value in (0, None):
        _evaluate_lines(sep, base, corners[1][1], pixels, n_pix, out, clip=clip, fill=fill_value is not None,
                        factor=factor)
        return out.reshape(sep.fixed_shape + tuple(pix_shape))
    for sl in pixel_chunks(pixels, n_pix, n_fixed):
        values = sep.columns_at(base, corners, sl) if columns else sep.rows_at(base, corners, sl).T
        if raw_log:
            z = values <= _LOG_TWO_TINY64
            if fill_value is not None:
                z[sep.fixed_bad, :] = True
            zero[:, sl] = z
        else:
            values = sep.finish(values, fill_value=fill_value, clip=clip, columns=True)
            if factor is not None:
                values *= factor
        out[:, sl] = values
    shape = sep.fixed_shape + tuple(pix_shape)
    if raw_log:
        return out.reshape(shape), zero.reshape(shape)
    return out.reshape(shape)


def _evaluate_lines(sep, base, weight, pixels, n_pix, out, clip, fill, factor):
    """The columns of `evaluate_separable` for a linear IRF along one pixel axis, written into ``out``.

    A pixel between nodes ``i`` and ``i + 1`` with weight ``w`` gets
    ``v_i + (v_{i+1} - v_i) w``, then times ``factor`` (as Gammapy multiplies the
    interpolated IRF by the livetime). Between the nodes (``0 <= w <= 1``) this lies
    between two node values, so clipping at zero can only matter where a node value
    is negative or the pixel is extrapolated; only chunks with such pixels are
    clipped. Fixed coordinates outside their axis edges give 0.
    """
    table = sep.columns.copy()
    if fill:
        table[sep.fixed_bad, :] = 0.0
    low, step = table[:, :-1], np.diff(table, axis=1)
    may_clip = clip and bool((table < 0).any())
    for sl in pixel_chunks(pixels, n_pix, len(table), LINE_CHUNK_VALUES):
        index, w = base[sl], weight[sl]
        values = np.take(low, index, axis=1)
        delta = np.take(step, index, axis=1)
        delta *= w
        values += delta
        if clip and (may_clip or w.min() < 0 or w.max() > 1):
            np.maximum(values, 0.0, out=values)
        if factor is not None:
            values *= factor
        out[:, sl] = values
