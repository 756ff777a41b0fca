"""`PipelineWidget`: the interactive reduction app, a view on a `ReductionPipeline`.

Every control edits a trait of the pipeline's geometry or makers; the pipeline
decides what to recompute. Re-runs are debounced and happen off the kernel's main
thread; a change during a run cancels it and starts a new one, and the last good
result stays visible while per-observation errors are listed.
"""

import html
import threading
import time

import ipywidgets as widgets

from dl3lab.reduction.datasets.summary import energy_profiles, sky_images
from dl3lab.reduction.errors import MissingDataError
from dl3lab.reduction.pipeline import GeometrySpec, OnRegionSpec, onoff_images, onoff_spectrum

from .exclusion import ExclusionEditor
from .makers import GeometryWidget, MakerWidget, OnRegionWidget
from .observations import ObservationBrowser
from .plots import EnergyProfilePlot, SafeMaskPlots
from .sky_view import SkyView

_TITLES = {"observations": "Observations", "geometry": "Geometry", "on_region": "ON region",
           "dataset_maker": "Maps / spectra", "safe_mask_maker": "Safe mask", "background_maker": "Background",
           "ring_maker": "Ring background", "exclusion": "Exclusion regions"}


def _component_panel(name, component):
    if isinstance(component, GeometrySpec):
        return GeometryWidget(component)
    if isinstance(component, OnRegionSpec):
        return OnRegionWidget(component)
    return MakerWidget(component, _TITLES.get(name))

__all__ = ["PipelineWidget"]


class PipelineWidget(widgets.VBox):
    """Controls, sky view, plots and summary of a reduction pipeline (any chain).

    The controls are an observation browser, one panel per pipeline component
    (geometry, ON region, makers) and the exclusion-region editor, all linked to the
    pipeline's traits. The pipeline's ``revision`` trait tells the widget of every
    change, after the pipeline has marked the stale stages.

    Parameters
    ----------
    pipeline : `~dl3lab.reduction.pipeline.ChainPipeline`
        The pipeline (3-D, ring or reflected-regions chain); the widget keeps no
        parameters of its own.
    auto_run : bool
        Re-run automatically after a change (otherwise use the Run button).
    debounce : float
        Seconds to wait after a change before starting a run when none is going on
        (0, the default, starts at once; changes during a run always coalesce into
        one follow-up run).
    threaded : bool
        Run in a worker thread (the default); False runs in the caller's thread.
    sky_view : `SkyView`, optional
        The sky view to use (a new one by default).
    """

    def __init__(self, pipeline, auto_run=True, debounce=0.0, threaded=True, sky_view=None):
        self.pipeline = pipeline
        self.debounce = debounce
        self.threaded = threaded
        self.idle = threading.Event()
        self.idle.set()
        self._timer = None
        self._cancel = threading.Event()
        self._worker = None
        self._pending = False
        self._lock = threading.Lock()
        self.last_duration = None  # seconds of the last run, display included
        self.last_run_duration = None  # seconds of the last pipeline run alone

        self.auto_run = widgets.Checkbox(value=auto_run, description="Run automatically", indent=False)
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.run_button.on_click(lambda _: self.request_run(immediate=True))
        self.progress = widgets.IntProgress(value=0, min=0, max=max(1, len(pipeline.obs_ids)), description="")
        self.status = widgets.HTML("not run yet")
        self.summary = widgets.HTML()
        self.errors = widgets.HTML()
        geometry = pipeline.geometry
        self.sky_view = sky_view if sky_view is not None else SkyView(fov=max(geometry.width * 1.3, 1.0),
                                                                      target=geometry.center)
        images = [] if pipeline.chain == "reflected" else ["excess", "significance", "counts", "background",
                                                            "safe_mask"]
        self.image_choice = widgets.Dropdown(options=images, value=images[0] if images else None,
                                             description="Image", disabled=not images)
        self.image_choice.observe(lambda _: self._show_image(), names="value")
        self.profile_plot = EnergyProfilePlot("ON/OFF spectrum" if pipeline.chain == "reflected"
                                              else "Counts per energy bin")
        self.safe_plots = SafeMaskPlots()
        self._images = None

        try:
            browser = ObservationBrowser(pipeline.data_store, pipeline=pipeline)
        except MissingDataError as exc:  # a store without an observation index: the pipeline's list stands
            browser = widgets.HTML(f"<i>No observation browser: {html.escape(str(exc))}. "
                                   f"Observations: {', '.join(map(str, pipeline.obs_ids))}</i>")
        self.panels = {"observations": browser}
        for name, component in pipeline.components.items():
            if component is not None:
                self.panels[name] = _component_panel(name, component)
        self.panels["exclusion"] = ExclusionEditor(pipeline, sky_view=self.sky_view)
        pipeline.observe(self._changed, names="revision")

        controls = widgets.Accordion(children=list(self.panels.values()), layout=widgets.Layout(width="38%"))
        for index, name in enumerate(self.panels):
            controls.set_title(index, _TITLES.get(name, name.replace("_", " ").capitalize()))
        controls.selected_index = list(self.panels).index(
            "safe_mask_maker" if "safe_mask_maker" in self.panels else "observations")
        self.controls = controls
        # bqplot lays out a figure created in a hidden tab with negative sizes (errors in the browser's
        # console): a plot tab receives its figure when it is first shown.
        pages = [widgets.VBox([self.image_choice, self.sky_view]), widgets.VBox(), widgets.VBox(), self.summary]
        self._deferred_pages = {1: (pages[1], self.profile_plot), 2: (pages[2], self.safe_plots)}
        self.tabs = tabs = widgets.Tab(children=pages, layout=widgets.Layout(width="62%"))
        tabs.observe(self._tab_shown, names="selected_index")
        for index, title in enumerate(["Sky", "Spectrum", "Safe mask", "Summary"]):
            tabs.set_title(index, title)
        # stable CSS classes for browser tests and styling
        for part, name in ((self.status, "status"), (self.summary, "summary"), (self.sky_view, "sky-view"),
                           (self.image_choice, "image-choice"), (self.profile_plot, "profile-plot"),
                           (self.safe_plots, "safe-plots"), (tabs, "tabs")):
            part.add_class(f"dl3lab-{name}")
        header = widgets.HBox([self.run_button, self.auto_run, self.progress, self.status])
        super().__init__([header, widgets.HBox([controls, tabs]), self.errors])

    def _tab_shown(self, change):
        page, content = self._deferred_pages.pop(change["new"], (None, None))
        if page is not None:
            page.children = [content]

    def close(self):
        if getattr(self, "_closed", False):  # idempotent: garbage collection calls it again
            return
        self._closed = True
        self.pipeline.unobserve(self._changed, names="revision")
        for panel in self.panels.values():
            panel.close()
        super().close()

    # ------------------------------------------------------------ scheduling
    def _changed(self, change=None):
        if self.auto_run.value:
            self.request_run()
        else:
            self.status.value = "parameters changed: press Run"

    def request_run(self, immediate=False):
        """Run the pipeline for the current parameters.

        Threaded (the default): if no run is going on, one starts at once in a worker
        thread (after ``debounce`` seconds unless ``immediate``); a run in progress is
        told to stop and is followed by exactly one new run, however many changes came
        in meanwhile. Not threaded: runs in the caller's thread.
        """
        with self._lock:
            self.idle.clear()
            if not self.threaded:
                pass
            elif self._worker is not None:
                self._cancel.set()
                self._pending = True
                return
            elif self.debounce > 0 and not immediate:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = threading.Timer(self.debounce, self._start)
                self._timer.daemon = True
                self._timer.start()
                return
            else:
                self._start_locked()
                return
        self._run_once(None)
        self.idle.set()

    def _start(self):
        with self._lock:
            self._timer = None
            if self._worker is not None:
                self._pending = True
            else:
                self._start_locked()

    def _start_locked(self):
        self._pending = False
        self._cancel = threading.Event()
        self._worker = threading.Thread(target=self._work, args=(self._cancel,), daemon=True)
        self._worker.start()

    def _work(self, cancel):
        while True:
            self._run_once(cancel)
            with self._lock:
                if not self._pending:
                    self._worker = None
                    self.idle.set()
                    return
                self._pending = False
                cancel = self._cancel = threading.Event()

    def _run_once(self, cancel):
        self.status.value = "running..."
        start = time.perf_counter()
        try:
            stacked = self.pipeline.run(cancel=cancel, progress=self._progress)
        except Exception as exc:  # keep the last good result on screen
            self.status.value = f"<span style='color:#b00020'>failed: {type(exc).__name__}: {exc}</span>"
            stacked = None
        self.last_run_duration = time.perf_counter() - start
        if stacked is not None and not (cancel is not None and cancel.is_set()):
            self.show_result(stacked)
            self.last_duration = time.perf_counter() - start
            self.status.value = (f"done in {1000 * self.last_duration:.0f} ms "
                                 f"(reduction {1000 * self.last_run_duration:.0f} ms)")
        self._show_errors()

    def _progress(self, done, total):
        self.progress.max = max(1, total)
        self.progress.value = done

    # --------------------------------------------------------------- display
    def show_result(self, stacked):
        """Update summary, plots and sky layers from a stacked result."""
        pipeline = self.pipeline
        onoff = getattr(stacked, "counts_off", None) is not None
        self.summary.value = f"<pre>{html.escape(str(stacked))}</pre>"
        self.profile_plot.update(onoff_spectrum(stacked) if onoff else energy_profiles(stacked))
        self._show_safe_plots()
        view = self.sky_view
        if pipeline.chain == "reflected":
            self._images = None
            view.remove_layer("result")
            view.show_geometry(pipeline.geometry.make_geom())
            view.show_regions("on", [pipeline.on_region.region()], color="#00ff66")
            off = [region for regions in pipeline.off_regions().values() for region in regions]
            if off:
                view.show_regions("off", off, color="#ffa500")
            else:
                view.remove_layer("off")
        else:
            self._images = onoff_images(stacked) if onoff else sky_images(stacked)
            view.show_geometry(stacked._geom)
        pointings = [pipeline.observation(i).get_pointing_icrs() for i in pipeline.obs_ids if i not in pipeline.errors]
        view.show_pointings(pointings, offset_max=pipeline.safe_mask_maker.offset_max)
        self._show_image()  # the exclusion layer belongs to the exclusion editor, which redraws it on change

    def _show_safe_plots(self):
        pipeline = self.pipeline
        for obs_id in pipeline.obs_ids:
            dataset = pipeline.safe_mask_input(obs_id)
            if dataset is None:
                continue
            try:
                self.safe_plots.update(pipeline.safe_mask_maker.diagnostics(dataset, pipeline.observation(obs_id)))
            except Exception as exc:  # plots are an aid; the reduction result stays valid
                self.status.value = f"safe-mask plots unavailable: {html.escape(str(exc))}"
            return

    def _show_image(self):
        if self._images is not None and self.image_choice.value in self._images:
            name = self.image_choice.value
            colormap = "grayscale" if name == "safe_mask" else "viridis"
            self.sky_view.show_image("result", self._images[name], colormap=colormap)

    def _show_errors(self):
        report = self.pipeline.error_report()
        self.errors.value = f"<pre style='color:#b00020'>{report}</pre>" if report else ""
