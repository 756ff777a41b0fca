"""Per-observation products: the fast paths equal direct evaluations."""

import numpy as np
import pytest
from astropy import units as u

from dl3lab.reduction import DataStore, MapAxis
from dl3lab.reduction.makers import map_products
from dl3lab.reduction.makers.map_products import kernel_from_migration, make_edisp_kernel_data


@pytest.fixture(scope="module")
def obs(hess_dir):
    return DataStore.from_dir(hess_dir).obs(23592)


def _direct_kernel(edisp, e_true_axis, e_axis, offsets):
    """Kernel from the migration density evaluated at every (energy, migra, offset) point."""
    migra_axis = edisp.axes["migra"]
    e_true = e_true_axis.center.to_value("TeV")
    e, m, o = np.meshgrid(e_true, migra_axis.center.value, offsets, indexing="ij")
    density = edisp.evaluate(energy_true=e * u.TeV, migra=m, offset=o * u.deg).value
    prob = density * migra_axis.bin_width.value[None, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        prob = np.nan_to_num(prob / prob.sum(axis=1, keepdims=True))
    return kernel_from_migration(prob, migra_axis.edges.value, e_true, e_axis.edges.to_value("TeV"))


def test_edisp_kernel_node_combination_equals_direct_evaluation(obs):
    e_axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    e_true_axis = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
    offsets = np.concatenate([np.linspace(0, 3.0, 61), [0.5, 2.6, 2.74, 2.76]])
    fast = make_edisp_kernel_data(obs.edisp, e_true_axis, e_axis, offsets)
    direct = _direct_kernel(obs.edisp, e_true_axis, e_axis, offsets)
    np.testing.assert_allclose(fast, direct, rtol=1e-9, atol=1e-15)
    assert np.all(fast[..., offsets > 2.75] == 0)
    assert fast[..., offsets < 2.5].sum() > 0


def test_edisp_kernel_fallback_path_is_used_for_extrapolated_offsets(obs, monkeypatch):
    calls = []
    real = map_products._normalised_migration

    def spy(sep, offsets):
        calls.append(np.array(offsets))
        return real(sep, offsets)

    monkeypatch.setattr(map_products, "_normalised_migration", spy)
    e_axis = MapAxis.from_bounds(1, 10, nbin=5, name="energy", unit="TeV", interp="log")
    e_true_axis = MapAxis.from_bounds(0.5, 20, nbin=8, name="energy_true", unit="TeV", interp="log")
    make_edisp_kernel_data(obs.edisp, e_true_axis, e_axis, np.array([0.3, 1.2, 2.6]))
    assert len(calls) == 1 and np.allclose(calls[0], [2.6])


def test_log_trapz_equals_power_law_integral():
    from dl3lab.reduction.interpolation import trapz_loglog, trapz_loglog_from_log

    x = np.geomspace(0.1, 100, 13)
    rng = np.random.default_rng(3)
    y = rng.uniform(0.1, 10, size=(13, 7)) * x[:, None] ** -2.7
    y[4, 2] = 0.0
    y[5, 3] = y[6, 3] * (x[5] / x[6]) ** -1.0  # index exactly 1 between two nodes
    zero = y == 0
    with np.errstate(divide="ignore"):
        fast = trapz_loglog_from_log(np.log(y), zero, x)
    np.testing.assert_allclose(fast, trapz_loglog(y, x, axis=0), rtol=1e-12)
    assert fast[3, 2] == 0 and fast[4, 2] == 0
    # Independent check: the analytic power-law integral of one bin.
    g = -np.log(y[1, 0] / y[0, 0]) / np.log(x[1] / x[0])
    expected = y[0, 0] * x[0] / (1 - g) * ((x[1] / x[0]) ** (1 - g) - 1)
    assert fast[0, 0] == pytest.approx(expected, rel=1e-12)


def test_cached_solid_angles_equal_geometry_solid_angles():
    from astropy.coordinates import SkyCoord

    from dl3lab.reduction import WcsGeom
    from dl3lab.reduction.makers.sky import clear_caches, solid_angle_sr

    clear_caches()
    parent = WcsGeom.create(skydir=(83.63, 22.01), width=5, binsz=0.02)
    for ra in (81.0, 82.01, 85.5):
        cutout = parent.cutout(SkyCoord(ra, 22.01, unit="deg"), width=6)
        np.testing.assert_array_equal(solid_angle_sr(cutout), cutout.solid_angle().to_value("sr"))
    other = WcsGeom.create(skydir=(10, -30), width=(4, 3), binsz=0.1, proj="TAN", frame="galactic")
    np.testing.assert_array_equal(solid_angle_sr(other), other.solid_angle().to_value("sr"))


def test_grid_overlap_slices_equal_geometry_overlap_slices():
    from astropy.coordinates import SkyCoord

    from dl3lab.reduction import WcsGeom
    from dl3lab.reduction.geom.grid import grid_offset, overlap_slices

    parent = WcsGeom.create(skydir=(83.63, 22.01), width=5, binsz=0.02)
    for ra, dec, width in ((82.01, 22.01, 6), (85.0, 23.5, 2), (83.63, 22.01, 1.3)):
        child = parent.cutout(SkyCoord(ra, dec, unit="deg"), width=width)
        assert grid_offset(child, parent) is not None
        assert overlap_slices(child, parent) == child.overlap_slices(parent)
    other = WcsGeom.create(skydir=(83.0, 22.01), width=2, binsz=0.02, proj="TAN")
    assert grid_offset(other, parent) is None


def test_irf_map_stack_is_exposure_weighted_mean():
    from dl3lab.reduction import Map, WcsGeom
    from dl3lab.reduction.datasets import PSFMap

    e_true = MapAxis.from_bounds(0.5, 10, nbin=4, name="energy_true", unit="TeV", interp="log")
    rad = MapAxis.from_bounds(0, 0.3, nbin=5, name="rad", unit="deg")
    parent = WcsGeom.create(skydir=(0, 0), width=2, binsz=0.2)
    child = parent.cutout(parent.center_skydir.directional_offset_by(0 * u.deg, 0.4 * u.deg), width=1.2)
    rng = np.random.default_rng(1)

    def make(geom):
        psf = Map.from_geom(geom.to_cube([rad, e_true]), data=rng.random(geom.to_cube([rad, e_true]).data_shape))
        expo = Map.from_geom(geom.to_cube([rad.squash(), e_true]), data=rng.random((4, 1) + geom.data_shape))
        return PSFMap(psf, expo)

    stacked, other = make(parent), make(child)
    p0, x0 = stacked.psf_map.data.copy(), stacked.exposure_map.data.copy()
    weights = (rng.random((1, 1) + child.data_shape) > 0.3).astype(float)
    stacked.stack(other, weights=weights)
    from dl3lab.reduction.geom.grid import overlap_slices

    sl = (Ellipsis,) + overlap_slices(child, parent)[0]
    xo = other.exposure_map.data * weights
    expected = (p0[sl] * x0[sl] + other.psf_map.data * xo) / (x0[sl] + xo)
    np.testing.assert_allclose(stacked.psf_map.data[sl], expected, rtol=1e-13)
    np.testing.assert_allclose(stacked.exposure_map.data[sl], x0[sl] + xo, rtol=1e-15)
    outside = np.ones(parent.data_shape, bool)
    outside[sl[1:]] = False
    np.testing.assert_array_equal(stacked.psf_map.data[..., outside], p0[..., outside])


def test_pixel_chunks_bound_values_and_cover_every_pixel():
    from dl3lab.reduction.makers.irf_projection import CHUNK_VALUES, PIXEL_CHUNK, pixel_chunks

    for n_fixed in (1, 12, 726, 10 * CHUNK_VALUES):
        chunks = pixel_chunks(np.arange(20000), 20000, n_fixed)
        sizes = [c.stop - c.start for c in chunks]
        assert max(sizes) <= PIXEL_CHUNK
        assert max(sizes) * n_fixed <= max(CHUNK_VALUES, n_fixed)
        assert np.array_equal(np.concatenate([np.arange(c.start, c.stop) for c in chunks]), np.arange(20000))
    subset = np.array([3, 9, 11, 500, 19999])
    chunks = pixel_chunks(subset, 20000, CHUNK_VALUES // 2)
    assert [list(c) for c in chunks] == [[3, 9], [11, 500], [19999]]


def test_psf_evaluated_in_chunks_equals_pointwise_evaluation(obs):
    from dl3lab.reduction.makers.irf_projection import evaluate_separable

    energy = np.geomspace(0.5, 50, 11)
    rad = np.linspace(0.005, 0.655, 66)  # 726 fixed values per pixel: many chunks
    offsets = np.linspace(0, 2.9, 700)
    fast = evaluate_separable(obs.psf, {"energy_true": energy, "rad": rad}, {"offset": offsets})
    e, r, o = np.meshgrid(energy, rad, offsets, indexing="ij")
    direct = obs.psf.evaluate(energy_true=e * u.TeV, rad=r * u.deg, offset=o * u.deg).to_value(obs.psf.unit)
    np.testing.assert_allclose(fast, direct, rtol=1e-10, atol=0)


def test_exposure_in_map_dtype_equals_float64_exposure_rounded(obs):
    axis = MapAxis.from_bounds(0.5, 50, nbin=9, name="energy_true", unit="TeV", interp="log")
    offsets = np.linspace(0, 3.2, 5000).reshape(50, 100)  # beyond the IRF's offset edges too
    full = map_products.make_exposure_data(obs.aeff, axis, offsets, obs.livetime)
    single = map_products.make_exposure_data(obs.aeff, axis, offsets, obs.livetime, dtype=np.float32)
    assert full.dtype == np.float64 and single.dtype == np.float32 and single.shape == (9, 50, 100)
    np.testing.assert_array_equal(single, full.astype(np.float32))
    area = obs.aeff.evaluate(energy_true=axis.center[:, None, None], offset=offsets * u.deg)
    np.testing.assert_allclose(full, (area * obs.livetime).to_value("m2 s"), rtol=1e-12)


def _direct_psf(psf, e_true_axis, rad_axis, offsets):
    """PSF evaluated at every (energy, rad, offset) point, normalised over rad."""
    e, r, o = np.meshgrid(e_true_axis.center.to_value("TeV"), rad_axis.center.to_value("deg"), offsets, indexing="ij")
    values = psf.evaluate(energy_true=e * u.TeV, rad=r * u.deg, offset=o * u.deg).to_value("deg-2")
    weights = 2 * np.pi * rad_axis.center.to_value("deg") * rad_axis.bin_width.to_value("deg")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(values / np.sum(values * weights[None, :, None], axis=1, keepdims=True))


def test_psf_node_combination_equals_direct_evaluation(obs):
    from dl3lab.reduction.datasets.map_dataset import RAD_AXIS_DEFAULT

    e_true_axis = MapAxis.from_bounds(0.005, 200, nbin=13, name="energy_true", unit="TeV", interp="log")
    offsets = np.concatenate([np.linspace(0, 3.0, 61), [0.5, 2.6, 2.74, 2.76]])  # extrapolated and outside too
    fast = map_products.make_psf_data(obs.psf, e_true_axis, RAD_AXIS_DEFAULT, offsets)
    direct = _direct_psf(obs.psf, e_true_axis, RAD_AXIS_DEFAULT, offsets)
    np.testing.assert_allclose(fast, direct, rtol=1e-12, atol=1e-12 * direct.max())
    assert np.all(fast[..., offsets > 2.75] == 0) and np.all(fast[0] == 0)  # outside the offset and energy edges
    weights = 2 * np.pi * RAD_AXIS_DEFAULT.center.to_value("deg") * RAD_AXIS_DEFAULT.bin_width.to_value("deg")
    norm = np.sum(fast * weights[None, :, None], axis=1)[:, offsets <= 2.75]
    filled = norm > 0
    assert filled.sum() > norm.size // 2  # normalised columns, and empty ones (no PSF there) stay 0
    np.testing.assert_allclose(norm[filled], 1, rtol=1e-12)
    single = map_products.make_psf_data(obs.psf, e_true_axis, RAD_AXIS_DEFAULT, offsets, dtype=np.float32)
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, fast, rtol=2e-7, atol=0)


def test_linear_one_axis_path_equals_general_path(obs, monkeypatch):
    """Exposure-like evaluations (linear values, one pixel axis) take the two-pass line path; it gives the
    general path's values, including extrapolated pixels (clipped at zero) and out-of-edge coordinates."""
    from dl3lab.reduction.makers import irf_projection

    energy = np.geomspace(0.005, 200, 23)  # below and above the energy edges too
    offsets = np.concatenate([np.linspace(-0.3, 3.2, 800), [np.nan]])
    calls = []
    real = irf_projection._evaluate_lines

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(irf_projection, "_evaluate_lines", spy)
    for factor in (None, 3.5):
        fast = irf_projection.evaluate_separable(obs.aeff, {"energy_true": energy}, {"offset": offsets}, factor=factor)
        e, o = np.meshgrid(energy, offsets, indexing="ij")
        direct = obs.aeff.evaluate(energy_true=e * u.TeV, offset=o * u.deg).to_value(obs.aeff.unit)
        np.testing.assert_allclose(fast, direct * (factor or 1), rtol=1e-12, atol=0)
        assert np.all(fast >= 0) and np.all(fast[:, -1] == 0) and np.all(fast[0] == 0)
    assert len(calls) == 2
