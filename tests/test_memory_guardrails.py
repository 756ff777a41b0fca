"""Datasets above the memory limit are refused before allocation; the size estimate is exact."""

import numpy as np
import pytest
from astropy import units as u

from dl3lab.reduction import MapAxis, MapDataset, WcsGeom
from dl3lab.reduction.datasets.memory import map_dataset_nbytes, max_dataset_bytes, set_max_dataset_bytes
from dl3lab.reduction.errors import DatasetTooLargeError


def allocated(dataset):
    """Bytes actually held by each map of a dataset (an independent count)."""
    return {
        "counts": dataset.counts.data.nbytes,
        "background": dataset.background.data.nbytes,
        "mask_safe": dataset.mask_safe.data.nbytes,
        "exposure": dataset.exposure.data.nbytes,
        "psf": dataset.psf.psf_map.data.nbytes + dataset.psf.exposure_map.data.nbytes,
        "edisp": dataset.edisp.edisp_map.data.nbytes + dataset.edisp.exposure_map.data.nbytes,
    }


@pytest.mark.parametrize("migra", [False, True])
def test_estimate_equals_the_allocation(migra):
    energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=5)
    true = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", nbin=9, name="energy_true")
    migra_axis = MapAxis.from_bounds(0.2, 5, nbin=12, node_type="edges", name="migra") if migra else None
    geom = WcsGeom.create(skydir=(83.6, 22.0), width=(3.0, 2.0), binsz=0.05, axes=[energy])
    dataset = MapDataset.create(geom, energy_axis_true=true, migra_axis=migra_axis, binsz_irf=0.3 * u.deg)
    sizes = map_dataset_nbytes(geom, true, migra_axis, None, 0.3 * u.deg)
    expected = allocated(dataset)
    assert {k: sizes[k] for k in expected} == expected
    assert sizes["total"] == sum(expected.values())


def test_too_large_dataset_is_refused_before_allocating():
    energy = MapAxis.from_energy_bounds("0.1 TeV", "100 TeV", nbin=24)
    geom = WcsGeom.create(skydir=(0, 0), frame="galactic", width=(360, 180), binsz=0.02, axes=[energy])
    sizes = map_dataset_nbytes(geom)
    assert sizes["total"] > 20 * 1024**3  # the all-sky case that once took 20 GB
    with pytest.raises(DatasetTooLargeError, match="coarser bin size") as info:
        MapDataset.create(geom, name="allsky")
    assert "'allsky'" in str(info.value) and "GiB" in str(info.value)


def test_limit_is_configurable(monkeypatch):
    energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3)
    geom = WcsGeom.create(skydir=(0, 0), width=2, binsz=0.1, axes=[energy])
    need = map_dataset_nbytes(geom)["total"]
    try:
        set_max_dataset_bytes(need - 1)
        with pytest.raises(DatasetTooLargeError):
            MapDataset.create(geom)
        set_max_dataset_bytes(need)
        assert np.all(MapDataset.create(geom).counts.data == 0)
    finally:
        set_max_dataset_bytes(None)
    monkeypatch.setenv("DL3LAB_MAX_DATASET_BYTES", "1e3")
    assert max_dataset_bytes() == 1000
    with pytest.raises(DatasetTooLargeError):
        MapDataset.create(geom)
    with pytest.raises(ValueError):
        set_max_dataset_bytes(0)
