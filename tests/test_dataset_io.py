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
