"""The pipeline's first stage on other executors gives the identical result; the CLI runs a saved state."""

import numpy as np
import pytest

from dl3lab.reduction import Datasets, DataStore
from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline, RingReductionPipeline, load_pipeline

from .conftest import store_with_truncated_run
from .test_executor_seam import dask_client  # noqa: F401 (fixture)

RUNS = [23523, 23592, 23526]


def make(store, cls=ReductionPipeline, obs_ids=RUNS):
    return cls(store, obs_ids, geometry=GeometrySpec(width=3.0, binsz=0.05, energy_nbin=6, energy_true_nbin=8),
               exclusion_regions=[{"lon": 83.63, "lat": 22.01, "radius": 0.3}])


def assert_same(a, b):
    for name in ("counts", "background", "exposure", "mask_safe"):
        np.testing.assert_array_equal(getattr(a, name).data, getattr(b, name).data)
    np.testing.assert_array_equal(a.psf.psf_map.data, b.psf.psf_map.data)
    np.testing.assert_array_equal(a.edisp.edisp_map.data, b.edisp.edisp_map.data)


@pytest.mark.parametrize("cls", [ReductionPipeline, RingReductionPipeline])
def test_processes_and_dask_equal_serial(hess_dir, cls, dask_client):  # noqa: F811
    store = DataStore.from_dir(hess_dir)
    serial = make(store, cls).run()
    for executor in ("processes", dask_client):
        pipeline = make(store, cls)
        result = pipeline.run(executor=executor, n_jobs=2)
        assert pipeline.run_counts["maps"] == len(RUNS)  # computed by the workers, once each
        assert_same(serial, result)
        if hasattr(serial, "counts_off"):
            np.testing.assert_array_equal(serial.counts_off.data, result.counts_off.data)
        # a later change re-runs in this process from the cached maps
        pipeline.safe_mask_maker.aeff_percent = 20.0
        pipeline.run(executor=executor, n_jobs=2)
        assert pipeline.run_counts["maps"] == len(RUNS)


def test_failing_observation_on_processes(hess_dir, tmp_path):
    broken = store_with_truncated_run(hess_dir, tmp_path, RUNS, 23592)
    pipeline = make(DataStore.from_dir(tmp_path))
    stacked = pipeline.run(executor="processes", n_jobs=2)
    assert list(pipeline.errors) == [23592]
    assert str(broken) in str(pipeline.errors[23592]) and "Traceback" in pipeline.errors[23592].traceback
    assert list(np.ravel(stacked.meta_table["OBS_ID"])) == [23523, 23526]


def test_cli_runs_a_saved_state_to_the_same_datasets(hess_dir, tmp_path, capsys):
    from dl3lab.cli import main

    pipeline = make(DataStore.from_dir(hess_dir))
    pipeline.safe_mask_maker.aeff_percent = 15.0
    expected = pipeline.run()
    config = tmp_path / "config.yaml"
    pipeline.save(config)
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--executor", "processes", "--n-jobs", "2"]) == 0
    written = Datasets.read(out / "datasets.yaml")
    assert written.names == ["stacked"]
    assert_same(written[0], expected)
    assert "3 observations" in capsys.readouterr().out
    # nothing is overwritten without --overwrite
    assert main(["run", str(config), "--out", str(out)]) == 1
    assert "overwrite" in capsys.readouterr().err
    assert main(["run", str(config), "--out", str(out), "--overwrite", "--per-observation"]) == 0
    assert Datasets.read(out / "datasets.yaml").names == ["stacked", "obs-23523", "obs-23592", "obs-23526"]
    assert load_pipeline(config).safe_mask_maker.aeff_percent == 15.0


def test_cli_reports_failed_observations(hess_dir, tmp_path, capsys):
    from dl3lab.cli import main

    store_with_truncated_run(hess_dir, tmp_path / "store", RUNS, 23592)
    config = tmp_path / "config.yaml"
    make(DataStore.from_dir(tmp_path / "store")).save(config)
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "23592" in err and "--skip-failed" in err
    assert not (tmp_path / "out" / "datasets.yaml").exists()
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--skip-failed"]) == 0
    stacked = Datasets.read(tmp_path / "out" / "datasets.yaml")[0]
    assert list(np.ravel(stacked.meta_table["OBS_ID"])) == [23523, 23526]
