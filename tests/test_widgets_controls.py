"""Widget controls are views on traits: edits go through trait validation, trait changes show up."""

import pytest
from astropy import units as u

from dl3lab.reduction import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
from dl3lab.reduction.pipeline import GeometrySpec
from dl3lab.widgets import GeometryWidget, MakerWidget, trait_control


def test_slider_edits_the_maker_and_follows_it():
    maker = SafeMaskMaker(methods=["aeff-max"])
    control = trait_control(maker, "aeff_percent")
    control.widget.value = 25.0
    assert maker.aeff_percent == 25.0
    maker.aeff_percent = 12.5
    assert control.widget.value == 12.5
    assert control.error.value == ""


def test_rejected_value_reverts_and_shows_the_reason():
    maker = SafeMaskMaker()
    control = trait_control(maker, "offset_max")
    assert control.widget.value == 3.0
    control.widget.value = -2.0
    assert maker.offset_max == 3 * u.deg
    assert control.widget.value == 3.0
    assert "positive" in control.error.value
    control.widget.value = 2.5
    assert maker.offset_max == 2.5 * u.deg
    assert control.error.value == ""


def test_methods_selection_and_enum():
    maker = SafeMaskMaker()
    widget = MakerWidget(maker)
    widget.controls["methods"].widget.value = ("aeff-max", "offset-max")
    assert maker.methods == ["aeff-max", "offset-max"]
    fov = FoVBackgroundMaker()
    MakerWidget(fov).controls["method"].widget.value = "fit"
    assert fov.method == "fit"
    assert set(MakerWidget(MapDatasetMaker()).controls) >= {"selection", "background_oversampling"}


def test_geometry_widget_reports_size_and_warns():
    spec = GeometrySpec()
    widget = GeometryWidget(spec, large_bytes=50 * 1024**2)
    assert "250 x 250" in widget.size.value and "&#9888;" not in widget.size.value
    widget.controls["binsz"].widget.value = 0.005
    assert spec.binsz == 0.005
    assert "1000 x 1000" in widget.size.value and "&#9888;" in widget.size.value
    widget.controls["energy_max"].widget.value = 0.5  # below energy_min: rejected by the spec
    assert spec.energy_max == 10.0
    assert "energy_max" in widget.controls["energy_max"].error.value


def test_widgets_contain_no_reduction_math():
    """No numerical routines in the widget layer: no scipy, no engine internals, no numpy arithmetic."""
    import ast
    from pathlib import Path

    import dl3lab.widgets

    forbidden_modules = ("scipy", "dl3lab.reduction.interpolation", "dl3lab.reduction.makers.map_products",
                         "dl3lab.reduction.makers.irf_projection", "dl3lab.reduction.makers.background_projection")
    forbidden_numpy = {"log", "exp", "interp", "trapezoid", "cumsum", "sum", "histogram", "convolve"}
    for path in Path(dl3lab.widgets.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                for name in names:
                    assert not (name or "").startswith(forbidden_modules), f"{path.name} imports {name}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "np":
                assert node.attr not in forbidden_numpy, f"{path.name} uses np.{node.attr}"


@pytest.mark.parametrize("maker", [SafeMaskMaker(), MapDatasetMaker(), FoVBackgroundMaker()])
def test_every_control_round_trips_the_current_value(maker):
    for name, control in MakerWidget(maker).controls.items():
        before = getattr(maker, name)
        control.widget.value = control.widget.value
        assert getattr(maker, name) == before, name


def test_optional_angle_is_a_text_box_where_empty_means_unset():
    maker = SafeMaskMaker(methods=["offset-max"])
    control = trait_control(maker, "fixed_offset")
    assert maker.fixed_offset is None and control.widget.value == ""
    control.widget.value = "0.7"
    assert maker.fixed_offset.to_value("deg") == pytest.approx(0.7)
    control.widget.value = "wide"
    assert "expected an angle" in control.error.value
    assert maker.fixed_offset.to_value("deg") == pytest.approx(0.7) and control.widget.value == "0.7"
    control.widget.value = " "
    assert maker.fixed_offset is None and control.error.value == ""
