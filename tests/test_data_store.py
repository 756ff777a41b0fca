"""Reading the HESS DL3 DR1 data store: index tables, events, GTI, pointing, livetime."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from dl3lab.reduction.data import DataStore, Observations


@pytest.fixture(scope="module")
def store(hess_dir):
    return DataStore.from_dir(hess_dir)


@pytest.fixture(scope="module")
def raw_23592(hess_dir):
    with fits.open(hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz") as hdul:
        return {
            "events_header": dict(hdul["EVENTS"].header),
            "n_events": len(hdul["EVENTS"].data),
            "energy": np.array(hdul["EVENTS"].data["ENERGY"], dtype=float),
            "gti": (np.array(hdul["GTI"].data["START"]), np.array(hdul["GTI"].data["STOP"])),
        }


def test_store_lists_105_observations(store):
    assert len(store) == 105
    assert len(store.obs_table) == 105
    assert len(set(store.obs_ids)) == 105
    assert {23523, 23526, 23559, 23592} <= set(store.obs_ids)


def test_run_23592_events_match_file(store, raw_23592):
    obs = store.obs(23592)
    assert len(obs.events) == 7334 == raw_23592["n_events"]
    np.testing.assert_array_equal(obs.events.energy_tev, raw_23592["energy"])
    assert obs.events.energy.unit == u.TeV


def test_run_23592_times_and_pointing_equal_headers(store, raw_23592):
    obs = store.obs(23592)
    header = raw_23592["events_header"]
    start, stop = raw_23592["gti"]
    np.testing.assert_array_equal(obs.gti.met_start.to_value("s"), start)
    np.testing.assert_array_equal(obs.gti.met_stop.to_value("s"), stop)
    ontime = float(np.sum(stop - start))
    assert obs.observation_time_duration.to_value("s") == pytest.approx(header["ONTIME"], rel=1e-12)
    assert obs.livetime.to_value("s") == pytest.approx(ontime * header["DEADC"], rel=1e-12)
    # The header LIVETIME keyword is stored as float32.
    assert obs.livetime.to_value("s") == pytest.approx(header["LIVETIME"], rel=1e-7)
    pointing = obs.get_pointing_icrs(obs.tmid)
    assert pointing.ra.deg == pytest.approx(header["RA_PNT"], abs=1e-12)
    assert pointing.dec.deg == pytest.approx(header["DEC_PNT"], abs=1e-12)
    mjdref = header["MJDREFI"] + header["MJDREFF"]
    assert obs.tstart.tt.mjd == pytest.approx(mjdref + start[0] / 86400, abs=1e-9)
    assert obs.tstop.tt.mjd == pytest.approx(mjdref + stop[-1] / 86400, abs=1e-9)


def test_livetime_matches_gammapy_reference(store, reference):
    for obs_id, ref in reference["map_single"].items():
        obs = store.obs(int(obs_id))
        assert obs.livetime.to_value("s") == pytest.approx(ref["livetime_s"], rel=1e-12)


def test_multi_gti_uses_last_stop(copy_run):
    store_dir, run_file, obs_id = copy_run()
    with fits.open(run_file) as hdul:
        gti = hdul["GTI"]
        start, stop = float(gti.data["START"][0]), float(gti.data["STOP"][0])
        mid = 0.5 * (start + stop)
        cols = [
            fits.Column("START", "D", unit="s", array=[start, mid + 100]),
            fits.Column("STOP", "D", unit="s", array=[mid, stop]),
        ]
        new = fits.BinTableHDU.from_columns(cols, header=gti.header, name="GTI")
        hdul["GTI"] = new
        hdul.writeto(run_file, overwrite=True)
    obs = DataStore.from_dir(store_dir).obs(obs_id)
    assert len(obs.gti) == 2
    assert obs.observation_time_duration.to_value("s") == pytest.approx(stop - start - 100)
    assert (obs.tstop - obs.tstart).to_value("s") == pytest.approx(stop - start, abs=1e-4)


def test_get_observations_order_and_ids(store):
    obs = store.get_observations([23523, 23592, 23526, 23559])
    assert isinstance(obs, Observations)
    assert obs.ids == ["23523", "23592", "23526", "23559"]
    assert obs["23526"].obs_id == 23526


def test_each_hdu_read_once(store, monkeypatch):
    """The run file is opened once and every HDU is parsed once, however often it is accessed."""
    from dl3lab.reduction.data import fits_file

    opened = []

    class CountingReader(fits_file.TableReader):
        def __init__(self, source, filename=None):
            opened.append(filename)
            super().__init__(source, filename)

    monkeypatch.setattr(fits_file, "TableReader", CountingReader)
    obs = store.obs(23592)
    for _ in range(7):
        assert obs.aeff is obs.aeff
        assert obs.events is obs.events
        obs.gti, obs.edisp, obs.psf, obs.bkg, obs.get_pointing_icrs(obs.tmid)  # noqa: B018
    assert len(opened) == 1
    obs.release()
    assert "aeff" not in obs._cache


def test_observation_is_small_when_pickled(store):
    import pickle

    obs = store.obs(23592)
    obs.events  # noqa: B018
    blob = pickle.dumps(obs)
    assert len(blob) < 2000
    again = pickle.loads(blob)
    assert len(again.events) == 7334
