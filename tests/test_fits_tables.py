"""The fast FITS table reader agrees with astropy on the real data and on synthetic tables."""

import gzip

import numpy as np
import pytest
from astropy.io import fits

from dl3lab.reduction.data.fits_file import GzipSource
from dl3lab.reduction.data.fits_tables import FitsFormatError, TableReader, read_fits_tables


def test_real_run_matches_astropy(hess_dir):
    path = hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz"
    tables = read_fits_tables(gzip.decompress(path.read_bytes()))
    assert set(tables) == {"EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"}
    with fits.open(path) as hdul:
        for name, ours in tables.items():
            ref = hdul[name]
            assert ours.columns.names == ref.columns.names
            for col in ref.columns:
                np.testing.assert_array_equal(ours.data[col.name], ref.data[col.name])
                assert ours.columns[col.name].unit == col.unit
            for key in ("OBS_ID", "HDUCLAS2", "LO_THRES", "MJDREFF", "DEADC", "FOVALIGN"):
                if key in ref.header:
                    assert ours.header[key] == ref.header[key]


def test_synthetic_columns(tmp_path):
    cols = [
        fits.Column("FLAG", "L", array=[True, False, True]),
        fits.Column("NAME", "5A", array=["ab", "cde", "x"]),
        fits.Column("ID", "K", array=np.array([1, 2**40, 3], dtype=np.uint64), bzero=2**63),
        fits.Column("CUBE", "12E", dim="(3,2,2)", unit="s-1", array=np.arange(36, dtype="f4").reshape(3, 2, 2, 3)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="TEST")
    hdu.header["LONGSTR"] = "x" * 100
    path = tmp_path / "t.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((2, 3))), hdu]).writeto(path)
    ours = read_fits_tables(path.read_bytes())["TEST"]
    with fits.open(path) as hdul:
        ref = hdul["TEST"]
        np.testing.assert_array_equal(ours.data["FLAG"], ref.data["FLAG"])
        assert [v.decode().rstrip() for v in ours.data["NAME"]] == list(ref.data["NAME"])
        np.testing.assert_array_equal(ours.data["ID"], ref.data["ID"])
        assert ours.data["CUBE"].shape == ref.data["CUBE"].shape == (3, 2, 2, 3)
        np.testing.assert_array_equal(ours.data["CUBE"], ref.data["CUBE"])
        assert ours.header["LONGSTR"] == "x" * 100
        assert ours.data["cube"].shape == (3, 2, 2, 3)


def test_truncated_and_foreign_bytes(hess_dir):
    raw = gzip.decompress((hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz").read_bytes())
    with pytest.raises(FitsFormatError, match="truncated"):
        read_fits_tables(raw[: len(raw) // 3])
    with pytest.raises(FitsFormatError, match="not a FITS"):
        read_fits_tables(b"PK\x03\x04 zip file" * 200)


def _run_bytes(hess_dir):
    return (hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz").read_bytes()


def test_gzip_source_inflates_on_demand(hess_dir):
    raw = _run_bytes(hess_dir)
    full = gzip.decompress(raw)
    source = GzipSource(raw)
    assert 10000 <= len(source.read_to(10000)) < len(full)  # only the first chunk
    reader = TableReader(source, filename="run")
    gti = reader.get("GTI")
    assert not reader.complete and len(source.read_to(0)) < len(full) // 2
    np.testing.assert_array_equal(gti.data["START"], read_fits_tables(full)["GTI"].data["START"])
    assert set(reader.read_all()) == {"EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"} and reader.complete
    assert bytes(source.read_to(len(full) + 1)) == full
    # concatenated members, and zero padding after the last, as gzip.decompress reads them
    two = GzipSource(raw + gzip.compress(b"more") + bytes(512))
    two.finish()
    assert bytes(two.read_to(0)) == full + b"more"


def test_an_interrupted_read_starts_afresh(hess_dir, monkeypatch):
    from dl3lab.reduction.data import fits_file
    from dl3lab.reduction.data.hdu_index import HDULocation

    path = hess_dir / "data" / "hess_dl3_dr1_obs_id_023592.fits.gz"
    reference = read_fits_tables(gzip.decompress(path.read_bytes()))
    real = fits_file._decompressobj
    calls = []

    class Interrupted:  # Ctrl-C arriving just after the second inflate step
        def __init__(self, **kwargs):
            self._inflate = real(**kwargs)

        def decompress(self, data):
            out = self._inflate.decompress(data)
            calls.append(len(out))
            if len(calls) == 2:
                raise KeyboardInterrupt
            return out

        def __getattr__(self, name):
            return getattr(self._inflate, name)

    monkeypatch.setattr(fits_file, "_decompressobj", Interrupted)
    files = fits_file.FitsFileCache()
    location = HDULocation(23592, "events", "events", path, "EVENTS")
    with pytest.raises(KeyboardInterrupt):
        files.get_hdu(location)
    events = files.get_hdu(location)  # read again from the start, not from the torn stream
    np.testing.assert_array_equal(events.data["EVENT_ID"], reference["EVENTS"].data["EVENT_ID"])
    gti = files.get_hdu(HDULocation(23592, "gti", "gti", path, "GTI"))
    np.testing.assert_array_equal(gti.data["START"], reference["GTI"].data["START"])
    # read directly, the torn stream says so instead of handing out wrong bytes
    calls.clear()
    reader = TableReader(GzipSource(path.read_bytes()))
    with pytest.raises(KeyboardInterrupt):
        reader.get("GTI")
    with pytest.raises(OSError, match="interrupted"):
        reader.get("GTI")


def test_gzip_source_checks_the_end(hess_dir):
    raw = _run_bytes(hess_dir)
    bad_crc = bytearray(raw)
    bad_crc[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    reader = TableReader(GzipSource(bytes(bad_crc)))
    assert reader.get("GTI") is not None  # like astropy: the start is read before the end is checked
    with pytest.raises(Exception, match="(?i)check"):
        reader.get("BKG")  # the last table ends with the stream: only handed out checked
    with pytest.raises(Exception, match="(?i)check"):
        reader.get("BKG")  # and stays broken
    with pytest.raises(EOFError, match="end-of-stream"):
        GzipSource(raw[:-100]).finish()
    with pytest.raises(OSError, match="not a gzipped file"):
        GzipSource(raw + b"junk").finish()
