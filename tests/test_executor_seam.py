"""One executor seam: serial, a process pool and a Dask cluster give identical results from small tasks."""

import pickle
import warnings

import numpy as np
import pytest

from dl3lab.reduction import DatasetsMaker, DataStore, MapDataset, ReductionError
from dl3lab.reduction.datasets.template import DatasetTemplate, is_pristine
from dl3lab.reduction.makers.datasets_maker import _reduce_template_task

from .conftest import store_with_truncated_run
from .test_datasets_maker import RUNS, _assert_same, _setup


@pytest.fixture(scope="module")
def dask_client():
    import distributed  # dask is an optional extra of dl3lab; the test extra installs it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None, processes=True)
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_tasks_are_small(hess_dir):
    geom, makers = _setup()
    reference = MapDataset.create(geom, name="stacked")
    template = DatasetTemplate.from_dataset(reference)
    obs = DataStore.from_dir(hess_dir).obs(RUNS[0])
    task = pickle.dumps((template, obs, makers, (6.0, "trim")))
    cutout = pickle.dumps(reference.cutout(obs.get_pointing_icrs(obs.tmid).galactic, width=6.0))
    # the exclusion mask of the FoV maker (a maker parameter) is most of the task
    exclusion = makers[2].exclusion_mask.data.nbytes
    assert len(task) < exclusion + 40_000
    assert len(cutout) > 20 * (len(task) - exclusion)


def test_template_only_for_untouched_datasets():
    geom, _ = _setup()
    dataset = MapDataset.create(geom)
    assert is_pristine(dataset) and DatasetTemplate.from_dataset(dataset) is not None
    for change in (lambda d: d.counts.data.__setitem__((0, 0, 0), 1), lambda d: setattr(d, "mask_fit", d.mask_safe),
                   lambda d: d.edisp.edisp_map.data.__setitem__((0, 0, 0, 0), 0.5)):
        touched = dataset.copy()
        change(touched)
        assert DatasetTemplate.from_dataset(touched) is None
    assert DatasetTemplate.from_dataset(dataset.cutout(geom.center_skydir, width=1.0)) is None


def test_worker_recreates_the_reference_identically(hess_dir):
    geom, makers = _setup()
    reference = MapDataset.create(geom, name="stacked")
    template = pickle.loads(pickle.dumps(DatasetTemplate.from_dataset(reference)))
    template.release()
    obs = DataStore.from_dir(hess_dir).obs(RUNS[1])
    from_template = _reduce_template_task(template, obs, makers, (6.0, "trim"))
    position = obs.get_pointing_icrs(obs.tmid).galactic
    direct = reference.cutout(position, width=6.0)
    for maker in makers:
        direct = maker.run(direct, obs)
    _assert_same(from_template, direct)


def test_serial_processes_and_dask_agree(hess_dir, dask_client):
    geom, makers = _setup()
    observations = DataStore.from_dir(hess_dir).get_observations(RUNS)
    reference = MapDataset.create(geom, name="stacked")
    results = {
        executor: DatasetsMaker(makers, executor=executor, n_jobs=2, progress_bar=False).run(reference, observations)[0]
        for executor in ("serial", "processes", dask_client)
    }
    serial = results.pop("serial")
    for result in results.values():
        _assert_same(serial, result)
        assert list(result.meta_table["OBS_ID"][0]) == RUNS


def test_dask_failure_names_observation_and_skip_failed(hess_dir, tmp_path, dask_client):
    broken = store_with_truncated_run(hess_dir, tmp_path, (23523, 23592, 23526), 23592)
    geom, makers = _setup()
    observations = DataStore.from_dir(tmp_path).get_observations([23523, 23592, 23526])
    reference = MapDataset.create(geom, name="stacked")
    with pytest.raises(ReductionError) as info:
        DatasetsMaker(makers, executor=dask_client, progress_bar=False).run(reference, observations)
    assert info.value.obs_id == 23592 and str(broken) in str(info.value)
    assert "Traceback" in info.value.traceback
    maker = DatasetsMaker(makers, executor=dask_client, skip_failed=True, progress_bar=False)
    with pytest.warns(UserWarning, match="23592"):
        stacked = maker.run(reference, observations)[0]
    assert list(stacked.meta_table["OBS_ID"][0]) == [23523, 23526]
    assert [f.obs_id for f in maker.failures] == [23592]


def test_one_dataset_per_observation_in_processes_and_on_dask(hess_dir, dask_client, monkeypatch):
    geom, makers = _setup()
    observations = DataStore.from_dir(hess_dir).get_observations(RUNS[:3])
    datasets = []
    for obs in observations:
        pointing = obs.get_pointing_icrs(obs.tmid)
        own = geom.to_image().cutout(pointing, width=3.0).to_cube([geom.axes["energy"]])
        datasets.append(MapDataset.create(own, name=f"run-{obs.obs_id}"))
    templates = []
    original = DatasetTemplate.from_dataset.__func__
    monkeypatch.setattr(DatasetTemplate, "from_dataset",
                        classmethod(lambda cls, d: templates.append(d.name) or original(cls, d)))
    for executor in ("processes", dask_client):
        templates.clear()
        maker = DatasetsMaker(makers[:2], stack_datasets=False, n_jobs=2, executor=executor, progress_bar=False)
        result = maker.run(datasets[0], observations, datasets=datasets)
        assert result.names == [f"run-{obs.obs_id}" for obs in observations]
        # forked workers inherit the datasets; a Dask worker gets a template of each
        assert templates == ([] if executor == "processes" else result.names)
        for obs, own, reduced in zip(observations, datasets, result):
            direct = own
            for item in makers[:2]:
                direct = item.run(direct, obs)
            _assert_same(reduced, direct)


def test_template_cutout_equals_the_reference_cutout():
    from astropy.coordinates import SkyCoord

    geom, _ = _setup()
    reference = MapDataset.create(geom, name="stacked")
    template = DatasetTemplate.from_dataset(reference)
    template.share(reference)
    try:
        for lon, lat, width in ((184.0, -5.5, 6.0), (186.5, -6.3, 2.0)):
            position = SkyCoord(lon, lat, unit="deg", frame="galactic")
            fast, slow = template.cutout(position, width), reference.cutout(position, width)
            pairs = [(fast.counts, slow.counts), (fast.exposure, slow.exposure), (fast.background, slow.background),
                     (fast.mask_safe, slow.mask_safe), (fast.psf.psf_map, slow.psf.psf_map),
                     (fast.psf.exposure_map, slow.psf.exposure_map), (fast.edisp.edisp_map, slow.edisp.edisp_map),
                     (fast.edisp.exposure_map, slow.edisp.exposure_map)]
            for a, b in pairs:
                assert a.geom == b.geom and a.data.dtype == b.data.dtype and a.unit == b.unit
                np.testing.assert_array_equal(a.data, b.data)
            for item in (fast.counts, fast.exposure, fast.background, fast.mask_safe, fast.psf.psf_map):
                assert item.data.flags.writeable and not np.shares_memory(item.data, reference.counts.data)
    finally:
        template.release()
