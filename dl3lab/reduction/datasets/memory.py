"""Memory guardrails: the size of a dataset before it is allocated, and a configurable limit.

A geometry that is too fine or too wide (an all-sky map at 0.02 deg needs tens of
GB) is refused with `~dl3lab.reduction.errors.DatasetTooLargeError` before any
array is created. The limit is 2 GiB by default; ``DL3LAB_MAX_DATASET_BYTES`` or
:func:`set_max_dataset_bytes` change it.
"""

import os

import numpy as np
from astropy import units as u

from ..errors import DatasetTooLargeError

__all__ = ["MAP_DTYPE", "DEFAULT_MAX_DATASET_BYTES", "max_dataset_bytes", "set_max_dataset_bytes", "map_dataset_nbytes",
           "check_dataset_size", "format_bytes"]

#: Dtype of the floating-point maps of a `~dl3lab.reduction.MapDataset` (counts, background,
#: exposure, PSF and EDisp maps), as in Gammapy's ``MapDataset.create``. The makers compute in
#: float64 and store the result in this dtype (a relative rounding of at most 6e-8).
MAP_DTYPE = np.dtype(np.float32)

#: Default largest dataset that may be created, in bytes.
DEFAULT_MAX_DATASET_BYTES = 2 * 1024**3
_MAX_BYTES = None


def max_dataset_bytes():
    """The current limit in bytes (:func:`set_max_dataset_bytes`, else the environment, else 2 GiB)."""
    if _MAX_BYTES is not None:
        return _MAX_BYTES
    env = os.environ.get("DL3LAB_MAX_DATASET_BYTES")
    if env:
        try:
            return int(float(env))
        except ValueError:
            raise ValueError(f"DL3LAB_MAX_DATASET_BYTES must be a number of bytes, got {env!r}") from None
    return DEFAULT_MAX_DATASET_BYTES


def set_max_dataset_bytes(nbytes):
    """Set the limit in bytes (``None`` restores the default)."""
    global _MAX_BYTES
    if nbytes is not None and not nbytes > 0:
        raise ValueError(f"the dataset size limit must be positive, got {nbytes!r}")
    _MAX_BYTES = None if nbytes is None else int(nbytes)


def format_bytes(nbytes):
    """``"1.5 GiB"``-style text."""
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def map_dataset_nbytes(geom, energy_axis_true=None, migra_axis=None, rad_axis=None, binsz_irf=None, reco_psf=False,
                       geom_irf=None):
    """Bytes that `MapDataset.create` would allocate for these arguments, per map.

    ``geom_irf`` (the 2-D grid of the PSF and EDisp maps) is derived from ``geom`` and
    ``binsz_irf`` unless the caller already has it.

    Returns
    -------
    dict
        ``{"counts", "background", "mask_safe", "exposure", "psf", "edisp"}`` -> bytes,
        and ``"total"``.
    """
    from .map_dataset import BINSZ_IRF_DEFAULT, RAD_AXIS_DEFAULT

    energy = geom.axes["energy"]
    n_true = (energy_axis_true or energy).nbin
    rad = RAD_AXIS_DEFAULT if rad_axis is None else rad_axis
    binsz_irf = BINSZ_IRF_DEFAULT if binsz_irf is None else u.Quantity(binsz_irf, "deg")
    image = geom.to_image()
    n_sky = int(np.prod(image.data_shape))
    geom_irf = image.to_binsz(binsz_irf) if geom_irf is None else geom_irf
    n_irf = int(np.prod(geom_irf.to_image().data_shape))
    n_psf_energy = energy.nbin if reco_psf else n_true
    n_migra = energy.nbin if migra_axis is None else migra_axis.nbin
    item = MAP_DTYPE.itemsize
    sizes = {
        "counts": n_sky * energy.nbin * item,
        "background": n_sky * energy.nbin * item,
        "mask_safe": n_sky * energy.nbin,
        "exposure": n_sky * n_true * item,
        "psf": n_irf * n_psf_energy * (rad.nbin + 1) * item,
        "edisp": n_irf * n_true * (n_migra + 1) * item,
    }
    sizes["total"] = sum(sizes.values())
    return sizes


def check_dataset_size(sizes, what="the dataset", max_bytes=None):
    """Raise `DatasetTooLargeError` if ``sizes["total"]`` exceeds the limit.

    Parameters
    ----------
    sizes : dict
        Output of `map_dataset_nbytes`.
    what : str
        What is being created, for the message.
    max_bytes : int, optional
        Limit (default: `max_dataset_bytes`).
    """
    limit = max_dataset_bytes() if max_bytes is None else int(max_bytes)
    total = sizes["total"]
    if total > limit:
        largest = max((k for k in sizes if k != "total"), key=sizes.get)
        raise DatasetTooLargeError(
            f"{what} would need {format_bytes(total)} (largest map: {largest}, {format_bytes(sizes[largest])}), "
            f"above the limit of {format_bytes(limit)}. Use a coarser bin size, a smaller width or fewer energy "
            "bins, or reduce per observation with cutouts (DatasetsMaker cutout_width); "
            "set_max_dataset_bytes() or DL3LAB_MAX_DATASET_BYTES raise the limit."
        )
    return total
