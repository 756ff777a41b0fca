"""Simulated DL3 data: known-answer tests (reducing the simulation recovers its input), determinism, variants."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from regions import CircleSkyRegion

from dl3lab.reduction import (
    DataStore,
    FoVBackgroundMaker,
    MapAxis,
    MapDataset,
    MapDatasetMaker,
    SafeMaskMaker,
    WcsGeom,
)
from dl3lab.reduction.simulate import (
    IRFModel,
    ObservationSpec,
    PowerLaw,
    SkySource,
    make_irfs,
    simulate_data_store,
    wobble_observations,
)
from dl3lab.reduction.simulate.sky import angular_separation, fov_to_sky

ZENITH = 30.0
N_OBS = 6
DURATION = 3600.0
MODEL = IRFModel()
POINT = SkySource(83.633, 22.0145, PowerLaw(5e-11, 2.5), name="point")
EXTENDED = SkySource(84.6, 22.6, PowerLaw(3e-11, 2.3), sigma=0.15, name="extended")
ON_RADIUS = {"point": 0.2, "extended": 0.45}
E_RECO = (1.0, 100.0)


def predicted_excess(source, radius, specs, e_min, e_max, model=MODEL):
    """Expected gamma rays within ``radius`` of the source and reco energy in [e_min, e_max).

    Integrates the input spectrum x effective area x livetime x PSF containment (convolved with the
    Gaussian extension) x probability of migrating into the reco range, with the analytic model.
    """
    energy = np.geomspace(0.01, 100, 8001)
    total = 0.0
    for spec in specs:
        offset = angular_separation(spec.ra_pnt, spec.dec_pnt, source.ra, source.dec)
        area = model.aeff(energy, offset, spec.zenith)
        if source.is_point:
            containment = model.psf_containment(radius, energy, offset)
        else:
            sigmas, weights = model.psf_gaussians(energy, offset)
            widths = [s**2 + source.sigma**2 for s in sigmas]
            containment = sum(w * -np.expm1(-0.5 * radius**2 / v) for v, w in zip(widths, weights))
        migrate = (model.migration_cdf(e_max / energy, energy, spec.zenith)
                   - model.migration_cdf(e_min / energy, energy, spec.zenith))
        rate = source.spectrum(energy) * 1e4 * area * containment * migrate * spec.livetime
        total += np.trapezoid(rate * energy, np.log(energy))
    return total


def on_region(source):
    return CircleSkyRegion(SkyCoord(source.ra, source.dec, unit="deg"), ON_RADIUS[source.name] * u.deg)


@pytest.fixture(scope="module")
def sky_store(tmp_path_factory):
    """Six one-hour wobble runs on a point source, with an extended source 1.2 deg away."""
    path = tmp_path_factory.mktemp("sim-sky")
    simulate_data_store(path, [POINT, EXTENDED], n_obs=N_OBS, seed=3, zenith=ZENITH, duration=DURATION)
    specs = wobble_observations((POINT.ra, POINT.dec), n_obs=N_OBS, zenith=ZENITH, duration=DURATION)
    return DataStore.from_dir(path), specs


@pytest.fixture(scope="module")
def reduced(sky_store):
    """Per-run map datasets (1-100 TeV, offset < 2.5 deg) with their FoV background norms."""
    store, _ = sky_store
    axis = MapAxis.from_energy_bounds(*E_RECO, 8, unit="TeV")
    geom = WcsGeom.create(skydir=(83.9, 22.2), axes=[axis], width=6, binsz=0.04)
    exclusion = geom.region_mask(
        [CircleSkyRegion(SkyCoord(s.ra, s.dec, unit="deg"), 0.5 * u.deg) for s in (POINT, EXTENDED)], inside=False
    )
    maker = MapDatasetMaker(selection=["counts", "background"])
    safe = SafeMaskMaker(methods=["offset-max"], offset_max="2.5 deg")
    fov = FoVBackgroundMaker(exclusion_mask=exclusion)
    datasets = [fov.run(safe.run(maker.run(MapDataset.create(geom), obs), obs)) for obs in store.get_observations()]
    return geom, exclusion, datasets


def test_fov_background_norm_is_one(reduced):
    _, exclusion, datasets = reduced
    counts = background = 0.0
    for dataset in datasets:
        model = dataset.background_model
        assert abs(model.norm - 1) < 3 * model.norm_error, (dataset.name, model.norm, model.norm_error)
        mask = dataset.mask_safe.data & exclusion.data
        counts += dataset.counts.data[mask].sum()
        background += dataset.background.data[mask].sum()
    norm, error = counts / background, np.sqrt(counts) / background
    assert counts > 4000
    assert abs(norm - 1) < 3 * error, (norm, error)


@pytest.mark.parametrize("source", [POINT, EXTENDED], ids=["point", "gaussian"])
def test_excess_matches_input_spectrum(reduced, sky_store, source):
    geom, _, datasets = reduced
    _, specs = sky_store
    inside = geom.region_mask([on_region(source)]).data
    n_on = b_on = var_b = 0.0
    for dataset in datasets:
        model = dataset.background_model
        mask = dataset.mask_safe.data & inside
        n_on += dataset.counts.data[mask].sum()
        template = dataset.background.data[mask].sum()
        b_on += model.norm * template
        var_b += (model.norm_error * template) ** 2
    excess, error = n_on - b_on, np.sqrt(n_on + var_b)
    expected = predicted_excess(source, ON_RADIUS[source.name], specs, *E_RECO)
    assert excess > 10 * error
    assert abs(excess - expected) < 3 * error, (excess, error, expected)


def test_safe_mask_thresholds_follow_the_parametrisation(sky_store):
    store, specs = sky_store
    obs = store.obs(specs[0].obs_id)
    lo_thres = MODEL.safe_energy_threshold(ZENITH)
    assert obs.aeff.low_threshold.to_value("TeV") == pytest.approx(lo_thres, rel=1e-12)
    assert obs.aeff.high_threshold.to_value("TeV") == pytest.approx(MODEL.hi_threshold)
    e_reco = MapAxis.from_energy_bounds(0.1, 100, 30, unit="TeV")
    e_true = MapAxis.from_energy_bounds(0.05, 100, 60, unit="TeV", name="energy_true")
    geom = WcsGeom.create(skydir=(POINT.ra, POINT.dec), axes=[e_reco], width=2, binsz=0.1)
    dataset = MapDatasetMaker(selection=["counts", "exposure", "edisp"]).run(
        MapDataset.create(geom, energy_axis_true=e_true), obs
    )
    default = SafeMaskMaker(methods=["aeff-default"]).run(dataset.copy(), obs)
    expected = geom.energy_mask(energy_min=lo_thres * u.TeV, energy_max=MODEL.hi_threshold * u.TeV)
    np.testing.assert_array_equal(default.mask_safe.data, expected)

    e10 = MODEL.aeff_fraction_energy(0.10, ZENITH)
    dl4 = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10).aeff_max_threshold(dataset, obs)
    assert dl4.to_value("TeV") == pytest.approx(e10, rel=0.02)
    dl3 = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10, irfs="DL3").aeff_max_threshold(dataset, obs)
    table_step = 10 ** (4 / 64)  # the aeff table has 16 bins per decade
    assert e10 <= dl3.to_value("TeV") < e10 * table_step * 1.01

    bias = SafeMaskMaker(methods=["edisp-bias"], bias_percent=10).edisp_bias_threshold(dataset, obs)
    assert bias.to_value("TeV") == pytest.approx(MODEL.bias_energy(0.10, ZENITH) * 1.10, rel=0.05)


@pytest.mark.parametrize("psf", ["psf_table", "psf_3gauss", "psf_king"])
def test_psf_tables_encode_the_model(psf):
    model = IRFModel(psf_model="king" if psf == "psf_king" else "3gauss")
    table = make_irfs(model, ZENITH, psf=psf)["psf"]
    table = type(table).from_table_hdu(table.to_table_hdu())
    for energy, offset in [(0.5, 0.4), (1.0, 0.5), (5.0, 1.6)]:
        radius = table.containment_radius(0.68, energy * u.TeV, offset * u.deg).to_value("deg")
        assert model.psf_containment(radius, energy, offset) == pytest.approx(0.68, abs=0.015)


VARIANTS = [
    ("full-enclosure", "psf_table", "bkg_3d"),
    ("full-enclosure", "psf_3gauss", "bkg_2d"),
    ("full-enclosure", "psf_king", "bkg_3d"),
    ("point-like", "psf_table", "bkg_2d"),
    ("point-like", "psf_table", "bkg_3d"),
]


@pytest.mark.parametrize(("irf_type", "psf", "bkg"), VARIANTS)
def test_every_irf_variant_reduces(tmp_path, irf_type, psf, bkg):
    simulate_data_store(tmp_path, n_obs=1, seed=7, irf_type=irf_type, psf=psf, bkg=bkg, zenith=35, duration=1200)
    store = DataStore.from_dir(tmp_path)
    pointlike = irf_type == "point-like"
    obs = store.get_observations(required_irf="point-like" if pointlike else "full-enclosure")[0]
    assert obs.is_pointlike is pointlike
    assert obs.psf is None if pointlike else obs.psf.tag == psf
    assert obs.bkg.tag == bkg
    if bkg == "bkg_3d":
        assert obs.bkg.fov_alignment == "RADEC"
    if pointlike:
        assert obs.rad_max.evaluate(energy=1 * u.TeV, offset=0.5 * u.deg).to_value("deg") == pytest.approx(0.11)
    axis = MapAxis.from_energy_bounds(0.3, 30, 10, unit="TeV")
    geom = WcsGeom.create(skydir=(83.633, 22.0145), axes=[axis], width=4, binsz=0.05)
    selection = ["counts", "exposure", "background", "edisp"] + ([] if pointlike else ["psf"])
    dataset = MapDatasetMaker(selection=selection).run(MapDataset.create(geom), obs)
    methods = ["aeff-default", "aeff-max", "edisp-bias", "bkg-peak", "offset-max"]
    dataset = SafeMaskMaker(methods=methods, offset_max="2.5 deg").run(dataset, obs)
    exclusion = geom.region_mask([CircleSkyRegion(geom.center_skydir, 0.4 * u.deg)], inside=False)
    dataset = FoVBackgroundMaker(exclusion_mask=exclusion).run(dataset)
    assert dataset.mask_safe.data.any()
    assert dataset.exposure.data.max() > 0
    model = dataset.background_model
    assert abs(model.norm - 1) < 4 * model.norm_error
    if not pointlike:
        model = IRFModel(psf_model="king" if psf == "psf_king" else "3gauss")
        radius = dataset.psf.containment_radius(0.68, 1 * u.TeV, geom.center_skydir).to_value("deg")
        assert model.psf_containment(radius, 1.0, 0.5) == pytest.approx(0.68, abs=0.03)  # wobble offset 0.5 deg


def test_same_seed_gives_identical_files_and_other_seeds_differ(tmp_path):
    kwargs = dict(n_obs=2, duration=600, zenith=(25, 40), gti=((0, 250), (300, 600)))
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        simulate_data_store(tmp_path / name, seed=seed, **kwargs)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 5
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    runs = [rel for rel in files if rel.parts[0] == "data"]
    assert all((tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes() for rel in runs)
    with fits.open(tmp_path / "a" / runs[0]) as hdus:
        assert "DATE" not in hdus["EVENTS"].header and "CHECKSUM" not in hdus["EVENTS"].header
        assert hdus["EVENTS"].header["SIMSEED"] == "5"


def test_observation_parameters_are_written(tmp_path):
    gti = ((0.0, 700.0), (900.0, 1680.0))
    spec = ObservationSpec(42, 83.0, 22.0, tstart=1e8, duration=1680, deadc=0.9, zenith=40, azimuth=10, gti=gti)
    source = SkySource(83.3, 22.2, PowerLaw(1e-10, 2.4), name="bright")
    result = simulate_data_store(tmp_path, [source], [spec], seed=1)
    assert result.obs_ids == [42] and result.n_source_events[42] > 100
    obs = DataStore.from_dir(tmp_path).obs(42)
    assert obs.livetime.to_value("s") == pytest.approx(1480 * 0.9)
    assert obs.ontime.to_value("s") == pytest.approx(1480)
    np.testing.assert_allclose(obs.gti.met_start.to_value("s"), [1e8, 1e8 + 900])
    pointing = obs.get_pointing_icrs()
    assert (pointing.ra.deg, pointing.dec.deg) == pytest.approx((83.0, 22.0))
    table = obs.events.table
    time = np.asarray(table["TIME"], dtype=float) - 1e8
    assert np.all(np.diff(time) >= 0)
    assert np.all(((time >= 0) & (time < 700)) | ((time >= 900) & (time < 1680)))
    mc_id = np.asarray(table["MC_ID"])
    assert set(np.unique(mc_id)) == {0, 1} and (mc_id == 1).sum() == result.n_source_events[42]
    ra, dec = np.asarray(table["RA"]), np.asarray(table["DEC"])
    gammas = angular_separation(source.ra, source.dec, ra[mc_id == 1], dec[mc_id == 1])
    assert np.median(gammas) < 0.15
    header = obs.events.meta
    assert header["ALT_PNT"] == pytest.approx(50) and header["DEADC"] == pytest.approx(0.9)
    assert obs.aeff.meta["ZENITH"] == pytest.approx(40)


def test_simulation_refuses_to_overwrite(tmp_path):
    simulate_data_store(tmp_path, n_obs=1, duration=300, seed=1)
    before = (tmp_path / "hdu-index.fits.gz").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        simulate_data_store(tmp_path, n_obs=1, duration=300, seed=2)
    assert (tmp_path / "hdu-index.fits.gz").read_bytes() == before
    assert not list(tmp_path.rglob("*.part"))
    simulate_data_store(tmp_path, n_obs=1, duration=300, seed=2, overwrite=True)


def test_fov_to_sky_inverts_the_reduction_mapping():
    from dl3lab.reduction.makers.background_projection import fov_coordinates

    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-3, 3, 200), rng.uniform(-3, 3, 200)
    for ra0, dec0 in [(83.6, 22.0), (10.0, -70.0), (359.5, 0.3)]:
        ra, dec = fov_to_sky(lon, lat, ra0, dec0)
        back_lon, back_lat = fov_coordinates(ra, dec, SkyCoord(ra0, dec0, unit="deg"), "RADEC")
        np.testing.assert_allclose(back_lon, lon, atol=1e-9)
        np.testing.assert_allclose(back_lat, lat, atol=1e-9)


def test_invalid_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="psf"):
        simulate_data_store(tmp_path, psf="psf_gauss")
    with pytest.raises(ValueError, match="psf_king"):
        simulate_data_store(tmp_path, psf="psf_king", irf_model=IRFModel(psf_model="3gauss"))
    with pytest.raises(ValueError, match="deadc"):
        ObservationSpec(1, 0, 0, deadc=1.5)
    with pytest.raises(ValueError, match="GTI"):
        ObservationSpec(1, 0, 0, duration=100, gti=((0, 50), (40, 100)))
    assert not any(tmp_path.iterdir())


def test_cli_simulate(tmp_path, capsys):
    from dl3lab.cli import main

    target = tmp_path / "cli"
    argv = ["simulate", str(target), "--n-obs", "2", "--seed", "4", "--duration", "300", "--bkg", "bkg_2d",
            "--psf", "psf_3gauss", "--zenith", "20,40", "--second-source", "84.0,22.5,2e-11,2.4,0.1"]
    assert main(argv) == 0
    assert "2 observations" in capsys.readouterr().out
    store = DataStore.from_dir(target)
    assert store.obs_ids == [1, 2]
    assert store.obs(2).aeff.meta["ZENITH"] == pytest.approx(40)
    assert main(argv) == 1
    assert "overwrite" in capsys.readouterr().err


# The reflected-regions test comes last: it needs the spectrum makers.
def test_reflected_regions_excess_matches_input_spectrum(sky_store):
    from dl3lab.reduction import (
        ReflectedRegionsBackgroundMaker,
        RegionGeom,
        SpectrumDataset,
        SpectrumDatasetMaker,
    )

    store, specs = sky_store
    region = on_region(POINT)
    axis = MapAxis.from_energy_bounds(*E_RECO, 8, unit="TeV")
    e_true = MapAxis.from_energy_bounds(0.1, 100, 40, unit="TeV", name="energy_true")
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=region, axes=[axis]), energy_axis_true=e_true)
    mask_geom = WcsGeom.create(skydir=(83.9, 22.2), width=7, binsz=0.02)
    exclusion = mask_geom.region_mask(
        [CircleSkyRegion(SkyCoord(s.ra, s.dec, unit="deg"), 0.5 * u.deg) for s in (POINT, EXTENDED)], inside=False
    )
    maker = SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"], containment_correction=False)
    reflected = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
    n_on = n_off_scaled = variance = 0.0
    for obs in store.get_observations():
        dataset = reflected.run(maker.run(empty.copy(name=f"obs-{obs.obs_id}"), obs), obs)
        alpha = np.asarray(dataset.alpha.data, dtype=float)
        off = np.asarray(dataset.counts_off.data, dtype=float)
        n_on += dataset.counts.data.sum()
        n_off_scaled += (alpha * off).sum()
        variance += (alpha**2 * off).sum()
    excess, error = n_on - n_off_scaled, np.sqrt(n_on + variance)
    expected = predicted_excess(POINT, ON_RADIUS["point"], specs, *E_RECO)
    assert excess > 10 * error
    assert abs(excess - expected) < 3 * error, (excess, error, expected)
