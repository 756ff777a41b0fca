"""`PipelineWidget`: the interactive reduction app, a view on a `ReductionPipeline`.

Every control edits a trait of the pipeline's geometry or makers; the pipeline
decides what to recompute. Re-runs are debounced and happen off the kernel's main
thread; a change during a run cancels it and starts a new one, and the last good
result stays visible while per-observation errors are listed.
"""

import threading
import time

import ipywidgets as widgets
import traitlets

from dl3lab.reduction.datasets.summary import energy_profiles, sky_images

from .makers import GeometryWidget, MakerWidget
from .plots import EnergyProfilePlot, SafeMaskPlots
from .sky_view import SkyView

__all__ = ["PipelineWidget"]


class PipelineWidget(widgets.VBox):
    """Controls, sky view, plots and summary of a reduction pipeline.

    Parameters
    ----------
    pipeline : `~dl3lab.reduction.pipeline.ReductionPipeline`
        The pipeline; the widget keeps no parameters of its own.
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
        self.sky_view = sky_view if sky_view is not None else SkyView(fov=max(pipeline.geometry.width * 1.3, 1.0),
                                                                      target=pipeline.geometry.center)
        self.image_choice = widgets.Dropdown(options=["excess", "significance", "counts", "background", "safe_mask"],
                                             value="excess", description="Image")
        self.image_choice.observe(lambda _: self._show_image(), names="value")
        self.profile_plot = EnergyProfilePlot()
        self.safe_plots = SafeMaskPlots()
        self._images = None

        self.panels = {
            "geometry": GeometryWidget(pipeline.geometry),
            "dataset_maker": MakerWidget(pipeline.dataset_maker, "Maps"),
            "safe_mask_maker": MakerWidget(pipeline.safe_mask_maker, "Safe mask"),
        }
        if pipeline.background_maker is not None:
            self.panels["background_maker"] = MakerWidget(pipeline.background_maker, "FoV background")
        for obj in (pipeline.geometry, pipeline.dataset_maker, pipeline.safe_mask_maker, pipeline.background_maker):
            if obj is not None:
                obj.observe(self._changed, names=traitlets.All)
        pipeline.observe(self._changed, names=["exclusion_regions", "obs_ids", "cutout_width"])

        controls = widgets.VBox(list(self.panels.values()), layout=widgets.Layout(width="38%"))
        tabs = widgets.Tab(children=[widgets.VBox([self.image_choice, self.sky_view]), self.profile_plot,
                                     self.safe_plots, self.summary])
        for index, title in enumerate(["Sky", "Spectrum", "Safe mask", "Summary"]):
            tabs.set_title(index, title)
        header = widgets.HBox([self.run_button, self.auto_run, self.progress, self.status])
        super().__init__([header, widgets.HBox([controls, tabs]), self.errors])

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
        """Update summary, plots and sky layers from a stacked dataset."""
        pipeline = self.pipeline
        self.summary.value = f"<pre>{stacked}</pre>"
        self.profile_plot.update(energy_profiles(stacked))
        datasets = pipeline.datasets
        if datasets:
            first = pipeline.obs_ids[0]
            try:
                self.safe_plots.update(pipeline.safe_mask_maker.diagnostics(datasets[0], pipeline.observation(first)))
            except Exception as exc:
                self.status.value = f"safe-mask plots unavailable: {exc}"
        self._images = sky_images(stacked)
        view = self.sky_view
        view.show_geometry(stacked.counts.geom)
        pointings = [pipeline.observation(i).get_pointing_icrs() for i in pipeline.obs_ids if i not in pipeline.errors]
        view.show_pointings(pointings, offset_max=pipeline.safe_mask_maker.offset_max)
        exclusion = pipeline.exclusion_regions
        if exclusion:
            from astropy import units as u
            from astropy.coordinates import SkyCoord
            from regions import CircleSkyRegion

            circles = [CircleSkyRegion(SkyCoord(r["lon"], r["lat"], unit="deg", frame=pipeline.geometry.frame),
                                       r["radius"] * u.deg) for r in exclusion]
            view.show_regions("exclusion", circles, color="#ff4040")
        else:
            view.remove_layer("exclusion")
        self._show_image()

    def _show_image(self):
        if self._images is not None:
            name = self.image_choice.value
            colormap = "grayscale" if name == "safe_mask" else "viridis"
            self.sky_view.show_image("result", self._images[name], colormap=colormap)

    def _show_errors(self):
        report = self.pipeline.error_report()
        self.errors.value = f"<pre style='color:#b00020'>{report}</pre>" if report else ""
