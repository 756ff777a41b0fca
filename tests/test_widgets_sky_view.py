"""Sky view without a browser: messages sent to the front end are checked with a mocked ``send``."""

from unittest import mock

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from regions import CircleAnnulusSkyRegion, CircleSkyRegion

from dl3lab.reduction import Map, MapAxis, WcsGeom
from dl3lab.widgets.sky_view import ALADIN_LITE_CDN, SkyView, use_local_aladin_lite


def loaded_view():
    view = SkyView(target=SkyCoord(83.63, 22.01, unit="deg"), fov=5)
    view.send = mock.Mock()
    view._is_loaded = True
    return view


def events(view):
    return [c.args[0]["event_name"] for c in view.send.call_args_list]


def test_layers_are_queued_until_loaded_and_sent_per_instance():
    first = SkyView()
    first.send = mock.Mock()
    second = SkyView()
    second.send = mock.Mock()
    first.show_regions("on", [CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.2 * u.deg)])
    assert first.send.call_count == 0
    first._is_loaded = True
    assert events(first) == ["add_overlay"]
    second._is_loaded = True
    assert second.send.call_count == 0  # nothing leaks from one view to another
    assert first._call_store is not second._call_store
    assert first.listener_callback is not second.listener_callback


def test_showing_a_layer_again_replaces_it():
    view = loaded_view()
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=2, binsz=0.1)
    mask = Map.from_geom(geom, data=np.ones(geom.data_shape, bool), dtype=bool)
    view.show_image("safe-mask", mask)
    view.show_image("safe-mask", mask, colormap="grayscale")
    # an image replaces the one of the same name in Aladin Lite, whose removeOverlay only knows graphic overlays
    assert events(view) == ["add_fits", "add_fits"]
    last = view.send.call_args_list[1]
    assert last.args[0]["options"] == {"name": "safe-mask", "colormap": "grayscale", "opacity": 0.8}
    image = fits.open(__import__("io").BytesIO(last.kwargs["buffers"][0]))[0]
    assert image.data.dtype.kind == "f" and image.data.dtype.itemsize == 4
    assert image.data.sum() == mask.data.sum()
    assert view.layer_names == ["safe-mask"]


def test_regions_are_removed_before_being_replaced_but_only_in_a_loaded_view():
    view = SkyView()
    view.send = mock.Mock()
    circle = CircleSkyRegion(SkyCoord(83.63, 22.01, unit="deg"), 0.2 * u.deg)
    view.show_regions("on", [circle])
    view.show_regions("on", [circle])
    assert view.send.call_count == 0  # the front end has nothing to remove yet
    view._is_loaded = True
    assert events(view) == ["add_overlay"]
    view.show_regions("on", [circle])
    assert events(view) == ["add_overlay", "remove_overlay", "add_overlay"]
    assert view.send.call_args_list[1].args[0]["overlay_names"] == ["on"]


def test_layers_are_sent_again_after_a_reload():
    view = loaded_view()
    geom = WcsGeom.create(skydir=(83.63, 22.01), width=3, binsz=0.05, axes=[
        MapAxis.from_bounds(1, 10, nbin=2, name="energy", unit="TeV", interp="log")])
    view.show_geometry(geom)
    view.show_pointings([SkyCoord(82.01, 22.01, unit="deg")], offset_max=2.5 * u.deg)
    sent = view.send.call_count
    view._is_loaded = False
    view._is_loaded = True
    assert view.send.call_count == 2 * sent
    assert sorted(view.layer_names) == ["geometry", "pointings", "pointings-offset-max"]


def test_unsupported_shapes_are_drawn_as_circles():
    view = loaded_view()
    centre = SkyCoord(83.63, 22.01, unit="deg")
    view.show_regions("exclusion", [CircleAnnulusSkyRegion(centre, 0.5 * u.deg, 0.8 * u.deg)])
    infos = view.send.call_args_list[0].args[0]["regions_infos"]
    assert len(infos) == 2
    assert all(info["infos"]["radius"] > 0 for info in infos)


def test_local_aladin_lite_replaces_the_cdn_import():
    try:
        use_local_aladin_lite("/files/aladin-lite/aladin.js")
        view = SkyView()
        assert "/files/aladin-lite/aladin.js" in view._esm
        assert ALADIN_LITE_CDN not in view._esm
    finally:
        use_local_aladin_lite(None)
    assert ALADIN_LITE_CDN in SkyView()._esm


def click(view, ra, dec, dragging=False):
    """What ipyaladin does with the front end's click message."""
    content = {"ra": ra, "dec": dec, "x": 120, "y": 80, "isDragging": dragging}
    view._handle_custom_message(view, {"event_type": "click", "content": content}, [])


def test_click_callbacks_get_the_position_per_instance():
    first, second = loaded_view(), loaded_view()
    got, other = [], []
    first.on_click(got.append)
    second.on_click(other.append)
    click(first, 84.1, 21.9)
    click(first, 85.0, 20.0, dragging=True)  # the end of a pan is not a click
    assert len(got) == 1 and other == []
    assert got[0].frame.name == "icrs"
    assert (got[0].ra.deg, got[0].dec.deg) == (84.1, 21.9)
    first.on_click(got.append, remove=True)
    click(first, 84.1, 21.9)
    assert len(got) == 1


def test_regions_in_other_frames_are_sent_in_icrs():
    view = loaded_view()
    crab = SkyCoord(83.633, 22.0145, unit="deg")
    view.show_regions("exclusion", [CircleSkyRegion(crab.galactic, 0.3 * u.deg)])
    info = view.send.call_args_list[0].args[0]["regions_infos"][0]["infos"]
    np.testing.assert_allclose([info["ra"], info["dec"], info["radius"]], [83.633, 22.0145, 0.3], atol=1e-8)
    geom = WcsGeom.create(skydir=(184.5575, -5.7843), frame="galactic", width=2, binsz=0.1)
    view.show_geometry(geom)
    vertices = np.array(view.send.call_args_list[-1].args[0]["regions_infos"][0]["infos"]["vertices"])
    centre = SkyCoord(vertices[:, 0], vertices[:, 1], unit="deg").separation(crab).deg
    np.testing.assert_allclose(centre, np.sqrt(2), atol=0.01)  # corners of a 2x2 deg square around the Crab
