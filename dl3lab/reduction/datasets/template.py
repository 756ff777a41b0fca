"""`DatasetTemplate`: an empty reference dataset described by its creation arguments.

Parallel reduction sends each worker this small description instead of a cut-out
copy of the reference dataset (megabytes per task). A worker creates the reference
once, caches it, and cuts out around each observation's pointing itself, with the
same code as a serial run, so the results are identical.
"""

import hashlib
import pickle

import numpy as np

from .irf_maps import EDispKernelMap, diagonal_kernel
from .map_dataset import MapDataset

__all__ = ["DatasetTemplate", "is_pristine"]

_CACHE = {}
#: Maps of a pristine dataset that are all zero (see `is_pristine`), by their `cutout_maps` keys.
PRISTINE_ZERO = frozenset({"counts", "exposure", "background", "mask_safe", "psf", "psf_exposure", "edisp_exposure"})


def _all_zero(item):
    return item is None or not np.any(item.data)


def is_pristine(dataset):
    """Whether ``dataset`` is exactly as `MapDataset.create` made it (nothing filled or changed since)."""
    if type(dataset) is not MapDataset or getattr(dataset, "_creation", None) is None:
        return False
    if dataset.mask_fit is not None or dataset.models or dataset.meta_table is not None or len(dataset.gti.table):
        return False
    maps = (dataset.counts, dataset.background, dataset.exposure, dataset.psf.psf_map, dataset.psf.exposure_map,
            dataset.edisp.exposure_map)
    if not all(_all_zero(item) for item in maps) or np.any(dataset.mask_safe.data):
        return False
    if isinstance(dataset.edisp, EDispKernelMap):
        geom = dataset.edisp.edisp_map.geom
        kernel = diagonal_kernel(geom.axes["energy"], geom.axes["energy_true"])
        return bool(np.array_equal(dataset.edisp.edisp_map.data, np.broadcast_to(kernel[:, :, None, None],
                                                                                 geom.data_shape)))
    migra = dataset.edisp.edisp_map.geom.axes["migra"].edges.value
    diag = ((migra[:-1] <= 1) & (migra[1:] > 1)) / np.diff(migra)
    return bool(np.array_equal(dataset.edisp.edisp_map.data,
                               np.broadcast_to(diag[None, :, None, None], dataset.edisp.edisp_map.data.shape)))


class DatasetTemplate:
    """Creation arguments of an empty `MapDataset`, small enough to send to every worker.

    Use :meth:`from_dataset`; :meth:`dataset` returns the (per-process cached) empty
    reference dataset.
    """

    def __init__(self, creation, name):
        self.creation = dict(creation)
        self.name = name
        self._token = None

    @property
    def token(self):
        """Digest of the creation arguments: the key of the per-process cached reference."""
        if self._token is None:
            self._token = hashlib.sha256(pickle.dumps((self.creation, self.name))).hexdigest()
        return self._token

    @classmethod
    def from_dataset(cls, dataset):
        """Template of ``dataset``, or None if it is not an untouched `MapDataset.create` result."""
        if not is_pristine(dataset):
            return None
        return cls(dataset._creation, dataset.name)

    def create(self):
        """A new empty dataset with the template's name."""
        return MapDataset.create(name=self.name, **self.creation)

    def cutout(self, position, width, mode="trim"):
        """``self.dataset().cutout(position, width, mode)``, with new zero arrays for the maps a
        pristine dataset has all zero instead of copies of them."""
        return self.dataset()._cutout(position, width, mode, zero=PRISTINE_ZERO)

    def share(self, dataset):
        """Use ``dataset`` (verified pristine by :meth:`from_dataset`) as this process's reference."""
        _CACHE.clear()
        _CACHE[self.token] = dataset

    def release(self):
        """Forget this process's cached reference."""
        _CACHE.pop(self.token, None)

    def dataset(self):
        """The empty reference dataset (created once per process and template; do not modify it)."""
        cached = _CACHE.get(self.token)
        if cached is None:
            _CACHE.clear()  # one reference per process is enough; nothing grows without bound
            cached = _CACHE[self.token] = MapDataset.create(name=self.name, **self.creation)
        return cached
