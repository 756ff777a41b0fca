"""Dataset files: exact round trips, safe writes, clear errors for damaged files."""

import numpy as np
import pytest
from astropy.io import fits

from dl3lab.reduction import (
    DataFormatError,
    Datasets,
    DataStore,
    FoVBackgroundMaker,
    MapAxis,
    MapDataset,
    MapDatasetMaker,
    SafeMaskMaker,
    WcsGeom,
)


@pytest.fixture(scope="module")
def datasets(hess_dir):
    store = DataStore.from_dir(hess_dir)
    axis = MapAxis.from_bounds(1, 10, nbin=6, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=3, binsz=0.05)
    e_true = MapAxis.from_bounds(0.5, 20, nbin=9, name="energy_true", unit="TeV", interp="log")
    makers = [MapDatasetMaker(), SafeMaskMaker(methods=["offset-max", "aeff-default"]), FoVBackgroundMaker()]
    result, stacked = [], MapDataset.create(geom, energy_axis_true=e_true, name="stacked")
    for obs_id in (23523, 23592):
        obs = store.obs(obs_id)
        dataset = MapDataset.create(geom, energy_axis_true=e_true, name=f"run-{obs_id}")
        for maker in makers:
            dataset = maker.run(dataset, obs)
        result.append(dataset)
        stacked.stack(dataset)
    return result, stacked


def assert_same_dataset(a, b):
    assert type(a) is type(b)
    assert a.name == b.name
    for key in ("counts", "exposure", "background", "mask_safe", "mask_fit"):
        ma, mb = getattr(a, key), getattr(b, key)
        if ma is None:
            assert mb is None
            continue
        np.testing.assert_array_equal(ma.data, mb.data)
        assert ma.data.dtype == mb.data.dtype
        assert ma.unit == mb.unit
        assert ma.geom == mb.geom
    for irf in ("psf", "edisp"):
        ia, ib = getattr(a, irf), getattr(b, irf)
        np.testing.assert_array_equal(ia._irf_map.data, ib._irf_map.data)
        np.testing.assert_array_equal(ia.exposure_map.data, ib.exposure_map.data)
        assert ia._irf_map.geom == ib._irf_map.geom
    assert a.exposure.meta["livetime"] == b.exposure.meta["livetime"]
    np.testing.assert_array_equal(a.gti.met_start, b.gti.met_start)
    np.testing.assert_array_equal(a.gti.met_stop, b.gti.met_stop)
    assert abs((a.gti.reference_time - b.gti.reference_time).to_value("s")) < 1e-6
    assert a.meta_table.colnames == b.meta_table.colnames
    for name in a.meta_table.colnames:
        np.testing.assert_array_equal(np.asarray(a.meta_table[name]), np.asarray(b.meta_table[name]))


def test_map_dataset_round_trip(datasets, tmp_path):
    runs, stacked = datasets
    for dataset in runs + [stacked]:
        path = tmp_path / f"{dataset.name}.fits"
        dataset.write(path)
        assert_same_dataset(dataset, MapDataset.read(path))


def test_datasets_index_round_trip_keeps_background_models(datasets, tmp_path):
    runs, _ = datasets
    Datasets(runs).write(tmp_path / "datasets.yaml")
    back = Datasets.read(tmp_path / "datasets.yaml")
    assert back.names == [d.name for d in runs]
    for original, copy in zip(runs, back):
        assert_same_dataset(original, copy)
        assert copy.background_model.norm == original.background_model.norm
        assert copy.info_dict()["excess"] == pytest.approx(original.info_dict()["excess"], rel=1e-12)


def test_write_refuses_to_overwrite(datasets, tmp_path):
    dataset = datasets[0][0]
    path = tmp_path / "run.fits"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        dataset.write(path)
    assert path.read_bytes() == b"precious"
    dataset.write(path, overwrite=True)
    assert MapDataset.read(path).name == dataset.name


def test_failed_write_leaves_no_file_and_keeps_existing(datasets, tmp_path, monkeypatch):
    dataset = datasets[0][0]

    def broken_writeto(self, fileobj, *args, **kwargs):
        with open(fileobj, "wb") as handle:
            handle.write(b"SIMPLE  =                    T" + b" " * 50)
        raise RuntimeError("disk full")

    monkeypatch.setattr(fits.HDUList, "writeto", broken_writeto)
    new = tmp_path / "new.fits"
    with pytest.raises(RuntimeError, match="disk full"):
        dataset.write(new)
    assert not new.exists()
    old = tmp_path / "old.fits"
    old.write_bytes(b"previous content")
    with pytest.raises(RuntimeError, match="disk full"):
        dataset.write(old, overwrite=True)
    assert old.read_bytes() == b"previous content"
    with pytest.raises(RuntimeError):
        Datasets(datasets[0]).write(tmp_path / "index.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.fits"]


def test_damaged_and_foreign_files(tmp_path, datasets):
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"not fits" * 100)
    with pytest.raises(DataFormatError, match="bad.fits"):
        MapDataset.read(bad)
    foreign = tmp_path / "foreign.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((3, 3)), name="IMAGE")]).writeto(foreign)
    with pytest.raises(DataFormatError, match="COUNTS"):
        MapDataset.read(foreign)
    index = tmp_path / "index.yaml"
    index.write_text("datasets:\n- name: x\n  filename: missing.fits\n")
    with pytest.raises(DataFormatError, match="missing.fits"):
        Datasets.read(index)


@pytest.fixture(scope="module")
def spectra(hess_dir):
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from regions import CircleSkyRegion

    from dl3lab.reduction import (
        ReflectedRegionsBackgroundMaker,
        RegionGeom,
        RingBackgroundMaker,
        SpectrumDataset,
        SpectrumDatasetMaker,
    )

    store = DataStore.from_dir(hess_dir)
    axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    e_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
    circle = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.2 * u.deg)
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=5, binsz=0.05)
    exclusion = geom.region_mask([circle], inside=False).reduce_over_axes(np.logical_or, keepdims=False)
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=circle, axes=[axis]), energy_axis_true=e_true)
    obs = store.obs(23592)
    spectrum = SpectrumDatasetMaker().run(empty.copy(name="spec-23592"), obs)
    on_off = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion).run(spectrum, obs)
    on_off = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10).run(on_off, obs)
    image = MapDatasetMaker().run(MapDataset.create(geom.to_image().to_cube([axis.squash()]), name="img"), obs)
    ring = RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg", exclusion_mask=exclusion).run(image)
    return spectrum, on_off, ring


def _assert_same_maps(a, b, keys):
    assert a.name == b.name and type(a) is type(b)
    for key in keys:
        ma, mb = getattr(a, key), getattr(b, key)
        np.testing.assert_array_equal(ma.data, mb.data, err_msg=key)
        assert ma.data.dtype == mb.data.dtype, key
    np.testing.assert_array_equal(a.edisp.edisp_map.data, b.edisp.edisp_map.data)
    assert a.exposure.meta["livetime"] == b.exposure.meta["livetime"]
    np.testing.assert_array_equal(a.gti.met_start, b.gti.met_start)


ON_OFF_KEYS = ("counts", "counts_off", "acceptance", "acceptance_off", "exposure", "mask_safe")


def test_spectrum_datasets_round_trip(spectra, tmp_path):
    from dl3lab.reduction import MapDatasetOnOff, SpectrumDataset, SpectrumDatasetOnOff

    spectrum, on_off, ring = spectra
    spectrum.write(tmp_path / "spectrum.fits")
    _assert_same_maps(spectrum, SpectrumDataset.read(tmp_path / "spectrum.fits"),
                      ("counts", "exposure", "background", "mask_safe"))
    for fmt in ("gadf", "ogip"):
        path = tmp_path / f"onoff-{fmt}.fits"
        on_off.write(path, format=fmt)
        back = SpectrumDatasetOnOff.read(path)
        _assert_same_maps(on_off, back, ON_OFF_KEYS)
        assert len(back.off_regions) == len(on_off.off_regions) == 21
        assert back.info_dict()["counts_off"] == on_off.info_dict()["counts_off"]
    assert sorted(p.name for p in tmp_path.glob("onoff-ogip*")) == [
        "onoff-ogip.fits", "onoff-ogip_arf.fits", "onoff-ogip_bkg.fits", "onoff-ogip_rmf.fits"]
    ring.write(tmp_path / "ring.fits")
    back = MapDatasetOnOff.read(tmp_path / "ring.fits")
    _assert_same_maps(ring, back, ON_OFF_KEYS)


def test_ogip_write_is_all_or_nothing(spectra, tmp_path):
    _, on_off, _ = spectra
    (tmp_path / "x_rmf.fits").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="x_rmf.fits"):
        on_off.write(tmp_path / "x.fits", format="ogip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_rmf.fits"]
    with pytest.raises(ValueError, match="ogip"):
        spectra[0].write(tmp_path / "y.fits", format="ogip")
