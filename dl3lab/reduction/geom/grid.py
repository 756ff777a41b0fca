"""Cheap identity keys and overlaps for WCS pixel grids (used by caches and stacking)."""

import numpy as np

__all__ = ["sky_grid_key", "grid_offset"]


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
