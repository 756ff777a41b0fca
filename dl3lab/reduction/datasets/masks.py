"""Projections of a dataset's safe mask used as stacking weights, and meta-table stacking."""

import numpy as np
from astropy.table import Table

from ..geom._utils import pixel_centre_lonlat
from ..geom.grid import sky_grid_key
from ..interpolation import _cell_index_and_weight, interpolate_grid
from ..lru import LRUCache

__all__ = ["same_sky_grid", "pixel_centres_in", "mask_safe_psf_weights", "mask_safe_edisp_weights", "stack_meta_tables"]


def same_sky_grid(geom, other):
    """Whether two WCS geometries have the same pixels on the sky (same WCS and size)."""
    if geom is other:
        return True
    if tuple(np.ravel(geom.npix)[:2]) != tuple(np.ravel(other.npix)[:2]) or geom.frame != other.frame:
        return False
    if geom.wcs is other.wcs:  # geometries derived from one another share their WCS object
        return True
    a, b = geom.wcs.wcs, other.wcs.wcs
    return (
        list(a.ctype) == list(b.ctype)
        and np.allclose(a.crval, b.crval, rtol=0, atol=1e-12)
        and np.allclose(a.crpix, b.crpix, rtol=0, atol=1e-9)
        and np.allclose(a.cdelt, b.cdelt, rtol=1e-12, atol=0)
    )


_CENTRES = LRUCache(64)


def pixel_centres_in(source_geom, target_geom):
    """Fractional pixel coordinates ``(x, y)`` in ``target_geom`` of the pixel centres of ``source_geom``.

    The arrays depend only on the two sky grids; they are cached and read-only.
    """
    key = (sky_grid_key(source_geom), sky_grid_key(target_geom))
    cached = _CENTRES.get(key)
    if cached is None:
        x, y = _pixel_centres_in(source_geom, target_geom)
        x.flags.writeable = y.flags.writeable = False
        cached = _CENTRES.put(key, (x, y))
    return cached


def _pixel_centres_in(source_geom, target_geom):
    lon, lat = pixel_centre_lonlat(source_geom, target_geom.frame)
    x, y = target_geom.wcs.wcs_world2pix(lon, lat, 0)
    return np.array(x, dtype=float), np.array(y, dtype=float)


def _nearest_lookup(image, x, y):
    """Value of a 2-D boolean image at the pixels containing ``(x, y)``; False outside."""
    ny, nx = image.shape
    ix = np.floor(x + 0.5).astype(np.int64)
    iy = np.floor(y + 0.5).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    out = np.zeros(x.shape, bool)
    out[inside] = image[iy[inside], ix[inside]]
    return out


def mask_safe_psf_weights(dataset):
    """Safe-mask image looked up at the PSF-map pixel centres: weights of shape ``(1, 1, ny, nx)``."""
    if dataset.mask_safe is None or dataset.psf is None:
        return None
    if getattr(dataset.psf.psf_map.geom, "is_region", False):
        return dataset.mask_safe.data.any(axis=0)[None, None].astype(float)
    eps_img = dataset.mask_safe.data.any(axis=0)
    x, y = pixel_centres_in(dataset.psf.psf_map.geom, dataset.mask_safe.geom)
    return _nearest_lookup(eps_img, x, y)[None, None].astype(float)


def _bilinear_nonzero(cube, x, y):
    """Bilinear interpolation (extrapolating) of each plane of a boolean cube at ``(x, y)``, cast to bool.

    Where ``(x, y)`` lies inside the grid all interpolation weights are >= 0, so the
    interpolated value is non-zero exactly when a True corner has a positive weight:
    that is evaluated with boolean lookups. Points outside the grid are interpolated.
    """
    n_e, ny, nx = cube.shape
    if ny < 2 or nx < 2:
        return _nearest_lookup(cube.any(axis=0), x, y)[None].repeat(n_e, axis=0)
    ix, wx = _cell_index_and_weight(np.arange(nx, dtype=float), x)
    iy, wy = _cell_index_and_weight(np.arange(ny, dtype=float), y)
    with np.errstate(invalid="ignore"):
        inside = (wx >= 0) & (wx <= 1) & (wy >= 0) & (wy <= 1)
    if not inside.all():
        return _bilinear_nonzero_interpolated(cube, x, y)
    result = np.zeros((n_e,) + np.shape(x), bool)
    for dy, dx, positive in (
        (0, 0, (wy < 1) & (wx < 1)),
        (0, 1, (wy < 1) & (wx > 0)),
        (1, 0, (wy > 0) & (wx < 1)),
        (1, 1, (wy > 0) & (wx > 0)),
    ):
        result |= cube[:, iy + dy, ix + dx] & positive
    return result


def _bilinear_nonzero_interpolated(cube, x, y):
    n_e, ny, nx = cube.shape
    grids = [np.arange(n_e, dtype=float), np.arange(ny, dtype=float), np.arange(nx, dtype=float)]
    if n_e < 2:
        values = interpolate_grid(grids[1:], cube[0].astype(float), [y, x])[None]
    else:
        e_idx = np.arange(n_e, dtype=float)[:, None, None]
        values = interpolate_grid(grids, cube.astype(float), [e_idx, y[None], x[None]])
    return values != 0


def mask_safe_edisp_weights(dataset):
    """Safe mask projected onto the energy-dispersion map pixels.

    For a kernel map the reco-energy mask is interpolated bilinearly in space and
    cast back to bool (a coarse pixel is safe if any fine neighbour is), giving
    weights ``(1, n_reco, ny, nx)``; for a migration map the image mask is used,
    giving ``(1, 1, ny, nx)``.
    """
    if dataset.mask_safe is None or dataset.edisp is None:
        return None
    geom = dataset.edisp.edisp_map.geom
    eps = dataset.mask_safe.data
    if getattr(geom, "is_region", False):
        # one spatial bin: the safe mask itself is the weight (Gammapy's region branch)
        if "migra" in geom.axes.names:
            return eps.any(axis=0, keepdims=True)[None].astype(float)
        return eps[None].astype(float)
    x, y = pixel_centres_in(geom, dataset.mask_safe.geom)
    if "migra" in geom.axes.names:
        return _bilinear_nonzero(eps.any(axis=0, keepdims=True), x, y)[None].astype(float)
    return _bilinear_nonzero(eps, x, y)[None].astype(float)


def stack_meta_tables(first, *others):
    """Column-wise concatenation of meta tables into one row of arrays (``first`` may be None).

    The columns are those of the first table present in all; the result equals
    concatenating the tables two at a time, in order.
    """
    tables = ([] if first is None else [first]) + list(others)
    if len(tables) == 1:
        return tables[0].copy()
    names = [name for name in tables[0].colnames if all(name in t.colnames for t in tables[1:])]
    row = {name: [np.concatenate([np.atleast_1d(np.asarray(t[name][0])) for t in tables])] for name in names}
    return Table(row)
