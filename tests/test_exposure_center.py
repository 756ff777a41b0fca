"""Issue acceptance: aeff x livetime at the map centre from the IRF classes and geometry alone."""

import numpy as np
from astropy import units as u

from dl3lab.reduction import DataStore, MapAxis, WcsGeom


def test_exposure_at_map_centre_equals_gammapy(hess_dir, reference):
    obs = DataStore.from_dir(hess_dir).obs(23592)
    energy_axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[energy_axis], width=5 * u.deg, binsz=0.05 * u.deg)
    e_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
    coord = geom.to_image().get_coord()
    centre = coord.skycoord[50, 50]
    offset = centre.separation(obs.get_pointing_icrs(obs.tmid))
    exposure = (obs.aeff.evaluate(energy_true=e_true.center, offset=offset) * obs.livetime).to_value("m2 s")
    expected = np.array(reference["map_single"]["23592"]["exposure_center_per_energy_true_m2s"])
    np.testing.assert_allclose(exposure, expected, rtol=1e-6)
    assert exposure[0] == 0 and exposure[1] > 0  # below the effective-area threshold of the table
