"""The reactive pipeline re-runs exactly the stages a change invalidates, and its state round-trips."""

import shutil

import numpy as np
import pytest

from dl3lab.reduction import DataStore, MapDataset, MapDatasetMaker, SafeMaskMaker
from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline

from .conftest import STANDARD_HDUS, write_hdu_index

RUNS = [23523, 23592]


def small_geometry():
    return GeometrySpec(width=3.0, binsz=0.05, energy_nbin=6, energy_true_nbin=8, energy_true_min=0.5)


@pytest.fixture
def pipeline(hess_dir):
    store = DataStore.from_dir(hess_dir)
    return ReductionPipeline(
        store, RUNS, geometry=small_geometry(),
        exclusion_regions=[{"lon": 83.63, "lat": 22.01, "radius": 0.3}],
    )


def counts_after(pipeline, change):
    before = dict(pipeline.run_counts)
    change()
    pipeline.run()
    return {k: pipeline.run_counts[k] - before[k] for k in before}


def test_each_change_reruns_only_later_stages(pipeline):
    assert counts_after(pipeline, lambda: None) == {"maps": 2, "safe_mask": 2, "background": 2, "stack": 1}
    assert counts_after(pipeline, lambda: None) == {"maps": 0, "safe_mask": 0, "background": 0, "stack": 0}

    def set_aeff():
        pipeline.safe_mask_maker.aeff_percent = 20

    assert counts_after(pipeline, set_aeff) == {"maps": 0, "safe_mask": 2, "background": 2, "stack": 1}

    def set_regions():
        pipeline.exclusion_regions = [{"lon": 83.63, "lat": 22.01, "radius": 0.5}]

    assert counts_after(pipeline, set_regions) == {"maps": 0, "safe_mask": 0, "background": 2, "stack": 1}

    def set_fov():
        pipeline.background_maker.method = "fit"

    assert counts_after(pipeline, set_fov) == {"maps": 0, "safe_mask": 0, "background": 2, "stack": 1}

    def set_selection():
        pipeline.dataset_maker.background_oversampling = 2

    assert counts_after(pipeline, set_selection) == {"maps": 2, "safe_mask": 2, "background": 2, "stack": 1}

    def set_geometry():
        pipeline.geometry.binsz = 0.1

    assert counts_after(pipeline, set_geometry) == {"maps": 2, "safe_mask": 2, "background": 2, "stack": 1}

    def replace_maker():
        pipeline.safe_mask_maker = SafeMaskMaker(methods=["offset-max"], offset_max="2 deg")

    assert counts_after(pipeline, replace_maker) == {"maps": 0, "safe_mask": 2, "background": 2, "stack": 1}


def test_loosen_then_tighten_equals_fresh_run(pipeline, hess_dir):
    pipeline.safe_mask_maker.methods = ["edisp-bias", "offset-max"]
    pipeline.safe_mask_maker.bias_percent = 5
    tight = pipeline.run().mask_safe.data.copy()
    pipeline.safe_mask_maker.bias_percent = 30
    loose = pipeline.run().mask_safe.data.copy()
    assert loose.sum() > tight.sum()
    pipeline.safe_mask_maker.bias_percent = 5
    again = pipeline.run()
    np.testing.assert_array_equal(again.mask_safe.data, tight)
    fresh = ReductionPipeline(
        DataStore.from_dir(hess_dir), RUNS, geometry=small_geometry(),
        safe_mask_maker=SafeMaskMaker(methods=["edisp-bias", "offset-max"], bias_percent=5),
        exclusion_regions=[{"lon": 83.63, "lat": 22.01, "radius": 0.3}],
    ).run()
    np.testing.assert_array_equal(fresh.mask_safe.data, again.mask_safe.data)
    np.testing.assert_array_equal(fresh.counts.data, again.counts.data)
    np.testing.assert_allclose(fresh.background.data, again.background.data, rtol=1e-12)


def test_pipeline_equals_manual_loop(pipeline):
    stacked = pipeline.run()
    geometry = pipeline.geometry
    manual = geometry.make_dataset()
    maker, safe = MapDatasetMaker(), SafeMaskMaker(methods=["aeff-default", "offset-max"])
    fov = pipeline.background_maker
    for obs_id in RUNS:
        obs = pipeline.data_store.obs(obs_id)
        local = manual.cutout(obs.get_pointing_icrs(obs.tmid), width="6 deg")
        dataset = safe.run(maker.run(local, obs), obs)
        manual.stack(fov.run(dataset, exclusion_mask=pipeline.exclusion_mask()))
    np.testing.assert_array_equal(stacked.counts.data, manual.counts.data)
    np.testing.assert_allclose(stacked.background.data, manual.background.data, rtol=1e-12)
    np.testing.assert_array_equal(stacked.mask_safe.data, manual.mask_safe.data)


def test_failing_observation_is_reported_and_others_stack(hess_dir, tmp_path):
    (tmp_path / "data").mkdir()
    rows = []
    for obs_id in RUNS:
        name = f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
        shutil.copy(hess_dir / "data" / name, tmp_path / "data" / name)
        rows += [(obs_id, t, c, "data", name, h) for t, c, h in STANDARD_HDUS]
    broken = tmp_path / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz"
    broken.write_bytes(broken.read_bytes()[:4000])
    write_hdu_index(tmp_path / "hdu-index.fits.gz", rows)
    pipeline = ReductionPipeline(DataStore.from_dir(tmp_path), RUNS, geometry=small_geometry())
    stacked = pipeline.run()
    assert list(pipeline.errors) == [23592]
    assert str(broken) in str(pipeline.errors[23592])
    assert "23592" in pipeline.error_report()
    assert list(np.atleast_1d(stacked.meta_table["OBS_ID"][0])) == [23523]
    assert stacked.counts.data.sum() > 0


def test_state_yaml_round_trip_gives_identical_stack(pipeline, tmp_path):
    pipeline.safe_mask_maker.methods = ["aeff-max", "offset-max"]
    pipeline.safe_mask_maker.aeff_percent = 15
    pipeline.background_maker.method = "fit"
    stacked = pipeline.run()
    path = tmp_path / "state.yaml"
    pipeline.save(path)
    with pytest.raises(FileExistsError):
        pipeline.save(path)
    copy = ReductionPipeline.load(path)
    assert copy.to_dict() == pipeline.to_dict()
    again = copy.run()
    for key in ("counts", "background", "exposure", "mask_safe"):
        np.testing.assert_array_equal(getattr(stacked, key).data, getattr(again, key).data)
    assert isinstance(again, MapDataset)


def test_change_during_a_run_does_not_wait_and_is_not_lost(pipeline, hess_dir):
    import threading

    pipeline.safe_mask_maker.methods = ["aeff-max", "offset-max"]
    pipeline.safe_mask_maker.aeff_percent = 40.0
    first = pipeline.run().mask_safe.data.copy()
    entered, release = threading.Event(), threading.Event()
    original = pipeline.safe_mask_maker.make_mask

    def slow_make_mask(*args, **kwargs):
        entered.set()
        release.wait(60)
        return original(*args, **kwargs)

    pipeline.safe_mask_maker.make_mask = slow_make_mask
    pipeline.safe_mask_maker.aeff_percent = 60.0
    worker = threading.Thread(target=pipeline.run)
    worker.start()
    assert entered.wait(60)
    # the run is inside the safe-mask stage; a change now must return at once
    setter = threading.Thread(target=setattr, args=(pipeline.safe_mask_maker, "aeff_percent", 5.0))
    setter.start()
    setter.join(30)
    finished_while_running = not setter.is_alive() and not release.is_set()
    release.set()
    worker.join(60)
    assert finished_while_running
    assert "safe_mask" in pipeline.stale_stages(RUNS[0])  # computed with the old value: still stale
    del pipeline.safe_mask_maker.make_mask
    stacked = pipeline.run()
    fresh = ReductionPipeline(
        DataStore.from_dir(hess_dir), RUNS, geometry=small_geometry(),
        safe_mask_maker=SafeMaskMaker(methods=["aeff-max", "offset-max"], aeff_percent=5.0),
        exclusion_regions=pipeline.exclusion_regions,
    ).run()
    np.testing.assert_array_equal(stacked.mask_safe.data, fresh.mask_safe.data)
    np.testing.assert_array_equal(stacked.counts.data, fresh.counts.data)
    assert stacked.mask_safe.data.sum() > first.sum()  # 5 % is looser than 40 %
