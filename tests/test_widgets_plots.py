"""Plots show the engine's numbers and are updated in place."""

from unittest import mock

import numpy as np
import pytest
from astropy import units as u

from dl3lab.reduction import DataStore
from dl3lab.reduction.datasets.summary import energy_profiles
from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline
from dl3lab.widgets.plots import EnergyProfilePlot, SafeMaskPlots, ThresholdPlot


@pytest.fixture(scope="module")
def reduced(hess_dir):
    pipeline = ReductionPipeline(DataStore.from_dir(hess_dir), [23592], geometry=GeometrySpec(width=3, binsz=0.05))
    stacked = pipeline.run()
    return pipeline, stacked


def test_energy_profile_plot_updates_in_place(reduced):
    _, stacked = reduced
    plot = EnergyProfilePlot()
    marks = list(plot.figure.marks)
    profiles = energy_profiles(stacked)
    with mock.patch.object(plot.figure, "hold_sync", wraps=plot.figure.hold_sync) as hold:
        plot.update(profiles)
    assert hold.called
    assert list(plot.figure.marks) == marks
    np.testing.assert_array_equal(plot.counts.y[:-1], profiles["counts"])
    np.testing.assert_array_equal(plot.counts.x, profiles["edges"])
    assert plot.counts.y.sum() - plot.counts.y[-1] == stacked.info_dict()["counts"]
    assert plot.safe.x.min() == pytest.approx(profiles["edges"][0])
    profiles["safe"][:3] = False
    plot.update(profiles)
    assert plot.safe.x.min() == pytest.approx(profiles["edges"][3])


def test_safe_mask_plots_show_the_thresholds(reduced):
    pipeline, _ = reduced
    maker = pipeline.safe_mask_maker
    maker.methods = ["aeff-max", "edisp-bias", "bkg-peak"]
    dataset = pipeline.datasets[0]
    diagnostics = maker.diagnostics(dataset, pipeline.observation(23592))
    plots = SafeMaskPlots()
    plots.update(diagnostics)
    threshold = diagnostics["aeff"]["threshold"].to_value("TeV")
    np.testing.assert_array_equal(plots.aeff.threshold.x, [threshold, threshold])
    assert "TeV" in plots.aeff.label.value
    assert plots.aeff.level.y[0] == pytest.approx(0.1 * diagnostics["aeff"]["value"].max())
    assert plots.bias.threshold.x[0] == pytest.approx(diagnostics["bias"]["threshold"].to_value("TeV"))
    assert plots.background.curve.x.size == diagnostics["background"]["edges"].size


def test_threshold_plot_without_threshold():
    plot = ThresholdPlot("t", "y")
    plot.update(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]), threshold=None, level=2.0)
    assert plot.threshold.x.size == 0 and plot.label.value == "no threshold"
    plot.update(np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]), threshold=2 * u.TeV)
    assert plot.threshold.x.tolist() == [2.0, 2.0]
