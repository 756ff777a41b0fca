"""The reflected-regions and ring chains of the reactive pipeline: same results as the makers run by hand
(and as Gammapy 2.1's figures where the settings match), exact re-runs, failures and YAML round trips."""

import warnings

import numpy as np
import pytest
import traitlets
import yaml
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion

from dl3lab.reduction import (
    DataFormatError,
    DataStore,
    FoVBackgroundMaker,
    MapDatasetMaker,
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
)
from dl3lab.reduction.pipeline import (
    GeometrySpec,
    OnRegionSpec,
    ReductionPipeline,
    RingReductionPipeline,
    SpectrumReductionPipeline,
    load_pipeline,
    make_pipeline,
    onoff_images,
    onoff_spectrum,
)

from .conftest import store_with_truncated_run

RUNS = [23523, 23592, 23526, 23559]
CRAB = {"lon": 83.63, "lat": 22.01}
ONOFF_MAPS = ("counts", "counts_off", "acceptance", "acceptance_off", "exposure", "mask_safe")


def reference_geometry():
    """The reference's 1-D settings: energy 1-10 TeV in 11 bins, true energy 0.3-10 TeV in 31, mask 5 deg at 0.05."""
    return GeometrySpec(width=5.0, binsz=0.05, energy_min=1, energy_max=10, energy_nbin=11,
                        energy_true_min=0.3, energy_true_max=10, energy_true_nbin=31)


def small_geometry():
    return GeometrySpec(width=3.0, binsz=0.05, energy_nbin=6, energy_true_nbin=8, energy_true_min=0.5)


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


def spectrum_pipeline(store, radius=0.2, **kwargs):
    return SpectrumReductionPipeline(store, RUNS, geometry=reference_geometry(),
                                     exclusion_regions=[{**CRAB, "radius": radius}], **kwargs)


def ring_pipeline(store, obs_ids=RUNS, **kwargs):
    return RingReductionPipeline(store, obs_ids, geometry=small_geometry(),
                                 exclusion_regions=[{**CRAB, "radius": 0.3}], **kwargs)


def counts_after(pipeline, change):
    before = dict(pipeline.run_counts)
    change()
    pipeline.run()
    return {k: pipeline.run_counts[k] - before[k] for k in before}


def n_safe(pipeline):
    """Safe bins summed over the per-observation datasets."""
    return sum(int(d.mask_safe.data.sum()) for d in pipeline.datasets)


def assert_same_maps(a, b, keys=ONOFF_MAPS):
    assert type(a) is type(b)
    for key in keys:
        np.testing.assert_array_equal(getattr(a, key).data, getattr(b, key).data, err_msg=key)


def manual_spectra(store, obs_ids, exclusion_radius=0.2):
    """SpectrumDatasetMaker + ReflectedRegionsBackgroundMaker + SafeMaskMaker by hand, as Gammapy's tutorial."""
    axes = reference_geometry()
    geom = RegionGeom.create(CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.2 * u.deg),
                             axes=[axes.energy_axis()])
    empty = SpectrumDataset.create(geom, energy_axis_true=axes.energy_axis_true())
    mask_geom = WcsGeom.create(skydir=(83.63, 22.01), width=5 * u.deg, binsz=0.05 * u.deg)
    circle = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), exclusion_radius * u.deg)
    maker = SpectrumDatasetMaker(containment_correction=False, selection=["counts", "exposure", "edisp"])
    reflected = ReflectedRegionsBackgroundMaker(exclusion_mask=mask_geom.region_mask([circle], inside=False))
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    datasets = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for obs_id in obs_ids:
            obs = store.obs(obs_id)
            datasets.append(safe.run(reflected.run(maker.run(empty.copy(name=str(obs_id)), obs), obs), obs))
    stacked = SpectrumDatasetOnOff.create(geom, energy_axis_true=axes.energy_axis_true(), name="stacked")
    for dataset in datasets:
        stacked.stack(dataset)
    return datasets, stacked


# ------------------------------------------------------------------ 1-D reflected regions
def test_reflected_chain_equals_makers_by_hand_and_gammapy(store, reference):
    pipeline = spectrum_pipeline(store)
    stacked = pipeline.run()
    datasets, manual = manual_spectra(store, RUNS)
    assert isinstance(stacked, SpectrumDatasetOnOff) and stacked.name == "stacked"
    assert_same_maps(stacked, manual)
    assert len(stacked.off_regions) == len(manual.off_regions)
    for mine, theirs in zip(pipeline.datasets, datasets):
        assert_same_maps(mine, theirs)
    for obs_id, dataset in zip(RUNS, pipeline.datasets):
        ref = reference["spectrum_reflected"][str(obs_id)]
        np.testing.assert_array_equal(dataset.counts.data.ravel(), ref["counts_per_energy"])
        np.testing.assert_array_equal(dataset.counts_off.data.ravel(), ref["counts_off_per_energy"])
        assert len(pipeline.off_regions()[obs_id]) == ref["n_off_regions"]
        np.testing.assert_array_equal(dataset.mask_safe.data.ravel(), ref["mask_safe"])
        np.testing.assert_allclose(dataset.exposure.data.ravel(), ref["exposure_per_energy_true_m2s"], rtol=1e-10)
    # Gammapy 2.1 stacks the same four spectra to these figures (Datasets.stack_reduce)
    info = stacked.info_dict()
    assert (info["counts"], info["counts_off"]) == (483, 741)
    assert info["stat_sum"] == pytest.approx(954.9704308324827, rel=1e-6)
    assert info["alpha"] == pytest.approx(0.08489755541086197, rel=1e-6)
    assert pipeline.errors == {} and pipeline.warnings == {}


def test_onoff_spectrum_figures_agree_with_the_dataset_summary(store):
    stacked = spectrum_pipeline(store).run()
    spectrum = onoff_spectrum(stacked)
    info = stacked.info_dict()
    np.testing.assert_array_equal(spectrum["counts"], stacked.counts.data.ravel())
    assert spectrum["counts_off"].sum() == info["counts_off"]
    assert spectrum["background"].sum() == pytest.approx(info["background"], rel=1e-6)
    np.testing.assert_allclose(spectrum["alpha"], stacked.alpha.data.ravel(), rtol=1e-6)
    np.testing.assert_allclose(spectrum["excess"], spectrum["counts"] - spectrum["background"])
    # the WStat significance of the summed counts is the summary's sqrt(TS)
    from dl3lab.reduction.pipeline.summaries import wstat_significance

    n_on, n_off = spectrum["counts"].sum(), spectrum["counts_off"].sum()
    total = wstat_significance(n_on, n_off, spectrum["background"].sum() / n_off)
    assert float(total) == pytest.approx(info["sqrt_ts"], rel=1e-6)
    assert np.all(spectrum["significance"] > 0)


def test_reflected_chain_reruns_exactly_the_invalidated_stages(store):
    pipeline = spectrum_pipeline(store)
    all_stages = {"spectrum": 4, "off_regions": 4, "safe_mask": 4, "stack": 1}
    nothing = dict.fromkeys(all_stages, 0)
    from_off = {"spectrum": 0, "off_regions": 4, "safe_mask": 4, "stack": 1}
    assert counts_after(pipeline, lambda: None) == all_stages
    assert counts_after(pipeline, lambda: None) == nothing
    safe_bins = n_safe(pipeline)

    def set_aeff():
        pipeline.safe_mask_maker.aeff_percent = 50

    assert counts_after(pipeline, set_aeff) == {"spectrum": 0, "off_regions": 0, "safe_mask": 4, "stack": 1}
    assert n_safe(pipeline) < safe_bins

    def set_finder():
        pipeline.background_maker.region_finder.max_region_number = 2

    assert counts_after(pipeline, set_finder) == from_off
    assert len(pipeline.stacked.off_regions) == 8

    old_finder = pipeline.background_maker.region_finder

    def replace_finder():
        pipeline.background_maker.region_finder = ReflectedRegionsFinder(max_region_number=3)

    assert counts_after(pipeline, replace_finder) == from_off
    assert len(pipeline.stacked.off_regions) == 12
    old_finder.max_region_number = 5  # no longer part of the chain
    assert pipeline.stale_stages(23523) == ["stack"] and pipeline.stacked is not None

    def set_angle():
        pipeline.background_maker.region_finder.angle_increment = "5 deg"

    assert counts_after(pipeline, set_angle) == from_off

    def set_regions():
        pipeline.exclusion_regions = [{**CRAB, "radius": 0.4}]

    assert counts_after(pipeline, set_regions) == from_off

    def set_sky():
        pipeline.geometry.binsz = 0.02

    assert counts_after(pipeline, set_sky) == from_off

    def set_irf_binsz():
        pipeline.geometry.binsz_irf = 0.1  # not used by the 1-D chain

    assert counts_after(pipeline, set_irf_binsz) == nothing

    def set_energy():
        pipeline.geometry.energy_nbin = 8

    assert counts_after(pipeline, set_energy) == all_stages
    assert pipeline.stacked.counts.data.size == 8

    def set_radius():
        pipeline.on_region.radius = 0.15

    assert counts_after(pipeline, set_radius) == all_stages

    def set_containment():
        pipeline.dataset_maker.containment_correction = True

    assert counts_after(pipeline, set_containment) == all_stages

    def replace_safe():
        pipeline.safe_mask_maker = SafeMaskMaker(methods=["aeff-default"])

    assert counts_after(pipeline, replace_safe) == {"spectrum": 0, "off_regions": 0, "safe_mask": 4, "stack": 1}


@pytest.mark.parametrize("chain", ["reflected", "ring"])
def test_loosen_then_tighten_aeff_gives_the_fresh_masks(store, chain):
    def build(percent):
        safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=percent)
        if chain == "reflected":
            return spectrum_pipeline(store, safe_mask_maker=safe)
        safe.methods = ["aeff-max", "offset-max"]
        return ring_pipeline(store, RUNS[:2], safe_mask_maker=safe, to_image=False)

    pipeline = build(60)
    pipeline.run()
    tight_masks = [d.mask_safe.data.copy() for d in pipeline.datasets]
    pipeline.safe_mask_maker.aeff_percent = 5
    pipeline.run()
    assert n_safe(pipeline) > sum(int(m.sum()) for m in tight_masks)
    pipeline.safe_mask_maker.aeff_percent = 60
    again = pipeline.run()
    assert pipeline.run_counts[pipeline.stages[0]] == len(pipeline.obs_ids)  # the first stage ran once only
    fresh_pipeline = build(60)
    fresh = fresh_pipeline.run()
    for mask, dataset, fresh_dataset in zip(tight_masks, pipeline.datasets, fresh_pipeline.datasets):
        np.testing.assert_array_equal(dataset.mask_safe.data, mask)
        np.testing.assert_array_equal(dataset.mask_safe.data, fresh_dataset.mask_safe.data)
    assert_same_maps(again, fresh)


def test_observations_without_off_regions_are_reported_and_the_others_stack(store):
    # a 1.2 deg exclusion circle covers every reflected position of the 0.5 deg wobble runs
    pipeline = spectrum_pipeline(store, radius=1.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stacked = pipeline.run()
    assert sorted(pipeline.warnings) == [23523, 23526]
    assert "no OFF region" in pipeline.warnings[23523]
    report = pipeline.error_report()
    assert "obs 23523: warning" in report and "obs 23526: warning" in report and "23592" not in report
    assert pipeline.errors == {}
    off = pipeline.off_regions()
    assert off[23523] == [] and len(off[23592]) > 0 and len(off[23559]) > 0
    for dataset in pipeline.datasets:
        assert dataset.mask_safe.data.any() == (dataset.name in ("23592", "23559"))
    _, manual = manual_spectra(store, [23592, 23559], exclusion_radius=1.2)
    assert_same_maps(stacked, manual)
    assert list(stacked.meta_table["OBS_ID"][0]) == [23592, 23559]
    # a smaller circle gives the runs their OFF regions back, and the warnings go
    pipeline.exclusion_regions = [{**CRAB, "radius": 0.2}]
    pipeline.run()
    assert pipeline.warnings == {}


@pytest.mark.parametrize("chain", ["reflected", "ring"])
def test_failing_observation_is_reported_and_the_others_stack(hess_dir, tmp_path, chain):
    broken = store_with_truncated_run(hess_dir, tmp_path, (23523, 23592), 23592)
    store = DataStore.from_dir(tmp_path)
    if chain == "reflected":
        pipeline = SpectrumReductionPipeline(store, [23523, 23592], geometry=reference_geometry())
    else:
        pipeline = ring_pipeline(store, [23523, 23592])
    stacked = pipeline.run()
    assert list(pipeline.errors) == [23592]
    assert str(broken) in str(pipeline.errors[23592])
    assert "obs 23592" in pipeline.error_report()
    assert list(np.atleast_1d(stacked.meta_table["OBS_ID"][0])) == [23523]
    assert stacked.counts.data.sum() > 0
    assert len(pipeline.datasets) == 1


# ------------------------------------------------------------------------------- ring
def manual_ring(store, obs_ids, to_image=True):
    """The 3-D loop of Gammapy's ring-background tutorial, by hand."""
    geometry = small_geometry()
    reference = geometry.make_dataset()
    circle = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.3 * u.deg)
    exclusion = reference.counts.geom.to_image().region_mask([circle], inside=False)
    maker, safe = MapDatasetMaker(), SafeMaskMaker(methods=["aeff-default", "offset-max"])
    fov = FoVBackgroundMaker()
    ring = RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg", exclusion_mask=exclusion)
    geom = reference.counts.geom.squash("energy") if to_image else reference.counts.geom
    stacked = MapDatasetOnOff.create(geom, energy_axis_true=geometry.energy_axis_true(), binsz_irf=0.2 * u.deg)
    for obs_id in obs_ids:
        obs = store.obs(obs_id)
        local = reference.cutout(obs.get_pointing_icrs(obs.tmid), width="6 deg")
        dataset = fov.run(safe.run(maker.run(local, obs), obs), exclusion_mask=exclusion)
        stacked.stack(ring.run(dataset.to_image() if to_image else dataset))
    return stacked


@pytest.mark.parametrize("to_image", [True, False])
def test_ring_chain_equals_the_makers_by_hand(store, to_image):
    pipeline = ring_pipeline(store, RUNS[:2], to_image=to_image)
    stacked = pipeline.run()
    assert isinstance(stacked, MapDatasetOnOff) and stacked.stat_type == "wstat"
    assert stacked.counts.data.shape[0] == (1 if to_image else 6)
    assert_same_maps(stacked, manual_ring(store, RUNS[:2], to_image=to_image))


def test_onoff_images_of_the_ring_result(store):
    stacked = ring_pipeline(store, RUNS[:2], to_image=False).run()
    mask = stacked.mask_safe.data
    plain = onoff_images(stacked, correlation_radius=0 * u.deg)
    np.testing.assert_allclose(plain["counts"].data, (stacked.counts.data * mask).sum(axis=0))
    background = (stacked.alpha.data * stacked.counts_off.data * mask).sum(axis=0)
    np.testing.assert_allclose(plain["background"].data, background, rtol=1e-6)
    np.testing.assert_allclose(plain["excess"].data, plain["counts"].data - background, rtol=1e-6, atol=1e-6)
    correlated = onoff_images(stacked, correlation_radius=0.1 * u.deg)
    # the Crab stands out in the correlated significance, at the centre of the 3 deg geometry
    significance = correlated["significance"].data
    assert np.unravel_index(np.argmax(significance), significance.shape) in {(29, 29), (29, 30), (30, 29), (30, 30)}
    assert significance.max() > 10
    clear = np.abs(correlated["excess"].data) > 1e-6
    assert np.all(np.sign(significance[clear]) == np.sign(correlated["excess"].data[clear]))
    assert set(np.unique(correlated["safe_mask"].data)) <= {0.0, 1.0}


def test_ring_chain_on_the_stacked_image_matches_gammapy(store, reference):
    """``ring_mode="stacked"`` with the reference settings is Gammapy's ring on the stacked 0.02 deg image."""
    ref = reference["ring_image"]
    geometry = GeometrySpec(width=5.0, binsz=0.02, energy_min=1, energy_max=10, energy_nbin=11,
                            energy_true_min=1, energy_true_max=10, energy_true_nbin=11)
    pipeline = RingReductionPipeline(store, RUNS, geometry=geometry, ring_mode="stacked",
                                     exclusion_regions=[{**CRAB, "radius": 0.2}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        onoff = pipeline.run()
    assert float(onoff.counts_off.data.sum()) == pytest.approx(ref["counts_off"], rel=1e-6)
    assert float(onoff.acceptance_off.data.sum()) == pytest.approx(ref["acceptance_off_sum"], rel=1e-6)
    assert onoff.alpha.data[0, 125, 125] == pytest.approx(ref["alpha_center"], rel=1e-6)
    excess = (onoff.counts.data - onoff.alpha.data * onoff.counts_off.data)[0, 124:127, 124:127].sum()
    assert excess == pytest.approx(ref["excess_center_3x3"], rel=1e-6)
    assert pipeline.run_counts == {"maps": 4, "safe_mask": 4, "background": 4, "ring": 1, "stack": 1}
    # a ring change re-runs the ring on the cached stack only
    pipeline.ring_maker.r_in = "0.6 deg"
    changed = pipeline.run()
    assert pipeline.run_counts == {"maps": 4, "safe_mask": 4, "background": 4, "ring": 2, "stack": 2}
    assert float(changed.counts_off.data.sum()) != float(onoff.counts_off.data.sum())


def test_ring_chain_reruns_exactly_the_invalidated_stages(store):
    pipeline = ring_pipeline(store, RUNS[:2])
    assert counts_after(pipeline, lambda: None) == {"maps": 2, "safe_mask": 2, "background": 2, "ring": 2, "stack": 1}
    ring_only = {"maps": 0, "safe_mask": 0, "background": 0, "ring": 2, "stack": 1}

    def set_width():
        pipeline.ring_maker.width = "0.4 deg"

    assert counts_after(pipeline, set_width) == ring_only

    def set_to_image():
        pipeline.to_image = False

    assert counts_after(pipeline, set_to_image) == ring_only

    def set_regions():
        pipeline.exclusion_regions = [{**CRAB, "radius": 0.4}]

    assert counts_after(pipeline, set_regions) == {"maps": 0, "safe_mask": 0, "background": 2, "ring": 2, "stack": 1}

    def set_mode():
        pipeline.ring_mode = "stacked"

    assert counts_after(pipeline, set_mode) == {"maps": 0, "safe_mask": 0, "background": 0, "ring": 1, "stack": 1}

    def set_aeff():
        pipeline.safe_mask_maker.aeff_percent = 20

    assert counts_after(pipeline, set_aeff) == {"maps": 0, "safe_mask": 2, "background": 2, "ring": 1, "stack": 1}

    def replace_ring():
        pipeline.ring_maker = RingBackgroundMaker(r_in="0.4 deg", width="0.2 deg")

    assert counts_after(pipeline, replace_ring) == {"maps": 0, "safe_mask": 0, "background": 0, "ring": 1, "stack": 1}


# ------------------------------------------------------------------------------- state
def configured(chain, store):
    if chain == "3d":
        pipeline = ReductionPipeline(store, RUNS[:2], geometry=small_geometry(),
                                     exclusion_regions=[{**CRAB, "radius": 0.3}])
        pipeline.safe_mask_maker.fixed_offset = "0.7 deg"
        pipeline.safe_mask_maker.methods = ["aeff-max", "offset-max"]
        return pipeline
    if chain == "ring":
        pipeline = ring_pipeline(store, RUNS[:2], ring_mode="stacked", to_image=False)
        pipeline.ring_maker.r_in = "0.35 deg"
        pipeline.background_maker = None
        return pipeline
    pipeline = spectrum_pipeline(store)
    pipeline.on_region.update({"lon": 83.65, "radius": 0.11})
    pipeline.background_maker.region_finder.angle_increment = "5 deg"  # kept in rad: 5 deg is no short decimal
    pipeline.background_maker.region_finder.min_distance_input = "0.2 rad"
    pipeline.dataset_maker.containment_correction = True
    return pipeline


@pytest.mark.parametrize("chain", ["3d", "ring", "reflected"])
def test_state_yaml_round_trip_gives_the_identical_stack(store, tmp_path, chain):
    pipeline = configured(chain, store)
    stacked = pipeline.run()
    path = tmp_path / "state.yaml"
    pipeline.save(path)
    assert yaml.safe_load(path.read_text())["chain"] == chain
    copy = load_pipeline(path)
    assert type(copy) is type(pipeline) and copy.chain == chain
    assert copy.to_dict() == pipeline.to_dict()
    assert type(pipeline).load(path).to_dict() == pipeline.to_dict()
    again = copy.run()
    keys = ("counts", "background", "exposure", "mask_safe") if chain == "3d" else ONOFF_MAPS
    assert_same_maps(stacked, again, keys)
    if chain == "reflected":
        finder = copy.background_maker.region_finder
        assert finder.angle_increment == pipeline.background_maker.region_finder.angle_increment
        assert [r.center.ra.deg for r in again.off_regions] == [r.center.ra.deg for r in stacked.off_regions]


def test_state_errors_are_clear(store, tmp_path):
    data = configured("reflected", store).to_dict()
    path = tmp_path / "state.yaml"
    for change, expected in (
        ({"schema_version": 3}, "schema version 3"),
        ({"chain": "wobble-ring"}, "unknown chain 'wobble-ring'"),
        ({"chain": None}, "unknown chain None"),
    ):
        path.write_text(yaml.safe_dump({**data, **change}))
        with pytest.raises(DataFormatError, match=expected) as info:
            load_pipeline(path)
        assert str(path) in str(info.value)
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DataFormatError, match="load it with SpectrumReductionPipeline.load"):
        ReductionPipeline.load(path)
    bad_finder = {**data["makers"]["background_maker"]["region_finder"], "class": "CircleFinder"}
    data["makers"]["background_maker"]["region_finder"] = bad_finder
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(DataFormatError, match="unknown region finder 'CircleFinder'"):
        load_pipeline(path)


def test_version_1_states_still_load_as_the_3d_chain(store, tmp_path):
    pipeline = configured("3d", store)
    data = pipeline.to_dict()
    data.pop("chain")
    data["schema_version"] = 1
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(data))
    old = ReductionPipeline.load(path)
    assert type(old) is ReductionPipeline
    assert old.to_dict() == pipeline.to_dict()
    with pytest.raises(DataFormatError, match="'3d' chain"):
        RingReductionPipeline.load(path)


def test_revision_follows_every_invalidation(store):
    pipeline = spectrum_pipeline(store)
    seen = []
    pipeline.observe(lambda change: seen.append(pipeline.stale_stages(23523)), names="revision")
    pipeline._stale[23523] = 3  # as after a run
    pipeline.background_maker.region_finder.binsz = "0.02 deg"  # nested in the reflected maker
    pipeline.geometry.binsz_irf = 0.1  # not used by this chain: no invalidation
    pipeline.safe_mask_maker.aeff_percent = 20
    pipeline.obs_ids = [23523]
    assert seen[0] == ["off_regions", "safe_mask", "stack"]  # already stale when observers hear of it
    assert len(seen) == 3 and pipeline.revision == 3
    with pytest.raises(traitlets.TraitError):
        pipeline.revision = 0


def test_make_pipeline_by_chain_name(store):
    assert type(make_pipeline("ring", store, RUNS[:1])) is RingReductionPipeline
    spectrum = make_pipeline("reflected", store, RUNS[:1], on_region=OnRegionSpec(radius=0.1))
    assert spectrum.on_region.region().radius == 0.1 * u.deg
    assert list(spectrum.components) == ["on_region", "geometry", "dataset_maker", "background_maker",
                                         "safe_mask_maker"]
    with pytest.raises(ValueError, match="unknown pipeline chain 'ring2'"):
        make_pipeline("ring2", store)
