"""IRF evaluation rules (spec §0.1), writing and reading (spec §1.4) on synthetic tables."""

import logging

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from scipy.interpolate import RegularGridInterpolator

from dl3lab.reduction.axes import MapAxis
from dl3lab.reduction.irf import (
    PSF3D,
    Background2D,
    Background3D,
    EffectiveAreaTable2D,
    EnergyDependentMultiGaussPSF,
    EnergyDispersion2D,
    PSFKing,
    RadMax2D,
)

RNG = np.random.default_rng(42)


def energy_axis(n=8, name="energy_true", lo=0.1, hi=100):
    return MapAxis.from_energy_bounds(lo, hi, n, unit="TeV", name=name)


def offset_axis(n=4, node=False):
    if node:
        return MapAxis.from_nodes(np.linspace(0, 2, n), name="offset", unit="deg")
    return MapAxis.from_bounds(0, 2.5, n, name="offset", unit="deg")


def make_aeff(dtype=np.float64, **kwargs):
    data = RNG.uniform(1e4, 1e6, (8, 4)).astype(dtype)
    return EffectiveAreaTable2D([energy_axis(), offset_axis()], data, unit="m2", **kwargs)


def make_edisp():
    migra = MapAxis.from_bounds(0.2, 5, 12, name="migra")
    data = RNG.uniform(0, 2, (8, 12, 4)).astype(np.float32)
    return EnergyDispersion2D([energy_axis(), migra, offset_axis(node=True)], data)


def make_bkg3d(shape=(6, 5, 7), dtype=np.float32):
    axes = [
        energy_axis(shape[0], name="energy"),
        MapAxis.from_bounds(-2, 2, shape[1], name="fov_lon", unit="deg"),
        MapAxis.from_bounds(-2, 2, shape[2], name="fov_lat", unit="deg"),
    ]
    data = RNG.uniform(1e-6, 1e-3, shape).astype(dtype)
    return Background3D(axes, data, unit="s-1 MeV-1 sr-1")


def all_synthetic():
    e, off = energy_axis(), offset_axis()
    rad = MapAxis.from_bounds(0, 0.5, 10, name="rad", unit="deg")
    shape = (8, 4)
    return [
        make_aeff(np.float32),
        make_aeff(np.float64, is_pointlike=True, meta={"RAD_MAX": 0.1, "LO_THRES": 0.5}),
        make_edisp(),
        PSF3D([e, off, rad], RNG.uniform(0, 1e4, (8, 4, 10)).astype(np.float32), unit="sr-1"),
        make_bkg3d(),
        make_bkg3d((5, 5, 5)).copy(fov_alignment="ALTAZ"),
        Background2D([energy_axis(name="energy"), offset_axis(node=True)], RNG.uniform(1e-6, 1e-4, (8, 4))),
        RadMax2D([energy_axis(name="energy"), off], RNG.uniform(0.05, 0.3, shape)),
        EnergyDependentMultiGaussPSF(
            [e, offset_axis(node=True)],
            dict(
                sigma_1=RNG.uniform(0.02, 0.1, shape) * u.deg,
                sigma_2=RNG.uniform(0.05, 0.2, shape) * u.deg,
                sigma_3=RNG.uniform(0.1, 0.3, shape) * u.deg,
                scale=RNG.uniform(1, 2, shape),
                ampl_2=RNG.uniform(0, 0.5, shape),
                ampl_3=RNG.uniform(0, 0.1, shape),
            ),
        ),
        PSFKing([e, off], dict(gamma=RNG.uniform(1.5, 4, shape), sigma=RNG.uniform(0.02, 0.2, shape) * u.deg)),
    ]


def roundtrip(irf, tmp_path):
    path = tmp_path / "irf.fits"
    irf.write(path, overwrite=True)
    with fits.open(path) as hdulist:
        hdu = hdulist[1]
        hdu.verify("exception")
        return type(irf).from_table_hdu(hdu)


@pytest.mark.parametrize("irf", all_synthetic(), ids=lambda irf: irf.tag)
def test_roundtrip_exact(irf, tmp_path):
    back = roundtrip(irf, tmp_path)
    assert back.axes.names == irf.axes.names
    for a, b in zip(irf.axes, back.axes):
        assert (a.node_type, a.interp, a.unit) == (b.node_type, b.interp, b.unit)
        np.testing.assert_array_equal(a.nodes.value, b.nodes.value)
    assert back.data.dtype == irf.data.dtype
    np.testing.assert_array_equal(back.data, irf.data)
    assert back.data.tobytes() == irf.data.tobytes()
    assert back.unit == irf.unit
    assert back.meta == irf.meta
    assert back.is_pointlike == irf.is_pointlike
    assert back.fov_alignment == irf.fov_alignment


def test_written_header_is_gadf(tmp_path):
    aeff = make_aeff(is_pointlike=True, meta={"RAD_MAX": 0.1, "LO_THRES": 0.5, "HI_THRES": 50.0})
    hdu = aeff.to_table_hdu()
    header = hdu.header
    assert header["EXTNAME"] == "EFFECTIVE AREA"
    assert [header[f"HDUCLAS{i}"] for i in range(1, 5)] == ["RESPONSE", "EFF_AREA", "POINT-LIKE", "AEFF_2D"]
    assert header["HDUCLASS"] == "GADF" and header["RAD_MAX"] == 0.1 and header["LO_THRES"] == 0.5
    assert hdu.columns.names == ["ENERG_LO", "ENERG_HI", "THETA_LO", "THETA_HI", "EFFAREA"]
    assert hdu.columns["EFFAREA"].dim == "(8,4)" and hdu.columns["EFFAREA"].unit == "m2"
    assert hdu.data["EFFAREA"].shape == (1, 4, 8)
    np.testing.assert_array_equal(hdu.data["EFFAREA"][0], aeff.data.T)
    assert len(hdu.data) == 1
    bkg = make_bkg3d()
    assert bkg.to_table_hdu().header["FOVALIGN"] == "RADEC"
    assert bkg.to_table_hdu().columns["BKG"].dim == "(6,5,7)"


def test_evaluate_against_scipy():
    aeff = make_aeff(np.float32)
    e_ax, o_ax = aeff.axes
    energy = 10 ** RNG.uniform(-1.3, 2.3, 400)
    offset = RNG.uniform(-0.5, 3, 400)
    grid = (np.log(e_ax.center.value), o_ax.center.value)
    interp = RegularGridInterpolator(grid, aeff.data.astype(float), bounds_error=False, fill_value=None)
    expected = np.clip(interp(np.stack([np.log(energy), offset], -1)), 0, None)
    valid = (energy >= 0.1) & (energy <= 100) & (offset >= 0) & (offset <= 2.5)
    expected[~valid] = 0
    actual = aeff.evaluate(energy_true=energy * u.TeV, offset=offset * u.deg)
    assert actual.unit == u.m**2
    np.testing.assert_allclose(actual.value, expected, rtol=1e-13, atol=0)
    # floats are in axis units, Quantities are converted
    np.testing.assert_allclose(aeff.evaluate(energy_true=energy[:5], offset=offset[:5]).value, expected[:5], rtol=1e-13)
    same = aeff.evaluate(energy_true=(energy[:5] * u.TeV).to("GeV"), offset=(offset[:5] * u.deg).to("arcmin"))
    np.testing.assert_allclose(same.value, expected[:5], rtol=1e-13)


def test_edisp_outer_product_and_mask():
    edisp = make_edisp()
    e_ax, m_ax, o_ax = edisp.axes
    energy = np.geomspace(0.05, 200, 9)[:, None, None]
    migra = np.linspace(0.1, 5.5, 13)[None, :, None]
    offset = np.linspace(-0.5, 2.6, 8)[None, None, :]
    actual = edisp.evaluate(energy_true=energy * u.TeV, migra=migra, offset=offset * u.deg).value
    grid = (np.log(e_ax.center.value), m_ax.center.value, o_ax.center.value)
    interp = RegularGridInterpolator(grid, edisp.data.astype(float), bounds_error=False, fill_value=None)
    pts = np.stack(np.broadcast_arrays(np.log(energy), migra, offset), -1)
    expected = np.clip(interp(pts), 0, None)
    bad_e = (energy < 0.1) | (energy > 100)
    bad_m = (migra < 0.2) | (migra > 5)
    o_lo, o_hi = o_ax.edges.value[[0, -1]]
    bad_o = (offset < o_lo) | (offset > o_hi)
    expected[np.broadcast_to((bad_e & bad_m) | bad_o, expected.shape)] = 0
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14)
    # energy alone outside the table is extrapolated (not zeroed) when migra is inside
    inside = ~bad_m[0, :, 0][:, None] & ~bad_o[0, 0, :][None, :]
    assert np.any(actual[0][inside] > 0) and np.any(actual[-1][inside] > 0)


def test_last_edge_is_valid_and_nan_invalid():
    aeff = EffectiveAreaTable2D([energy_axis(), offset_axis()], np.full((8, 4), 1e5), unit="m2")
    assert aeff.evaluate(energy_true=100 * u.TeV, offset=2.5 * u.deg).value > 0
    assert aeff.evaluate(energy_true=0.1 * u.TeV, offset=0 * u.deg).value > 0
    assert aeff.evaluate(energy_true=100.0000001 * u.TeV, offset=1 * u.deg).value == 0
    values = aeff.evaluate(energy_true=[np.nan, np.inf, 1] * u.TeV, offset=[1, 1, np.nan] * u.deg).value
    np.testing.assert_array_equal(values, 0)
    free = aeff.copy(fill_value=None)
    assert free.evaluate(energy_true=150 * u.TeV, offset=1 * u.deg).value >= 0
    custom = aeff.copy(fill_value=-1.0)
    assert custom.evaluate(energy_true=150 * u.TeV, offset=1 * u.deg).value == -1


def test_single_bin_axis_constant_inside_zero_outside():
    offset = MapAxis.from_edges([0.39, 0.41], name="offset", unit="deg")
    data = np.arange(8, dtype=float)[:, None] + 1
    aeff = EffectiveAreaTable2D([energy_axis(), offset], data, unit="m2")
    values = aeff.evaluate(energy_true=aeff.axes["energy_true"].center[:, None], offset=[0.39, 0.4, 0.41] * u.deg)
    np.testing.assert_allclose(values.value, np.repeat(data, 3, axis=1), rtol=1e-14)
    assert aeff.evaluate(energy_true=1 * u.TeV, offset=0.38 * u.deg).value == 0


def test_log_values_tiny_quirk():
    axes = [energy_axis(4, name="energy"), offset_axis(3)]
    data32 = np.full((4, 3), 1e-5, dtype=np.float32)
    data32[1, 1] = 0
    b32 = Background2D(axes, data32)
    centre = dict(energy=axes[0].center[1], offset=axes[1].center[1])
    value = b32.evaluate(**centre).value
    assert 0 < value < 1.3e-38
    np.testing.assert_allclose(value, np.finfo(np.float32).tiny, rtol=1e-5)  # float32 log rounding
    b64 = Background2D(axes, data32.astype(np.float64))
    assert b64.evaluate(**centre).value == 0
    # log-linear interpolation between nodes
    e = axes[0].center.value
    mid = np.sqrt(e[2] * e[3])
    b = Background2D(axes, np.array([[1.0] * 3, [1.0] * 3, [2.0] * 3, [8.0] * 3]))
    np.testing.assert_allclose(b.evaluate(energy=mid * u.TeV, offset=1 * u.deg).value, 4.0, rtol=1e-12)


def test_nearest_method():
    aeff = make_aeff()
    e = aeff.axes["energy_true"].center
    o = aeff.axes["offset"].center
    # half-way between offset nodes 0 and 1 takes the lower node, as scipy does
    mid = 0.5 * (o[0] + o[1])
    value = aeff.evaluate(method="nearest", energy_true=e[2], offset=mid).value
    assert value == aeff.data[2, 0]
    assert aeff.evaluate(method="nearest", energy_true=e[2] * 1.01, offset=o[1] * 1.01).value == aeff.data[2, 1]


def test_interpolator_built_once_and_reset():
    aeff = make_aeff()
    first = aeff._interpolator()
    aeff.evaluate(energy_true=1 * u.TeV, offset=1 * u.deg)
    assert aeff._interpolator() is first
    aeff.data = aeff.data * 2
    assert aeff._interpolator() is not first


def test_evaluate_requires_all_axes():
    aeff = make_aeff()
    with pytest.raises(ValueError, match="offset"):
        aeff.evaluate(energy_true=1 * u.TeV)
    with pytest.raises(ValueError, match="unknown"):
        aeff.evaluate(energy_true=1 * u.TeV, offset=1 * u.deg, rad=1 * u.deg)


def test_constructor_checks():
    with pytest.raises(ValueError, match="shape"):
        EffectiveAreaTable2D([energy_axis(), offset_axis()], np.ones((3, 3)), unit="m2")
    with pytest.raises(ValueError, match="axes"):
        EffectiveAreaTable2D([offset_axis(), energy_axis()], np.ones((4, 8)), unit="m2")
    with pytest.raises(ValueError, match="not equivalent"):
        EffectiveAreaTable2D([energy_axis(), offset_axis()], np.ones((8, 4)), unit="s")
    with pytest.raises(ValueError, match="FOVALIGN"):
        make_bkg3d().fov_alignment = "GALACTIC"


def _gadf_bkg_hdu(data_e_y_x, unit="s-1 MeV-1 sr-1", column="BKG"):
    """A HESS-style table: DETX fastest, TDIM = (nX, nY, nE)."""
    ne, ny, nx = data_e_y_x.shape
    ex = np.geomspace(0.1, 100, ne + 1)
    xe, ye = np.linspace(-2, 2, nx + 1), np.linspace(-3, 3, ny + 1)
    cols = [
        fits.Column("DETX_LO", f"{nx}E", unit="deg", array=xe[None, :-1]),
        fits.Column("DETX_HI", f"{nx}E", unit="deg", array=xe[None, 1:]),
        fits.Column("DETY_LO", f"{ny}E", unit="deg", array=ye[None, :-1]),
        fits.Column("DETY_HI", f"{ny}E", unit="deg", array=ye[None, 1:]),
        fits.Column("ENERG_LO", f"{ne}E", unit="TeV", array=ex[None, :-1]),
        fits.Column("ENERG_HI", f"{ne}E", unit="TeV", array=ex[None, 1:]),
        fits.Column(column, f"{data_e_y_x.size}E", unit=unit, dim=f"({nx},{ny},{ne})", array=data_e_y_x[None]),
    ]
    header = fits.Header({"HDUCLAS2": "BKG", "HDUCLAS4": "BKG_3D"})
    return fits.BinTableHDU.from_columns(cols, header=header, name="BKG")


def test_bkg_axis_orientation_rule(caplog):
    from dl3lab.reduction.errors import DataFormatError

    # HESS-like square FoV: column[0].T is (nX, nY, nE) != (nE, nlon, nlat), so it is
    # transposed back and numpy axis 1 (DETY in GADF order) is used as fov_lon (spec §1.4, §14).
    square = RNG.uniform(1e-6, 1e-4, (4, 5, 5)).astype(np.float32)
    bkg = Background3D.from_table_hdu(_gadf_bkg_hdu(square.copy()))
    np.testing.assert_array_equal(bkg.data, square)
    # Non-square DETX/DETY in that layout fits neither orientation: a format error.
    with pytest.raises(DataFormatError, match="BKG"):
        Background3D.from_table_hdu(_gadf_bkg_hdu(RNG.uniform(1e-6, 1e-4, (4, 6, 5)).astype(np.float32)))
    # Fully square tables are ambiguous: accepted, an error is logged.
    cube = RNG.uniform(1e-6, 1e-4, (4, 4, 4)).astype(np.float32)
    with caplog.at_level(logging.ERROR):
        Background3D.from_table_hdu(_gadf_bkg_hdu(cube))
    assert "ambiguous" in caplog.text


def test_bkg_units_and_bgd_column(caplog):
    data = RNG.uniform(1e-6, 1e-4, (4, 5, 5)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        bkg = Background3D.from_table_hdu(_gadf_bkg_hdu(data, unit="counts per second", column="BGD"))
    assert bkg.unit == u.Unit("s-1 MeV-1 sr-1")
    bkg = Background3D.from_table_hdu(_gadf_bkg_hdu(data, unit=""))
    assert bkg.unit == u.Unit("s-1 MeV-1 sr-1")
    bkg = Background3D.from_table_hdu(_gadf_bkg_hdu(data, unit="s-1 TeV-1 deg-2"))
    assert bkg.unit == u.Unit("s-1 TeV-1 deg-2")


def test_interp_missing_data_and_pad():
    axes = [energy_axis(7, name="energy"), offset_axis(3)]
    data = np.tile(np.geomspace(1e-2, 1e-8, 7)[:, None], (1, 3)).astype(np.float32)
    data[0, 0] = 0  # start gap: kept
    data[2:4, 1] = 0  # interior gap: filled log-linearly in bin index
    data[5, 2] = np.nan
    data[6, 1] = 0  # end gap: kept
    bkg = Background2D(axes, data)
    filled = bkg.interp_missing_data()
    assert filled.data.dtype == np.float32
    assert filled.data[0, 0] == 0 and filled.data[6, 1] == 0
    np.testing.assert_allclose(filled.data[2:4, 1], data[2:4, 0], rtol=1e-5)
    np.testing.assert_allclose(filled.data[5, 2], data[5, 0], rtol=1e-5)
    assert np.isnan(bkg.data[5, 2])  # original unchanged

    padded = filled.pad_offset()
    np.testing.assert_allclose(
        padded.axes["offset"].edges.value, [-0.8333333, 0, 0.8333333, 1.6666667, 2.5, 3.3333333], atol=1e-6
    )
    np.testing.assert_array_equal(padded.data[:, 0], filled.data[:, 0])
    np.testing.assert_array_equal(padded.data[:, -1], filled.data[:, -1])
    assert padded.evaluate(energy=1 * u.TeV, offset=3.0 * u.deg).value > 0


def test_cumsum_and_integral():
    psf = all_synthetic()[3]
    cs = psf.cumsum("rad")
    assert cs.axes["rad"].node_type == "center"
    np.testing.assert_allclose(cs.axes["rad"].center.value, psf.axes["rad"].edges[1:].value)
    r = psf.axes["rad"].center.value
    dr = psf.axes["rad"].bin_width.value
    np.testing.assert_allclose(cs.data, np.cumsum(2 * np.pi * r * dr * psf.data, axis=-1), rtol=1e-12)
    assert cs.unit == u.Unit("sr-1 deg2")


def test_bkg2d_integrate_log_log():
    axes = [energy_axis(6, name="energy"), offset_axis(4, node=True)]
    e = axes[0].center.value[:, None]
    data = 1e-3 * e**-2.5 * np.array([1.0, 0.9, 0.7, 0.4])
    bkg = Background2D(axes, data, unit="s-1 TeV-1 sr-1")
    edges = np.geomspace(0.5, 20, 5) * u.TeV
    result = bkg.integrate_log_log(edges, offset=[0.0, 0.5, 1.0] * u.deg)
    assert result.shape == (4, 3) and result.unit == u.Unit("s-1 sr-1")
    # an exact power law integrates exactly
    lo, hi = edges.value[:-1, None], edges.value[1:, None]
    norm = bkg.evaluate(energy=1 * u.TeV, offset=[0.0, 0.5, 1.0] * u.deg).value
    expected = norm * (hi**-1.5 - lo**-1.5) / -1.5
    np.testing.assert_allclose(result.value, expected, rtol=1e-10)
