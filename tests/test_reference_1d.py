"""1-D reflected-regions spectra and the ring-background image against Gammapy 2.1's figures.

``spectrum_reflected`` and ``ring_image`` come from the reference JSON. The other
Gammapy figures below (masks, region backgrounds, summaries) were produced with
Gammapy 2.1 / regions 0.10 on the same runs and settings and are quoted here.
"""

import warnings

import numpy as np
import pytest
from astropy import units as u
from regions import CircleSkyRegion

from dl3lab.reduction import (
    Datasets,
    DataStore,
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
from tests.test_reference_3d import stacked  # noqa: F401  (the stacked 0.02 deg dataset, built once here)

RUNS = [23523, 23592, 23526, 23559]
ENERGY = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
ENERGY_TRUE = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
ENERGY_WIDE = MapAxis.from_energy_bounds(0.1, 100, nbin=20, unit="TeV")


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


@pytest.fixture(scope="module")
def on_region():
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[ENERGY], width=5 * u.deg, binsz=0.05 * u.deg)
    circle = CircleSkyRegion(center=geom.center_skydir, radius=0.2 * u.deg)
    exclusion_2d = geom.region_mask([circle], inside=False).reduce_over_axes(np.logical_or, keepdims=False)
    return circle, exclusion_2d


@pytest.fixture(scope="module")
def spectra(store, on_region):
    """The tutorial's spectral loop: one ON/OFF dataset per run."""
    circle, exclusion_2d = on_region
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=circle, axes=[ENERGY]), energy_axis_true=ENERGY_TRUE)
    maker = SpectrumDatasetMaker(containment_correction=False, selection=["counts", "exposure", "edisp"])
    reflected = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_2d)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    datasets = Datasets()
    for obs in store.get_observations(RUNS):
        dataset = maker.run(empty.copy(name=f"obs-{obs.obs_id}"), obs)
        datasets.append(safe.run(reflected.run(dataset, obs), obs))
    return datasets


@pytest.mark.parametrize("obs_id", RUNS)
def test_spectrum_reflected(spectra, reference, obs_id):
    ref = reference["spectrum_reflected"][str(obs_id)]
    dataset = spectra[f"obs-{obs_id}"]
    assert isinstance(dataset, SpectrumDatasetOnOff)
    np.testing.assert_array_equal(dataset.counts.data.ravel(), ref["counts_per_energy"])
    np.testing.assert_array_equal(dataset.counts_off.data.ravel(), ref["counts_off_per_energy"])
    n_off = dataset.acceptance_off.data / dataset.acceptance.data
    assert np.all(n_off == ref["n_off_regions"]) and len(dataset.off_regions) == ref["n_off_regions"]
    assert np.mean(dataset.alpha.data) == ref["alpha"]
    np.testing.assert_array_equal(dataset.mask_safe.data.ravel(), ref["mask_safe"])
    exposure = dataset.exposure.data.ravel()
    np.testing.assert_allclose(exposure, ref["exposure_per_energy_true_m2s"], rtol=1e-10, atol=0)
    assert dataset.meta["no_off_regions"] is False


def test_off_regions_are_reflected(spectra, store, on_region):
    """OFF circles lie at the ON offset from the pointing, in order of increasing position angle."""
    circle, _ = on_region
    for obs in store.get_observations(RUNS):
        pointing = obs.get_pointing_icrs(obs.tmid)
        regions = spectra[f"obs-{obs.obs_id}"].off_regions
        offsets = [r.center.separation(pointing).deg for r in regions]
        np.testing.assert_allclose(offsets, circle.center.separation(pointing).deg, atol=1e-9)
        angles = np.array([pointing.position_angle(r.center).deg for r in regions])
        start = pointing.position_angle(circle.center).deg
        steps = np.diff(np.concatenate([[0.0], (angles - start) % 360]))
        assert np.all(steps > 0)
        # pixel radii are kept; the sky radius follows the TAN scale at the new position (Gammapy does the same)
        np.testing.assert_allclose([r.radius.to_value("deg") for r in regions], 0.2, rtol=1e-3)


def test_spectrum_summary_like_gammapy(spectra):
    text = str(spectra["obs-23523"])
    expected = [
        "SpectrumDatasetOnOff",
        "--------------------",
        "",
        "  Name                            : obs-23523 ",
        "",
        "  Total counts                    : 137 ",
        "  Total background counts         : 21.83",
        "  Total excess counts             : 115.17",
        "",
        "  Predicted counts                : 38.29",
        "  Predicted background counts     : 38.29",
        "  Predicted excess counts         : nan",
        "",
        "  Exposure min                    : 4.65e+06 m2 s",
        "  Exposure max                    : 1.02e+09 m2 s",
        "",
        "  Number of total bins            : 11 ",
        "  Number of fit bins              : 11 ",
        "",
        "  Fit statistic type              : wstat",
        "  Fit statistic value (-2 log(L)) : 208.66",
        "",
        "  Number of models                : 0 ",
        "  Number of parameters            : 0",
        "  Number of free parameters       : 0",
        "",
        "  Total counts_off                : 131 ",
        "  Acceptance                      : 11 ",
        "  Acceptance off                  : 66 ",
        "",
    ]
    assert text == "\n".join(expected)  # Gammapy 2.1's text, trailing blanks included
    info = spectra["obs-23523"].info_dict()
    assert info["stat_sum"] == pytest.approx(208.6614642996841, rel=1e-12)
    assert info["sqrt_ts"] == pytest.approx(14.218801277100907, rel=1e-12)
    assert (info["counts_off"], info["acceptance"], info["acceptance_off"]) == (131, 11.0, 66.0)


def test_stacked_spectra_like_gammapy(spectra):
    total = spectra.stack_reduce(name="stacked")
    info = total.info_dict()
    assert (info["counts"], info["counts_off"], info["n_fit_bins"]) == (483, 741, 11)
    assert info["background"] == pytest.approx(62.909088134765625, rel=1e-6)
    assert info["excess"] == pytest.approx(420.0909118652344, rel=1e-6)
    assert info["npred_background"] == pytest.approx(95.66059336089403, rel=1e-6)
    assert info["stat_sum"] == pytest.approx(954.9704308324827, rel=1e-6)
    assert info["sqrt_ts"] == pytest.approx(30.65779164617012, rel=1e-6)
    assert info["alpha"] == pytest.approx(0.08489755541086197, rel=1e-6)
    assert info["acceptance_off"] == pytest.approx(518.2716674804688, rel=1e-6)
    assert info["exposure_min"].to_value("m2 s") == pytest.approx(31372868.0, rel=1e-6)
    assert info["livetime"].to_value("s") == pytest.approx(6313.81165942, rel=1e-9)
    gammapy_acceptance_off = [52.276752, 48.7543, 44.12482, 52.49683, 47.15431, 40.511513, 39.13636, 40.850525,
                              51.27141, 46.151924, 49.499996]
    np.testing.assert_allclose(total.acceptance_off.data.ravel(), gammapy_acceptance_off, rtol=1e-6)
    assert "  Acceptance off                  : 512 \n" in str(total)
    assert len(total.off_regions) == 6 + 21 + 6 + 22


# Gammapy 2.1 on run 23592, ON circle 0.2 deg at (83.63, 22.01), 0.1-100 TeV in 20 bins, SpectrumDatasetMaker():
GAMMAPY_MASKS_23592 = {
    ("aeff-default", "DL4"): "00000001111111111110",
    ("aeff-default", "DL3"): "00000001111111111110",
    ("aeff-max", "DL4"): "00000111111111111111",
    ("aeff-max", "DL3"): "00000011111111111111",
    ("edisp-bias", "DL4"): "00000001111111111111",
    ("edisp-bias", "DL3"): "00000001111111111111",
    ("bkg-peak", "DL4"): "00000011111111111111",
    ("bkg-peak", "DL3"): "00000011111111111111",
    ("offset-max", "DL4"): "00000000000000000000",
}
GAMMAPY_ONOFF_MASKS_23523 = {
    "aeff-default": "00000001111111111110",
    "aeff-max": "00000111111111111111",
    "edisp-bias": "00000001111111111111",
    "offset-max": "11111111111111111111",
    "bkg-peak": "00000111111111111111",
}
METHOD_KWARGS = {
    "aeff-max": {"aeff_percent": 10},
    "edisp-bias": {"bias_percent": 10},
    "offset-max": {"offset_max": 0.55},
}


def _bits(mask):
    return "".join(str(int(v)) for v in mask.data.ravel())


@pytest.fixture(scope="module")
def wide_spectra(store, on_region):
    circle, _ = on_region
    empty = SpectrumDataset.create(RegionGeom.create(circle, axes=[ENERGY_WIDE]), energy_axis_true=ENERGY_TRUE)
    result = {}
    for obs_id in (23523, 23592):
        obs = store.obs(obs_id)
        result[obs_id] = (SpectrumDatasetMaker().run(empty, obs), obs)
    return result


@pytest.mark.parametrize(("method", "irfs"), list(GAMMAPY_MASKS_23592))
def test_safe_mask_on_spectrum(wide_spectra, method, irfs):
    dataset, obs = wide_spectra[23592]
    maker = SafeMaskMaker(methods=[method], irfs=irfs, **METHOD_KWARGS.get(method, {}))
    assert _bits(maker.run(dataset.copy(), obs).mask_safe) == GAMMAPY_MASKS_23592[(method, irfs)]


@pytest.mark.parametrize("method", list(GAMMAPY_ONOFF_MASKS_23523))
def test_safe_mask_on_onoff_spectrum(wide_spectra, method):
    dataset, obs = wide_spectra[23523]
    onoff = ReflectedRegionsBackgroundMaker().run(dataset, obs)
    maker = SafeMaskMaker(methods=[method], **METHOD_KWARGS.get(method, {}))
    assert _bits(maker.run(onoff, obs).mask_safe) == GAMMAPY_ONOFF_MASKS_23523[method]


def test_region_background_and_exposure_variants(store, on_region):
    """Background at the region centre, oversampled, region-averaged; containment-corrected exposure (Gammapy 2.1)."""
    circle, _ = on_region
    obs = store.obs(23592)
    empty = SpectrumDataset.create(RegionGeom.create(circle, axes=[ENERGY]), energy_axis_true=ENERGY_TRUE)
    centre = SpectrumDatasetMaker(selection=["background"]).run(empty, obs).background.data.ravel()
    np.testing.assert_allclose(
        centre, [4.366475938313174, 3.085435751626627, 2.198882670617674, 1.6254464259288677, 1.2610993446558163,
                 1.0133936487946629, 0.826912982457226, 0.6655000240917351, 0.5316131248215348, 0.4236258985571561,
                 0.33811980949573484], rtol=1e-12)
    over = SpectrumDatasetMaker(background_oversampling=3, selection=["background"]).run(empty, obs)
    np.testing.assert_allclose(over.background.data.ravel()[:4], [4.366475938313175, 3.079617970319159,
                                                                  2.1988826706176714, 1.624461247091251], rtol=1e-12)
    weighted = SpectrumDatasetMaker(use_region_center=False, selection=["exposure", "background"]).run(empty, obs)
    np.testing.assert_allclose(weighted.background.data.ravel()[:4], [4.371980361051405, 3.090091842737195,
                                                                      2.205474233047716, 1.63343883580962], rtol=1e-12)
    np.testing.assert_allclose(weighted.exposure.data.ravel()[:4], [0.0, 2769881.6759945555, 8290827.845524002,
                                                                    18784107.015352365], rtol=1e-12)
    contained = SpectrumDatasetMaker(containment_correction=True, selection=["exposure"]).run(empty, obs)
    np.testing.assert_allclose(contained.exposure.data.ravel()[:4], [0.0, 2139084.6631940403, 6587520.024782649,
                                                                     14656222.66144408], rtol=1e-12)


def test_ring_image(stacked, reference):  # noqa: F811
    """Ring background on the stacked 0.02 deg image, with the 0.02 deg exclusion mask (reference ``settings``)."""
    ref = reference["ring_image"]
    geom = stacked.counts.geom
    exclusion = geom.region_mask([CircleSkyRegion(geom.center_skydir, 0.2 * u.deg)], inside=False)
    image = stacked.to_image()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        onoff = RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg", exclusion_mask=exclusion).run(image)
    assert isinstance(onoff, MapDatasetOnOff) and onoff.stat_type == "wstat"
    assert float(onoff.counts_off.data.sum()) == pytest.approx(ref["counts_off"], rel=1e-4)
    assert float(onoff.acceptance_off.data.sum()) == pytest.approx(ref["acceptance_off_sum"], rel=1e-4)
    assert onoff.alpha.data[0, 125, 125] == pytest.approx(ref["alpha_center"], rel=1e-4)
    excess = (onoff.counts.data - onoff.alpha.data * onoff.counts_off.data)[0, 124:127, 124:127].sum()
    assert excess == pytest.approx(ref["excess_center_3x3"], rel=1e-4)
    # the same figures agree much better than the required 1e-4 (to the float32 rounding of the maps)
    assert float(onoff.counts_off.data.sum()) == ref["counts_off"]
    assert excess == pytest.approx(ref["excess_center_3x3"], rel=1e-7)
    # Gammapy 2.1 prints these totals for the same dataset
    info = onoff.info_dict()
    assert (info["counts"], info["n_fit_bins"]) == (7972, 62474)
    assert info["background"] == pytest.approx(7540.13, abs=0.006)
    assert info["stat_sum"] == pytest.approx(33703.53, abs=0.006)
    assert str(onoff).endswith(
        "  Total counts_off                : 20869112 \n  Acceptance                      : 7560 \n"
        "  Acceptance off                  : 20937836 \n"
    )


# Gammapy 2.1 (regions 0.10) finder results: (number of regions, first, last) with centres in the ON region's
# frame and radii in deg. Mask: 3x3 deg ICRS geometry at 0.1 deg, a 0.6 deg circle at (84.0, 22.5) excluded.
GAMMAPY_FINDERS = {
    "galactic ON circle, reflected": (
        dict(frame="galactic", radius=0.15), (83.63, 22.61), ReflectedRegionsFinder(),
        5, [184.23495156884874, -6.039046617496288, 0.1499949046485657],
        [183.4507947010132, -5.4093133654967875, 0.1500022735293115],
    ),
    "circle at 1.6 deg, reflected": (
        dict(radius=0.2), (85.253, 22.014), ReflectedRegionsFinder(),
        19, [84.46119707131766, 23.329418362728177, 0.19994742778375985],
        [83.81172738431721, 21.328331489194664, 0.19998543031616542],
    ),
    "large circle, reflected with options": (
        dict(radius=0.35), (85.253, 22.014),
        ReflectedRegionsFinder(min_distance="0.2 rad", min_distance_input="0.3 rad", angle_increment="5 deg",
                               max_region_number=4),
        4, [84.5744847558763, 23.38231657800917, 0.34990036699661575],
        [86.87590254674555, 22.001600893936324, 0.3499999857430282],
    ),
    "point, wobble": (
        dict(radius=None), (83.633, 22.514), WobbleRegionsFinder(n_off_regions=5),
        2, [83.15986056213099, 22.263718928105707], [83.1611485719164, 22.767720295619963],
    ),
}


@pytest.mark.parametrize("case", list(GAMMAPY_FINDERS))
def test_finders_like_gammapy(case):
    from astropy.coordinates import SkyCoord
    from regions import PointSkyRegion

    spec, pointing, finder, n_regions, first, last = GAMMAPY_FINDERS[case]
    crab = SkyCoord(83.63, 22.01, unit="deg")
    if spec["radius"] is None:
        region = PointSkyRegion(crab)
    else:
        centre = crab.galactic if spec.get("frame") == "galactic" else crab
        region = CircleSkyRegion(centre, spec["radius"] * u.deg)
    mask_geom = WcsGeom.create(skydir=(83.63, 22.01), width=3, binsz=0.1, frame="icrs")
    mask = mask_geom.region_mask([CircleSkyRegion(SkyCoord(84.0, 22.5, unit="deg"), 0.6 * u.deg)], inside=False)
    regions, _ = finder.run(region, SkyCoord(*pointing, unit="deg"), exclusion_mask=mask)
    assert len(regions) == n_regions
    for found, expected in ((regions[0], first), (regions[-1], last)):
        lon, lat = found.center.spherical.lon.deg, found.center.spherical.lat.deg
        np.testing.assert_allclose([lon, lat], expected[:2], rtol=0, atol=1e-9)
        if len(expected) > 2:
            assert found.radius.to_value("deg") == pytest.approx(expected[2], rel=1e-9)
