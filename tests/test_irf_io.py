"""IRF class selection, single-file reading, RAD_MAX and format errors (spec §1.1, §1.4)."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from dl3lab.reduction.axes import MapAxis
from dl3lab.reduction.errors import DataFormatError, MissingDataError
from dl3lab.reduction.irf import (
    IRF_CLASSES,
    PSF3D,
    Background3D,
    EffectiveAreaTable2D,
    EnergyDispersion2D,
    RadMax2D,
    load_irf,
    load_irf_dict_from_file,
)
from dl3lab.reduction.irf.io import hdu_type_and_class

RUN = "hess_dl3_dr1_obs_id_023592.fits.gz"


@pytest.fixture(scope="module")
def run_file(hess_dir):
    return hess_dir / "data" / RUN


@pytest.fixture(scope="module")
def hdus(run_file):
    with fits.open(run_file) as hdulist:
        return {name: hdulist[name].copy() for name in ("AEFF", "EDISP", "PSF", "BKG")}


def test_registry():
    assert set(IRF_CLASSES) == {
        "aeff_2d",
        "edisp_2d",
        "psf_table",
        "psf_3gauss",
        "psf_king",
        "bkg_3d",
        "bkg_2d",
        "rad_max_2d",
    }
    assert all(cls.tag == tag for tag, cls in IRF_CLASSES.items())


def test_load_irf_uses_index_class(hdus):
    location = {"obs_id": 23592, "filename": RUN, "hdu": "BKG"}
    bkg = load_irf(hdus["BKG"], " BKG_3D ", location=location)
    assert isinstance(bkg, Background3D)
    assert bkg.location.filename == RUN
    with pytest.raises(DataFormatError) as err:
        load_irf(hdus["AEFF"], "aeff_3d", location={"obs_id": 23592, "filename": RUN, "hdu": "AEFF"})
    message = str(err.value)
    assert "aeff_3d" in message and RUN in message and "'AEFF'" in message
    # The index class wins over the header: an aeff HDU read as edisp lacks the migra axis.
    with pytest.raises(DataFormatError, match="MIGRA_LO"):
        load_irf(hdus["AEFF"], "edisp_2d")


def test_hdu_type_and_class():
    assert hdu_type_and_class({"HDUCLAS2": "EFF_AREA", "HDUCLAS4": "AEFF_2D"}) == ("aeff", "aeff_2d")
    assert hdu_type_and_class({"HDUCLAS2": "RPSF", "HDUCLAS4": "PSF_TABLE"}) == ("psf", "psf_table")
    assert hdu_type_and_class({"HDUCLAS2": "BKG", "HDUCLAS4": "3D"}) == ("bkg", "bkg_3d")  # CTA 1DC
    assert hdu_type_and_class({"HDUCLAS2": "RPSF", "HDUCLAS4": "3GAUSS"}) == ("psf", "psf_3gauss")
    assert hdu_type_and_class({"HDUCLAS2": "FOO", "HDUCLAS4": "BAR"}) is None


def test_read_by_class(run_file):
    assert isinstance(EffectiveAreaTable2D.read(run_file), EffectiveAreaTable2D)
    assert PSF3D.read(run_file).location.hdu == "PSF"
    assert EnergyDispersion2D.read(run_file, hdu="edisp").location.hdu == "EDISP"
    with pytest.raises(MissingDataError):
        EffectiveAreaTable2D.read(run_file, hdu="NOPE")
    with pytest.raises(MissingDataError):
        EffectiveAreaTable2D.read(run_file.parent / "missing.fits")
    with pytest.raises(MissingDataError):
        RadMax2D.read(run_file)


def _pointlike_file(run_file, tmp_path, rad_max=0.11):
    aeff = EffectiveAreaTable2D.read(run_file)
    meta = dict(aeff.meta)
    if rad_max is not None:
        meta["RAD_MAX"] = rad_max
    aeff = aeff.copy(is_pointlike=True, meta=meta)
    edisp = EnergyDispersion2D.read(run_file).copy(is_pointlike=True)
    path = tmp_path / "pointlike.fits"
    fits.HDUList([fits.PrimaryHDU(), aeff.to_table_hdu(), edisp.to_table_hdu()]).writeto(path)
    return path


def test_load_irf_dict_pointlike_fixed_rad_max(run_file, tmp_path):
    irfs = load_irf_dict_from_file(_pointlike_file(run_file, tmp_path))
    assert set(irfs) == {"aeff", "edisp", "rad_max"}
    assert irfs["aeff"].is_pointlike and irfs["aeff"].rad_max == 0.11 * u.deg
    rad_max = irfs["rad_max"]
    assert isinstance(rad_max, RadMax2D) and rad_max.is_fixed_rad_max
    assert rad_max.axes.names == ["energy", "offset"] and rad_max.axes.shape == (1, 1)
    assert rad_max.fill_value is None and rad_max.method == "nearest"
    aeff_bounds = irfs["aeff"].axes["energy_true"].bounds
    assert rad_max.axes["energy"].bounds[1] == aeff_bounds[1]
    values = rad_max.evaluate(energy=[0.001, 1, 1e4] * u.TeV, offset=[0, 1, 10] * u.deg)
    np.testing.assert_array_equal(values.to_value("deg"), 0.11)


def test_rad_max_from_irf_errors(run_file, tmp_path):
    aeff = EffectiveAreaTable2D.read(run_file)
    with pytest.raises(DataFormatError, match="point-like"):
        RadMax2D.from_irf(aeff)
    with pytest.raises(DataFormatError, match="RAD_MAX"):
        RadMax2D.from_irf(aeff.copy(is_pointlike=True))
    with pytest.raises(DataFormatError, match="RAD_MAX"):
        load_irf_dict_from_file(_pointlike_file(run_file, tmp_path, rad_max=None))


def test_rad_max_table(tmp_path):
    energy = MapAxis.from_energy_bounds(0.01, 100, 4, unit="TeV")
    offset = MapAxis.from_bounds(0, 2, 2, name="offset", unit="deg")
    data = np.array([[0.3, 0.35], [0.2, 0.25], [0.1, 0.15], [0.08, 0.1]])
    table = RadMax2D([energy, offset], data, unit="deg")
    path = tmp_path / "rad_max.fits"
    table.write(path)
    back = RadMax2D.read(path)
    assert back.is_pointlike and back.fill_value == 0
    values = back.evaluate(energy=energy.center[:, None], offset=offset.center)
    np.testing.assert_array_equal(values.to_value("deg"), data)
    assert back.evaluate(energy=1000 * u.TeV, offset=1 * u.deg).value == 0


def test_load_irf_dict_real_file(run_file):
    irfs = load_irf_dict_from_file(run_file)
    assert sorted(irfs) == ["aeff", "bkg", "edisp", "psf"]


def _replace(hdu, name, **changes):
    cols = []
    for col in hdu.columns:
        if col.name == name and changes.get("drop"):
            continue
        array = np.array(hdu.data[col.name])
        unit, fmt, dim = col.unit, col.format, col.dim
        if col.name == name:
            unit = changes.get("unit", unit)
            if changes.get("nan"):
                array = array.astype(float)
                array[0, 1] = np.nan
                fmt = f"{array.shape[1]}D"
            if changes.get("truncate"):
                array = array.reshape(1, -1)[:, :-1]
                fmt, dim = f"{array.size}E", None
        cols.append(fits.Column(col.name, format=fmt, unit=unit, dim=dim, array=array))
    return fits.BinTableHDU.from_columns(cols, header=hdu.header, name=hdu.name)


@pytest.mark.parametrize(
    "column, changes, pattern",
    [
        ("EFFAREA", dict(drop=True), "missing data column EFFAREA"),
        ("THETA_HI", dict(drop=True), "THETA_LO/THETA_HI"),
        ("EFFAREA", dict(unit="s"), "EFFAREA has unit 's'"),
        ("EFFAREA", dict(unit=""), "EFFAREA has no unit"),
        ("ENERG_LO", dict(unit="deg"), "ENERG_LO has unit 'deg'"),
        ("THETA_LO", dict(nan=True), "THETA_LO contains non-finite"),
        ("EFFAREA", dict(truncate=True), "EFFAREA holds 575 values"),
    ],
)
def test_bad_aeff_tables(hdus, tmp_path, column, changes, pattern):
    path = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), _replace(hdus["AEFF"], column, **changes)]).writeto(path)
    with pytest.raises(DataFormatError, match=pattern) as err:
        EffectiveAreaTable2D.read(path, hdu="AEFF")
    assert str(path) in str(err.value) and "HDU 'AEFF'" in str(err.value)
    assert err.value.filename == str(path) and err.value.hdu == "AEFF"
    with fits.open(path) as hdulist, pytest.raises(DataFormatError, match=pattern) as err:
        load_irf(hdulist["AEFF"], "aeff_2d", location={"obs_id": 1, "filename": "x.fits", "hdu": "AEFF"})
    assert "x.fits" in str(err.value) and err.value.obs_id == 1


def test_bad_psf_and_bkg(hdus):
    with pytest.raises(DataFormatError, match="RPSF has unit 'm2'"):
        load_irf(_replace(hdus["PSF"], "RPSF", unit="m2"), "psf_table")
    with pytest.raises(DataFormatError, match="BKG has unit 'm2'"):
        load_irf(_replace(hdus["BKG"], "BKG", unit="m2"), "bkg_3d")
    with pytest.raises(DataFormatError, match="non-finite"):
        load_irf(_replace(hdus["BKG"], "DETX_LO", nan=True), "bkg_3d")
    with pytest.raises(DataFormatError, match="binary table"):
        load_irf(fits.PrimaryHDU(), "aeff_2d")


def test_unknown_fovalign(hdus):
    hdu = hdus["BKG"].copy()
    hdu.header["FOVALIGN"] = "GALACTIC"
    with pytest.raises(DataFormatError, match="FOVALIGN"):
        load_irf(hdu, "bkg_3d")


def test_fast_table_reader_gives_same_irfs(run_file):
    """The data layer's numpy FITS reader (duck-typed HDUs) yields the same IRFs as astropy."""
    import gzip

    from dl3lab.reduction.data.fits_tables import read_fits_tables

    tables = read_fits_tables(gzip.decompress(run_file.read_bytes()), filename=str(run_file))
    reference = load_irf_dict_from_file(run_file)
    for hdu_name, hdu_class, key in (
        ("AEFF", "aeff_2d", "aeff"),
        ("EDISP", "edisp_2d", "edisp"),
        ("PSF", "psf_table", "psf"),
        ("BKG", "bkg_3d", "bkg"),
    ):
        irf = load_irf(tables[hdu_name], hdu_class)
        ref = reference[key]
        assert irf.meta == ref.meta and irf.unit == ref.unit
        np.testing.assert_array_equal(irf.data, ref.data)
        for a, b in zip(irf.axes, ref.axes):
            np.testing.assert_array_equal(a.nodes.value, b.nodes.value)
        assert irf.location.filename == str(run_file) and irf.location.hdu == hdu_name
