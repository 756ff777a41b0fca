"""Spectrum makers on point-like IRFs, without OFF regions, and their validation (spec §4.1, §8, §9)."""

import warnings

import numpy as np
import pytest
import traitlets
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from regions import CircleSkyRegion, PointSkyRegion

from dl3lab.reduction import (
    Datasets,
    DataStore,
    IncompatibleRegionError,
    MapAxis,
    MapDatasetOnOff,
    ReflectedRegionsBackgroundMaker,
    ReflectedRegionsFinder,
    RegionGeom,
    RingBackgroundMaker,
    SafeMaskMaker,
    SpectrumDataset,
    SpectrumDatasetMaker,
    SpectrumDatasetOnOff,
    WcsGeom,
    WobbleRegionsFinder,
)
from dl3lab.reduction.irf import EffectiveAreaTable2D, EnergyDispersion2D, RadMax2D
from tests.conftest import write_hdu_index

OBS_ID = 23592
CRAB = SkyCoord(83.63, 22.01, unit="deg")
ENERGY = MapAxis.from_energy_bounds(0.3, 30, nbin=12, unit="TeV")
ENERGY_TRUE = MapAxis.from_energy_bounds(0.2, 50, nbin=20, unit="TeV", name="energy_true")
FIXED_RAD_MAX = 0.11
# energy-dependent cut: 6 log-uniform energy bins (0.1-100 TeV), 2 offset bins (0-1.25-2.5 deg)
RAD_MAX_ENERGY = MapAxis.from_energy_bounds(0.1, 100, 6, unit="TeV")
RAD_MAX_OFFSET = MapAxis.from_bounds(0, 2.5, 2, name="offset", unit="deg")
RAD_MAX_TABLE = np.array([[0.25, 0.3], [0.2, 0.25], [0.15, 0.2], [0.12, 0.15], [0.1, 0.12], [0.08, 0.1]])


def _write_store(base, hdus):
    """A one-run data store whose file holds ``hdus`` (EVENTS, GTI, then the IRF HDUs)."""
    base.mkdir(parents=True)
    fits.HDUList([fits.PrimaryHDU(), *hdus]).writeto(base / "run.fits")
    classes = {"EVENTS": ("events", "events"), "GTI": ("gti", "gti"), "AEFF": ("aeff", "aeff_2d"),
               "EDISP": ("edisp", "edisp_2d"), "RAD_MAX": ("rad_max", "rad_max_2d")}
    rows = [(OBS_ID, *classes[hdu.name], ".", "run.fits", hdu.name) for hdu in hdus]
    write_hdu_index(base / "hdu-index.fits.gz", rows)
    return DataStore.from_dir(base)


@pytest.fixture(scope="module")
def pointlike(hess_dir, tmp_path_factory):
    """Point-like stores built from run 23592: a fixed ``RAD_MAX`` keyword, and a ``rad_max_2d`` table HDU."""
    source = hess_dir / "data" / f"hess_dl3_dr1_obs_id_{OBS_ID:06d}.fits.gz"
    with fits.open(source) as hdulist:
        events, gti = hdulist["EVENTS"].copy(), hdulist["GTI"].copy()
    aeff = EffectiveAreaTable2D.read(source)
    edisp = EnergyDispersion2D.read(source).copy(is_pointlike=True).to_table_hdu()
    meta = {key: value for key, value in aeff.meta.items() if key != "RAD_MAX"}
    aeff_fixed = aeff.copy(is_pointlike=True, meta={**meta, "RAD_MAX": FIXED_RAD_MAX}).to_table_hdu()
    aeff_plain = aeff.copy(is_pointlike=True, meta=meta).to_table_hdu()
    table = RadMax2D([RAD_MAX_ENERGY, RAD_MAX_OFFSET], RAD_MAX_TABLE, unit="deg").to_table_hdu()
    table.name = "RAD_MAX"
    base = tmp_path_factory.mktemp("pointlike")
    fixed = _write_store(base / "fixed", [events, gti, aeff_fixed, edisp])
    energy_dependent = _write_store(base / "table", [events, gti, aeff_plain, edisp, table])
    return {
        "fixed": fixed.obs(OBS_ID, required_irf="point-like"),
        "table": energy_dependent.obs(OBS_ID, required_irf="point-like"),
    }


def _events(obs):
    ev = obs.events
    return SkyCoord(ev.ra_deg, ev.dec_deg, unit="deg"), ev.energy_tev


def _histogram(energy, select):
    """Counts per reco bin with ``E_lo <= E < E_hi``, independently of the package."""
    edges = ENERGY.edges.to_value("TeV")
    idx = np.searchsorted(edges, energy[select], side="right") - 1
    return np.bincount(idx[(idx >= 0) & (idx < ENERGY.nbin)], minlength=ENERGY.nbin)


def _table_cut(energy, offset_deg):
    """Nearest-node RAD_MAX of the test table (log-uniform energy bins: the node is the bin holding E)."""
    e_idx = np.searchsorted(RAD_MAX_ENERGY.edges.to_value("TeV"), energy, side="right") - 1
    o_idx = int(np.argmin(np.abs(RAD_MAX_OFFSET.center.to_value("deg") - offset_deg)))
    valid = (e_idx >= 0) & (e_idx < RAD_MAX_ENERGY.nbin)
    return np.where(valid, RAD_MAX_TABLE[np.clip(e_idx, 0, RAD_MAX_ENERGY.nbin - 1), o_idx], 0.0)


def _spectrum(region, obs, **maker_kwargs):
    empty = SpectrumDataset.create(RegionGeom.create(region, axes=[ENERGY]), energy_axis_true=ENERGY_TRUE, name="pl")
    return SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"], **maker_kwargs).run(empty, obs)


def test_fixed_rad_max_circle(pointlike):
    obs = pointlike["fixed"]
    assert obs.is_pointlike and obs.rad_max.is_fixed_rad_max
    dataset = _spectrum(CircleSkyRegion(CRAB, FIXED_RAD_MAX * u.deg), obs)
    assert dataset.exposure.meta["is_pointlike"] is True
    onoff = ReflectedRegionsBackgroundMaker().run(dataset, obs)
    radec, energy = _events(obs)
    np.testing.assert_array_equal(dataset.counts.data.ravel(), _histogram(energy, radec.separation(CRAB).deg < 0.11))
    assert onoff.counts.data.sum() > 20
    inside_off = np.zeros(len(energy), bool)
    for region in onoff.off_regions:
        inside_off |= radec.separation(region.center).deg < region.radius.to_value("deg")
    np.testing.assert_array_equal(onoff.counts_off.data.ravel(), _histogram(energy, inside_off))
    assert np.all(onoff.acceptance_off.data == len(onoff.off_regions)) and len(onoff.off_regions) > 10


def test_energy_dependent_rad_max_point(pointlike):
    """ON and OFF counts follow the energy-dependent cut around each point (independent count)."""
    obs = pointlike["table"]
    assert not obs.rad_max.is_fixed_rad_max
    dataset = _spectrum(PointSkyRegion(CRAB), obs)
    maker = ReflectedRegionsBackgroundMaker(region_finder=WobbleRegionsFinder(n_off_regions=3))
    onoff = maker.run(dataset, obs)
    radec, energy = _events(obs)
    pointing = SkyCoord(obs.events.meta["RA_PNT"], obs.events.meta["DEC_PNT"], unit="deg")
    offset = CRAB.separation(pointing).deg
    on = _histogram(energy, radec.separation(CRAB).deg <= _table_cut(energy, offset))
    np.testing.assert_array_equal(dataset.counts.data.ravel(), on)
    assert on.sum() > 30
    assert len(onoff.off_regions) == 3 and all(isinstance(r, PointSkyRegion) for r in onoff.off_regions)
    off = np.zeros(ENERGY.nbin, int)
    centre = obs.get_pointing_icrs(obs.tmid)
    for k, region in enumerate(onoff.off_regions, start=1):
        # wobble positions: same offset, position angle advanced by k x 90 deg
        assert region.center.separation(centre).deg == pytest.approx(CRAB.separation(centre).deg, abs=1e-9)
        turn = (centre.position_angle(region.center) - centre.position_angle(CRAB)).wrap_at("360d").deg
        assert turn == pytest.approx(90 * k, abs=1e-7)
        cut = _table_cut(energy, region.center.separation(pointing).deg)
        off += _histogram(energy, radec.separation(region.center).deg <= cut)
    np.testing.assert_array_equal(onoff.counts_off.data.ravel(), off)
    assert np.all(onoff.alpha.data == 1 / 3)


def test_pointlike_overlap_drops_off_regions(pointlike):
    obs = pointlike["table"]
    dataset = _spectrum(PointSkyRegion(CRAB), obs)
    maker = ReflectedRegionsBackgroundMaker(region_finder=WobbleRegionsFinder(n_off_regions=30))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        onoff = maker.run(dataset, obs)
    assert any("overlap" in str(w.message) for w in caught)
    assert onoff.meta["no_off_regions"] and onoff.counts_off is None and not onoff.mask_safe.data.any()


def test_incompatible_on_regions(pointlike, hess_dir):
    fixed, table = pointlike["fixed"], pointlike["table"]
    reflected = ReflectedRegionsBackgroundMaker()
    with pytest.raises(IncompatibleRegionError, match="RAD_MAX") as err:
        reflected.run(_spectrum(CircleSkyRegion(CRAB, 0.2 * u.deg), fixed), fixed)
    assert isinstance(err.value, ValueError) and err.value.obs_id == OBS_ID and "obs 23592" in str(err.value)
    with pytest.raises(IncompatibleRegionError, match="energy-dependent"):
        reflected.run(_spectrum(CircleSkyRegion(CRAB, 0.2 * u.deg), table), table)
    with pytest.raises(IncompatibleRegionError, match="point-like"):
        _spectrum(CircleSkyRegion(CRAB, FIXED_RAD_MAX * u.deg), fixed, containment_correction=True)
    full = DataStore.from_dir(hess_dir).obs(OBS_ID)
    with pytest.raises(IncompatibleRegionError, match="RAD_MAX"):
        _spectrum(PointSkyRegion(CRAB), full)
    with pytest.raises(TypeError, match="WobbleRegionsFinder"):
        ReflectedRegionsFinder().run(PointSkyRegion(CRAB), full.get_pointing_icrs(full.tmid))
    with pytest.raises(IncompatibleRegionError, match="WobbleRegionsFinder") as err:
        reflected.run(_spectrum(PointSkyRegion(CRAB), table), table)
    assert err.value.obs_id == OBS_ID


@pytest.fixture(scope="module")
def full_obs(hess_dir):
    return DataStore.from_dir(hess_dir).obs(OBS_ID)


def test_no_off_regions(full_obs):
    """An exclusion mask over the whole ring of OFF positions gives a flagged, fully masked dataset."""
    obs = full_obs
    pointing = obs.get_pointing_icrs(obs.tmid)
    geom = WcsGeom.create(skydir=pointing, width=5, binsz=0.02)
    exclusion = geom.region_mask([CircleSkyRegion(pointing, 2.0 * u.deg)], inside=False)
    dataset = _spectrum(CircleSkyRegion(CRAB, 0.2 * u.deg), obs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", RuntimeWarning)
        onoff = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion).run(dataset, obs)
        text = str(onoff)
        info = onoff.info_dict()
        onoff = SafeMaskMaker(methods=["aeff-max"]).run(onoff, obs)
    assert any("no OFF region" in str(w.message) and "obs 23592" in str(w.message) for w in caught)
    assert onoff.meta["no_off_regions"] is True and onoff.off_regions == []
    assert onoff.counts_off is None and np.all(onoff.acceptance_off.data == 0)
    assert not onoff.mask_safe.data.any() and dataset.mask_safe.data.all()
    assert onoff.background is None and onoff.stat_sum() == 0
    assert "  Total counts_off                : nan \n" in text
    assert info["counts"] == 0 and np.isnan(info["excess"]) and info["counts_off"] == 0
    # a masked dataset without OFF counts stacks as an empty contribution
    good = ReflectedRegionsBackgroundMaker().run(dataset, obs)
    stacked = Datasets([good.copy(name="b"), onoff.copy(name="a")]).stack_reduce(name="s")
    np.testing.assert_array_equal(stacked.counts_off.data, good.counts_off.data)
    np.testing.assert_array_equal(stacked.counts.data, good.counts.data)
    assert stacked.info_dict()["excess"] == pytest.approx(good.info_dict()["excess"], rel=1e-6)
    unmasked = onoff.copy(name="c")
    unmasked.mask_safe.data[:] = True
    with pytest.raises(ValueError, match="incomplete"):
        good.copy(name="d").stack(unmasked)


def test_onoff_roundtrip_and_stack_types(full_obs):
    obs = full_obs
    dataset = _spectrum(CircleSkyRegion(CRAB, 0.2 * u.deg), obs)
    onoff = ReflectedRegionsBackgroundMaker().run(dataset, obs)
    map_dataset = onoff.to_map_dataset(name="m")
    np.testing.assert_allclose(map_dataset.background.data, onoff.alpha.data * onoff.counts_off.data)
    spectrum = onoff.to_spectrum_dataset(name="s")
    assert isinstance(spectrum, SpectrumDataset) and spectrum.name == "s"
    np.testing.assert_allclose(onoff.excess.data, onoff.counts.data - onoff.background.data)
    with pytest.raises(TypeError):
        onoff.copy(name="x").stack(dataset)
    with pytest.raises(NotImplementedError):
        onoff.cutout(CRAB, "1 deg")
    with pytest.raises(TypeError, match="RegionGeom"):
        SpectrumDataset.create(WcsGeom.create(skydir=CRAB, width=1, binsz=0.1, axes=[ENERGY]))
    # from a background template: counts_off = npred_background / alpha
    with_bkg = SpectrumDatasetMaker().run(dataset.copy(name="b"), obs)
    derived = SpectrumDatasetOnOff.from_spectrum_dataset(with_bkg, acceptance=1, acceptance_off=4)
    np.testing.assert_allclose(derived.counts_off.data, 4 * with_bkg.background.data)
    np.testing.assert_allclose(derived.alpha.data, 0.25)


def test_maker_traits_are_validated():
    with pytest.raises(traitlets.TraitError):
        SpectrumDatasetMaker(selection=["psf"])
    with pytest.raises(traitlets.TraitError):
        SpectrumDatasetMaker(containment_correction="yes")
    with pytest.raises(traitlets.TraitError):
        ReflectedRegionsFinder(angle_increment="-1 deg")
    with pytest.raises(traitlets.TraitError):
        ReflectedRegionsFinder(max_region_number=0)
    with pytest.raises(traitlets.TraitError):
        WobbleRegionsFinder(n_off_regions=0)
    with pytest.raises(traitlets.TraitError):
        RingBackgroundMaker(r_in="0.5 deg", width="-0.1 deg")
    geom = WcsGeom.create(skydir=CRAB, width=1, binsz=0.1, axes=[ENERGY])
    with pytest.raises(traitlets.TraitError, match="spatial"):
        ReflectedRegionsBackgroundMaker(exclusion_mask=geom.region_mask([CircleSkyRegion(CRAB, 0.2 * u.deg)]))
    with pytest.raises(ValueError, match="region_finder"):
        ReflectedRegionsBackgroundMaker(region_finder=ReflectedRegionsFinder(), min_distance="1 rad")
    maker = ReflectedRegionsBackgroundMaker(min_distance_input="0.3 rad")
    assert maker.region_finder.min_distance_input.to_value("rad") == 0.3
    assert ReflectedRegionsFinder().angle_increment.to_value("rad") == 0.1


def test_ring_maker_on_small_map(full_obs):
    """Ring OFF counts equal a direct sum over the ring pixels (no FFT), outside exclusions."""
    from dl3lab.reduction import MapDataset, MapDatasetMaker

    geom = WcsGeom.create(skydir=CRAB, width=2, binsz=0.05, axes=[MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")])
    dataset = MapDatasetMaker(selection=["counts", "background"]).run(MapDataset.create(geom), full_obs)
    exclusion = geom.to_image().region_mask([CircleSkyRegion(CRAB, 0.2 * u.deg)], inside=False)
    maker = RingBackgroundMaker(r_in="0.3 deg", width="0.1 deg", exclusion_mask=exclusion)
    onoff = maker.run(dataset)
    assert isinstance(onoff, MapDatasetOnOff)
    counts = dataset.counts.data * exclusion.data
    iy, ix = 20, 17
    yy, xx = np.mgrid[0:40, 0:40]
    d2 = (yy - iy) ** 2 + (xx - ix) ** 2
    r_in, width = 0.3 / 0.05, 0.1 / 0.05  # in pixels, with the float rounding of Gammapy/astropy (5.999...)
    ring = (d2 >= r_in**2) & (d2 <= (r_in + width) ** 2)
    np.testing.assert_allclose(onoff.counts_off.data[:, iy, ix], counts[:, ring].sum(axis=1), atol=1e-3)
    np.testing.assert_allclose(onoff.acceptance.data, dataset.background.data)
    assert not onoff.mask_safe.data[onoff.acceptance_off.data <= 0].any()
