"""Stacking several datasets at once gives exactly the result of stacking them one after the other."""

import copy

import numpy as np
import pytest
from astropy import units as u

from dl3lab.reduction import (
    Datasets,
    DataStore,
    FoVBackgroundMaker,
    MapAxis,
    MapDataset,
    MapDatasetMaker,
    SafeMaskMaker,
    WcsGeom,
)
from dl3lab.reduction.datasets.stack_engine import StackCache, stack_datasets
from dl3lab.reduction.datasets.stacking import Addend, add_planes
from dl3lab.reduction.maps import Map

RUNS = [23523, 23526, 23592]


@pytest.fixture(scope="module")
def reduced(hess_dir):
    """The reference dataset and three reduced Crab runs (unmasked, as a pipeline caches them)."""
    store = DataStore.from_dir(hess_dir)
    energy = MapAxis.from_energy_bounds(0.7, 20, nbin=9, unit="TeV")
    energy_true = MapAxis.from_energy_bounds(0.4, 30, nbin=14, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=4, binsz=0.04, axes=[energy])
    reference = MapDataset.create(geom, energy_axis_true=energy_true, name="stacked")
    maker = MapDatasetMaker()
    datasets = []
    for obs in store.get_observations(RUNS):
        cutout = reference.cutout(obs.get_pointing_icrs(obs.tmid), width=3 * u.deg)
        datasets.append((maker.run(cutout, obs), obs))
    return reference, datasets


def masked(datasets, aeff_percent, offset_max=2.0):
    """Shallow copies of the datasets with an ``aeff-max``/``offset-max`` safe mask and a FoV background norm."""
    safe = SafeMaskMaker(methods=["aeff-max", "offset-max"], aeff_percent=aeff_percent, offset_max=offset_max * u.deg)
    result = []
    for dataset, obs in datasets:
        new = copy.copy(dataset)
        new.mask_safe = Map.from_geom(dataset._geom, data=safe.make_mask(dataset, obs), dtype=bool)
        new.models = None
        result.append(FoVBackgroundMaker().run(new, obs))
    return result


def sequential(reference, datasets):
    stacked = reference.copy(name="stacked")
    for dataset in datasets:
        stacked.stack(dataset)
    return stacked


def assert_identical(a, b):
    for key in ("counts", "exposure", "background", "mask_safe"):
        np.testing.assert_array_equal(getattr(a, key).data, getattr(b, key).data, err_msg=key)
    for key in ("psf", "edisp"):
        np.testing.assert_array_equal(getattr(a, key)._irf_map.data, getattr(b, key)._irf_map.data, err_msg=key)
        np.testing.assert_array_equal(getattr(a, key).exposure_map.data, getattr(b, key).exposure_map.data)
    assert a.exposure.meta["livetime"] == b.exposure.meta["livetime"]
    assert a.models == b.models == []
    np.testing.assert_array_equal(a.gti.met_start.value, b.gti.met_start.value)
    np.testing.assert_array_equal(a.gti.met_stop.value, b.gti.met_stop.value)
    assert a.meta_table.colnames == b.meta_table.colnames
    for name in a.meta_table.colnames:
        np.testing.assert_array_equal(np.asarray(a.meta_table[name]), np.asarray(b.meta_table[name]))


def test_stack_datasets_equals_sequential_stacking(reduced):
    reference, datasets = reduced
    parts = masked(datasets, 10)
    expected = sequential(reference, parts)
    stacked = stack_datasets(parts, reference, name="stacked")
    assert_identical(stacked, expected)
    assert stacked.counts.data.sum() > 0 and stacked.psf.psf_map.data.any()
    assert not np.shares_memory(stacked.exposure.data, reference.exposure.data)
    # Datasets.stack_reduce stacks into a copy of the first dataset the same way
    first = sequential(reference, parts[:1])
    assert_identical(Datasets([first] + parts[1:]).stack_reduce(name="s"), sequential(first, parts[1:]))


def test_cache_reuses_exposure_and_psf_only_when_footprints_repeat(reduced):
    reference, datasets = reduced
    cache = StackCache()
    for aeff_percent in (10, 5, 20):  # energy thresholds move, footprints stay
        parts = masked(datasets, aeff_percent)
        stacked = stack_datasets(parts, reference, name="stacked", cache=cache)
        assert_identical(stacked, sequential(reference, parts))
    assert cache.hits == 2
    parts = masked(datasets, 20, offset_max=1.5)  # another footprint: computed again
    assert_identical(stack_datasets(parts, reference, cache=cache), sequential(reference, parts))
    assert cache.hits == 2
    # the results never share data with the cache
    again = stack_datasets(parts, reference, cache=cache)
    again.exposure.data[...] = 0
    again.psf.psf_map.data[...] = 0
    assert_identical(stack_datasets(parts, reference, cache=cache), sequential(reference, parts))
    assert cache.hits == 4


def test_dataset_with_empty_mask_adds_nothing(reduced):
    reference, datasets = reduced
    parts = masked(datasets, 10)
    parts[1] = copy.copy(parts[1])
    parts[1].mask_safe = Map.from_geom(parts[1]._geom, dtype=bool)
    stacked = stack_datasets(parts, reference, cache=StackCache())
    assert_identical(stacked, sequential(reference, parts))
    assert list(stacked.meta_table["OBS_ID"][0]) == [RUNS[0], RUNS[2]]
    assert len(stacked.gti.met_start) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_planewise_additions_follow_the_whole_array_formula(dtype):
    rng = np.random.default_rng(1)
    target = rng.random((6, 40, 1000)).astype(dtype)
    expected = target.copy()
    values = rng.random((6, 30, 900))
    values[2, 5, 7], values[3, 1, 1], values[4, 2, 2] = np.nan, np.inf, -np.inf
    mask = rng.random(values.shape) > 0.3
    mask[0], mask[1] = True, False  # planes with all / no bins
    mask[5] = mask[4]
    image = rng.random(values.shape[1:]) > 0.5
    factor = rng.random(6) + 0.5
    where = (slice(5, 35), slice(100, 1000))
    addends = [Addend(values, mask, where=where, factor=factor), Addend(values, image, where=where)]
    add_planes(target, addends)
    for m, f in ((mask, factor[:, None, None]), (image, 1.0)):
        expected[(Ellipsis,) + where] += (np.nan_to_num(values * f, posinf=0, neginf=0) * m).astype(dtype)
    np.testing.assert_array_equal(target, expected)


def test_partial_cutout_keeps_values_inside_and_zeros_outside():
    from astropy.coordinates import SkyCoord

    energy = MapAxis.from_energy_bounds(1, 10, nbin=2, unit="TeV")
    geom = WcsGeom.create(skydir=(10, 20), width=2, binsz=0.1, axes=[energy])
    dataset = MapDataset.create(geom)
    dataset.counts.data[...] = np.arange(dataset.counts.data.size).reshape(dataset.counts.data.shape) + 1
    lon, lat = geom.pix_to_coord((0, 0, 0))[:2]
    position = SkyCoord(lon, lat, unit="deg")
    cut = dataset.cutout(position, width=1 * u.deg, mode="partial")
    parent, child = cut.counts.geom.overlap_slices(geom, mode="partial")
    expected = np.zeros(cut.counts.data.shape, np.float32)
    expected[(Ellipsis,) + tuple(child)] = dataset.counts.data[(Ellipsis,) + tuple(parent)]
    np.testing.assert_array_equal(cut.counts.data, expected)
    # the corner pixel of the parent is inside, the rows and columns beyond its edges are zero
    assert 0 < np.count_nonzero(expected) < expected.size
    assert (cut.counts.data[:, 0, :] == 0).all() and (cut.counts.data[:, :, 0] == 0).all()


def test_meta_tables_of_many_stacks_are_joined_when_read(reduced):
    import pickle

    reference, datasets = reduced
    parts = [d for d, _ in datasets]
    stacked = reference.copy(name="stacked")
    stacked.stack(parts[0])
    stacked.stack(parts[1])
    early = copy.copy(stacked)  # shares nothing that later stacks change
    assert list(stacked.meta_table["OBS_ID"][0]) == RUNS[:2]
    stacked.stack(parts[2])
    late = pickle.loads(pickle.dumps(stacked))
    stacked.stack(parts[0])
    assert list(early.meta_table["OBS_ID"][0]) == RUNS[:2]
    assert list(late.meta_table["OBS_ID"][0]) == RUNS
    assert list(stacked.meta_table["OBS_ID"][0]) == RUNS + RUNS[:1]
    # the same table as joining them two at a time
    from dl3lab.reduction.datasets.masks import stack_meta_tables

    pairwise = parts[0].meta_table
    for part in parts[1:] + parts[:1]:
        pairwise = stack_meta_tables(pairwise, part.meta_table)
    assert stacked.meta_table.colnames == pairwise.colnames
    for name in pairwise.colnames:
        np.testing.assert_array_equal(np.asarray(stacked.meta_table[name]), np.asarray(pairwise[name]))
    assert parts[0].meta_table is not stacked.meta_table


def test_stacked_meta_table_keeps_the_values_stacked(reduced):
    reference, datasets = reduced
    part = copy.copy(datasets[1][0])
    part.meta_table = datasets[1][0].meta_table.copy()
    stacked = reference.copy(name="stacked")
    stacked.stack(datasets[0][0])
    stacked.stack(part)
    part.meta_table["OBS_ID"][0] = 999  # changed after stacking, before the stacked table is read
    assert list(stacked.meta_table["OBS_ID"][0]) == RUNS[:2]
