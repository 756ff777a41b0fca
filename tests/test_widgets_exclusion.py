"""Exclusion editor without a browser: controls set from Python, Aladin clicks simulated with a mocked ``send``."""

from unittest import mock

import numpy as np
from astropy.coordinates import SkyCoord

from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline
from dl3lab.widgets.exclusion import ExclusionEditor
from dl3lab.widgets.sky_view import SkyView

CRAB = (83.633, 22.0145)


def loaded_view():
    view = SkyView(fov=5)
    view.send = mock.Mock()
    view._is_loaded = True
    return view


def click(view, ra, dec):
    """The message ipyaladin's front end sends for a click on the sky, through ipyaladin's handler."""
    content = {"ra": ra, "dec": dec, "x": 200, "y": 150, "isDragging": False}
    view._handle_custom_message(view, {"event_type": "click", "content": content}, [])


def last_overlay(view):
    """(name, [(ra, dec, radius), ...]) of the last overlay sent to the front end."""
    message = [c.args[0] for c in view.send.call_args_list if c.args[0]["event_name"] == "add_overlay"][-1]
    circles = [(r["infos"]["ra"], r["infos"]["dec"], r["infos"]["radius"]) for r in message["regions_infos"]]
    return message["graphic_options"]["name"], circles


def make(frame="icrs", **kwargs):
    lon, lat = (184.5575, -5.7843) if frame == "galactic" else CRAB
    pipeline = ReductionPipeline(None, geometry=GeometrySpec(frame=frame, lon=lon, lat=lat), **kwargs)
    view = loaded_view()
    return pipeline, view, ExclusionEditor(pipeline, sky_view=view)


def test_add_by_coordinates_updates_the_pipeline_and_the_sky():
    pipeline, view, editor = make()
    assert (editor.circle.lon, editor.circle.lat) == CRAB  # starts at the geometry centre
    editor.controls["lon"].widget.value = 84.5
    editor.controls["lat"].widget.value = 23.0
    editor.controls["radius"].widget.value = 0.4
    before = pipeline.exclusion_regions
    editor.add_button.click()
    assert pipeline.exclusion_regions == [{"lon": 84.5, "lat": 23.0, "radius": 0.4}]
    assert before == []  # a new list was assigned, the old one is untouched
    assert last_overlay(view) == ("exclusion", [(84.5, 23.0, 0.4)])
    assert len(editor.rows.children) == 1 and "84.5000" in editor.rows.children[0].children[0].value


def test_invalid_values_show_the_reduction_layer_error():
    pipeline, view, editor = make()
    editor.controls["lat"].widget.value = 95.0
    assert "latitude" in editor.controls["lat"].error.value
    editor.controls["radius"].widget.value = 0.0
    assert "radius" in editor.controls["radius"].error.value
    editor.add_button.click()
    assert pipeline.exclusion_regions == [{"lon": CRAB[0], "lat": CRAB[1], "radius": 0.3}]


def test_click_to_add_uses_the_clicked_position_and_current_radius():
    pipeline, view, editor = make()
    click(view, 84.0, 21.5)
    assert pipeline.exclusion_regions == []  # toggle off: clicks do nothing
    editor.controls["radius"].widget.value = 0.25
    editor.click_to_add.value = True
    click(view, 84.0, 21.5)
    click(view, 82.9, 22.6)
    assert pipeline.exclusion_regions == [{"lon": 84.0, "lat": 21.5, "radius": 0.25},
                                          {"lon": 82.9, "lat": 22.6, "radius": 0.25}]
    assert last_overlay(view) == ("exclusion", [(84.0, 21.5, 0.25), (82.9, 22.6, 0.25)])
    editor.click_to_add.value = False
    click(view, 80.0, 20.0)
    assert len(pipeline.exclusion_regions) == 2


def test_click_in_a_galactic_geometry_is_stored_in_galactic_and_drawn_in_icrs():
    pipeline, view, editor = make(frame="galactic")
    editor.click_to_add.value = True
    click(view, *CRAB)
    (region,) = pipeline.exclusion_regions
    np.testing.assert_allclose([region["lon"], region["lat"]], [184.5575, -5.7843], atol=2e-3)  # Crab (l, b)
    name, ((ra, dec, radius),) = last_overlay(view)
    np.testing.assert_allclose([ra, dec, radius], [*CRAB, 0.3], atol=1e-8)


def test_remove_and_outside_edits_keep_the_pipeline_the_source_of_truth():
    pipeline, view, editor = make(exclusion_regions=[{"lon": 83.0, "lat": 22.0, "radius": 0.2},
                                                     {"lon": 84.0, "lat": 23.0, "radius": 0.3}])
    assert last_overlay(view)[1] == [(83.0, 22.0, 0.2), (84.0, 23.0, 0.3)]
    editor.rows.children[0].children[1].click()
    assert pipeline.exclusion_regions == [{"lon": 84.0, "lat": 23.0, "radius": 0.3}]
    assert last_overlay(view)[1] == [(84.0, 23.0, 0.3)]
    pipeline.exclusion_regions = [{"lon": 85.0, "lat": 21.0, "radius": 0.5}]  # edited elsewhere
    assert len(editor.rows.children) == 1 and "85.0000" in editor.rows.children[0].children[0].value
    assert last_overlay(view)[1] == [(85.0, 21.0, 0.5)]
    editor.clear_button.click()
    assert pipeline.exclusion_regions == []
    assert view.send.call_args_list[-1].args[0] == {"event_name": "remove_overlay", "overlay_names": ["exclusion"]}
    assert "exclusion" not in view.layer_names


def test_invalid_list_from_elsewhere_is_reported_and_removable():
    pipeline, view, editor = make()
    pipeline.exclusion_regions = [{"lon": 83.0, "lat": 22.0, "radius": 0.2}, {"lon": 1.0, "lat": 99.0, "radius": 1.0}]
    assert "exclusion region 2" in editor.error.value and "latitude" in editor.error.value
    editor.add_button.click()
    assert len(pipeline.exclusion_regions) == 2  # nothing added to an invalid list
    editor.remove(1)
    assert pipeline.exclusion_regions == [{"lon": 83.0, "lat": 22.0, "radius": 0.2}]
    assert editor.error.value == ""
    editor.remove(5)
    assert "no exclusion region at index 5" in editor.error.value


def test_geometry_frame_change_redraws_and_close_detaches():
    pipeline, view, editor = make(exclusion_regions=[{"lon": 184.5575, "lat": -5.7843, "radius": 0.3}])
    pipeline.geometry.frame = "galactic"
    assert "galactic" in editor.frame_label.value
    ra, dec, _ = last_overlay(view)[1][0]
    assert SkyCoord(ra, dec, unit="deg").separation(SkyCoord(*CRAB, unit="deg")).deg < 2e-3
    editor.click_to_add.value = True
    editor.close()
    click(view, 84.0, 21.5)
    pipeline.exclusion_regions = []
    assert "exclusion" in view.layer_names  # a closed editor no longer draws
