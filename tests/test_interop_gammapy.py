"""Files written by dl3lab are read by Gammapy 2.1 (run in its own environment) with the same totals."""

import json

import pytest
from astropy import units as u
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

from .gammapy_env import run_script

READ_MAP_DATASET = """
import json, sys, logging
logging.disable(logging.WARNING)
from gammapy.datasets import MapDataset
import numpy as np
from astropy import units as u
d = MapDataset.read(sys.argv[1])
info = d.info_dict()
print(json.dumps({
    "name": d.name, "counts": float(info["counts"]), "background": float(info["background"]),
    "background_map_sum": float(d.background.data.sum(dtype=float)),
    "exposure_min": float(info["exposure_min"].to_value("m2 s")),
    "exposure_max": float(info["exposure_max"].to_value("m2 s")),
    "n_bins": int(info["n_bins"]), "n_fit_bins": int(info["n_fit_bins"]),
    "livetime": float(d.exposure.meta["livetime"].to_value("s")),
    "psf_r68": float(np.ravel(d.psf.containment_radius(0.68, 1 * u.TeV).to_value("deg"))[0]),
    "obs_ids": [int(i) for i in list(d.meta_table["OBS_ID"][0])],
}))
"""


@pytest.fixture(scope="module")
def stacked(hess_dir):
    store = DataStore.from_dir(hess_dir)
    axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=5, binsz=0.02)
    exclusion = geom.region_mask([CircleSkyRegion(geom.center_skydir, 0.2 * u.deg)], inside=False)
    maker = MapDatasetMaker()
    safe = SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max="3 deg")
    fov = FoVBackgroundMaker(method="scale", exclusion_mask=exclusion)
    result = MapDataset.create(geom, name="stacked")
    for obs in store.get_observations([23523, 23592, 23526, 23559]):
        local = result.cutout(obs.get_pointing_icrs(obs.tmid), width="6 deg")
        result.stack(fov.run(safe.run(maker.run(local, obs), obs)))
    return result


def test_gammapy_reads_stacked_map_dataset(stacked, tmp_path, reference):
    path = tmp_path / "stacked.fits"
    stacked.write(path)
    theirs = json.loads(run_script(READ_MAP_DATASET, path))
    ours = stacked.info_dict()
    assert theirs["name"] == "stacked"
    assert theirs["counts"] == ours["counts"] == reference["map_stacked"]["counts"]
    # the same float32 maps; Gammapy's summary adds them up in float32, ours in float64
    assert theirs["background_map_sum"] == float(stacked.background.data.sum(dtype=float))
    assert theirs["background"] == pytest.approx(ours["background"], rel=1e-6)
    assert theirs["exposure_min"] == pytest.approx(ours["exposure_min"].to_value("m2 s"), rel=1e-12)
    assert theirs["exposure_max"] == pytest.approx(ours["exposure_max"].to_value("m2 s"), rel=1e-12)
    assert theirs["n_bins"] == ours["n_bins"]
    assert theirs["n_fit_bins"] == ours["n_fit_bins"] == reference["map_stacked"]["n_fit_bins"]
    assert theirs["livetime"] == pytest.approx(stacked.exposure.meta["livetime"].to_value("s"), rel=1e-12)
    assert theirs["obs_ids"] == [23523, 23592, 23526, 23559]
    r68 = stacked.psf.containment_radius(0.68, 1 * u.TeV).to_value("deg")
    assert theirs["psf_r68"] == pytest.approx(r68, rel=1e-12)


READ_SPECTRA = """
import json, sys, logging
logging.disable(logging.WARNING)
import numpy as np
from gammapy.datasets import SpectrumDatasetOnOff
out = []
for path in sys.argv[2:]:
    d = SpectrumDatasetOnOff.read(path, format=sys.argv[1])
    out.append({
        "name": d.name, "counts": d.counts.data.ravel().tolist(), "counts_off": d.counts_off.data.ravel().tolist(),
        "alpha": d.alpha.data.ravel().tolist(), "mask": d.mask_safe.data.ravel().astype(bool).tolist(),
        "exposure": d.exposure.data.ravel().tolist(),
        "livetime": float(d.exposure.meta["livetime"].to_value("s")) if "livetime" in d.exposure.meta else None,
        "edisp_sum": float(d.edisp.edisp_map.data.sum()),
    })
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def reflected_spectra(hess_dir):
    import numpy as np
    from astropy.coordinates import SkyCoord

    from dl3lab.reduction import (
        ReflectedRegionsBackgroundMaker,
        RegionGeom,
        SpectrumDataset,
        SpectrumDatasetMaker,
    )

    store = DataStore.from_dir(hess_dir)
    axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    e_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[axis], width=5, binsz=0.05)
    circle = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.2 * u.deg)
    exclusion = geom.region_mask([circle], inside=False).reduce_over_axes(np.logical_or, keepdims=False)
    empty = SpectrumDataset.create(geom=RegionGeom.create(region=circle, axes=[axis]), energy_axis_true=e_true)
    maker = SpectrumDatasetMaker(containment_correction=False, selection=["counts", "exposure", "edisp"])
    reflected = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion)
    safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
    result = []
    for obs in store.get_observations([23523, 23592, 23526, 23559]):
        dataset = maker.run(empty.copy(name=f"obs-{obs.obs_id}"), obs)
        result.append(safe.run(reflected.run(dataset, obs), obs))
    return result


@pytest.mark.parametrize("fmt", ["ogip", "gadf"])
def test_gammapy_reads_reflected_spectra(reflected_spectra, tmp_path, reference, fmt):
    paths = []
    for dataset in reflected_spectra:
        path = tmp_path / f"{dataset.name}.fits"
        dataset.write(path, format=fmt)
        paths.append(path)
    theirs = json.loads(run_script(READ_SPECTRA, fmt, *paths))
    for ours, got in zip(reflected_spectra, theirs):
        ref = reference["spectrum_reflected"][ours.name.split("-")[1]]
        assert got["name"] == ours.name
        assert got["counts"] == ref["counts_per_energy"] == ours.counts.data.ravel().tolist()
        assert got["counts_off"] == ref["counts_off_per_energy"]
        assert got["alpha"] == pytest.approx([ref["alpha"]] * len(got["alpha"]), rel=1e-12)
        assert got["mask"] == ref["mask_safe"]
        assert got["exposure"] == pytest.approx(ours.exposure.data.ravel().tolist(), rel=1e-12)
        if fmt == "ogip":  # Gammapy keeps no livetime for gadf region maps, even for its own files
            assert got["livetime"] == pytest.approx(ours.exposure.meta["livetime"].to_value("s"), rel=1e-12)
        # Gammapy reads the OGIP response matrix as float32.
        rtol = 1e-6 if fmt == "ogip" else 1e-12
        assert got["edisp_sum"] == pytest.approx(float(ours.edisp.edisp_map.data.sum()), rel=rtol)
