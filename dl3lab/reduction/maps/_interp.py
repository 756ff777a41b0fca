"""Interpolation of map data in pixel space (spec §0.4).

The interpolation uses scipy's ``RegularGridInterpolator`` on the pixel-index
grid, in geometry order ``(x, y, axis1, ...)`` and with linear extrapolation,
so that results agree with Gammapy to the last bit (this matters when a
boolean mask is interpolated and cast back to bool: values that cancel to
about 1e-16 count as True).
"""

import numpy as np
from scipy.interpolate import RegularGridInterpolator

__all__ = ["interp_data_by_pix"]

_TINY = np.finfo(np.float64).tiny


def _scale(values, scale):
    if scale == "log":
        dtype = values.dtype if values.dtype.kind == "f" else np.float64
        return np.log(np.maximum(values, np.finfo(dtype).tiny))
    if scale == "sqrt":
        return np.sqrt(values)
    if scale != "lin":
        raise ValueError(f"unknown values_scale {scale!r}")
    return values


def _inverse(values, scale):
    if scale == "log":
        values = np.exp(values)
        return np.where(np.abs(values) - _TINY <= _TINY, 0.0, values)
    if scale == "sqrt":
        return values**2
    return values


def interp_data_by_pix(data, pix, method="linear", values_scale="lin"):
    """Interpolate a data array at fractional pixel coordinates.

    Parameters
    ----------
    data : ndarray
        Map data, shape ``(..., n2, n1, ny, nx)``.
    pix : sequence of arrays
        Pixel coordinates in geometry order ``(x, y, p1, p2, ...)`` (reverse of
        the data dimensions); broadcast against each other.
    method : {"linear", "nearest"}
        Multilinear with linear extrapolation, or nearest node (clamped).
    values_scale : {"lin", "log", "sqrt"}
        Scale in which the values are interpolated.

    Returns
    -------
    ndarray
        Values with the broadcast shape of ``pix``. Dimensions of length one
        are ignored (the data are constant along them); non-finite data are
        treated as 0 (unless no value is finite).
    """
    values = np.asarray(data).T
    finite = np.isfinite(values)
    if not finite.all() and finite.any():
        values = np.where(finite, values, 0)
    values = _scale(values, values_scale)
    pix = np.broadcast_arrays(*[np.asarray(p, dtype=float) for p in pix])
    shape = pix[0].shape
    keep = [i for i, n in enumerate(values.shape) if n > 1]
    if not keep:
        result = np.full(shape, float(np.ravel(values)[0]))
    else:
        values = values.reshape([values.shape[i] for i in keep])
        grids = tuple(np.arange(values.shape[k], dtype=float) for k in range(len(keep)))
        interpolator = RegularGridInterpolator(
            grids, values, method=method, bounds_error=False, fill_value=None
        )
        points = np.stack([pix[i].ravel() for i in keep], axis=-1)
        result = interpolator(points).reshape(shape)
    return np.asarray(_inverse(result, values_scale), dtype=float)
