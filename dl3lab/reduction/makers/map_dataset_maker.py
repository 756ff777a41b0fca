"""`MapDatasetMaker`: fill a dataset's counts, exposure, background, PSF and EDisp maps (spec §4)."""

import threading

import numpy as np
import traitlets
from astropy import units as u
from astropy.table import Table

from ..datasets.irf_maps import EDispKernelMap, EDispMap, PSFMap
from ..datasets.memory import MAP_DTYPE
from ..executor import max_threads
from ..maps import Map
from .background_projection import BackgroundComputation
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
from .side_maps import SideMaps
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
        beside the other maps. Capped by `dl3lab.reduction.executor.max_threads`
        (1 inside worker processes).
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
        return self._exposure_map(geom, observation, data)

    @staticmethod
    def _exposure_map(geom, observation, data):
        meta = {"livetime": observation.livetime.to("s"), "is_pointlike": observation.is_pointlike}
        return Map.from_geom(geom, data=_stored(data, geom), unit=M2_S, meta=meta)

    def _background_irf(self, observation):
        bkg = observation.bkg
        if self.background_interp_missing_data:
            bkg = bkg.interp_missing_data(axis_name="energy")
        if self.background_pad_offset and "offset" in bkg.axes.names:
            bkg = bkg.pad_offset()
        return bkg

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
        kwargs = {"gti": observation.gti.copy(), "meta_table": make_meta_table(observation), "name": dataset.name}
        kwargs["meta"] = {"obs_info": dict(observation.meta)}
        selection = self.selection
        side = None
        wants_exposure = "exposure" in selection and dataset.exposure is not None
        if "background" in selection:
            # Read everything the background needs here, so the helper thread only computes.
            observation.bkg, observation.pointing, observation.gti  # noqa: B018
            if min(self.threads, max_threads()) > 1:
                side = SideMaps(self, geom, observation, dataset.exposure.geom if wants_exposure else None)
        try:
            if "counts" in selection:
                kwargs["counts"] = self.make_counts(geom, observation)
            else:
                kwargs["counts"] = Map.from_geom(geom, dtype=MAP_DTYPE)
            if wants_exposure and not (side is not None and side.has_exposure):
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
            if side is not None:
                kwargs["background"] = Map.from_geom(geom, data=side.background(), unit="")
        if side is not None and side.has_exposure:
            kwargs["exposure"] = side.exposure()
        if "background" in selection and side is None:
            kwargs["background"] = self.make_background(geom, observation)
        kwargs["mask_safe"] = Map.from_geom(geom, data=np.ones(geom.data_shape, bool), dtype=bool)
        return dataset.__class__(**kwargs)
