"""The predicted source counts agree with the gamma rays the simulator actually drew (MC_ID 1)."""

import numpy as np
import pytest

from dl3lab.reduction import DataStore
from dl3lab.reduction.simulate import IRFModel, ObservationSpec, PowerLaw, SkySource, simulate_data_store
from dl3lab.reduction.simulate.predict import observation_spec, predicted_source_counts
from dl3lab.reduction.simulate.sky import angular_separation

POINT = SkySource(83.633, 22.0145, PowerLaw(3e-10, 2.4), name="point")
EXTENDED = SkySource(83.633, 22.0145, PowerLaw(3e-10, 2.4), sigma=0.2, name="extended")
GTI = ((0.0, 700.0), (900.0, 1500.0))


def drawn_counts(store, source, radius, e_min, e_max):
    """Simulated gamma rays within ``radius`` of the source and reco energy in [e_min, e_max)."""
    total = 0
    for obs in store.get_observations():
        table = obs.events.table
        gamma = np.asarray(table["MC_ID"]) == 1
        sep = angular_separation(source.ra, source.dec, np.asarray(table["RA"]), np.asarray(table["DEC"]))
        energy = np.asarray(table["ENERGY"], dtype=float)
        total += int(np.sum(gamma & (sep < radius) & (energy >= e_min) & (energy < e_max)))
    return total


@pytest.mark.parametrize(
    ("source", "psf_model", "psf"),
    [(POINT, "3gauss", "psf_table"), (POINT, "king", "psf_king"), (EXTENDED, "gauss", "psf_table")],
    ids=["point-3gauss", "point-king", "extended-gauss"],
)
def test_prediction_matches_drawn_gamma_rays(tmp_path, source, psf_model, psf):
    model = IRFModel(psf_model=psf_model)
    specs = [ObservationSpec(1, 83.633, 22.5145, zenith=20.0, gti=GTI, duration=1500.0),
             ObservationSpec(2, 84.133, 22.0145, zenith=40.0, deadc=0.9, duration=1200.0)]
    simulate_data_store(tmp_path, [source], specs, seed=11, irf_model=model, psf=psf, background=False)
    store = DataStore.from_dir(tmp_path)
    for radius, e_min, e_max in [(0.1, 0.5, 100.0), (0.3, 1.0, 10.0), (5.0, 0.01, 1000.0)]:
        expected = predicted_source_counts(source, specs, radius, e_min, e_max, irf_model=model)
        drawn = drawn_counts(store, source, radius, e_min, e_max)
        assert expected > 150
        assert abs(drawn - expected) < 4 * np.sqrt(expected), (radius, e_min, e_max, drawn, expected)
    # Read back from the files: the same prediction.
    read = predicted_source_counts(source, store.get_observations(), 0.3, 1.0, 10.0, irf_model=model)
    assert read == pytest.approx(predicted_source_counts(source, specs, 0.3, 1.0, 10.0, irf_model=model), rel=1e-6)


def test_observation_spec_reads_pointing_time_and_zenith(tmp_path):
    spec = ObservationSpec(7, 80.0, -5.0, duration=1500.0, deadc=0.9, zenith=35.0, gti=GTI)
    simulate_data_store(tmp_path, [POINT], [spec], seed=1)
    read = observation_spec(DataStore.from_dir(tmp_path).obs(7))
    assert read.obs_id == 7 and read.zenith == pytest.approx(35.0)
    assert (read.ra_pnt, read.dec_pnt) == pytest.approx((80.0, -5.0))
    assert read.livetime == pytest.approx(spec.livetime) and read.ontime == pytest.approx(1300.0)


def test_extended_source_with_king_psf_is_refused():
    with pytest.raises(ValueError, match="Gaussian PSF"):
        predicted_source_counts(EXTENDED, [ObservationSpec(1, 83.6, 22.5)], 0.2, 1, 10, irf_model=IRFModel(
            psf_model="king"))
