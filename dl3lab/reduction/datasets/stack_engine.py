"""Stacking several map datasets at once (spec §10.1), with an optional cache for live tuning.

`stack_into` adds datasets into a stacked dataset with exactly the result of
calling `MapDataset.stack` for each of them in order, but with every large map
updated one energy plane at a time for all datasets (the plane stays in the CPU
cache). `stack_datasets` stacks into a copy of a reference dataset and can keep,
in a `StackCache`, the parts of the result that depend on each dataset's safe
mask only through its spatial footprint (the exposure, livetime and PSF maps):
when a safe-mask change moves energy thresholds only, those are reused.
"""

import numpy as np
from astropy import units as u

from ..geom.grid import overlap_slices
from ..maps import Map
from .masks import mask_safe_edisp_weights, mask_safe_psf_weights
from .stacking import Addend, add_planes, plane_classes

__all__ = ["stack_into", "stack_datasets", "StackCache"]


class _Term:
    """What one dataset contributes: its safe mask, the mask's footprint and the target slices."""

    def __init__(self, stacked, other):
        if other.mask_safe is not None:
            self.eps = other.mask_safe.data
            self.classes = plane_classes(self.eps) if self.eps.ndim > 1 else None
        else:
            self.eps, self.classes = np.ones(other.counts.data.shape, bool), None
        self.other = other
        self.active = bool(self.eps.any() if self.classes is None else self.classes.any())
        if self.active:
            self.where = tuple(overlap_slices(other._geom, stacked._geom)[0])
            self.eps_img = self.eps.any(axis=0)

    def addend(self, values, image=False, factor=None):
        mask = self.eps_img if image else self.eps
        return Addend(values, mask, where=self.where, factor=factor, classes=None if image else self.classes)


def _terms(stacked, datasets):
    """The datasets that add anything (a dataset whose safe mask is all False adds nothing)."""
    return [t for t in (_Term(stacked, d) for d in datasets) if t.active]


#: Stacks adding at least this many map elements use a helper thread for the exposure and IRF maps.
THREADED_MIN = 1_000_000


def stack_into(stacked, datasets, skip=()):
    """Add ``datasets`` into ``stacked`` in place, as ``stacked.stack(d)`` for each ``d`` in order.

    Large stacks add the exposure and IRF maps in a helper thread (see
    `dl3lab.reduction.executor.max_threads`) while the calling thread adds the
    counts, background and masks; the two touch different maps.

    Parameters
    ----------
    stacked : `~dl3lab.reduction.MapDataset`
        Target dataset.
    datasets : iterable of `~dl3lab.reduction.MapDataset`
        Datasets to add, in order.
    skip : iterable of str
        Parts left untouched: ``"exposure"`` (the exposure map and its livetime) and/or
        ``"psf"``; used by `stack_datasets` when it takes them from a `StackCache`.
    """
    import threading

    from ..executor import max_threads, thread_pool

    terms = _terms(stacked, datasets)
    if not terms:
        return
    size = sum(t.other.counts.data.size for t in terms if t.other.counts is not None)
    helper = None
    in_pool = threading.current_thread().name.startswith("dl3lab")  # never wait on the pool from inside it
    if max_threads() > 1 and not in_pool and size * (1 + ("exposure" not in skip)) >= THREADED_MIN:
        helper = thread_pool().submit(_stack_responses, stacked, terms, skip)
    try:
        _stack_data(stacked, terms)
    finally:
        if helper is None:
            _stack_responses(stacked, terms, skip)
        else:
            helper.result()


def _stack_responses(stacked, terms, skip):
    """The exposure (with its livetime), PSF and energy-dispersion part of `stack_into`."""
    if stacked.exposure is not None and "exposure" not in skip:
        with_exposure = [t for t in terms if t.other.exposure is not None]
        add_planes(stacked.exposure.data, [t.addend(t.other.exposure.data, image=True) for t in with_exposure])
        for term in with_exposure:
            if term.eps_img.any():
                livetime = stacked.exposure.meta.get("livetime", 0 * u.s)
                stacked.exposure.meta["livetime"] = livetime + term.other.exposure.meta.get("livetime", 0 * u.s)
    if stacked.psf is not None and "psf" not in skip:
        psfs = [(t.other.psf, mask_safe_psf_weights(t.other)) for t in terms if t.other.psf is not None]
        stacked.psf.stack_many(psfs)
    if stacked.edisp is not None:
        edisps = [(t.other.edisp, mask_safe_edisp_weights(t.other)) for t in terms if t.other.edisp is not None]
        stacked.edisp.stack_many(edisps)


def _stack_data(stacked, terms):
    """The counts, background, masks, GTI and meta-table part of `stack_into`."""
    if stacked.counts is not None:
        add_planes(stacked.counts.data, [t.addend(t.other.counts.data) for t in terms if t.other.counts is not None])
    with_background = [t for t in terms if t.other.background is not None]
    if stacked.stat_type == "cash" and stacked.background is not None and with_background:
        factor = stacked._background_factor()
        if factor is not None:
            stacked.background.data *= factor
        stacked.models = None
        addends = []
        for term in with_background:
            other_factor = term.other._background_factor()
            addends.append(term.addend(term.other.background.data,
                                       factor=None if other_factor is None else other_factor.ravel()))
        add_planes(stacked.background.data, addends)
    for term in terms:
        other = term.other
        sl = (Ellipsis,) + term.where
        if stacked.mask_safe is not None:
            stacked.mask_safe.data[sl] |= term.eps
        if other.mask_fit is not None:
            if stacked.mask_fit is None:
                stacked.mask_fit = Map.from_geom(stacked._geom, dtype=bool)
            stacked.mask_fit.data[sl] |= other.mask_fit.data
        if other.gti is not None:
            stacked.gti = other.gti.copy() if stacked.gti is None else stacked.gti.stack(other.gti).union()
    tables = [t.other.meta_table for t in terms if t.other.meta_table is not None]
    if tables:
        stacked._append_meta_tables(tables)


class StackCache:
    """Parts of a stacked dataset kept between calls of `stack_datasets`.

    The exposure map (with its livetime) and the PSF map of a stack depend on each
    dataset only through its exposure and PSF maps and the spatial footprint of its
    safe mask (``mask_safe`` ORed over energy). They are reused when the reference
    dataset, the datasets' exposure and PSF map objects and the footprints are the
    same as in the previous call, so changing an energy threshold restacks only the
    counts, background, energy dispersion and masks.

    The cache compares map objects by identity: it assumes that the maps are not
    modified in place between calls (the cached per-observation products of a
    pipeline are not).
    """

    def __init__(self):
        self.clear()

    def clear(self):
        """Forget the cached parts."""
        self._key = None
        self._exposure = None
        self._psf = None
        self.hits = 0

    @staticmethod
    def _key_of(reference, terms):
        return reference, [(t.other.exposure, t.other.psf, t.eps_img) for t in terms]

    def _matches(self, key):
        if self._key is None or self._key[0] is not key[0] or len(self._key[1]) != len(key[1]):
            return False
        return all(
            a[0] is b[0] and a[1] is b[1] and np.array_equal(a[2], b[2]) for a, b in zip(self._key[1], key[1])
        )


def stack_datasets(datasets, reference, name=None, cache=None):
    """Stack ``datasets`` into a copy of ``reference``.

    The result is identical to ``stacked = reference.copy(name=name)`` followed by
    ``stacked.stack(d)`` for each dataset in order.

    Parameters
    ----------
    datasets : list of `~dl3lab.reduction.MapDataset`
        Datasets to stack, in order.
    reference : `~dl3lab.reduction.MapDataset`
        Dataset copied to start the stack (typically empty, from `MapDataset.create`).
    name : str, optional
        Name of the stacked dataset.
    cache : `StackCache`, optional
        Keeps the exposure and PSF of the result for the next call (see `StackCache`).

    Returns
    -------
    `~dl3lab.reduction.MapDataset`
        The stacked dataset; it shares no data with the inputs or the cache.
    """
    from .map_dataset import MapDataset

    datasets = list(datasets)
    if type(reference).stack is not MapDataset.stack:  # ON/OFF and spectrum datasets have their own rules
        stacked = reference.copy(name=name)
        for dataset in datasets:
            stacked.stack(dataset)
        return stacked
    if cache is None or reference.exposure is None:
        stacked = reference.copy(name=name)
        stack_into(stacked, datasets)
        return stacked
    key = StackCache._key_of(reference, _terms(reference, datasets))
    if cache._matches(key):
        replace = {"exposure": cache._exposure.copy()}
        if reference.psf is not None:
            replace["psf"] = cache._psf.copy()
        stacked = reference._copy(name, replace)
        stack_into(stacked, datasets, skip=tuple(replace))
        cache.hits += 1
        return stacked
    stacked = reference.copy(name=name)
    stack_into(stacked, datasets)
    cache._key = key
    cache._exposure = stacked.exposure.copy()
    cache._psf = None if stacked.psf is None else stacked.psf.copy()
    return stacked
