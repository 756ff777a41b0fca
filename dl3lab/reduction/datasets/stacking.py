"""Masked, in-place additions used when datasets are stacked (spec §10.1).

The arrays of a dataset are added one plane (first axis) at a time: the
temporaries then stay in the CPU cache, a plane whose mask is all True is added
without multiplying by the mask, and a plane whose mask is all False is skipped.
Every element gets exactly the value the whole-array formula
``target += nan_to_num(values * factor) * mask`` gives it.
"""

import numpy as np

__all__ = ["all_finite", "finite", "plane_classes", "Addend", "add_planes", "add_masked", "PLANE_MIN"]

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


class Addend:
    """One term ``nan_to_num(values * factor) * mask`` added into ``target[..., *where]``.

    Parameters
    ----------
    values : ndarray
        Values to add, shape ``(n_planes, ...)``.
    mask : ndarray of bool
        Same shape as ``values``, or the shape of one plane (then used for every plane).
    where : tuple of slices
        Trailing-axis slices of the target receiving ``values`` (empty: the whole target).
    factor : 1-D array, optional
        One multiplier per plane.
    classes : array, optional
        :func:`plane_classes` of a per-plane ``mask``, if known.
    """

    def __init__(self, values, mask, where=(), factor=None, classes=None):
        self.values, self.mask, self.where, self.factor = values, mask, tuple(where), factor
        self.per_plane = mask.ndim == values.ndim
        self._classes = classes
        self._scratch = None
        self._finite = None  # whether all of ``values`` are finite (checked once, on the first plane)

    @property
    def classes(self):
        if self._classes is None:
            self._classes = (plane_classes(self.mask) if self.per_plane
                             else np.full(len(self.values), _image_class(self.mask)))
        return self._classes

    @property
    def planewise(self):
        """Whether the term is large enough to be added plane by plane."""
        return self.values.ndim >= 2 and self.values.size >= PLANE_MIN

    def add_to(self, target):
        """Add the whole term into ``target`` (the full array; ``where`` is applied here)."""
        target = target[(Ellipsis,) + self.where]
        values = self.values
        if self.factor is not None:
            values = values * np.asarray(self.factor).reshape((-1,) + (1,) * (values.ndim - 1))
        target += (finite(values) * self.mask).astype(target.dtype, copy=False)

    def add_plane(self, target, k):
        """Add plane ``k`` of the term into plane ``k`` of ``target`` (the full array)."""
        kind = self.classes[k]
        if kind == NONE:
            return
        values = self.values[k]
        dtype = np.result_type(values, self.factor) if self.factor is not None else values.dtype
        # One scratch plane per term, reused for every plane (fewer allocations, fewer page faults).
        if self._scratch is None or self._scratch.dtype != dtype:
            self._scratch = np.empty(values.shape, dtype)
        if self.factor is None:
            if self._finite is None:
                self._finite = all_finite(self.values)  # one pass instead of one per plane
            plane = values if self._finite else finite(values)
        else:  # a product may overflow: checked plane by plane
            plane = finite(np.multiply(values, self.factor[k], out=self._scratch))
        plane = plane.astype(target.dtype, copy=False)
        view = target[k][self.where]
        if kind == ALL:
            view += plane
        else:
            # masked-out elements are left as they are: the same as adding ``plane * mask``
            np.add(view, plane, out=view, where=self.mask[k] if self.per_plane else self.mask)


def add_planes(target, addends):
    """Add the ``addends`` (`Addend`) into ``target`` in place, in their order.

    Large terms are added one plane at a time, every term's plane ``k`` before plane
    ``k + 1``, so a target plane stays in the CPU cache while all terms are added to
    it. Each element receives the same additions in the same order as when the terms
    are added one after the other, so the result is identical.
    """
    if all(a.planewise and len(a.values) == len(target) for a in addends):
        for k in range(len(target)):
            for addend in addends:
                addend.add_plane(target, k)
    else:
        for addend in addends:
            addend.add_to(target)


def add_masked(target, values, mask, factor=None, classes=None):
    """``target += nan_to_num(values * factor) * mask``, in place, in the target dtype (see `Addend`)."""
    add_planes(target, [Addend(values, mask, factor=factor, classes=classes)])
