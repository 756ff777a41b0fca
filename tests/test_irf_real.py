"""IRFs of HESS DL3 DR1 run 23592 against the raw FITS arrays and independent calculations (spec §0.1, §1.4)."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from scipy.interpolate import RegularGridInterpolator

from dl3lab.reduction.irf import (
    PSF3D,
    Background3D,
    EffectiveAreaTable2D,
    EnergyDispersion2D,
    load_irf_dict_from_file,
)

TINY32 = np.finfo(np.float32).tiny
TINY64 = np.finfo(np.float64).tiny


@pytest.fixture(scope="module")
def run_file(hess_dir):
    return hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz"


@pytest.fixture(scope="module")
def raw(run_file):
    """Raw first-row columns of the four IRF HDUs."""
    with fits.open(run_file) as hdulist:
        return {
            name: {col: np.array(hdulist[name].data[col][0]) for col in hdulist[name].columns.names}
            for name in ("AEFF", "EDISP", "PSF", "BKG")
        }


@pytest.fixture(scope="module")
def irfs(run_file):
    return load_irf_dict_from_file(run_file)


def _log_centres(lo, hi):
    return np.sqrt(lo.astype(float) * hi.astype(float))


def _node_edges(nodes):
    """Edges of a node axis: midpoints, extrapolated by half a spacing (spec §1.4)."""
    mid = 0.5 * (nodes[1:] + nodes[:-1])
    return np.concatenate([[nodes[0] - (mid[0] - nodes[0])], mid, [nodes[-1] + (nodes[-1] - mid[-1])]])


def _rgi(grids, values, points):
    interp = RegularGridInterpolator(grids, values, bounds_error=False, fill_value=None)
    pts = np.stack(np.broadcast_arrays(*points), axis=-1)
    return interp(pts)


def test_read_all(irfs):
    assert set(irfs) == {"aeff", "edisp", "psf", "bkg"}
    assert isinstance(irfs["aeff"], EffectiveAreaTable2D)
    assert isinstance(irfs["edisp"], EnergyDispersion2D)
    assert isinstance(irfs["psf"], PSF3D)
    assert isinstance(irfs["bkg"], Background3D)
    assert irfs["aeff"].axes.names == ["energy_true", "offset"]
    assert irfs["aeff"].data.shape == (96, 6)
    assert irfs["edisp"].data.shape == (96, 160, 6)
    assert irfs["psf"].data.shape == (32, 6, 144)
    assert irfs["bkg"].data.shape == (20, 50, 50)
    assert all(irf.data.dtype == np.float32 for irf in irfs.values())
    assert irfs["bkg"].unit == u.Unit("s-1 MeV-1 sr-1")
    assert irfs["bkg"].fov_alignment == "RADEC"
    assert not irfs["aeff"].is_pointlike
    assert irfs["aeff"].low_threshold.to_value("TeV") == pytest.approx(0.870963589956081)
    assert irfs["aeff"].high_threshold.to_value("TeV") == 100
    assert irfs["aeff"].meta["TELESCOP"] == "HESS"
    assert irfs["aeff"].location.hdu == "AEFF"
    assert irfs["aeff"].location.obs_id == 23592


def test_axes_from_columns(irfs, raw):
    offset = irfs["aeff"].axes["offset"]
    assert offset.node_type == "center"
    np.testing.assert_allclose(offset.edges.to_value("deg"), np.arange(-0.25, 2.8, 0.5), atol=1e-12)
    energy = irfs["aeff"].axes["energy_true"]
    assert energy.node_type == "edges" and energy.interp == "log"
    np.testing.assert_array_equal(energy.edges.value, np.append(raw["AEFF"]["ENERG_LO"], raw["AEFF"]["ENERG_HI"][-1]))
    assert irfs["bkg"].axes.names == ["energy", "fov_lon", "fov_lat"]
    assert irfs["edisp"].axes["migra"].unit == u.dimensionless_unscaled


def test_node_values_equal_raw(irfs, raw):
    aeff = irfs["aeff"]
    # At the axis nodes the stored values come back exactly ...
    centres = aeff.axes["energy_true"].center
    values = aeff.evaluate(energy_true=centres[:, None], offset=aeff.axes["offset"].center).to_value("m2")
    np.testing.assert_array_equal(values, raw["AEFF"]["EFFAREA"].T.astype(float))
    # ... and the node energies are the log centres sqrt(lo * hi) of the columns.
    e = _log_centres(raw["AEFF"]["ENERG_LO"], raw["AEFF"]["ENERG_HI"])
    theta = raw["AEFF"]["THETA_LO"].astype(float)
    np.testing.assert_allclose(centres.to_value("TeV"), e, rtol=1e-15)
    values = aeff.evaluate(energy_true=e[:, None] * u.TeV, offset=theta * u.deg).to_value("m2")
    np.testing.assert_allclose(values, raw["AEFF"]["EFFAREA"].T, rtol=1e-15, atol=0)

    for irf, hdu, column in ((irfs["psf"], "PSF", "RPSF"), (irfs["edisp"], "EDISP", "MATRIX")):
        ndim = len(irf.axes)
        coords = {ax.name: ax.center.reshape((-1,) + (1,) * (ndim - 1 - i)) for i, ax in enumerate(irf.axes)}
        np.testing.assert_array_equal(irf.evaluate(**coords).value, raw[hdu][column].T.astype(float))


def test_aeff_out_of_bounds(irfs):
    aeff = irfs["aeff"]
    energy = [0.5, 1, 5, 20] * u.TeV
    inside = aeff.evaluate(energy_true=energy, offset=2.6 * u.deg).value
    at_nodes = aeff.evaluate(energy_true=energy, offset=2.5 * u.deg).value
    assert np.all(inside[1:] > 0) and np.all(at_nodes[1:] > 0)
    # Linear extrapolation between the last node (2.5) and the last edge (2.75).
    below = aeff.evaluate(energy_true=energy, offset=2.0 * u.deg).value
    np.testing.assert_allclose(inside, np.clip(at_nodes + 0.2 * (at_nodes - below), 0, None), rtol=1e-12)
    # The last edge itself is valid, anything beyond is 0; NaN is invalid.
    assert aeff.evaluate(energy_true=5 * u.TeV, offset=2.75 * u.deg).value > 0
    assert aeff.evaluate(energy_true=5 * u.TeV, offset=2.7500001 * u.deg).value == 0
    assert aeff.evaluate(energy_true=5 * u.TeV, offset=-0.2500001 * u.deg).value == 0
    assert aeff.evaluate(energy_true=5 * u.TeV, offset=np.nan * u.deg).value == 0
    assert np.all(aeff.evaluate(energy_true=[0.0099, 101] * u.TeV, offset=0.5 * u.deg).value == 0)
    # fill_value=None: pure extrapolation
    free = aeff.copy(fill_value=None)
    assert free.evaluate(energy_true=5 * u.TeV, offset=2.8 * u.deg).value > 0


def test_aeff_against_independent_interpolation(irfs, raw):
    rng = np.random.default_rng(0)
    energy = 10 ** rng.uniform(-2.2, 2.2, 500)
    offset = rng.uniform(-0.4, 3.0, 500)
    e_nodes = _log_centres(raw["AEFF"]["ENERG_LO"], raw["AEFF"]["ENERG_HI"])
    theta = raw["AEFF"]["THETA_LO"].astype(float)
    expected = np.clip(
        _rgi((np.log(e_nodes), theta), raw["AEFF"]["EFFAREA"].T.astype(float), (np.log(energy), offset)), 0, None
    )
    e_edges = (float(raw["AEFF"]["ENERG_LO"][0]), float(raw["AEFF"]["ENERG_HI"][-1]))
    t_edges = _node_edges(theta)
    valid = (energy >= e_edges[0]) & (energy <= e_edges[1]) & (offset >= t_edges[0]) & (offset <= t_edges[-1])
    expected = np.where(valid, expected, 0)
    actual = irfs["aeff"].evaluate(energy_true=energy * u.TeV, offset=offset * u.deg).to_value("m2")
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)


def test_outer_product_query_matches_pointwise(irfs):
    """The separable fast path gives the same numbers as point-by-point evaluation."""
    aeff = irfs["aeff"]
    energy = np.geomspace(0.05, 150, 31)[:, None, None] * u.TeV
    offset = np.hypot(*np.meshgrid(np.linspace(-2, 2, 80), np.linspace(-2, 2, 80)))[None] * u.deg
    grid = aeff.evaluate(energy_true=energy, offset=offset).value
    e_full, o_full = np.broadcast_arrays(energy.value, offset.value)
    points = aeff.evaluate(energy_true=e_full.ravel() * u.TeV, offset=o_full.ravel() * u.deg).value
    assert grid.shape == (31, 80, 80)
    np.testing.assert_allclose(grid.ravel(), points, rtol=1e-13, atol=0)


def test_edisp_special_mask(irfs):
    edisp = irfs["edisp"]
    # True energy outside the table, migra inside: linearly extrapolated, not zeroed.
    value = edisp.evaluate(energy_true=110 * u.TeV, migra=0.92, offset=0.5 * u.deg).value
    assert value > 0
    # Both outside: zeroed. Offset outside: zeroed.
    assert edisp.evaluate(energy_true=110 * u.TeV, migra=5.5, offset=0.5 * u.deg).value == 0
    assert edisp.evaluate(energy_true=1 * u.TeV, migra=1.05, offset=2.8 * u.deg).value == 0
    # values computed with Gammapy 2.1
    np.testing.assert_allclose(value, 11.74684326541491, rtol=1e-10)


def test_psf_containment_independent(irfs, raw):
    psf = irfs["psf"]
    rad_lo, rad_hi = raw["PSF"]["RAD_LO"].astype(float), raw["PSF"]["RAD_HI"].astype(float)
    r_c, dr = 0.5 * (rad_lo + rad_hi), rad_hi - rad_lo
    density = raw["PSF"]["RPSF"].T.astype(float)  # [E, theta, rad], sr-1
    cumsum = np.cumsum(2 * np.pi * r_c * dr * density, axis=-1) * (np.pi / 180) ** 2
    e_nodes = _log_centres(raw["PSF"]["ENERG_LO"], raw["PSF"]["ENERG_HI"])
    theta = raw["PSF"]["THETA_LO"].astype(float)
    rng = np.random.default_rng(3)
    energy, offset, rad = 10 ** rng.uniform(-1.5, 1.5, 300), rng.uniform(0, 2.5, 300), rng.uniform(0.01, 0.6, 300)
    expected = np.clip(_rgi((np.log(e_nodes), theta, rad_hi), cumsum, (np.log(energy), offset, rad)), 0, None)
    # The cumulative rad axis has nodes at the upper edges, so its own edges start at
    # rad_hi[0] - (rad_hi[1] - rad_hi[0]) / 2 (0.0177 deg): below that the containment is 0.
    r_edges = _node_edges(rad_hi)
    expected = np.where((rad >= r_edges[0]) & (rad <= r_edges[-1]), expected, 0)
    assert np.sum(expected == 0) > 0
    actual = psf.containment(rad * u.deg, energy * u.TeV, offset * u.deg)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)
    # values computed with Gammapy 2.1
    np.testing.assert_allclose(
        psf.containment([0.1, 0.2] * u.deg, [1, 3] * u.TeV, [0.5, 1.2] * u.deg),
        [0.5882000758209135, 0.8256940330117348],
        rtol=1e-12,
    )
    r68 = psf.containment_radius(0.68, 1 * u.TeV, 0.5 * u.deg)
    assert r68.unit == u.deg and 0.1 < r68.value < 0.2
    assert abs(psf.containment(r68, 1 * u.TeV, 0.5 * u.deg) - 0.68) < 0.005


def test_bkg_orientation_and_values(irfs, raw):
    bkg = irfs["bkg"]
    # TDIM (50, 50, 20): column[0].T is (50, 50, 20) != (20, 50, 50), so it is transposed back (spec §1.4).
    np.testing.assert_array_equal(bkg.data, raw["BKG"]["BKG"])
    e_nodes = _log_centres(raw["BKG"]["ENERG_LO"], raw["BKG"]["ENERG_HI"])
    lon = 0.5 * (raw["BKG"]["DETX_LO"].astype(float) + raw["BKG"]["DETX_HI"])
    lat = 0.5 * (raw["BKG"]["DETY_LO"].astype(float) + raw["BKG"]["DETY_HI"])
    logs = np.log(np.maximum(raw["BKG"]["BKG"], np.float32(TINY32))).astype(float)  # float32 logs
    rng = np.random.default_rng(7)
    energy = 10 ** rng.uniform(-1.2, 2.0, 400)
    x, y = rng.uniform(-2.45, 2.45, 400), rng.uniform(-2.45, 2.45, 400)
    expected = np.exp(_rgi((np.log(e_nodes), lon, lat), logs, (np.log(energy), x, y)))
    expected[np.abs(expected) - TINY64 <= TINY64] = 0
    inside = (energy >= raw["BKG"]["ENERG_LO"][0]) & (energy <= raw["BKG"]["ENERG_HI"][-1])
    expected = np.where(inside, expected, 0)
    actual = bkg.evaluate(energy=energy * u.TeV, fov_lon=x * u.deg, fov_lat=y * u.deg).value
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)
    # float32 zeros are ~1.2e-38, not 0 (spec §0.1 quirk); values computed with Gammapy 2.1
    values = bkg.evaluate(
        energy=[1, 0.15, 10] * u.TeV, fov_lon=[0.3, 2.0, -1.1] * u.deg, fov_lat=[-0.7, 1.0, 0.4] * u.deg
    )
    np.testing.assert_allclose(
        values.to_value("s-1 MeV-1 sr-1"),
        [0.000414193730584261, 1.1754907056089184e-38, 2.547682759698074e-06],
        rtol=1e-10,
    )
    assert bkg.evaluate(energy=1 * u.TeV, fov_lon=2.6 * u.deg, fov_lat=0 * u.deg).value == 0


def _fill_reference(data, axis):
    """Straightforward per-entry hole filling (spec §4.3 step 2), as an independent check."""
    out = data.copy()
    mask = ~np.isfinite(data) | (data == 0)
    xp = np.arange(data.shape[axis])
    for coord in zip(*np.nonzero(mask)):
        line = list(coord)
        line[axis] = slice(None)
        valid = ~mask[tuple(line)]
        if valid.any():
            logs = np.log(np.clip(data[tuple(line)][valid], TINY32, np.inf))
            value = np.interp(coord[axis], xp[valid], logs, left=np.nan, right=np.nan)
            if not np.isnan(value):
                value = np.exp(value)
                out[coord] = 0 if abs(value) - TINY64 <= TINY64 else value
    return out


def test_bkg_interp_missing_data(irfs):
    bkg = irfs["bkg"]
    filled = bkg.interp_missing_data("energy")
    assert filled is not bkg and filled.data.dtype == np.float32
    np.testing.assert_array_equal(filled.data, _fill_reference(bkg.data, 0))
    assert np.sum(filled.data == 0) < np.sum(bkg.data == 0)
    assert np.sum(bkg.data == 0) > 0  # original untouched



@pytest.mark.parametrize("axis", [0, 1, 2])
def test_bkg_interp_missing_data_along_any_axis(irfs, axis):
    bkg = irfs["bkg"]
    rng = np.random.default_rng(axis)
    data = bkg.data.copy()
    data[rng.random(data.shape) < 0.2] = 0  # holes everywhere, some lines empty at the ends
    data[rng.random(data.shape) < 0.02] = np.nan
    data[(slice(None),) * axis + (slice(2, 4),)] = 0  # a gap across every line of this axis
    holed = bkg.copy(data=data)
    filled = holed.interp_missing_data(holed.axes.names[axis])
    np.testing.assert_array_equal(filled.data, _fill_reference(data, axis))
    assert np.isnan(holed.data).sum() == np.isnan(data).sum()  # input unchanged

def test_bkg_integrate_log_log(irfs):
    bkg = irfs["bkg"].interp_missing_data("energy")
    edges = [0.5, 1, 2, 5] * u.TeV
    lon, lat = [0.3, 2.0] * u.deg, [-0.7, 1.0] * u.deg
    result = bkg.integrate_log_log(edges, fov_lon=lon, fov_lat=lat)
    assert result.shape == (3, 2) and result.unit == u.Unit("s-1 sr-1")
    rate = bkg.evaluate(energy=edges[:, None], fov_lon=lon, fov_lat=lat).to_value("s-1 TeV-1 sr-1")
    e = edges.value[:, None]
    index = -np.log(rate[:-1] / rate[1:]) / np.log(e[:-1] / e[1:])
    expected = rate[:-1] * e[:-1] / (1 - index) * ((e[1:] / e[:-1]) ** (1 - index) - 1)
    np.testing.assert_allclose(result.value, expected, rtol=1e-10)
    # without hole filling, values computed with Gammapy 2.1
    raw_result = irfs["bkg"].integrate_log_log(edges, fov_lon=lon, fov_lat=lat).value
    np.testing.assert_allclose(
        raw_result,
        [
            [249.8319384719579, 62.17641457083541],
            [187.34707172006313, 69.72938251068746],
            [97.39864930596774, 47.14146889742206],
        ],
        rtol=1e-10,
    )


def test_bkg_to_2d_peak(irfs):
    bkg = irfs["bkg"]
    b2 = bkg.to_2d()
    assert b2.axes.names == ["energy", "offset"]
    assert b2.axes["offset"].edges[0].to_value("deg") == pytest.approx(0, abs=1e-6)
    np.testing.assert_array_equal(b2.data, bkg.data[:, 25:, 25])
    total = b2.integral("offset", offset=b2.axes["offset"].bounds[1], energy=b2.axes["energy"].center)
    r = b2.axes["offset"].center.to_value("deg")
    dr = b2.axes["offset"].bin_width.to_value("deg")
    np.testing.assert_allclose(total.value, (2 * np.pi * r * dr * b2.data.astype(float)).sum(axis=1), rtol=1e-12)
