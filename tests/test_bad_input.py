"""Bad DL3 input gives a dl3lab error that names the observation, the file and the HDU."""

import gzip

import numpy as np
import pytest
from astropy.io import fits

from dl3lab.reduction.data import DataStore
from dl3lab.reduction.errors import (
    DataFormatError,
    DL3LabError,
    MissingDataError,
    UnknownObservationError,
)

from .conftest import STANDARD_HDUS, write_hdu_index


def _rewrite(run_file, edit):
    with fits.open(run_file) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    edit(hdul)
    hdul.writeto(run_file, overwrite=True)


def _assert_names(exc, run_file, hdu=None):
    message = str(exc)
    assert isinstance(exc, DL3LabError)
    assert str(run_file) in message
    assert "23592" in message
    if hdu is not None:
        assert hdu in message


def test_truncated_file(copy_run):
    store_dir, run_file, _ = copy_run()
    raw = gzip.decompress(run_file.read_bytes())
    run_file.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError) as info:
        obs.bkg  # noqa: B018
    _assert_names(info.value, run_file, "BKG")


def test_corrupt_gzip_stream(copy_run):
    store_dir, run_file, _ = copy_run()
    data = bytearray(run_file.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)
    run_file.write_bytes(bytes(data))
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError) as info:
        obs.events, obs.aeff, obs.edisp, obs.psf, obs.bkg  # noqa: B018
    _assert_names(info.value, run_file)


def test_bad_gzip_checksum_reported_when_the_end_is_read(copy_run):
    store_dir, run_file, _ = copy_run()
    data = bytearray(run_file.read_bytes())
    data[-8] ^= 0xFF  # CRC-32 of the gzip trailer
    run_file.write_bytes(bytes(data))
    obs = DataStore.from_dir(store_dir).obs(23592)
    # the start of the file is read as far as needed (as astropy does): pointing and GTI come first
    assert abs(obs.get_pointing_icrs().dec.deg - 22.0) < 0.1
    assert obs.gti.time_sum.to_value("s") > 0
    with pytest.raises(DataFormatError) as info:
        obs.bkg  # noqa: B018 -- the last HDU: read with the checksum
    _assert_names(info.value, run_file, "BKG")
    with pytest.raises(DataFormatError):
        obs.bkg  # noqa: B018 -- asked again, read again, fails again


def test_not_a_fits_file(copy_run):
    store_dir, run_file, _ = copy_run()
    run_file.write_bytes(b"this is not FITS at all" * 100)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError) as info:
        obs.events  # noqa: B018
    _assert_names(info.value, run_file, "EVENTS")


def test_missing_hdu(copy_run):
    hdus = [(t, c, "NO_SUCH_PSF" if t == "psf" else h) for t, c, h in STANDARD_HDUS]
    store_dir, run_file, _ = copy_run(hdus=hdus)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(MissingDataError) as info:
        obs.psf  # noqa: B018
    _assert_names(info.value, run_file, "NO_SUCH_PSF")


def test_missing_file_and_skip_missing(copy_run, hess_dir):
    store_dir, run_file, _ = copy_run()
    rows = [(23592, t, c, "data", run_file.name, h) for t, c, h in STANDARD_HDUS]
    rows += [(99999, t, c, "data", "gone.fits.gz", h) for t, c, h in STANDARD_HDUS]
    write_hdu_index(store_dir / "hdu-index.fits.gz", rows)
    store = DataStore.from_dir(store_dir)
    with pytest.raises(MissingDataError) as info:
        store.get_observations([99999, 23592])
    assert "gone.fits.gz" in str(info.value) and "99999" in str(info.value)
    with pytest.warns(UserWarning) as record:
        observations = store.get_observations([99999, 23592, 12345], skip_missing=True)
    messages = [str(w.message) for w in record]
    assert any("99999" in m and "gone.fits.gz" in m for m in messages)
    assert any("12345" in m and "not found" in m for m in messages)
    assert observations.ids == ["23592"]


def test_missing_column(copy_run):
    store_dir, run_file, _ = copy_run()

    def drop_energy(hdul):
        events = hdul["EVENTS"]
        cols = [c for c in events.columns if c.name != "ENERGY"]
        hdul["EVENTS"] = fits.BinTableHDU.from_columns(cols, header=events.header, name="EVENTS")

    _rewrite(run_file, drop_energy)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError, match="ENERGY") as info:
        obs.events  # noqa: B018
    _assert_names(info.value, run_file, "EVENTS")


def test_wrong_unit(copy_run):
    store_dir, run_file, _ = copy_run()

    def energy_in_deg(hdul):
        hdul["EVENTS"].columns["ENERGY"].unit = "deg"

    _rewrite(run_file, energy_in_deg)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError, match="unit") as info:
        obs.events  # noqa: B018
    _assert_names(info.value, run_file, "EVENTS")


def test_nan_in_events(copy_run):
    store_dir, run_file, _ = copy_run()

    def add_nan(hdul):
        hdul["EVENTS"].data["RA"][3] = np.nan

    _rewrite(run_file, add_nan)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError, match="non-finite") as info:
        obs.events  # noqa: B018
    _assert_names(info.value, run_file, "EVENTS")


def test_unknown_hdu_class(copy_run):
    hdus = [(t, "aeff_9d" if t == "aeff" else c, h) for t, c, h in STANDARD_HDUS]
    store_dir, run_file, _ = copy_run(hdus=hdus)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError, match="aeff_9d") as info:
        obs.aeff  # noqa: B018
    _assert_names(info.value, run_file, "AEFF")


def test_wrong_irf_unit(copy_run):
    store_dir, run_file, _ = copy_run()

    def area_in_seconds(hdul):
        hdul["AEFF"].columns["EFFAREA"].unit = "s"

    _rewrite(run_file, area_in_seconds)
    obs = DataStore.from_dir(store_dir).obs(23592)
    with pytest.raises(DataFormatError) as info:
        obs.aeff  # noqa: B018
    _assert_names(info.value, run_file, "AEFF")


def test_unknown_obs_id(hess_dir):
    store = DataStore.from_dir(hess_dir)
    with pytest.raises(UnknownObservationError, match="12345"):
        store.obs(12345)


def test_missing_index(tmp_path):
    with pytest.raises(MissingDataError, match="hdu-index"):
        DataStore.from_dir(tmp_path)
