"""bqplot figures of a reduction, updated in place (numpy arrays travel as binary buffers).

The figures only display numbers computed by :mod:`dl3lab.reduction`
(`energy_profiles`, `SafeMaskMaker.diagnostics`); they compute nothing themselves.
"""

import bqplot as bq
import ipywidgets as widgets
import numpy as np

__all__ = ["EnergyProfilePlot", "ThresholdPlot", "SafeMaskPlots"]

_SHADE = "#7fc97f"


def _steps(edges, values):
    """x and y of a histogram drawn as a step line."""
    edges = np.asarray(edges, dtype=float)
    values = np.asarray(values, dtype=float)
    return edges, np.append(values, values[-1]) if len(values) else values


def _band(lo, hi, y_lo, y_hi):
    return np.array([lo, hi, hi, lo, lo], float), np.array([y_lo, y_lo, y_hi, y_hi, y_lo], float)


class EnergyProfilePlot(widgets.VBox):
    """Counts, predicted background and excess against reco energy, with the safe range shaded."""

    def __init__(self, title="Counts per energy bin"):
        self.x_scale = bq.LogScale()
        self.y_scale = bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.safe = bq.Lines(x=[], y=[], scales=scales, fill="inside", colors=[_SHADE], fill_colors=[_SHADE],
                             fill_opacities=[0.25], stroke_width=0, labels=["safe range"])
        self.counts = bq.Lines(x=[], y=[], scales=scales, interpolation="step-after", colors=["black"],
                               labels=["counts"], display_legend=True)
        self.background = bq.Lines(x=[], y=[], scales=scales, interpolation="step-after", colors=["#1f77b4"],
                                   labels=["background"], display_legend=True)
        self.excess = bq.Lines(x=[], y=[], scales=scales, interpolation="step-after", colors=["#d62728"],
                               labels=["excess"], display_legend=True)
        axes = [bq.Axis(scale=self.x_scale, label="Energy (TeV)"),
                bq.Axis(scale=self.y_scale, side="left", label="Counts")]
        self.figure = bq.Figure(marks=[self.safe, self.counts, self.background, self.excess], axes=axes,
                                title=title, legend_location="top-right",
                                layout=widgets.Layout(width="100%", height="320px"))
        super().__init__([self.figure])

    def update(self, profiles):
        """Show the output of :func:`dl3lab.reduction.datasets.summary.energy_profiles`."""
        edges = profiles["edges"]
        with self.figure.hold_sync():
            for mark, key in ((self.counts, "counts"), (self.background, "background"), (self.excess, "excess")):
                mark.x, mark.y = _steps(edges, profiles[key])
            values = np.concatenate([profiles["counts"], profiles["background"], profiles["excess"]])
            y_lo, y_hi = float(min(values.min(), 0)), float(max(values.max(), 1))
            safe = np.flatnonzero(profiles["safe"])
            if len(safe):
                self.safe.x, self.safe.y = _band(edges[safe[0]], edges[safe[-1] + 1], y_lo, y_hi)
            else:
                self.safe.x, self.safe.y = np.zeros(0), np.zeros(0)


class ThresholdPlot(widgets.VBox):
    """A curve with a horizontal level and the vertical energy threshold it defines."""

    def __init__(self, title, y_label, log_y=False, step=False):
        self.x_scale = bq.LogScale()
        self.y_scale = bq.LogScale() if log_y else bq.LinearScale()
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.step = step
        self.curve = bq.Lines(x=[], y=[], scales=scales, colors=["black"],
                              interpolation="step-after" if step else "linear")
        self.level = bq.Lines(x=[], y=[], scales=scales, colors=["#ff7f0e"], line_style="dashed")
        self.threshold = bq.Lines(x=[], y=[], scales=scales, colors=["#d62728"])
        self.label = widgets.HTML()
        axes = [bq.Axis(scale=self.x_scale, label="Energy (TeV)"),
                bq.Axis(scale=self.y_scale, side="left", label=y_label)]
        self.figure = bq.Figure(marks=[self.curve, self.level, self.threshold], axes=axes, title=title,
                                layout=widgets.Layout(width="100%", height="260px"))
        super().__init__([self.figure, self.label])

    def update(self, energy, values, threshold=None, level=None):
        """Show a curve; ``threshold`` (Quantity or TeV) draws the vertical line, ``level`` the horizontal one."""
        energy = np.asarray(energy, dtype=float)
        values = np.asarray(values, dtype=float)
        finite = values[np.isfinite(values)]
        y_lo = float(finite.min()) if len(finite) else 0.0
        y_hi = float(finite.max()) if len(finite) else 1.0
        with self.figure.hold_sync():
            if self.step:
                self.curve.x, self.curve.y = _steps(energy, values)
            else:
                self.curve.x, self.curve.y = energy, values
            if level is not None:
                self.level.x, self.level.y = np.array([energy[0], energy[-1]]), np.array([level, level], float)
            if threshold is not None:
                value = float(getattr(threshold, "value", threshold))
                self.threshold.x, self.threshold.y = np.array([value, value]), np.array([y_lo, y_hi])
                self.label.value = f"threshold: {value:.3g} TeV"
            else:
                self.threshold.x, self.threshold.y = np.zeros(0), np.zeros(0)
                self.label.value = "no threshold"


class SafeMaskPlots(widgets.VBox):
    """The curves behind the safe-mask energy rules: effective area, energy bias, background spectrum."""

    def __init__(self):
        self.aeff = ThresholdPlot("Effective area (aeff-max)", "A_eff (m2)", log_y=True)
        self.bias = ThresholdPlot("Energy bias (edisp-bias)", "bias")
        self.background = ThresholdPlot("Background spectrum (bkg-peak)", "counts", step=True)
        super().__init__([self.aeff, self.bias, self.background])

    def update(self, diagnostics):
        """Show the output of `SafeMaskMaker.diagnostics`."""
        part = diagnostics.get("aeff")
        if part is not None:
            self.aeff.update(part["energy"], part["value"], part["threshold"], part["level"])
        part = diagnostics.get("bias")
        if part is not None:
            self.bias.update(part["energy"], part["value"], part["threshold"], part["level"])
        part = diagnostics.get("background")
        if part is not None:
            self.background.update(part["edges"], part["value"], part["threshold"])
