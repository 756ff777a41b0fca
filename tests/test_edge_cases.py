"""Edge cases: empty event lists and observations that miss the geometry."""

import numpy as np
import pytest
from astropy.io import fits

from dl3lab.reduction import (
    DatasetsMaker,
    DataStore,
    MapAxis,
    MapDataset,
    MapDatasetMaker,
    SafeMaskMaker,
    WcsGeom,
)


def _geom(skydir=(83.63, 22.01)):
    axis = MapAxis.from_bounds(1, 10, nbin=5, name="energy", unit="TeV", interp="log")
    return WcsGeom.create(skydir=skydir, axes=[axis], width=3, binsz=0.1)


def test_empty_event_list_reduces_to_zero_counts(copy_run):
    store_dir, run_file, obs_id = copy_run()
    with fits.open(run_file) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    events = hdul["EVENTS"]
    hdul["EVENTS"] = fits.BinTableHDU(data=events.data[:0], header=events.header, name="EVENTS")
    hdul.writeto(run_file, overwrite=True)
    obs = DataStore.from_dir(store_dir).obs(obs_id)
    assert len(obs.events) == 0
    dataset = MapDatasetMaker().run(MapDataset.create(_geom()), obs)
    assert dataset.counts.data.sum() == 0
    assert dataset.background.data.sum() > 0
    assert dataset.exposure.data.max() > 0


def test_observation_outside_geometry_is_skipped_with_warning(hess_dir):
    observations = DataStore.from_dir(hess_dir).get_observations([23592])
    far_away = MapDataset.create(_geom(skydir=(250.0, -40.0)))
    maker = DatasetsMaker([MapDatasetMaker(), SafeMaskMaker(methods=["offset-max"])], progress_bar=False)
    with pytest.warns(UserWarning, match="23592 does not overlap"):
        result = maker.run(far_away, observations)
    assert result[0].counts.data.sum() == 0
    assert result[0].meta_table is None


def test_geometry_without_exposure_gives_empty_safe_mask(hess_dir):
    obs = DataStore.from_dir(hess_dir).obs(23592)
    dataset = MapDatasetMaker().run(MapDataset.create(_geom(skydir=(250.0, -40.0))), obs)
    assert dataset.exposure.data.max() == 0
    with pytest.warns(UserWarning, match="Effective area is all zero"):
        masked = SafeMaskMaker(methods=["aeff-max", "offset-max"]).run(dataset, obs)
    assert not masked.mask_safe.data.any()
    assert np.isfinite(masked.info_dict()["exposure_min"].value)
