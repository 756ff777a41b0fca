"""The pipeline widget re-runs the pipeline after a control change and shows the new result."""

from unittest import mock

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from dl3lab.reduction import DataStore
from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline
from dl3lab.widgets.pipeline import PipelineWidget
from dl3lab.widgets.sky_view import SkyView

from .conftest import store_with_truncated_run


def make_widget(store, obs_ids, threaded):
    pipeline = ReductionPipeline(
        store, obs_ids, geometry=GeometrySpec(width=3.0, binsz=0.05, energy_nbin=6, energy_true_nbin=8),
        exclusion_regions=[{"lon": 83.63, "lat": 22.01, "radius": 0.3}],
    )
    view = SkyView()
    view.send = mock.Mock()
    view._is_loaded = True
    return PipelineWidget(pipeline, threaded=threaded, debounce=0.05, sky_view=view), view


def sent_events(view):
    return [(c.args[0]["event_name"], c.args[0].get("options", {}).get("name")) for c in view.send.call_args_list]


def test_control_change_reruns_and_updates_views(hess_dir):
    widget, view = make_widget(DataStore.from_dir(hess_dir), [23523, 23592], threaded=False)
    widget.request_run(immediate=True)
    assert "done" in widget.status.value
    first_summary = widget.summary.value
    assert "Total counts" in first_summary
    assert ("add_fits", "result") in sent_events(view)
    counts = dict(widget.pipeline.run_counts)
    view.send.reset_mock()
    widget.panels["safe_mask_maker"].controls["methods"].widget.value = ("edisp-bias", "offset-max")
    assert widget.pipeline.run_counts["maps"] == counts["maps"]
    assert widget.pipeline.run_counts["safe_mask"] == counts["safe_mask"] + 2
    assert widget.summary.value != first_summary
    events = sent_events(view)
    assert ("remove_overlay", None) in events and ("add_fits", "result") in events
    assert widget.profile_plot.counts.y.size > 0
    assert widget.safe_plots.bias.threshold.x.size == 2


def test_threaded_runs_are_debounced(hess_dir):
    widget, _ = make_widget(DataStore.from_dir(hess_dir), [23592], threaded=True)
    widget.request_run(immediate=True)
    assert widget.idle.wait(60)
    stacks = widget.pipeline.run_counts["stack"]
    control = widget.panels["safe_mask_maker"].controls["aeff_percent"].widget
    for value in (11.0, 12.0, 13.0, 14.0):
        control.value = value
    assert widget.idle.wait(60)
    assert widget.pipeline.safe_mask_maker.aeff_percent == 14.0
    assert widget.pipeline.run_counts["stack"] - stacks <= 2  # the burst of changes gives one or two runs
    assert "done" in widget.status.value


def test_failing_observation_shown_while_others_stack(hess_dir, tmp_path):
    broken = store_with_truncated_run(hess_dir, tmp_path, (23523, 23592), 23592, keep_bytes=3000)
    widget, _ = make_widget(DataStore.from_dir(tmp_path), [23523, 23592], threaded=False)
    widget.request_run(immediate=True)
    assert "23592" in widget.errors.value and str(broken) in widget.errors.value
    assert "Total counts" in widget.summary.value
    assert widget.pipeline.stacked.counts.data.sum() > 0


@pytest.mark.parametrize("auto", [False])
def test_manual_mode_waits_for_the_run_button(hess_dir, auto):
    widget, _ = make_widget(DataStore.from_dir(hess_dir), [23592], threaded=False)
    widget.auto_run.value = auto
    widget.panels["safe_mask_maker"].controls["aeff_percent"].widget.value = 20.0
    assert "press Run" in widget.status.value
    assert widget.pipeline.stacked is None
    widget.run_button.click()
    assert widget.pipeline.stacked is not None


def layers_sent(view, event=None):
    """Names of the layers the view sent (images and graphic overlays), optionally of one event type."""
    messages = [c.args[0] for c in view.send.call_args_list]
    return [(m.get("options") or m.get("graphic_options") or {}).get("name") for m in messages
            if event is None or m["event_name"] == event]


def test_reflected_chain_shows_on_off_regions_and_spectrum(hess_dir):
    from dl3lab.reduction.pipeline import OnRegionSpec, SpectrumReductionPipeline

    pipeline = SpectrumReductionPipeline(
        DataStore.from_dir(hess_dir), [23523, 23592], on_region=OnRegionSpec(lon=83.633, lat=22.014, radius=0.11),
        geometry=GeometrySpec(width=4.0, binsz=0.05, energy_nbin=6, energy_true_nbin=8),
    )
    view = SkyView()
    view.send = mock.Mock()
    view._is_loaded = True
    widget = PipelineWidget(pipeline, threaded=False, sky_view=view)
    assert "maps" not in widget.panels and {"on_region", "dataset_maker", "background_maker"} <= set(widget.panels)
    widget.request_run(immediate=True)
    assert "SpectrumDatasetOnOff" in widget.summary.value
    shapes = [c.args[0]["event_name"] for c in view.send.call_args_list]
    assert "add_fits" not in shapes  # no image for spectra
    names = layers_sent(view)
    assert "on" in names and "off" in names and "geometry" in names
    counts = widget.profile_plot.counts.y
    assert counts.size > 0 and float(counts.max()) > 0
    view.send.reset_mock()
    before = dict(pipeline.run_counts)
    widget.panels["background_maker"].maker.region_finder.max_region_number = 2
    assert pipeline.run_counts["spectrum"] == before["spectrum"]
    assert pipeline.run_counts["off_regions"] == before["off_regions"] + 2
    off = [region for regions in pipeline.off_regions().values() for region in regions]
    assert len(off) <= 4
    assert "off" in layers_sent(view)


def test_ring_chain_shows_onoff_images(hess_dir):
    from dl3lab.reduction.pipeline import RingReductionPipeline

    pipeline = RingReductionPipeline(
        DataStore.from_dir(hess_dir), [23523], geometry=GeometrySpec(width=3.0, binsz=0.05, energy_nbin=4,
                                                                     energy_true_nbin=6),
        exclusion_regions=[{"lon": 83.63, "lat": 22.01, "radius": 0.3}],
    )
    view = SkyView()
    view.send = mock.Mock()
    view._is_loaded = True
    widget = PipelineWidget(pipeline, threaded=False, sky_view=view)
    widget.request_run(immediate=True)
    assert "MapDatasetOnOff" in widget.summary.value
    assert "result" in layers_sent(view, "add_fits")
    widget.image_choice.value = "significance"
    significance = widget._images["significance"].data
    assert significance.max() > 5  # the Crab in one run
    view.send.reset_mock()
    widget.panels["ring_maker"].maker.r_in = "0.6 deg"
    assert "result" in layers_sent(view, "add_fits")


def test_browser_and_exclusion_editor_drive_the_pipeline(hess_dir):
    widget, view = make_widget(DataStore.from_dir(hess_dir), [23523, 23592], threaded=False)
    widget.request_run(immediate=True)
    browser = widget.panels["observations"]
    browser.selected_obs_ids = [23523]
    assert widget.pipeline.obs_ids == [23523]
    assert list(np.ravel(widget.pipeline.stacked.meta_table["OBS_ID"])) == [23523]
    view.send.reset_mock()
    editor = widget.panels["exclusion"]
    before = widget.pipeline.run_counts["background"]
    editor.add_at(SkyCoord(83.2, 21.8, unit="deg"))
    assert len(widget.pipeline.exclusion_regions) == 2
    assert widget.pipeline.run_counts["background"] == before + 1
    assert "exclusion" in layers_sent(view)
