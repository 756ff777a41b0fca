"""Parametric PSFs (``psf_3gauss``, ``psf_king``) against the formulas of spec §1.4."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from scipy.interpolate import RegularGridInterpolator

from dl3lab.reduction.axes import MapAxis
from dl3lab.reduction.errors import DataFormatError
from dl3lab.reduction.irf import EnergyDependentMultiGaussPSF, PSFKing

RNG = np.random.default_rng(11)
SHAPE = (6, 4)


def axes():
    energy = MapAxis.from_energy_bounds(0.1, 100, SHAPE[0], unit="TeV", name="energy_true")
    offset = MapAxis.from_nodes([0.0, 0.5, 1.0, 1.5], name="offset", unit="deg")
    return [energy, offset]


@pytest.fixture(scope="module")
def gauss():
    pars = dict(
        sigma_1=RNG.uniform(0.03, 0.05, SHAPE) * u.deg,
        sigma_2=RNG.uniform(0.08, 0.12, SHAPE) * u.deg,
        sigma_3=RNG.uniform(0.2, 0.3, SHAPE) * u.deg,
        scale=RNG.uniform(1, 3, SHAPE),
        ampl_2=RNG.uniform(0.1, 0.3, SHAPE),
        ampl_3=RNG.uniform(0.01, 0.03, SHAPE),
    )
    return EnergyDependentMultiGaussPSF(axes(), pars)


@pytest.fixture(scope="module")
def king():
    pars = dict(gamma=RNG.uniform(2, 3, SHAPE), sigma=RNG.uniform(0.04, 0.08, SHAPE) * u.deg)
    return PSFKing(axes(), pars)


def gauss_formula(r, s1, s2, s3, scale, a2, a3):
    norms = np.array([2 * scale * s1**2, 2 * scale * a2 * s2**2, 2 * scale * a3 * s3**2])
    norms = norms / norms.sum(axis=0)
    return sum(n / (2 * np.pi * s**2) * np.exp(-(r**2) / (2 * s**2)) for n, s in zip(norms, (s1, s2, s3)))


def king_formula(r, gamma, sigma):
    return 1 / (2 * np.pi * sigma**2) * (1 - 1 / gamma) * (1 + r**2 / (2 * gamma * sigma**2)) ** (-gamma)


def params_at(psf, energy, offset):
    """Independent linear interpolation of the parameter tables (log energy, linear offset, extrapolated)."""
    e_ax, o_ax = psf.axes
    grid = (np.log(e_ax.center.to_value("TeV")), o_ax.center.to_value("deg"))
    out = {}
    for name in psf.parameters:
        interp = RegularGridInterpolator(grid, psf.data[name].astype(float), bounds_error=False, fill_value=None)
        out[name] = np.clip(interp(np.stack(np.broadcast_arrays(np.log(energy), offset), -1)), 0, None)
    return out


def test_gauss_at_nodes(gauss):
    e, o = gauss.axes["energy_true"].center, gauss.axes["offset"].center
    rad = np.array([0.0, 0.05, 0.1, 0.3])[:, None, None]
    values = gauss.evaluate(rad * u.deg, e[:, None], o)
    assert values.unit == u.deg**-2
    d = gauss.data
    expected = gauss_formula(
        rad, *(d[n].astype(float) for n in ("sigma_1", "sigma_2", "sigma_3", "scale", "ampl_2", "ampl_3"))
    )
    np.testing.assert_allclose(values.value, expected, rtol=1e-13)


def test_gauss_between_nodes_and_outside(gauss):
    energy = 10 ** RNG.uniform(-1.2, 2.1, 200)
    offset = RNG.uniform(-0.2, 1.7, 200)
    rad = RNG.uniform(0, 0.4, 200)
    p = params_at(gauss, energy, offset)
    assert np.all(p["scale"] > 0)
    expected = gauss_formula(rad, p["sigma_1"], p["sigma_2"], p["sigma_3"], p["scale"], p["ampl_2"], p["ampl_3"])
    actual = gauss.evaluate(rad * u.deg, energy * u.TeV, offset * u.deg).value
    np.testing.assert_allclose(actual, expected, rtol=1e-12)
    # never zeroed outside the table (spec §0.1 settings)
    for energy, offset in ((150, 1.8), (0.08, -0.3)):
        assert all(v > 0 for v in params_at(gauss, np.array(energy), np.array(offset)).values())
        assert gauss.evaluate(0.05 * u.deg, energy * u.TeV, offset * u.deg).value > 0


def test_gauss_containment(gauss):
    r = np.linspace(0, 1.5, 30001)
    density = gauss.evaluate(r * u.deg, 2 * u.TeV, 0.7 * u.deg).value
    numeric = np.concatenate([[0], np.cumsum(0.5 * (density[1:] * r[1:] + density[:-1] * r[:-1]) * np.diff(r))])
    numeric *= 2 * np.pi
    analytic = gauss.containment(r * u.deg, 2 * u.TeV, 0.7 * u.deg)
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)
    assert analytic[-1] == pytest.approx(1, abs=1e-9)
    r68 = gauss.containment_radius(0.68, [1, 10] * u.TeV, 0.5 * u.deg)
    assert r68.shape == (2,) and r68.unit == u.deg
    c = gauss.containment(r68, [1, 10] * u.TeV, 0.5 * u.deg)
    np.testing.assert_allclose(c, 0.68, atol=0.005)


def test_king(king):
    e, o = king.axes["energy_true"].center, king.axes["offset"].center
    rad = np.array([0.0, 0.03, 0.2])[:, None, None]
    values = king.evaluate(rad * u.deg, e[:, None], o).value
    expected = king_formula(rad, king.data["gamma"].astype(float), king.data["sigma"].astype(float))
    np.testing.assert_allclose(values, expected, rtol=1e-13)
    energy, offset, r = 10 ** RNG.uniform(-1.5, 2.5, 100), RNG.uniform(-0.5, 2.5, 100), RNG.uniform(0, 0.4, 100)
    p = params_at(king, energy, offset)
    np.testing.assert_allclose(
        king.evaluate(r * u.deg, energy * u.TeV, offset * u.deg).value,
        king_formula(r, p["gamma"], p["sigma"]),
        rtol=1e-12,
    )
    g, s = p["gamma"], p["sigma"]
    np.testing.assert_allclose(
        king.containment(r * u.deg, energy * u.TeV, offset * u.deg),
        1 - (1 + r**2 / (2 * g * s**2)) ** (1 - g),
        rtol=1e-12,
    )
    # analytic containment is the integral of the density
    grid = np.linspace(0, 0.3, 20001)
    dens = king.evaluate(grid * u.deg, 3 * u.TeV, 1 * u.deg).value * 2 * np.pi * grid
    numeric = np.sum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))
    assert king.containment(0.3 * u.deg, 3 * u.TeV, 1 * u.deg) == pytest.approx(numeric, abs=1e-7)


def test_zero_sigma_replaced_by_one():
    pars = dict(gamma=np.full(SHAPE, 2.0), sigma=np.full(SHAPE, 0.05) * u.deg)
    pars["sigma"][0, 0] = 0 * u.deg
    psf = PSFKing(axes(), pars)
    assert psf.data["sigma"][0, 0] == 1.0
    assert psf.data["sigma"].dtype == np.float32


def test_roundtrip_and_columns(gauss, tmp_path):
    hdu = gauss.to_table_hdu()
    assert hdu.header["HDUCLAS4"] == "PSF_3GAUSS" and hdu.header["HDUCLAS2"] == "RPSF"
    assert {"SIGMA_1", "SIGMA_2", "SIGMA_3", "SCALE", "AMPL_2", "AMPL_3"} <= set(hdu.columns.names)
    assert hdu.columns["SIGMA_1"].unit == "deg"
    path = tmp_path / "psf.fits"
    gauss.write(path)
    back = EnergyDependentMultiGaussPSF.read(path)
    np.testing.assert_array_equal(back.data, gauss.data)
    assert back.unit == gauss.unit and back.meta == gauss.meta


def test_missing_sigma_unit_is_error(king):
    hdu = king.to_table_hdu()
    cols = [
        fits.Column(c.name, c.format, unit=None if c.name == "SIGMA" else c.unit, dim=c.dim, array=hdu.data[c.name])
        for c in hdu.columns
    ]
    bad = fits.BinTableHDU.from_columns(cols, header=hdu.header)
    with pytest.raises(DataFormatError, match="SIGMA"):
        PSFKing.from_table_hdu(bad, location={"filename": "king.fits", "hdu": "PSF"})
