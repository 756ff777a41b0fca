"""WcsGeom (reduction spec §2.2-§2.5, §2.7).

Literal reference values marked "Gammapy 2.1" were computed with gammapy 2.1
(regions 0.10) in a separate environment, on the same geometries.
"""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleAnnulusSkyRegion, CircleSkyRegion, PointSkyRegion, RectangleSkyRegion

from dl3lab.reduction.axes import MapAxis
from dl3lab.reduction.errors import NoOverlapError
from dl3lab.reduction.geom import MapCoord, WcsGeom

CRAB = (83.63, 22.01)
# pointing of run 23592 (its RA_PNT/DEC_PNT, which is also Gammapy's pointing_icrs(tmid))
POINTING_23592 = SkyCoord(82.01333333, 22.01444444, unit="deg")


@pytest.fixture(scope="module")
def energy_axis():
    return MapAxis.from_energy_bounds("1 TeV", "10 TeV", nbin=11)


@pytest.fixture(scope="module")
def geom(energy_axis):
    return WcsGeom.create(skydir=CRAB, width=5, binsz=0.02, axes=[energy_axis])


@pytest.mark.parametrize(
    "binsz, npix, crpix",
    [(0.02, 250, 125.5), (0.05, 100, 50.5)],
)
def test_create_header_matches_gammapy(energy_axis, binsz, npix, crpix):
    geom = WcsGeom.create(skydir=CRAB, width=5, binsz=binsz, axes=[energy_axis])
    header = geom.to_header()
    # Gammapy 2.1 header of WcsGeom.create(skydir=(83.63, 22.01), width=5, binsz=binsz, axes=[energy])
    expected = {
        "WCSAXES": 2,
        "CRPIX1": crpix,
        "CRPIX2": crpix,
        "CDELT1": -binsz,
        "CDELT2": binsz,
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "CTYPE1": "RA---CAR",
        "CTYPE2": "DEC--CAR",
        "CRVAL1": 83.63,
        "CRVAL2": 22.01,
        "LONPOLE": 0.0,
        "LATPOLE": 67.99,
        "MJDREF": 0.0,
        "RADESYS": "ICRS",
        "AXCOLS1": "E_MIN,E_MAX",
        "INTERP1": "log",
        "WCSSHAPE": f"({npix},{npix},11)",
    }
    for key, value in expected.items():
        assert header[key] == value, key
    assert geom.data_shape == (11, npix, npix)
    assert geom.npix == (npix, npix)


def test_create_galactic_header():
    geom = WcsGeom.create(skydir=SkyCoord(*CRAB, unit="deg"), frame="galactic", width=2, binsz=0.1)
    header = geom.to_header()
    # Gammapy 2.1: the ICRS position converted to Galactic CRVAL
    assert header["CTYPE1"] == "GLON-CAR" and header["CTYPE2"] == "GLAT-CAR"
    assert geom.wcs.wcs.crval.tolist() == [184.55974014406843, -5.7891801498861595]
    assert header["LONPOLE"] == 180.0
    assert "RADESYS" not in header
    assert geom.frame == "galactic"


def test_create_rounding_and_width_forms():
    # rint is round-half-to-even: 2.5 / 1 -> 2 pixels
    assert WcsGeom.create(width=2.5, binsz=1).npix == (2, 2)
    assert WcsGeom.create(width=3.5, binsz=1).npix == (4, 4)
    a = WcsGeom.create(width="6 deg", binsz="0.1 deg")
    b = WcsGeom.create(width=6 * u.deg, binsz=0.1 * u.deg)
    c = WcsGeom.create(width=(6, 6), binsz=0.1)
    assert a == b == c
    assert a.npix == (60, 60)
    d = WcsGeom.create(width=(3.1, 2.3), binsz=0.05, skydir=SkyCoord(*CRAB, unit="deg"))
    assert d.npix == (62, 46)
    assert d.wcs.wcs.crpix.tolist() == [31.5, 23.5]
    allsky = WcsGeom.create(binsz=1.0)
    assert allsky.npix == (360, 180) and allsky.is_allsky


def test_properties(geom):
    assert geom.frame == "icrs"
    assert geom.projection == "CAR"
    assert not geom.is_image
    assert geom.to_image().is_image
    assert geom.center_pix == (124.5, 124.5, 5.0)
    center = geom.center_skydir
    assert center.ra.deg == pytest.approx(83.63, abs=1e-12)
    assert center.dec.deg == pytest.approx(22.01, abs=1e-12)
    np.testing.assert_allclose(geom.pixel_scales.deg, [0.02, 0.02])
    np.testing.assert_allclose(geom.width.to_value("deg"), [5, 5])
    assert geom.data_nbytes("float32").to_value("MB") == pytest.approx(2.75)


@pytest.mark.parametrize("skydir, frame, proj", [(CRAB, "icrs", "CAR"), ((10, 85), "icrs", "TAN"),
                                                  ((359.99, 0), "galactic", "AIT")])
def test_solid_angle_is_the_corner_formula_term_by_term(skydir, frame, proj):
    """The shared-trigonometry solid angles equal the two-triangle formula written out per pixel, bitwise."""
    from dl3lab.reduction.geom._utils import angular_separation_deg, pixel_solid_angles, position_angle_rad

    geom = WcsGeom.create(skydir=skydir, frame=frame, width=(6, 4), binsz=0.05, proj=proj)
    lon, lat = geom._spatial_world("edges")
    a = lon[:-1, :-1], lat[:-1, :-1]
    b = lon[1:, :-1], lat[1:, :-1]
    c = lon[:-1, 1:], lat[:-1, 1:]
    d = lon[1:, 1:], lat[1:, 1:]
    angle_b = position_angle_rad(*b, *d) - position_angle_rad(*b, *a)
    angle_c = position_angle_rad(*c, *d) - position_angle_rad(*a, *c)
    area = (0.5 * angular_separation_deg(*a, *b) * angular_separation_deg(*b, *d) * np.sin(angle_b)
            + 0.5 * angular_separation_deg(*c, *d) * angular_separation_deg(*a, *c) * np.sin(angle_c))
    expected = np.abs(area * (u.deg**2).to(u.sr))
    np.testing.assert_array_equal(pixel_solid_angles(lon, lat), expected)


def test_solid_angle_matches_gammapy(geom):
    solid_angle = geom.solid_angle()
    assert solid_angle.unit == u.sr
    assert solid_angle.shape == (1, 250, 250)
    image = geom.to_image().solid_angle()
    assert image.shape == (250, 250)
    # Gammapy 2.1 WcsGeom.solid_angle() values at (iy, ix)
    expected = {
        (0, 0): 1.2173191999020697e-07,
        (125, 125): 1.2184696359650598e-07,
        (249, 0): 1.2173191981755966e-07,
        (0, 249): 1.2173191999004688e-07,
        (100, 37): 1.2184250963635296e-07,
    }
    for (iy, ix), value in expected.items():
        assert image[iy, ix].value == pytest.approx(value, rel=1e-14)
    assert image.sum().value == pytest.approx(0.007613019156979302, rel=1e-14)


def test_solid_angle_independent():
    # near the equator a pixel covers binsz^2
    geom = WcsGeom.create(skydir=(10, 0), width=1, binsz=0.1)
    pixel = np.deg2rad(0.1) ** 2
    np.testing.assert_allclose(geom.solid_angle().value, pixel, rtol=2e-4)
    # the total of a CAR rectangle centred on the equator: width * (sin(lat_max) - sin(lat_min))
    geom = WcsGeom.create(skydir=(0, 0), width=(20, 10), binsz=0.05)
    analytic = np.deg2rad(20) * 2 * np.sin(np.deg2rad(5))
    assert geom.solid_angle().sum().value == pytest.approx(analytic, rel=1e-5)
    # the whole sky: 4 pi (Gammapy 2.1 gives 12.565838969298312 for binsz=1)
    allsky = WcsGeom.create(binsz=1.0).solid_angle().sum().value
    assert allsky == pytest.approx(12.565838969298312, rel=1e-13)
    assert allsky == pytest.approx(4 * np.pi, rel=1e-4)


def test_solid_angle_tan_matches_gammapy():
    geom = WcsGeom.create(skydir=CRAB, width=4, binsz=0.1, proj="TAN")
    sa = geom.solid_angle().value
    # Gammapy 2.1
    assert sa[0, 0] == pytest.approx(3.035616527495831e-06, rel=1e-14)
    assert sa[20, 20] == pytest.approx(3.0461629931497407e-06, rel=1e-14)
    assert sa.sum() == pytest.approx(0.0048679453998097325, rel=1e-14)


def test_bin_volume_and_separation(geom):
    volume = geom.bin_volume()
    assert volume.shape == geom.data_shape
    assert volume.unit == u.Unit("TeV sr")
    # Gammapy 2.1
    assert volume[3, 10, 20].value == pytest.approx(5.3120869929589315e-08, rel=1e-14)
    sep = geom.separation(SkyCoord(*CRAB, unit="deg"))
    assert sep.shape == (250, 250)
    assert sep[10, 20].deg == pytest.approx(3.099979615086321, rel=1e-14)
    # independent: SkyCoord separation of the pixel centre
    lon, lat = geom.wcs.wcs_pix2world(20, 10, 0)
    ref = SkyCoord(lon, lat, unit="deg").separation(SkyCoord(*CRAB, unit="deg")).deg
    assert sep[10, 20].deg == pytest.approx(ref, rel=1e-13)


def test_cutout_run_23592(geom):
    cutout = geom.cutout(POINTING_23592, width=6 * u.deg)
    # Gammapy 2.1: trimmed to 200 x 250 pixels, CRPIX (75.5, 125.5)
    assert cutout.data_shape == (11, 250, 200)
    assert cutout.wcs.wcs.crpix.tolist() == [75.5, 125.5]
    assert cutout.wcs.wcs.crval.tolist() == [83.63, 22.01]
    assert cutout.center_skydir.ra.deg == pytest.approx(83.09069682779011, rel=1e-14)
    assert cutout.center_skydir.dec.deg == pytest.approx(22.009118116892783, rel=1e-14)
    parent, child = cutout.overlap_slices(geom)
    assert parent == (slice(0, 250), slice(50, 250))
    assert child == (slice(0, 250), slice(0, 200))
    assert cutout.is_aligned(geom)
    assert cutout.cutout_slices(geom)["parent-slices"] == parent



def test_cutout_covering_the_geometry_equals_it_and_shares_its_grid(geom):
    whole = geom.cutout(geom.center_skydir, width=8 * u.deg)
    assert whole == geom and whole.data_shape == geom.data_shape
    assert whole.wcs.wcs.crpix.tolist() == geom.wcs.wcs.crpix.tolist()
    assert whole.wcs is geom.wcs  # no copy of the WCS
    parent, child = whole.overlap_slices(geom)
    assert parent == child == (slice(0, 250), slice(0, 250))
    smaller = geom.cutout(geom.center_skydir, width=2 * u.deg)
    assert smaller.wcs is not geom.wcs and geom.wcs.wcs.crpix.tolist() == [125.5, 125.5]

def test_cutout_modes(geom):
    position = SkyCoord(83.0, 21.0, unit="deg")
    # Gammapy 2.1: 1.01 deg -> 50.5 pixels -> 51 with odd_npix
    odd = geom.cutout(position, width=1.01 * u.deg, odd_npix=True)
    assert odd.data_shape == (11, 51, 51)
    assert odd.wcs.wcs.crpix.tolist() == [-3.5, 76.5]
    partial = geom.cutout(position, width=(1.0, 0.5), mode="partial")
    assert partial.data_shape == (11, 25, 50)
    assert partial.wcs.wcs.crpix.tolist() == [-3.5, 63.5]
    # even n: the position falls on cutout pixel n/2
    x, y = partial.wcs.world_to_pixel(position)
    assert float(x) == pytest.approx(25, abs=0.5) and float(y) == pytest.approx(12, abs=0.5)
    with pytest.raises(NoOverlapError):
        geom.cutout(SkyCoord(120, -40, unit="deg"), width=1)
    with pytest.raises(NoOverlapError):
        geom.cutout(position, width=1, mode="strict").cutout(position, width=3, mode="strict")


def test_to_binsz(geom):
    coarse = geom.to_binsz(0.2)
    # Gammapy 2.1: 25 x 25 pixels, CRPIX 13, CRVAL carries float noise
    assert coarse.data_shape == (11, 25, 25)
    assert coarse.wcs.wcs.crpix.tolist() == [13.0, 13.0]
    assert coarse.wcs.wcs.crval.tolist() == [83.63, 22.010000000000005]
    other = WcsGeom.create(skydir=CRAB, width=(3.1, 2.3), binsz=0.05).to_binsz(0.2)
    assert other.npix == (16, 12)
    assert other.wcs.wcs.crpix.tolist() == [8.5, 6.5]


def test_region_mask_circle(geom):
    circle = CircleSkyRegion(SkyCoord(*CRAB, unit="deg"), 0.2 * u.deg)
    mask = geom.region_mask([circle], inside=False)
    assert mask.data.shape == geom.data_shape
    assert mask.data.dtype == bool
    # Gammapy 2.1: 3476 excluded pixels over the 11 energy planes
    assert (~mask.data).sum() == 3476
    inside = geom.to_image().region_mask(circle)
    assert inside.data.sum() == 316
    # independent: pixel centres closer than 0.2 deg (pixel-space radius differs only at the rim)
    sep = geom.separation(circle.center).deg
    assert abs(int((sep < 0.2).sum()) - 316) <= 4
    assert "icrs" in repr(geom.frame)
    assert geom.to_image().region_mask("icrs;circle(83.63,22.01,0.2)").data.sum() == 316


def test_region_mask_shapes(geom):
    image = geom.to_image()
    # Gammapy 2.1 counts of pixels inside
    off_centre = CircleSkyRegion(SkyCoord(85.2, 23.5, unit="deg"), 0.5 * u.deg)
    assert image.region_mask(off_centre).data.sum() == 1970
    galactic = CircleSkyRegion(SkyCoord(184.5575, -5.7844, unit="deg", frame="galactic"), 0.3 * u.deg)
    assert image.region_mask(galactic).data.sum() == 709
    annulus = CircleAnnulusSkyRegion(SkyCoord(*CRAB, unit="deg"), 0.3 * u.deg, 0.6 * u.deg)
    assert image.region_mask(annulus).data.sum() == 2112
    box = RectangleSkyRegion(SkyCoord(83.0, 21.5, unit="deg"), 1 * u.deg, 0.5 * u.deg, angle=30 * u.deg)
    assert image.region_mask(box).data.sum() == 1250
    point = PointSkyRegion(SkyCoord(*CRAB, unit="deg"))
    pixels = np.argwhere(image.region_mask(point).data).tolist()
    assert pixels == [[124, 124], [124, 125], [125, 124], [125, 125]]
    point2 = PointSkyRegion(SkyCoord(83.6, 22.0, unit="deg"))
    pixels = np.argwhere(image.region_mask(point2).data).tolist()
    assert pixels == [[124, 125], [124, 126], [125, 125], [125, 126]]
    two = "icrs;circle(83.63,22.01,0.2);circle(84.5,22.5,0.3)"
    assert image.region_mask(two).data.sum() == 1022


def test_energy_mask(geom):
    mask = geom.energy_mask(energy_min=2 * u.TeV, energy_max=6 * u.TeV)
    assert mask.data.shape == geom.data_shape
    # Gammapy 2.1
    assert mask.data[:, 0, 0].astype(int).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    rounded = geom.energy_mask(energy_min=2 * u.TeV, energy_max=6 * u.TeV, round_to_edge=True)
    assert rounded.data[:, 0, 0].astype(int).tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    assert geom.energy_mask(energy_min=1.5 * u.TeV).data[:, 5, 5].astype(int).tolist() == [0, 0] + [1] * 9
    # Gammapy quirk: the last edge through the pixel transform is 10.000000000000002 > 10 TeV
    full = geom.energy_mask(energy_min=1 * u.TeV, energy_max=10 * u.TeV)
    assert full.data[:, 0, 0].astype(int).tolist() == [1] * 10 + [0]
    assert geom.energy_mask().data.all()
    # the mask behaves as a boolean array
    arr = np.ones(geom.data_shape, dtype=bool)
    arr &= mask
    assert isinstance(arr, np.ndarray) and arr.sum() == mask.data.sum()


def test_coords_and_pixels(geom):
    coords = geom.get_coord()
    assert coords.shape == geom.data_shape
    assert coords.lon.unit == u.deg
    assert coords["energy"].unit == u.TeV
    sparse = geom.get_coord(sparse=True)
    assert sparse.lon.shape == (1, 250, 250) and sparse["energy"].shape == (11, 1, 1)
    pix = geom.coord_to_pix(sparse)
    np.testing.assert_allclose(pix[0][0, 3, :5], np.arange(5), atol=1e-9)
    np.testing.assert_allclose(pix[2][:, 0, 0], np.arange(11), atol=1e-12)
    back = geom.pix_to_coord((np.array([10.0]), np.array([20.0]), np.array([3.0])))
    lon, lat = geom.wcs.wcs_pix2world(10, 20, 0)
    assert back[0].value[0] == pytest.approx(float(lon)) and back[1].value[0] == pytest.approx(float(lat))
    lon, lat = geom.wcs.wcs_pix2world([30.4, 0.0], [40.0, 0.0], 0)
    sky = SkyCoord([lon[0], 90.0], [lat[0], 22.01], unit="deg")
    idx = geom.coord_to_idx({"skycoord": sky, "energy": [1.0, 10.1] * u.TeV})
    # lower edge included; far positions are -1
    assert [int(i[0]) for i in idx] == [30, 40, 0] and idx[0][1] == -1 and idx[2][1] == -1
    # Gammapy 2.1: through the pixel transform 10 TeV maps to pixel 10.499999999999998,
    # so an event at exactly the last edge lands in the last bin; the Crab is in pixel 124
    idx = geom.coord_to_idx({"lon": [83.63], "lat": [22.01], "energy": [10.0] * u.TeV})
    assert [int(i[0]) for i in idx] == [124, 124, 10]
    assert geom.get_idx()[2].shape == geom.data_shape
    edges = geom.to_image().get_coord(mode="edges")
    assert edges.shape == (251, 251)
    galactic = geom.get_coord(frame="galactic", sparse=True)
    assert galactic.frame == "galactic"
    assert isinstance(MapCoord.create(SkyCoord(1, 2, unit="deg")), MapCoord)


def test_axis_transforms(geom, energy_axis):
    assert geom.to_image().to_cube([energy_axis]) == geom
    assert geom.squash("energy").data_shape == (1, 250, 250)
    assert geom.drop("energy").is_image
    assert geom.upsample(2, axis_name="energy").data_shape == (22, 250, 250)
    # spatial resampling keeps the pixel grid aligned (Gammapy 2.1 CRPIX values)
    assert geom.upsample(2).wcs.wcs.crpix.tolist() == [250.5, 250.5]
    assert geom.downsample(5).wcs.wcs.crpix.tolist() == [25.5, 25.5]
    assert geom.downsample(5).npix == (50, 50)
    sliced = geom.slice_by_idx({"energy": slice(2, 5)})
    assert sliced.data_shape == (3, 250, 250)


def test_header_roundtrip(geom):
    from dl3lab.reduction.geom._bands import axes_to_bands_hdu

    header = geom.to_header()
    bands = axes_to_bands_hdu(geom.axes, "X_BANDS")
    back = WcsGeom.from_header(header, hdu_bands=bands)
    assert back == geom
    assert back.axes["energy"].is_allclose(geom.axes["energy"], rtol=1e-15)
    assert WcsGeom.from_header(header, axes=[]).is_image
    assert not geom.is_allclose(geom.to_binsz(0.2))
    assert geom != geom.to_image()


def test_rotated_lonlat_agrees_with_astropy():
    from dl3lab.reduction.geom._utils import frame_skycoord, rotated_lonlat

    rng = np.random.default_rng(3)
    lon = np.concatenate([rng.uniform(0, 360, 2000), [0.0, 359.999999, 12.0, 266.40499]])
    lat = np.concatenate([np.degrees(np.arcsin(rng.uniform(-1, 1, 2000))), [90.0, -90.0, 0.0, -28.93617]])
    for source, target in (("icrs", "galactic"), ("galactic", "icrs")):
        coords = SkyCoord(lon, lat, unit="deg", frame=source)
        fast_lon, fast_lat = rotated_lonlat(coords, target)
        exact = coords.transform_to(target)
        assert np.all((fast_lon >= 0) & (fast_lon < 360))
        assert np.max(exact.separation(SkyCoord(fast_lon, fast_lat, unit="deg", frame=target)).deg) < 1e-11
        np.testing.assert_allclose(fast_lat, exact.spherical.lat.deg, atol=1e-11, rtol=0)
    crab = SkyCoord(*CRAB, unit="deg")
    galactic = frame_skycoord(crab, "galactic")
    assert galactic.frame.name == "galactic" and galactic.separation(crab.galactic).deg < 1e-11
    assert frame_skycoord(crab, "icrs") is crab
    # other frames go through astropy
    fk5 = SkyCoord(*CRAB, unit="deg", frame="fk5")
    np.testing.assert_allclose(rotated_lonlat(fk5, "galactic"), (fk5.galactic.l.deg, fk5.galactic.b.deg), rtol=0,
                               atol=1e-12)


def test_lonlat_to_frame_equals_rotated_lonlat_of_a_skycoord():
    from dl3lab.reduction.geom._utils import lonlat_to_frame, rotated_lonlat

    lon, lat = np.meshgrid(np.linspace(80.0, 90.0, 7), np.linspace(-30.0, 60.0, 5))
    for source, target in (("icrs", "galactic"), ("galactic", "icrs"), ("fk5", "galactic")):
        expected = rotated_lonlat(SkyCoord(lon, lat, unit="deg", frame=source), target)
        got = lonlat_to_frame(lon, lat, source, target)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
        assert got[0].shape == lon.shape
    same = lonlat_to_frame(lon, lat, "galactic", "galactic")
    assert same[0] is lon and same[1] is lat


@pytest.mark.parametrize("frame, target", [("icrs", None), ("icrs", "galactic"), ("galactic", "icrs")])
def test_pixel_centre_lonlat_agrees_with_astropy(frame, target):
    from dl3lab.reduction.geom._utils import pixel_centre_lonlat

    geom = WcsGeom.create(skydir=(83.6, 22.0), width=(3, 2), binsz=0.1, proj="TAN", frame=frame)
    lon, lat = pixel_centre_lonlat(geom, target)
    assert lon.shape == lat.shape == (20, 30)
    yy, xx = np.mgrid[0:20, 0:30]
    expected = geom.wcs.pixel_to_world(xx, yy).transform_to(target or frame)
    sph = expected.represent_as("unitspherical")
    np.testing.assert_allclose(lon, sph.lon.deg, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, sph.lat.deg, rtol=0, atol=1e-9)


@pytest.mark.parametrize("proj, frame", [("CAR", "icrs"), ("TAN", "galactic"), ("AIT", "fk5")])
def test_pickled_geometry_has_the_same_wcs_and_no_caches(proj, frame):
    import pickle

    from dl3lab.reduction.geom._utils import wcs_state

    geom = WcsGeom.create(skydir=(10.0, -30.0), width=3, binsz=0.05, proj=proj, frame=frame)
    empty = len(pickle.dumps(geom))
    geom.solid_angle()  # fills the caches
    assert isinstance(wcs_state(geom.wcs), dict)
    data = pickle.dumps(geom)
    assert len(data) == empty  # caches stay behind
    back = pickle.loads(data)
    assert back == geom and back.wcs.wcs.compare(geom.wcs.wcs)
    assert back.wcs.to_header_string() == geom.wcs.to_header_string()
    pix = np.array([[0.3, 7.9], [59.5, 0.0]])
    np.testing.assert_array_equal(back.wcs.wcs_pix2world(pix, 0), geom.wcs.wcs_pix2world(pix, 0))
    np.testing.assert_array_equal(back.solid_angle(), geom.solid_angle())


def test_pickled_geometry_keeps_a_wcs_with_more_keywords():
    import pickle

    from dl3lab.reduction.geom._utils import wcs_state

    geom = WcsGeom.create(skydir=(10.0, -30.0), width=3, binsz=0.05)
    geom.wcs.wcs.dateobs = "2004-12-04T22:00:00"
    assert not isinstance(wcs_state(geom.wcs), dict)  # astropy's own pickling
    back = pickle.loads(pickle.dumps(geom))
    assert back.wcs.wcs.dateobs == "2004-12-04T22:00:00" and back == geom
    pix = np.array([[0.3, 7.9], [59.5, 0.0]])
    np.testing.assert_array_equal(back.wcs.wcs_pix2world(pix, 0), geom.wcs.wcs_pix2world(pix, 0))
