"""Maker parameters are validated traits; behaviours of the safe-mask and FoV makers beyond the reference."""

import numpy as np
import pytest
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from dl3lab.reduction import (
    DatasetsMaker,
    DataStore,
    FoVBackgroundMaker,
    MapAxis,
    MapDataset,
    MapDatasetMaker,
    SafeMaskMaker,
    WcsGeom,
)


def test_safe_mask_maker_validates_parameters():
    maker = SafeMaskMaker()
    assert maker.methods == ["aeff-default"]
    assert maker.offset_max == 3 * u.deg
    with pytest.raises(traitlets.TraitError, match="aeff_percent"):
        maker.aeff_percent = 150
    with pytest.raises(traitlets.TraitError, match="unknown"):
        maker.methods = ["aeff-default", "aeff-maximum"]
    with pytest.raises(traitlets.TraitError, match="positive"):
        maker.offset_max = "-1 deg"
    with pytest.raises(traitlets.TraitError):
        maker.offset_max = "3 TeV"
    with pytest.raises(traitlets.TraitError):
        maker.irfs = "DL5"
    maker.offset_max = "2.5 deg"
    assert maker.offset_max == 2.5 * u.deg
    maker.fixed_offset = 0.5 * u.deg
    with pytest.raises(traitlets.TraitError, match="not both"):
        maker.position = SkyCoord(83.63, 22.01, unit="deg")
    assert "aeff_percent=10" in repr(maker)
    assert "offset_max=2.5 deg" in repr(maker)


def test_map_dataset_maker_validates_selection():
    maker = MapDatasetMaker(selection=["counts", "exposure"])
    assert maker.selection == ["counts", "exposure"]
    with pytest.raises(traitlets.TraitError, match="unknown"):
        maker.selection = ["counts", "bkg"]
    with pytest.raises(traitlets.TraitError):
        maker.background_oversampling = 0
    assert "selection=['counts', 'exposure']" in repr(maker)


def test_fov_maker_validates_parameters():
    with pytest.raises(traitlets.TraitError):
        FoVBackgroundMaker(method="smooth")
    with pytest.raises(traitlets.TraitError, match="boolean Map"):
        FoVBackgroundMaker(exclusion_mask=np.ones((3, 3), bool))


@pytest.fixture(scope="module")
def run_dataset(hess_dir):
    store = DataStore.from_dir(hess_dir)
    obs = store.obs(23592)
    axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=5, binsz=0.05)
    e_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
    dataset = MapDatasetMaker().run(MapDataset.create(geom, energy_axis_true=e_true), obs)
    return dataset, obs, geom


def test_safe_mask_from_scratch_loosens_again(run_dataset):
    dataset, obs, _ = run_dataset
    fresh = {pct: SafeMaskMaker(methods=["edisp-bias"], bias_percent=pct).run(dataset.copy(), obs)
             for pct in (2, 20)}
    assert fresh[2].mask_safe.data.sum() < fresh[20].mask_safe.data.sum()
    work = dataset.copy()
    maker = SafeMaskMaker(methods=["edisp-bias"], bias_percent=2)
    maker.run(work, obs)
    maker.bias_percent = 20
    maker.run(work, obs)  # Gammapy's behaviour: AND with the tighter mask, so nothing is loosened
    np.testing.assert_array_equal(work.mask_safe.data, fresh[2].mask_safe.data)
    maker.run(work, obs, from_scratch=True)
    np.testing.assert_array_equal(work.mask_safe.data, fresh[20].mask_safe.data)


def test_fov_fit_recovers_injected_norm_and_tilt(run_dataset):
    dataset, obs, geom = run_dataset
    fake = dataset.copy()
    rng = np.random.default_rng(42)
    energy = geom.axes["energy"].center.to_value("TeV")[:, None, None]
    truth = fake.background.data * 1.3 * energy**-0.2
    fake.counts.data = rng.poisson(truth).astype(np.float32)
    maker = FoVBackgroundMaker(method="fit", fit_tilt=True)
    model = maker.run(SafeMaskMaker(methods=["offset-max"]).run(fake, obs)).background_model
    assert model.norm == pytest.approx(1.3, abs=3 * model.norm_error)
    assert model.tilt == pytest.approx(0.2, abs=3 * model.tilt_error)
    assert 0 < model.tilt_error < 0.1


def test_fov_failure_masks_dataset(run_dataset):
    dataset, obs, geom = run_dataset
    everything = geom.region_mask([CircleSkyRegion(geom.center_skydir, 10 * u.deg)], inside=False)
    with pytest.warns(UserWarning, match="FoVBackgroundMaker failed"):
        out = FoVBackgroundMaker(exclusion_mask=everything).run(dataset.copy())
    assert not out.mask_safe.data.any()
    assert out.background_model.norm == 1
    with pytest.warns(UserWarning, match="min_counts"):
        out = FoVBackgroundMaker(min_counts=1e6).run(dataset.copy())
    assert not out.mask_safe.data.any()


def test_fov_scale_is_idempotent(run_dataset):
    dataset, _, _ = run_dataset
    maker = FoVBackgroundMaker()
    once = maker.run(dataset.copy())
    twice = maker.run(maker.run(dataset.copy()))
    assert twice.background_model.norm == pytest.approx(once.background_model.norm, rel=1e-12)


def test_datasets_maker_parameters():
    maker = DatasetsMaker([SafeMaskMaker(offset_max="2 deg")])
    assert maker.effective_cutout_width == 4 * u.deg
    maker.cutout_width = "5 deg"
    assert maker.effective_cutout_width == 5 * u.deg
    with pytest.raises(traitlets.TraitError):
        maker.cutout_mode = "crop"
    assert DatasetsMaker([MapDatasetMaker()]).effective_cutout_width is None
