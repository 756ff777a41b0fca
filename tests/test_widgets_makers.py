"""Panels of the 1-D and ring makers and of the ON region: controls linked to the traits, nested finders."""

import pytest
from astropy import units as u

from dl3lab.reduction import (
    ReflectedRegionsBackgroundMaker,
    ReflectedRegionsFinder,
    RingBackgroundMaker,
    SpectrumDatasetMaker,
    WobbleRegionsFinder,
)
from dl3lab.reduction.pipeline import OnRegionSpec, SpectrumReductionPipeline
from dl3lab.widgets import MakerWidget, OnRegionWidget

FINDER_CONTROLS = ["angle_increment", "min_distance", "min_distance_input", "max_region_number", "binsz"]


def test_reflected_maker_panel_edits_its_region_finder():
    maker = ReflectedRegionsBackgroundMaker()
    widget = MakerWidget(maker)
    assert list(widget.controls) == FINDER_CONTROLS
    finder = maker.region_finder
    angle = widget.controls["angle_increment"]
    assert "(deg)" in angle.widget.description
    assert angle.widget.value == pytest.approx(0.1 * 180 / 3.141592653589793)  # 0.1 rad shown in deg
    angle.widget.value = 5.0
    assert finder.angle_increment.to_value("deg") == pytest.approx(5.0) and finder.angle_increment.unit == u.rad
    angle.widget.value = -1.0  # the finder requires a positive increment
    assert finder.angle_increment.to_value("deg") == pytest.approx(5.0)
    assert angle.widget.value == pytest.approx(5.0) and "positive" in angle.error.value
    widget.controls["max_region_number"].widget.value = 4
    assert finder.max_region_number == 4
    finder.min_distance = "0.2 rad"
    assert widget.controls["min_distance"].widget.value == pytest.approx(0.2 * 180 / 3.141592653589793)


def test_a_new_region_finder_gets_new_controls():
    maker = ReflectedRegionsBackgroundMaker()
    widget = MakerWidget(maker)
    old = maker.region_finder
    maker.region_finder = ReflectedRegionsFinder(max_region_number=3)
    assert widget.controls["max_region_number"].widget.value == 3
    widget.controls["max_region_number"].widget.value = 7
    assert maker.region_finder.max_region_number == 7 and old.max_region_number == 10000
    maker.region_finder = WobbleRegionsFinder(n_off_regions=3)
    assert list(widget.controls) == ["n_off_regions", "binsz"]
    widget.controls["n_off_regions"].widget.value = 5
    assert maker.region_finder.n_off_regions == 5
    assert len(widget.children) == 1 + 2
    widget.close()
    maker.region_finder = ReflectedRegionsFinder()
    assert list(widget.controls) == ["n_off_regions", "binsz"]  # a closed panel no longer follows the maker


def test_ring_and_spectrum_maker_panels():
    ring = RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg")
    controls = MakerWidget(ring).controls
    assert list(controls) == ["r_in", "width"]
    controls["r_in"].widget.value = 0.7
    assert ring.r_in == 0.7 * u.deg
    controls["width"].widget.value = 0.0
    assert ring.width == 0.3 * u.deg and "positive" in controls["width"].error.value
    maker = SpectrumDatasetMaker()
    controls = MakerWidget(maker).controls
    assert list(controls) == ["selection", "containment_correction", "use_region_center"]
    controls["selection"].widget.value = ("counts", "exposure")
    assert maker.selection == ["counts", "exposure"]
    controls["containment_correction"].widget.value = True
    assert maker.containment_correction is True
    maker.use_region_center = False
    assert controls["use_region_center"].widget.value is False


def test_on_region_panel_validates_through_the_spec():
    spec = OnRegionSpec()
    widget = OnRegionWidget(spec)
    assert set(widget.controls) == {"lon", "lat", "radius", "frame"}
    widget.controls["radius"].widget.value = 0.11
    assert spec.radius == 0.11 and spec.region().radius == 0.11 * u.deg
    widget.controls["radius"].widget.value = 0.0
    assert spec.radius == 0.11 and "radius" in widget.controls["radius"].error.value
    widget.controls["lat"].widget.value = 95.0
    assert spec.lat == 22.01 and "lat must be" in widget.controls["lat"].error.value
    widget.controls["frame"].widget.value = "galactic"
    assert spec.center.frame.name == "galactic"


def test_panel_edits_invalidate_the_right_pipeline_stage():
    pipeline = SpectrumReductionPipeline(None, [23523])
    pipeline._stale[23523] = len(pipeline.stages) - 1  # as after a run
    MakerWidget(pipeline.background_maker).controls["max_region_number"].widget.value = 2
    assert pipeline.stale_stages(23523) == ["off_regions", "safe_mask", "stack"]
    OnRegionWidget(pipeline.on_region).controls["radius"].widget.value = 0.3
    assert pipeline.stale_stages(23523) == ["spectrum", "off_regions", "safe_mask", "stack"]


@pytest.mark.parametrize("maker", [ReflectedRegionsBackgroundMaker(), RingBackgroundMaker(r_in=0.5, width=0.3),
                                   SpectrumDatasetMaker()])
def test_every_control_round_trips_the_current_value(maker):
    for name, control in MakerWidget(maker).controls.items():
        owner = maker.region_finder if isinstance(maker, ReflectedRegionsBackgroundMaker) else maker
        before = getattr(owner, name)
        control.widget.value = control.widget.value
        assert getattr(owner, name) == before, name
