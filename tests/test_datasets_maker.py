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


def test_stacked_result_equals_stacking_one_observation_at_a_time(hess_dir):
    from dl3lab.reduction.makers.datasets_maker import reduce_observation

    geom, makers = _setup()
    ids = RUNS + RUNS[:2]
    observations = DataStore.from_dir(hess_dir).get_observations(ids)
    reference = MapDataset.create(geom, name="stacked")
    maker = DatasetsMaker(makers, progress_bar=False)
    serial = maker.run(reference, observations)[0]
    _assert_same(serial, DatasetsMaker(makers, n_jobs=2, progress_bar=False).run(reference, observations)[0])
    manual = reference.copy()
    for obs in observations:
        local = manual.cutout(obs.get_pointing_icrs(obs.tmid).galactic, width=maker.effective_cutout_width)
        manual.stack(reduce_observation(local, obs, makers))
    for a, b in [(serial.counts, manual.counts), (serial.mask_safe, manual.mask_safe),
                 (serial.background, manual.background), (serial.exposure, manual.exposure),
                 (serial.psf.psf_map, manual.psf.psf_map), (serial.psf.exposure_map, manual.psf.exposure_map),
                 (serial.edisp.edisp_map, manual.edisp.edisp_map)]:
        np.testing.assert_array_equal(a.data, b.data)  # the same additions in the same order
    assert list(serial.meta_table["OBS_ID"][0]) == ids
    np.testing.assert_array_equal(serial.gti.met_start, manual.gti.met_start)
    assert serial.exposure.meta["livetime"] == manual.exposure.meta["livetime"]


def test_a_failure_among_repeated_runs_keeps_the_others(store_with_broken_run):
    store_dir, _ = store_with_broken_run
    geom, makers = _setup()
    ids = [23523, 23526, 23592, 23523, 23526]
    observations = DataStore.from_dir(store_dir).get_observations(ids)
    for n_jobs in (1, 2):
        maker = DatasetsMaker(makers, n_jobs=n_jobs, progress_bar=False, cutout_width="6 deg", skip_failed=True)
        with pytest.warns(UserWarning, match="23592"):
            result = maker.run(MapDataset.create(geom), observations)[0]
        assert list(result.meta_table["OBS_ID"][0]) == [23523, 23526, 23523, 23526]
        assert [f.obs_id for f in maker.failures] == [23592]


class _KillWorkerOn:
    """A maker that ends the worker process (not the calling one) reducing one observation."""

    def __init__(self, obs_id, parent):
        self.obs_id, self.parent = obs_id, parent

    def run(self, dataset, observation):
        import os
        import time

        if os.getpid() == self.parent:
            time.sleep(0.5)  # the worker takes the other observations
        elif observation.obs_id == self.obs_id:
            os._exit(9)
        return dataset


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="forked workers")
def test_a_killed_worker_fails_its_observation_only(hess_dir):
    import os

    geom, makers = _setup()
    observations = DataStore.from_dir(hess_dir).get_observations(RUNS)
    maker = DatasetsMaker(makers + [_KillWorkerOn(RUNS[2], os.getpid())], n_jobs=2, progress_bar=False,
                          skip_failed=True)
    with pytest.warns(UserWarning, match=str(RUNS[2])):
        result = maker.run(MapDataset.create(geom), observations)[0]
    assert [f.obs_id for f in maker.failures] == [RUNS[2]]
    assert "exit code 9" in str(maker.failures[0])
    assert sorted(result.meta_table["OBS_ID"][0]) == sorted(RUNS[:2] + RUNS[3:])
