"""`MapDatasetMaker`: fill a dataset's counts, exposure, background, PSF and EDisp maps (spec §4)."""

import sys
import threading

import numpy as np
import traitlets
from astropy import units as u
from astropy.table import Table

from ..datasets.irf_maps import EDispKernelMap, EDispMap, PSFMap
from ..datasets.memory import MAP_DTYPE
from ..executor import max_threads, thread_pool
from ..geom.grid import sky_grid_key
from ..maps import Map
from .background_projection import BackgroundComputation, BackgroundTask, background_work_dtype, prepare_background
from .background_worker import WorkerLost, background_worker
from .core import Maker
from .map_products import (
    M2_S,
    fill_counts,
    make_edisp_kernel_data,
    make_edisp_map_data,
    make_exposure_data,
    make_psf_data,
    pointing_offsets,
)
from .sky import pixel_trig, pointing_radians, solid_angle_sr
from .traits import AngleTrait, SubsetList

__all__ = ["MapDatasetMaker", "make_meta_table"]

MAP_SELECTION = ("counts", "exposure", "background", "psf", "edisp")
#: Per-thread state of a running :meth:`MapDatasetMaker.run` (values shared between its maps).
_RUN = threading.local()
DEG_INV2 = u.Unit("deg-2")


def make_meta_table(observation):
    """One-row table describing the observation (``TELESCOP``, ``OBS_ID``, ``OBS_MODE``, pointing)."""
    row = {
        "TELESCOP": [observation.meta["telescope"]],
        "OBS_ID": [observation.obs_id],
        "OBS_MODE": [observation.pointing.mode],
    }
    if observation.pointing.mode == "DRIFT":
        altaz = observation.pointing.fixed_altaz
        row["ALT_PNT"] = [altaz.alt.deg] * u.deg
        row["AZ_PNT"] = [altaz.az.deg] * u.deg
    else:
        icrs = observation.pointing.fixed_icrs
        row["RA_PNT"] = [icrs.ra.deg] * u.deg
        row["DEC_PNT"] = [icrs.dec.deg] * u.deg
    return Table(row)


def _stored(data, geom):
    """``data`` (computed in float64) reshaped to ``geom`` and converted to the dataset map dtype."""
    return np.asarray(data).reshape(geom.data_shape).astype(MAP_DTYPE, copy=False)


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


#: Background maps with at least this many (energy, pixel) values may be computed in the helper process.
PROCESS_MIN_VALUES = 200_000
#: ... and at most this many (the shared file is 4 bytes per value; larger maps use a helper thread).
PROCESS_MAX_VALUES = 16_000_000


class _SharedBackground:
    """The background of one observation, computed beside the other maps.

    It goes to the helper process (`dl3lab.reduction.makers.background_worker`) when
    that is running and idle, and otherwise to a helper thread, which the caller
    joins at the end. Both run the same code, so the values are the same.
    """

    def __init__(self, maker, geom, observation):
        self._maker, self._geom, self._observation = maker, geom, observation
        self._pending = self._submit_to_process(maker, geom, observation)
        if self._pending is not None:
            return
        self._ready = threading.Event()
        self._computation = None
        # The output is allocated here: memory that a helper thread allocates comes from its own
        # malloc arena, which gives freed pages back to the system, so they fault in again each time.
        n_energy = geom.axes["energy"].nbin * (maker.background_oversampling or 1)
        dtype = background_work_dtype(maker.background_oversampling, MAP_DTYPE)
        out = np.empty((n_energy, int(np.prod(geom.to_image().data_shape))), dtype)
        self._future = thread_pool().submit(self._start, maker, geom, observation, out)

    @staticmethod
    def _submit_to_process(maker, geom, observation):
        image = geom.to_image()
        values = geom.axes["energy"].nbin * int(np.prod(image.data_shape))
        # Not from a cluster worker (it would start a process of its own) or from dl3lab's own helper threads.
        if (type(maker)._background_computation is not MapDatasetMaker._background_computation
                or not PROCESS_MIN_VALUES <= values <= PROCESS_MAX_VALUES or observation.pointing.mode == "DRIFT"
                or threading.current_thread().name.startswith("dl3lab") or _in_dask_worker()):
            return None
        worker = background_worker()
        if worker is None or not worker.ready():
            return None
        task = BackgroundTask(observation.bkg, geom.axes["energy"], observation.observation_time_duration,
                              oversampling=maker.background_oversampling, dtype=MAP_DTYPE,
                              interp_missing_data=maker.background_interp_missing_data,
                              pad_offset=maker.background_pad_offset)
        grid = lambda: (pixel_trig(image), solid_angle_sr(image))  # noqa: E731
        pointing = pointing_radians(observation.get_pointing_icrs(observation.tmid))
        return worker.try_submit(task, sky_grid_key(image), grid, pointing)

    def _start(self, maker, geom, observation, out):
        try:
            self._computation = maker._background_computation(geom, observation, out=out)
        finally:
            self._ready.set()
        self._computation.work()

    def result(self):
        if self._pending is not None:
            try:
                return self._pending.result().reshape(self._geom.data_shape)
            except WorkerLost:  # computed here instead; a real error in the data surfaces from this call
                return self._maker._background_computation(self._geom, self._observation).result()
        self._ready.wait()
        if self._computation is not None:
            self._computation.work()  # the calling thread takes the chunks that are left
        self._future.result()  # re-raises a failure of the helper thread
        return self._computation.result()


class MapDatasetMaker(Maker):
    """Make the maps of a `MapDataset` for one observation.

    Parameters
    ----------
    selection : list of str
        Maps to make, among ``counts``, ``exposure``, ``background``, ``psf`` and ``edisp``.
    background_oversampling : int, optional
        Energy oversampling factor for the background integration.
    background_interp_missing_data : bool
        Fill zero or non-finite background entries by log interpolation along energy.
    background_pad_offset : bool
        Pad 2-D background tables by one offset bin on each side.
    fov_rotation_step : angle
        Rotation step of the Alt/Az-aligned background integration.
    threads : int
        Threads used for one observation: with 2 or more, the background is computed
        beside the other maps, in the helper process of
        `dl3lab.reduction.makers.background_worker` when it is running and idle, else
        in a helper thread (identical maps either way). Capped by
        `dl3lab.reduction.executor.max_threads` (1 inside worker processes).
    """

    tag = "MapDatasetMaker"
    available_selection = MAP_SELECTION

    selection = SubsetList(MAP_SELECTION, default_value=list(MAP_SELECTION))
    background_oversampling = traitlets.Int(None, allow_none=True, min=1)
    background_interp_missing_data = traitlets.Bool(True)
    background_pad_offset = traitlets.Bool(True)
    fov_rotation_step = AngleTrait(1.0, positive=True)
    threads = traitlets.Int(2, min=1)

    def __init__(self, selection=None, **kwargs):
        if selection is not None:
            kwargs["selection"] = selection
        super().__init__(**kwargs)

    # ------------------------------------------------------------- products
    def make_counts(self, geom, observation):
        """Counts map on ``geom``."""
        return Map.from_geom(geom, data=fill_counts(geom, observation.events).astype(MAP_DTYPE, copy=False))

    def make_exposure(self, geom, observation):
        """Exposure map on ``geom`` (a geometry with an ``energy_true`` axis), in m2 s."""
        offsets = pointing_offsets(geom.to_image(), observation.get_pointing_icrs(observation.tmid))
        data = make_exposure_data(observation.aeff, geom.axes["energy_true"], offsets, observation.livetime,
                                  dtype=MAP_DTYPE)
        meta = {"livetime": observation.livetime.to("s"), "is_pointlike": observation.is_pointlike}
        return Map.from_geom(geom, data=_stored(data, geom), unit=M2_S, meta=meta)

    def _background_irf(self, observation):
        return prepare_background(observation.bkg, self.background_interp_missing_data, self.background_pad_offset)

    def _background_computation(self, geom, observation, out=None):
        if observation.pointing.mode == "DRIFT":
            raise NotImplementedError(f"obs {observation.obs_id}: background for DRIFT pointing is not supported")
        return BackgroundComputation(
            self._background_irf(observation),
            geom,
            observation.get_pointing_icrs(observation.tmid),
            observation.observation_time_duration,
            oversampling=self.background_oversampling,
            out=out,
            dtype=MAP_DTYPE,
        )

    def make_background(self, geom, observation):
        """Predicted background counts from the background IRF."""
        return Map.from_geom(geom, data=self._background_computation(geom, observation).result(), unit="")

    def make_psf(self, geom, observation):
        """PSF map on ``geom`` (IRF geometry with ``[rad, energy_true]`` axes)."""
        image = geom.to_image()
        offsets = pointing_offsets(image, observation.get_pointing_icrs(observation.tmid))
        energy_true = geom.axes["energy_true"]
        data = make_psf_data(observation.psf, energy_true, geom.axes["rad"], offsets, dtype=MAP_DTYPE)
        psf_map = Map.from_geom(geom, data=_stored(data, geom), unit=DEG_INV2)
        exposure = self._irf_exposure(geom.squash("rad"), observation, offsets)
        return PSFMap(psf_map, exposure)

    def _irf_exposure(self, geom, observation, offsets):
        """Exposure map on an IRF geometry (computed once per grid within one :meth:`run`)."""
        memo = getattr(_RUN, "memo", None)
        energy_true = geom.axes["energy_true"]
        edges = energy_true.edges
        key = (id(offsets), edges.value.tobytes(), str(edges.unit))
        if memo is not None and key in memo:
            data = memo[key][1].copy()
        else:
            data = make_exposure_data(observation.aeff, energy_true, offsets, observation.livetime)
            if memo is not None:
                memo[key] = (offsets, data)  # keeps ``offsets`` alive, so its id stays unique
        meta = {"livetime": observation.livetime.to("s"), "is_pointlike": observation.is_pointlike}
        return Map.from_geom(geom, data=_stored(data, geom), unit=M2_S, meta=meta)

    def make_edisp_kernel(self, geom, observation):
        """Energy-dispersion kernel map on ``geom`` (IRF geometry with ``[energy, energy_true]``)."""
        image = geom.to_image()
        offsets = pointing_offsets(image, observation.get_pointing_icrs(observation.tmid))
        data = make_edisp_kernel_data(observation.edisp, geom.axes["energy_true"], geom.axes["energy"], offsets)
        kernel = Map.from_geom(geom, data=_stored(data, geom), unit="")
        return EDispKernelMap(kernel, self._irf_exposure(geom.squash("energy"), observation, offsets))

    def make_edisp(self, geom, observation):
        """Migration map on ``geom`` (IRF geometry with ``[migra, energy_true]``)."""
        image = geom.to_image()
        offsets = pointing_offsets(image, observation.get_pointing_icrs(observation.tmid))
        data = make_edisp_map_data(observation.edisp, geom.axes["energy_true"], geom.axes["migra"], offsets)
        edisp_map = Map.from_geom(geom, data=_stored(data, geom), unit="")
        return EDispMap(edisp_map, self._irf_exposure(geom.squash("migra"), observation, offsets))

    # ------------------------------------------------------------------ run
    def run(self, dataset, observation):
        """Make a new dataset with the maps of ``observation`` on the geometries of ``dataset``.

        The returned dataset has the same class and name, the observation's GTI and
        meta table, an all-True safe mask, no fit mask and no models.
        """
        geom = dataset.counts.geom
        selection = self.selection
        shared = None
        if "background" in selection:
            # Read everything the background needs here, so the helper thread only computes.
            observation.bkg, observation.pointing, observation.gti  # noqa: B018
            if min(self.threads, max_threads()) > 1:
                shared = _SharedBackground(self, geom, observation)  # started first: it runs the longest
        kwargs = {"name": dataset.name}
        try:
            kwargs.update(gti=observation.gti.copy(), meta_table=make_meta_table(observation))
            kwargs["meta"] = {"obs_info": dict(observation.meta)}
            if "counts" in selection:
                kwargs["counts"] = self.make_counts(geom, observation)
            else:
                kwargs["counts"] = Map.from_geom(geom, dtype=MAP_DTYPE)
            if "exposure" in selection and dataset.exposure is not None:
                kwargs["exposure"] = self.make_exposure(dataset.exposure.geom, observation)
            _RUN.memo = {}  # the PSF and EDisp maps usually share their grid: their exposure is computed once
            if "psf" in selection and dataset.psf is not None:
                kwargs["psf"] = self.make_psf(dataset.psf.psf_map.geom, observation)
            if "edisp" in selection and dataset.edisp is not None:
                edisp_geom = dataset.edisp.edisp_map.geom
                if "migra" in edisp_geom.axes.names:
                    kwargs["edisp"] = self.make_edisp(edisp_geom, observation)
                else:
                    kwargs["edisp"] = self.make_edisp_kernel(edisp_geom, observation)
        finally:
            _RUN.memo = None
            if shared is not None:
                kwargs["background"] = Map.from_geom(geom, data=shared.result(), unit="")
        if "background" in selection and shared is None:
            kwargs["background"] = self.make_background(geom, observation)
        kwargs["mask_safe"] = Map.from_geom(geom, data=np.ones(geom.data_shape, bool), dtype=bool)
        return dataset.__class__(**kwargs)
