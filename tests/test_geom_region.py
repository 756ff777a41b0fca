"""RegionGeom (reduction spec §2.6).

Literal reference values marked "Gammapy 2.1" were computed with gammapy 2.1
(regions 0.10) in a separate environment.
"""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion, CompoundSkyRegion, PointSkyRegion

from dl3lab.reduction.axes import MapAxis
from dl3lab.reduction.geom import RegionGeom, WcsGeom


@pytest.fixture(scope="module")
def energy_axis():
    return MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=11)


@pytest.fixture(scope="module")
def on_geom(energy_axis):
    return RegionGeom.create("icrs;circle(83.63,22.01,0.11)", axes=[energy_axis])


def test_circle_helper_wcs_and_centre(on_geom):
    # Gammapy 2.1: 4 x 4 TAN helper pixels of 0.1 deg, centre with float noise in latitude
    assert on_geom.wcs.array_shape == (4, 4)
    assert on_geom.wcs.wcs.crpix.tolist() == [2.5, 2.5]
    assert on_geom.wcs.wcs.ctype[0] == "RA---TAN"
    assert on_geom.center_skydir.ra.deg == 83.63
    assert on_geom.center_skydir.dec.deg == 22.010000000000005
    assert on_geom.data_shape == (11, 1, 1)
    assert on_geom.frame == "icrs"
    assert on_geom.is_region and not on_geom.is_all_point_sky_regions
    np.testing.assert_allclose(on_geom.width.to_value("deg"), [0.4, 0.4], rtol=1e-6)


def test_circle_solid_angle(on_geom):
    # Gammapy 2.1
    assert on_geom.solid_angle().value == pytest.approx(1.1579504563585668e-05, rel=1e-14)
    # independent: a spherical cap of radius r has 2 pi (1 - cos r)
    cap = 2 * np.pi * (1 - np.cos(np.deg2rad(0.11)))
    assert on_geom.solid_angle().to_value("sr") == pytest.approx(cap, rel=1e-5)
    big = RegionGeom.create(CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.5 * u.deg))
    assert big.wcs.array_shape == (12, 12)
    assert big.solid_angle().value == pytest.approx(0.0002392459620576317, rel=1e-14)
    galactic = RegionGeom.create("galactic;circle(184.5575,-5.7844,0.3)")
    assert galactic.frame == "galactic"
    assert galactic.wcs.array_shape == (8, 8)
    assert galactic.solid_angle().value == pytest.approx(8.612854634074742e-05, rel=1e-14)
    volume = on_geom.bin_volume()
    assert volume.shape == (11, 1, 1) and volume.unit == u.Unit("sr TeV")


def test_contains(on_geom):
    cos_dec = np.cos(np.deg2rad(22.01))
    points = SkyCoord(
        [83.63, 83.63, 83.74, 83.63 + 0.11 / cos_dec - 1e-4, 83.63],
        [22.01, 22.119, 22.01, 22.01, 22.1201],
        unit="deg",
    )
    # Gammapy 2.1
    assert on_geom.contains(points).tolist() == [True, True, True, True, False]
    ra = 83.63 + np.linspace(-0.15, 0.15, 61) / cos_dec
    inside = on_geom.contains(SkyCoord(ra, np.full(61, 22.01), unit="deg"))
    assert np.flatnonzero(inside).tolist() == list(range(9, 52))
    # a galactic position of the same point
    assert on_geom.contains(SkyCoord(83.63, 22.01, unit="deg").galactic)


def test_box_and_point():
    box = RegionGeom.create("icrs;box(83.63,22.01,0.3,0.2,30)")
    # Gammapy 2.1
    assert box.wcs.array_shape == (4, 4)
    assert box.solid_angle().value == pytest.approx(1.82770452e-05, rel=1e-8)
    assert box.center_skydir.dec.deg == 22.010000000000005
    point = RegionGeom.create(PointSkyRegion(SkyCoord(83.63, 22.01, unit="deg")))
    assert point.wcs.array_shape == (1, 1) and point.wcs.wcs.crpix.tolist() == [1.0, 1.0]
    assert point.is_all_point_sky_regions
    assert point.contains(SkyCoord([0, 100], [0, 50], unit="deg")).all()


def test_compound_region():
    geom = RegionGeom.create("icrs;circle(83.63,22.01,0.2);circle(84.5,22.5,0.3)")
    assert isinstance(geom.region, CompoundSkyRegion)
    # Gammapy 2.1: geometric-median centre, 15 x 11 helper pixels, area rasterised at 0.01 deg
    assert geom.wcs.array_shape == (11, 15)
    np.testing.assert_allclose(geom.wcs.wcs.crval, [84.06456914, 22.25576484], atol=1e-7)
    assert geom.center_skydir.ra.deg == pytest.approx(84.11861313159687, abs=1e-8)
    assert geom.center_skydir.dec.deg == pytest.approx(22.305755874943788, abs=1e-8)
    assert geom.solid_angle().value == pytest.approx(0.00012425344553099846, rel=1e-10)
    # independent: two disjoint caps
    caps = 2 * np.pi * (2 - np.cos(np.deg2rad(0.2)) - np.cos(np.deg2rad(0.3)))
    assert geom.solid_angle().value == pytest.approx(caps, rel=3e-3)
    assert geom.contains(SkyCoord([83.63, 84.5, 84.0], [22.01, 22.5, 22.2], unit="deg")).tolist() == [
        True,
        True,
        False,
    ]


def test_wcs_weights():
    geom = RegionGeom.create("icrs;circle(83.63,22.01,0.5)", axes=[MapAxis.from_edges([1, 2, 3], name="x")])
    coords, weights = geom.get_wcs_coord_and_weights()
    # Gammapy 2.1: 88 helper pixels with weights summing to 78.6
    assert weights.shape == (88,)
    assert weights.sum() == pytest.approx(78.6, abs=1e-9)
    assert coords.lon.shape == (88,)
    assert coords["x"].shape == (2, 1)
    # independent: the weight sum times the pixel area is the disc area
    area = weights.sum() * 0.1**2
    assert area == pytest.approx(np.pi * 0.5**2, rel=1e-3)
    wcs_geom = geom.to_wcs_geom()
    assert isinstance(wcs_geom, WcsGeom) and wcs_geom.axes.names == ["x"]


def test_axes_and_masks(on_geom, energy_axis):
    mask = on_geom.energy_mask(energy_min=2 * u.TeV)
    # Gammapy 2.1
    assert mask.data.ravel().tolist() == [False] * 4 + [True] * 7
    assert on_geom.to_image().data_shape == (1, 1)
    assert on_geom.to_image().to_cube([energy_axis]) == on_geom
    assert on_geom.squash("energy").data_shape == (1, 1, 1)
    assert on_geom.upsample(2, "energy").data_shape == (22, 1, 1)
    sep = on_geom.separation(SkyCoord(84, 22, unit="deg"))
    assert sep.to_string() == "0d20m35.4896419s"
    coords = on_geom.get_coord()
    assert coords.shape == (11, 1, 1)
    pix = on_geom.coord_to_pix({"energy": [1.5, 20] * u.TeV})
    assert pix[0].tolist() == [0.0, 0.0]
    outside = on_geom.coord_to_pix({"skycoord": SkyCoord(80, 20, unit="deg"), "energy": 2 * u.TeV})
    assert np.isnan(outside[0])
    none = RegionGeom(None, axes=[energy_axis])
    assert none.data_shape == (11, 1, 1) and none.is_all_point_sky_regions
