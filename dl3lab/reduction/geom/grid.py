"""Cheap identity keys and overlaps for WCS pixel grids (used by caches and stacking)."""

import numpy as np

__all__ = ["sky_grid_key", "grid_offset", "overlap_slices"]


def sky_grid_key(geom, with_crpix=True):
    """Hashable key describing the sky pixels of a WCS geometry.

    Two geometries with the same key have identical pixels. Without ``with_crpix``
    the key describes the projection family, shared by all cutouts of one parent.
    """
    w = geom.wcs.wcs
    key = (
        tuple(w.ctype),
        tuple(np.round(w.crval, 12)),
        tuple(np.round(w.cdelt, 12)),
        float(w.lonpole),
        float(w.latpole),
        geom.frame,
    )
    if with_crpix:
        key += (tuple(np.round(w.crpix, 9)), tuple(int(n) for n in np.ravel(geom.npix)[:2]))
    return key


def grid_offset(child, parent):
    """Integer pixel offset ``(dx, dy)`` of ``child`` inside ``parent`` when both share a projection, else None.

    Pixel ``(i, j)`` of the child is pixel ``(i + dx, j + dy)`` of the parent.
    """
    if sky_grid_key(child, with_crpix=False) != sky_grid_key(parent, with_crpix=False):
        return None
    shift = np.asarray(parent.wcs.wcs.crpix) - np.asarray(child.wcs.wcs.crpix)
    rounded = np.round(shift)
    if not np.allclose(shift, rounded, atol=1e-9):
        return None
    return int(rounded[0]), int(rounded[1])


def overlap_slices(child, parent):
    """``(parent_slices, child_slices)`` (y, x) of the pixels ``child`` shares with ``parent``.

    Uses the integer grid offset when both share a projection, and the geometry's own
    (sky-coordinate based) method otherwise. Region geometries (one spatial bin) overlap fully.
    """
    if getattr(child, "is_region", False) or getattr(parent, "is_region", False):
        return (slice(None), slice(None)), (slice(None), slice(None))
    offset = grid_offset(child, parent)
    if offset is None:
        return child.overlap_slices(parent)
    parent_slices, child_slices = [], []
    for start, n_child, n_parent in zip(offset[::-1], tuple(child.npix)[::-1], tuple(parent.npix)[::-1]):
        lo, hi = max(start, 0), min(start + n_child, n_parent)
        if hi <= lo:
            from ..errors import NoOverlapError

            raise NoOverlapError("the geometries do not overlap")
        parent_slices.append(slice(lo, hi))
        child_slices.append(slice(lo - start, hi - start))
    return tuple(parent_slices), tuple(child_slices)
