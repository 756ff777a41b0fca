"""Project a boolean mask map onto another geometry by nearest-bin lookup, with a small cache.

Gammapy re-projects the exclusion mask for every observation (spec §13); the
projection depends only on the two geometries, so it is cached here.
"""

import zlib

import numpy as np

from ..datasets.masks import pixel_centres_in
from ..geom.grid import sky_grid_key
from ..lru import LRUCache

__all__ = ["project_mask", "clear_projection_cache"]

_CACHE = LRUCache(16)


def _geom_key(geom):
    axes = tuple((ax.name, tuple(np.round(ax.edges.value, 12))) for ax in geom.axes)
    return sky_grid_key(geom), axes


def clear_projection_cache():
    """Forget cached projections."""
    _CACHE.clear()


def _lookup_indices(mask_geom, geom):
    """Flat indices into the mask image for each pixel of ``geom`` (-1 outside)."""
    x, y = pixel_centres_in(geom.to_image(), mask_geom.to_image())
    nx, ny = (int(n) for n in np.ravel(mask_geom.npix)[:2])
    ix = np.floor(x + 0.5).astype(np.int64)
    iy = np.floor(y + 0.5).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    return np.where(inside, iy * nx + ix, -1)


def _energy_indices(mask_geom, geom):
    """For a mask with an energy axis: index of the mask bin holding each target energy centre (-1 outside)."""
    mask_axis = mask_geom.axes["energy"]
    if "energy" not in geom.axes.names:
        return None
    return mask_axis.coord_to_bin(geom.axes["energy"].center)


def project_mask(mask, geom, fill_value=False):
    """Boolean array of ``geom.data_shape``: ``mask`` looked up at the bin centres of ``geom``.

    Parameters
    ----------
    mask : `~dl3lab.reduction.maps.Map`
        Boolean mask, 2-D or with an ``energy`` axis.
    geom : `~dl3lab.reduction.geom.WcsGeom`
        Target geometry.
    fill_value : bool
        Value for target bins outside the mask.
    """
    data = np.ascontiguousarray(mask.data, dtype=bool)
    checksum = zlib.crc32(data.view(np.uint8))
    key = (checksum, data.shape, _geom_key(mask.geom), _geom_key(geom), bool(fill_value))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached.copy()
    flat_idx = _lookup_indices(mask.geom, geom)
    inside = flat_idx >= 0
    shape = geom.data_shape
    if data.ndim == 2:
        image = np.full(flat_idx.shape, bool(fill_value))
        image[inside] = data.ravel()[flat_idx[inside]]
        result = np.broadcast_to(image, shape).copy()
    else:
        planes = data.reshape(data.shape[0], -1)
        e_idx = _energy_indices(mask.geom, geom)
        n_e = shape[0] if len(shape) == 3 else 1
        result = np.full((n_e,) + flat_idx.shape, bool(fill_value))
        for k in range(n_e):
            ke = k if e_idx is None else e_idx[k]
            if ke < 0:
                continue
            result[k][inside] = planes[ke][flat_idx[inside]]
        result = result.reshape(shape)
    _CACHE.put(key, result)
    return result.copy()
