"""Masked, in-place additions used when datasets are stacked (spec §10.1).

The arrays of a dataset are added one plane (first axis) at a time: the
temporaries then stay in the CPU cache, a plane whose mask is all True is added
without multiplying by the mask, and a plane whose mask is all False is skipped.
Every element gets exactly the value the whole-array formula
``target += nan_to_num(values * factor) * mask`` gives it.
"""

import numpy as np

__all__ = ["all_finite", "finite", "plane_classes", "add_masked", "PLANE_MIN"]

#: Arrays with fewer elements than this are added in one whole-array operation.
PLANE_MIN = 32768

NONE, SOME, ALL = 0, 1, 2


def all_finite(values):
    """Whether every element of ``values`` is finite (one summation unless the sum is not finite)."""
    if values.dtype.kind not in "fc":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values)):
            return True
    return bool(np.isfinite(values).all())


def finite(values):
    """``values`` with NaN and infinities set to zero (``values`` itself when all finite)."""
    if all_finite(values):
        return values
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def plane_classes(mask):
    """Per plane (first axis) of a boolean array: ``NONE`` (all False), ``SOME`` or ``ALL`` (all True)."""
    flat = mask.reshape(mask.shape[0], -1)
    return np.where(flat.all(axis=1), ALL, np.where(flat.any(axis=1), SOME, NONE))


def _image_class(image):
    return ALL if image.all() else (SOME if image.any() else NONE)


def add_masked(target, values, mask, factor=None, classes=None):
    """``target += nan_to_num(values * factor) * mask``, in place, in the target dtype.

    Parameters
    ----------
    target : ndarray
        Array (or view) to add into, same shape as ``values``.
    values : ndarray
        Values to add.
    mask : ndarray of bool
        Same shape as ``values``, or the shape of one plane (``values.shape[1:]``),
        then used for every plane.
    factor : 1-D array, optional
        One multiplier per plane.
    classes : array, optional
        :func:`plane_classes` of ``mask`` (when it has the shape of ``values``), if known.
    """
    per_plane = mask.ndim == values.ndim
    if values.size < PLANE_MIN or values.ndim < 2:
        if factor is not None:
            values = values * np.asarray(factor).reshape((-1,) + (1,) * (values.ndim - 1))
        target += (finite(values) * mask).astype(target.dtype, copy=False)
        return
    if per_plane:
        classes = plane_classes(mask) if classes is None else classes
    else:
        classes = np.full(len(values), _image_class(mask))
    weight = weight_of = None
    for k in np.flatnonzero(classes != NONE):
        plane = values[k] if factor is None else values[k] * factor[k]
        if classes[k] == ALL:
            plane = finite(plane)
        else:
            # The mask as numbers of the plane's type (reused while the mask plane repeats).
            m = mask[k] if per_plane else mask
            if weight is None or weight.dtype != plane.dtype or not np.array_equal(m, weight_of):
                weight, weight_of = m.astype(plane.dtype), m
            product = plane * weight
            # A non-finite value anywhere in the plane makes the product non-finite there.
            plane = product if all_finite(product) else finite(plane) * weight
        target[k] += plane.astype(target.dtype, copy=False)
