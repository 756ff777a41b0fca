"""The background (and exposure) map of one observation, computed beside its other maps.

`MapDatasetMaker.run` hands the background map, the largest piece of its work, to
the helper process of `dl3lab.reduction.makers.background_worker` when that is
running and idle, together with the exposure map when both share one sky grid.
Otherwise a helper thread computes the background and the calling thread joins it
at the end. Every path runs the same code, so the maps are the same.
"""

import sys
import threading

import numpy as np

from ..datasets.memory import MAP_DTYPE
from ..executor import thread_pool
from ..geom.grid import sky_grid_key
from .background_projection import BackgroundTask, background_work_dtype
from .background_worker import WorkerLost, background_worker
from .map_products import ExposureTask
from .sky import pixel_trig, pointing_radians, solid_angle_sr

__all__ = ["SideMaps", "PROCESS_MIN_VALUES", "PROCESS_MAX_VALUES"]

#: Background maps with at least this many (energy, pixel) values may be computed in the helper process ...
PROCESS_MIN_VALUES = 200_000
#: ... and at most this many (the shared file holds 4 bytes per value; larger maps use a helper thread).
PROCESS_MAX_VALUES = 16_000_000


def _in_dask_worker():
    """Whether this code runs inside a Dask distributed worker."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except (ValueError, AttributeError):
        return False
    return True


class SideMaps:
    """The background map of one observation, and maybe its exposure map, computed beside the other maps.

    Parameters
    ----------
    maker : `~dl3lab.reduction.MapDatasetMaker`
        The maker (its background options and its ``make_exposure``).
    geom : `~dl3lab.reduction.geom.WcsGeom`
        Counts geometry.
    observation : `~dl3lab.reduction.data.Observation`
        The observation.
    exposure_geom : `~dl3lab.reduction.geom.WcsGeom`, optional
        Geometry of the exposure map, if one is wanted; it is made here only when the
        helper process takes it (see :attr:`has_exposure`).
    """

    def __init__(self, maker, geom, observation, exposure_geom=None):
        self._maker, self._geom, self._observation = maker, geom, observation
        self._exposure_geom = None
        self._pending = self._submit_to_process(exposure_geom)
        if self._pending is not None:
            return
        self._ready = threading.Event()
        self._computation = None
        # The output is allocated here: memory that a helper thread allocates comes from its own
        # malloc arena, which gives freed pages back to the system, so they fault in again each time.
        n_energy = geom.axes["energy"].nbin * (maker.background_oversampling or 1)
        dtype = background_work_dtype(maker.background_oversampling, MAP_DTYPE)
        out = np.empty((n_energy, int(np.prod(geom.to_image().data_shape))), dtype)
        self._future = thread_pool().submit(self._start, out)

    @property
    def has_exposure(self):
        """Whether the exposure map is made here (:meth:`exposure`), not by the caller."""
        return self._exposure_geom is not None

    def _submit_to_process(self, exposure_geom):
        from .map_dataset_maker import MapDatasetMaker

        maker, geom, observation = self._maker, self._geom, self._observation
        image = geom.to_image()
        values = geom.axes["energy"].nbin * int(np.prod(image.data_shape))
        # Not from a cluster worker (it would start a process of its own) or from dl3lab's own helper threads.
        if (type(maker)._background_computation is not MapDatasetMaker._background_computation
                or type(maker).make_exposure is not MapDatasetMaker.make_exposure
                or not PROCESS_MIN_VALUES <= values <= PROCESS_MAX_VALUES or observation.pointing.mode == "DRIFT"
                or threading.current_thread().name.startswith("dl3lab") or _in_dask_worker()):
            return None
        worker = background_worker()
        if worker is None or not worker.ready():
            return None
        tasks = [BackgroundTask(observation.bkg, geom.axes["energy"], observation.observation_time_duration,
                                oversampling=maker.background_oversampling, dtype=MAP_DTYPE,
                                interp_missing_data=maker.background_interp_missing_data,
                                pad_offset=maker.background_pad_offset)]
        key = sky_grid_key(image)
        if exposure_geom is not None and sky_grid_key(exposure_geom.to_image()) == key:
            tasks.append(ExposureTask(observation.aeff, exposure_geom.axes["energy_true"], observation.livetime,
                                      dtype=MAP_DTYPE))
        grid = lambda: (pixel_trig(image), solid_angle_sr(image))  # noqa: E731
        pointing = pointing_radians(observation.get_pointing_icrs(observation.tmid))
        pending = worker.try_submit(tasks, key, grid, pointing)
        if pending is not None and len(tasks) == 2:
            self._exposure_geom = exposure_geom
        return pending

    def _start(self, out):
        try:
            self._computation = self._maker._background_computation(self._geom, self._observation, out=out)
        finally:
            self._ready.set()
        self._computation.work()

    def _process_results(self):
        """The helper process's maps, or None if it could not deliver them (then they are made here)."""
        try:
            return self._pending.result()
        except WorkerLost:
            return None

    def background(self):
        """The background counts, shape of the counts geometry's data."""
        if self._pending is not None:
            results = self._process_results()
            if results is not None:
                return results[0].reshape(self._geom.data_shape)
            # made here instead; a real error in the data surfaces from this call
            return self._maker._background_computation(self._geom, self._observation).result()
        self._ready.wait()
        if self._computation is not None:
            self._computation.work()  # the calling thread takes the chunks that are left
        self._future.result()  # re-raises a failure of the helper thread
        return self._computation.result()

    def exposure(self):
        """The exposure `Map` (only when :attr:`has_exposure`)."""
        results = self._process_results()
        if results is None:
            return self._maker.make_exposure(self._exposure_geom, self._observation)
        return self._maker._exposure_map(self._exposure_geom, self._observation, results[1])
