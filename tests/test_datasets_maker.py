"""DatasetsMaker: serial and parallel runs agree; failures name the observation; skip_failed keeps the rest."""


import numpy as np
import pytest
from astropy import units as u
from regions import CircleSkyRegion

from dl3lab.reduction import (
    DatasetsMaker,
    DataStore,
    FoVBackgroundMaker,
    MapAxis,
    MapDataset,
    MapDatasetMaker,
    ReductionError,
    SafeMaskMaker,
    WcsGeom,
)

from .conftest import store_with_truncated_run

RUNS = [23523, 23592, 23526, 23559]


def _setup():
    axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=5, binsz=0.02)
    exclusion = geom.region_mask([CircleSkyRegion(geom.center_skydir, 0.2 * u.deg)], inside=False)
    makers = [
        MapDatasetMaker(),
        SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max="3 deg"),
        FoVBackgroundMaker(method="scale", exclusion_mask=exclusion),
    ]
    return geom, makers


def _assert_same(a, b):
    for name in ("counts", "exposure", "background", "mask_safe"):
        np.testing.assert_array_equal(getattr(a, name).data, getattr(b, name).data)
    np.testing.assert_array_equal(a.psf.psf_map.data, b.psf.psf_map.data)
    np.testing.assert_array_equal(a.edisp.edisp_map.data, b.edisp.edisp_map.data)
    np.testing.assert_array_equal(a.gti.met_start, b.gti.met_start)
    np.testing.assert_array_equal(a.meta_table["OBS_ID"][0], b.meta_table["OBS_ID"][0])


def test_parallel_equals_serial_and_manual_loop(hess_dir, reference):
    geom, makers = _setup()
    observations = DataStore.from_dir(hess_dir).get_observations(RUNS)
    reference_dataset = MapDataset.create(geom, name="stacked")
    serial = DatasetsMaker(makers, n_jobs=1, progress_bar=False).run(reference_dataset, observations)[0]
    parallel = DatasetsMaker(makers, n_jobs=2, progress_bar=False).run(reference_dataset, observations)[0]
    _assert_same(serial, parallel)
    assert serial.name == "stacked"
    assert reference_dataset.counts.data.sum() == 0  # the reference dataset is left untouched
    assert list(serial.meta_table["OBS_ID"][0]) == RUNS
    info = serial.info_dict()
    assert info["counts"] == reference["map_stacked"]["counts"]
    assert info["n_fit_bins"] == reference["map_stacked"]["n_fit_bins"]
    assert info["background"] == pytest.approx(reference["map_stacked"]["background"], rel=1e-6)


def test_unstacked_results_keep_observation_order(hess_dir):
    geom, makers = _setup()
    observations = DataStore.from_dir(hess_dir).get_observations(RUNS)
    datasets = DatasetsMaker(makers, stack_datasets=False, n_jobs=2, progress_bar=False).run(
        MapDataset.create(geom), observations
    )
    assert [int(d.meta_table["OBS_ID"][0]) for d in datasets] == RUNS
    assert all(d.background_model is not None for d in datasets)


@pytest.fixture
def store_with_broken_run(hess_dir, tmp_path):
    return tmp_path, store_with_truncated_run(hess_dir, tmp_path, (23523, 23592, 23526), 23592)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_failure_names_observation_and_skip_failed_keeps_others(store_with_broken_run, n_jobs):
    store_dir, broken = store_with_broken_run
    geom, makers = _setup()
    # The cutout needs the pointing, so the broken run fails in DatasetsMaker.run before reduction:
    # use an explicit cutout width of None (no cutout) to let the failure happen inside the worker.
    maker = DatasetsMaker(makers, n_jobs=n_jobs, progress_bar=False, cutout_width="6 deg")
    observations = DataStore.from_dir(store_dir).get_observations([23523, 23592, 23526])
    with pytest.raises(ReductionError) as info:
        maker.run(MapDataset.create(geom), observations)
    assert info.value.obs_id == 23592
    assert str(broken) in str(info.value)
    assert "Traceback" in info.value.traceback
    maker.skip_failed = True
    with pytest.warns(UserWarning, match="23592"):
        result = maker.run(MapDataset.create(geom), observations)[0]
    assert list(result.meta_table["OBS_ID"][0]) == [23523, 23526]
    assert [f.obs_id for f in maker.failures] == [23592]


def test_groups_of_observations_stack_like_one_observation_at_a_time(hess_dir):
    from dl3lab.reduction.makers.datasets_maker import GROUP_SIZE, reduce_observation

    geom, makers = _setup()
    ids = RUNS + RUNS[:2]  # two tasks: the first GROUP_SIZE observations, then the rest
    assert GROUP_SIZE < len(ids) < 2 * GROUP_SIZE
    observations = DataStore.from_dir(hess_dir).get_observations(ids)
    reference = MapDataset.create(geom, name="stacked")
    maker = DatasetsMaker(makers, progress_bar=False)
    assert maker._group_size(reference, use_cutout=True) == GROUP_SIZE
    serial = maker.run(reference, observations)[0]
    _assert_same(serial, DatasetsMaker(makers, n_jobs=2, progress_bar=False).run(reference, observations)[0])
    manual = reference.copy()
    for obs in observations:
        local = manual.cutout(obs.get_pointing_icrs(obs.tmid).galactic, width=maker.effective_cutout_width)
        manual.stack(reduce_observation(local, obs, makers))
    for name in ("counts", "mask_safe"):
        np.testing.assert_array_equal(getattr(serial, name).data, getattr(manual, name).data)
    # sums of float32 maps taken in another order: equal to float32 rounding
    for a, b in [(serial.background, manual.background), (serial.exposure, manual.exposure),
                 (serial.psf.psf_map, manual.psf.psf_map), (serial.edisp.edisp_map, manual.edisp.edisp_map)]:
        np.testing.assert_allclose(a.data, b.data, rtol=3e-6, atol=1e-6 * np.abs(b.data).max())
    assert list(serial.meta_table["OBS_ID"][0]) == ids
    assert serial.exposure.meta["livetime"].to_value("s") == pytest.approx(
        manual.exposure.meta["livetime"].to_value("s"), rel=1e-12)


def test_observations_are_not_grouped_when_the_reference_is_much_larger_than_a_cutout():
    _, makers = _setup()
    axis = MapAxis.from_bounds(1, 10, nbin=2, name="energy", unit="TeV", interp="log")
    large = MapDataset.create(WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=20, binsz=0.1))
    maker = DatasetsMaker(makers, progress_bar=False)  # cutouts of 6 deg: a tenth of the area
    assert maker._group_size(large, use_cutout=True) == 1
    maker.cutout_width = "16 deg"
    assert maker._group_size(large, use_cutout=True) > 1
    maker.stack_datasets = False
    assert maker._group_size(large, use_cutout=True) == 1


def test_failure_inside_a_group_keeps_the_group_s_other_observations(store_with_broken_run):
    store_dir, _ = store_with_broken_run
    geom, makers = _setup()
    ids = [23523, 23526, 23592, 23523, 23526]  # the broken run sits in the first group
    observations = DataStore.from_dir(store_dir).get_observations(ids)
    for n_jobs in (1, 2):
        maker = DatasetsMaker(makers, n_jobs=n_jobs, progress_bar=False, cutout_width="6 deg", skip_failed=True)
        with pytest.warns(UserWarning, match="23592"):
            result = maker.run(MapDataset.create(geom), observations)[0]
        assert list(result.meta_table["OBS_ID"][0]) == [23523, 23526, 23523, 23526]
        assert [f.obs_id for f in maker.failures] == [23592]


def test_group_sizes_shrink_at_the_end_and_depend_on_the_count_only():
    from dl3lab.reduction.makers.datasets_maker import GROUP_SIZE, group_sizes

    for n in range(1, 60):
        sizes = group_sizes(n)
        assert sum(sizes) == n and max(sizes) <= GROUP_SIZE
        assert sizes == sorted(sizes, reverse=True)
        assert sizes[-1] == 1  # the last task is a single observation
        assert sizes.count(GROUP_SIZE) == max(0, (n - 2) // GROUP_SIZE)  # full groups while 6 or more are left
    assert group_sizes(21) == [4, 4, 4, 4, 2, 2, 1]
