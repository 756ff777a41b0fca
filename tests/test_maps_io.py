"""Map FITS I/O in the gadf layout (reduction spec §12.1, §12.2).

Files written by this writer were read with Gammapy 2.1's ``Map.read`` (done once,
outside the test suite); here the round trip and the header layout are checked.
"""

import json

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from dl3lab.reduction.axes import MapAxis
from dl3lab.reduction.geom import RegionGeom, WcsGeom
from dl3lab.reduction.maps import Map, RegionNDMap, WcsNDMap


@pytest.fixture(scope="module")
def axes():
    energy = MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=3)
    rad = MapAxis.from_edges([0, 0.1, 0.2], name="rad", unit="deg")
    return rad, energy


@pytest.fixture()
def cube(axes):
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=0.2, binsz=0.1, axes=list(axes))
    data = np.arange(np.prod(geom.data_shape), dtype=np.float32).reshape(geom.data_shape)
    meta = {"livetime": 1581.736764695497 * u.s, "is_pointlike": False, "name": "x"}
    return Map.from_geom(geom, data=data, unit="m2 s", meta=meta)


def test_round_trip_primary(tmp_path, cube):
    path = tmp_path / "map.fits"
    cube.write(path)
    back = Map.read(path)
    assert isinstance(back, WcsNDMap)
    assert back.geom == cube.geom
    for a, b in zip(back.geom.axes, cube.geom.axes):
        assert a.is_allclose(b, rtol=1e-15)
    assert back.data.dtype == np.float32
    np.testing.assert_array_equal(back.data, cube.data)
    assert back.unit == cube.unit
    assert back.meta == cube.meta
    assert back.meta["livetime"].value == 1581.736764695497
    with pytest.raises(FileExistsError, match="map.fits"):
        cube.write(path)
    cube.write(path, overwrite=True)


def test_header_layout(tmp_path, cube):
    path = tmp_path / "counts.fits"
    cube.write(path, hdu="counts")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "COUNTS", "COUNTS_BANDS"]
        assert hdul["PRIMARY"].header["NAXIS"] == 0
        header = hdul["COUNTS"].header
        assert hdul["COUNTS"].data.shape == (3, 2, 2, 2)
        assert header["WCSAXES"] == 2 and header["CTYPE1"] == "RA---CAR" and header["RADESYS"] == "ICRS"
        assert header["AXCOLS1"] == "RAD_MIN,RAD_MAX" and header["INTERP1"] == "lin"
        assert header["AXCOLS2"] == "E_MIN,E_MAX" and header["INTERP2"] == "log"
        assert header["WCSSHAPE"] == "(2,2,2,3)"
        assert header["BANDSHDU"] == "COUNTS_BANDS"
        assert header["BUNIT"] == "m2 s"
        meta = {"livetime": "1581.736764695497 s", "is_pointlike": False, "name": "x"}
        assert json.loads(header["META"]) == meta
        bands = hdul["COUNTS_BANDS"]
        assert bands.columns.names == ["CHANNEL", "RAD", "RAD_MIN", "RAD_MAX", "ENERGY", "E_MIN", "E_MAX"]
        assert bands.columns["E_MIN"].unit == "TeV" and bands.columns["RAD"].unit == "deg"
        assert bands.header["AXCOLS2"] == "E_MIN,E_MAX"
        # first axis (rad) varies fastest
        assert bands.data["CHANNEL"].tolist() == list(range(6))
        assert bands.data["RAD_MIN"].tolist() == [0, 0.1] * 3
        e_min = np.repeat([1.0, 2.15443469, 4.64158883], 2)
        np.testing.assert_allclose(bands.data["E_MIN"], e_min, rtol=1e-8)
    back = Map.read(path, hdu="COUNTS")
    np.testing.assert_array_equal(back.data, cube.data)


def test_bool_and_centre_axis(tmp_path):
    axis = MapAxis.from_nodes([1, 2, 3.5], name="x", unit="")
    geom = WcsGeom.create(width=0.2, binsz=0.1, frame="galactic", axes=[axis])
    data = np.zeros(geom.data_shape, dtype=bool)
    data[0] = True
    data[2, 1, 0] = True
    mask = Map.from_geom(geom, data=data)
    path = tmp_path / "mask.fits"
    mask.write(path, hdu="MASK_FIT")
    with fits.open(path) as hdul:
        assert hdul["MASK_FIT"].data.dtype.kind == "i" and hdul["MASK_FIT"].data.dtype.itemsize == 8
        assert hdul["MASK_FIT"].header["AXCOLS1"] == "X"
        assert hdul["MASK_FIT_BANDS"].data["X_MIN"].tolist() == [0.5, 1.5, 2.75]
    back = Map.read(path)
    assert back.is_mask
    np.testing.assert_array_equal(back.data, data)
    assert back.geom.axes["x"].node_type == "center"
    assert back.geom.axes["x"].center.value.tolist() == [1, 2, 3.5]
    assert back.geom.frame == "galactic"


def test_read_gammapy_style_mask(tmp_path):
    """A MASK_SAFE HDU written as int64 0/1 by another tool (no BOOLMAP keyword) is read as bool."""
    geom = WcsGeom.create(width=0.3, binsz=0.1, axes=[MapAxis.from_energy_bounds(1, 10, 2, unit="TeV")])
    from dl3lab.reduction.geom._bands import axes_to_bands_hdu

    header = geom.to_header()
    header["BANDSHDU"] = "MASK_SAFE_BANDS"
    header["META"] = '{"livetime": "10.0 s"}'
    data = np.ones(geom.data_shape, dtype=np.int64)
    image = fits.ImageHDU(data, header, name="MASK_SAFE")
    hdus = fits.HDUList([fits.PrimaryHDU(), image, axes_to_bands_hdu(geom.axes, "MASK_SAFE_BANDS")])
    path = tmp_path / "gp.fits"
    hdus.writeto(path)
    back = Map.read(path, hdu="MASK_SAFE")
    assert back.is_mask and back.data.all()
    assert back.meta["livetime"] == 10 * u.s


def test_region_map_round_trip(tmp_path, axes):
    energy = axes[1]
    energy_true = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", nbin=4, name="energy_true")
    geom = RegionGeom.create("icrs;circle(83.63,22.01,0.11)", axes=[energy, energy_true])
    m = Map.from_geom(geom, data=np.arange(12.0).reshape(4, 3, 1, 1), unit="cm-2", meta={"a": 1})
    path = tmp_path / "region.fits"
    m.write(path, hdu="EDISP")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "EDISP", "EDISP_BANDS", "EDISP_REGION"]
        table = hdul["EDISP"]
        assert table.columns.names == ["CHANNEL", "DATA"]
        assert table.header["TDIM2"] == "(1,1,3)"
        assert table.columns["CHANNEL"].format == "I" and len(table.data) == 4
        region = hdul["EDISP_REGION"]
        assert region.data["SHAPE"][0].strip() == "circle"
        assert region.data["X"][0] == pytest.approx(1.5)
        assert region.data["R"][0] == pytest.approx(1.1, rel=1e-6)
        assert region.header["CTYPE1"] == "RA---TAN"
    back = Map.read(path)
    assert isinstance(back, RegionNDMap)
    np.testing.assert_array_equal(back.data, m.data)
    assert back.unit == m.unit and back.meta == {"a": 1}
    assert back.geom.axes.names == ["energy", "energy_true"]
    assert back.geom.region.radius.to_value("deg") == pytest.approx(0.11, rel=1e-12)
    assert back.geom.region.center.separation(geom.region.center).deg < 1e-10
