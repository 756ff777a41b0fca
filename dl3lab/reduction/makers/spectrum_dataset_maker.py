"""`SpectrumDatasetMaker`: counts, exposure, background and EDisp of one observation in a sky region (spec §9)."""

import warnings

import numpy as np
import traitlets
from astropy import units as u
from regions import CircleSkyRegion, PointSkyRegion

from ..datasets.irf_maps import EDispKernelMap, EDispMap
from ..errors import IncompatibleRegionError
from ..maps import Map
from .map_dataset_maker import MapDatasetMaker
from .map_products import make_edisp_kernel_data, make_edisp_map_data, make_exposure_data
from .region_products import (
    count_in_region,
    count_rad_max,
    events_pointing_deg,
    icrs_deg,
    point_centres_icrs,
    region_background,
    region_center_icrs,
    region_pixels_icrs,
)
from .sky import angular_separation_deg
from .traits import SubsetList

__all__ = ["SpectrumDatasetMaker"]

SPECTRUM_SELECTION = ("counts", "background", "exposure", "edisp")


def _is_region(geom):
    return getattr(geom, "is_region", False)


class _Computed:
    """A finished computation with the interface of `BackgroundComputation` (``work``/``result``)."""

    def __init__(self, data):
        self._data = data

    def work(self):
        """Nothing left to do."""

    def result(self):
        """The computed data."""
        return self._data


class SpectrumDatasetMaker(MapDatasetMaker):
    """Make the spectra of a `SpectrumDataset` for one observation (a `MapDatasetMaker` on a `RegionGeom`).

    The IRFs and background are evaluated at the region centre, which suits point
    sources. On map (WCS) datasets it behaves as `MapDatasetMaker`.

    Parameters
    ----------
    selection : list of str
        Spectra to make, among ``counts``, ``background``, ``exposure`` and ``edisp``.
    containment_correction : bool
        Multiply the exposure by the PSF containment fraction of a circular ON
        region (full-enclosure IRFs only).
    background_oversampling : int, optional
        Energy oversampling factor for the background integration.
    use_region_center : bool
        Evaluate exposure and background at the region centre (True) or average
        them over the helper-WCS pixels covering the region (False). The energy
        dispersion is always taken at the centre, as in Gammapy.
    """

    tag = "SpectrumDatasetMaker"
    available_selection = SPECTRUM_SELECTION

    selection = SubsetList(SPECTRUM_SELECTION, default_value=list(SPECTRUM_SELECTION))
    containment_correction = traitlets.Bool(False)
    use_region_center = traitlets.Bool(True)
    threads = traitlets.Int(1, min=1)

    # ------------------------------------------------------------- helpers
    @staticmethod
    def _centre_offsets(geom, observation):
        """Offset (deg) of the region centre from the pointing at tmid, shape ``(1, 1)``."""
        lon, lat = region_center_icrs(geom)
        p_lon, p_lat = icrs_deg(observation.get_pointing_icrs(observation.tmid))
        return angular_separation_deg(lon, lat, p_lon, p_lat).reshape(1, 1)

    # ------------------------------------------------------------- products
    def make_counts(self, geom, observation):
        """Counts spectrum in the region.

        Extended regions count events by containment (strict ``<`` in helper TAN
        pixels for circles). Point regions keep events within the energy-dependent
        ``RAD_MAX`` of the point (spec §4.1).

        Raises
        ------
        IncompatibleRegionError
            For a point region when the observation has no RAD_MAX.
        """
        if not _is_region(geom):
            return super().make_counts(geom, observation)
        events = observation.events
        if isinstance(geom.region, PointSkyRegion) or geom.is_all_point_sky_regions:
            rad_max = observation.rad_max
            if rad_max is None:
                raise IncompatibleRegionError(
                    "a PointSkyRegion ON region needs point-like IRFs with RAD_MAX", obs_id=observation.obs_id
                )
            pointing = events_pointing_deg(events, observation)
            data = count_rad_max(point_centres_icrs(geom.region), events, rad_max, geom.axes["energy"], pointing)
        else:
            data = count_in_region(geom, events)
        return Map.from_geom(geom, data=data, dtype=np.float32)

    def make_exposure(self, geom, observation):
        """Exposure spectrum in m2 s at the region centre (or region-averaged), with optional containment correction.

        Raises
        ------
        IncompatibleRegionError
            If a containment correction is requested with point-like IRFs or a non-circular region.
        """
        if not _is_region(geom):
            return super().make_exposure(geom, observation)
        aeff = observation.aeff
        axis = geom.axes["energy_true"]
        is_pointlike = observation.is_pointlike
        if self.use_region_center:
            data = make_exposure_data(aeff, axis, self._centre_offsets(geom, observation), observation.livetime)
        else:
            if is_pointlike:
                warnings.warn(
                    f"obs {observation.obs_id}: use_region_center=False should not be used with point-like IRFs; "
                    "results are likely inaccurate",
                    stacklevel=2,
                )
            lon, lat, weights, _ = region_pixels_icrs(geom)
            p_lon, p_lat = icrs_deg(observation.get_pointing_icrs(observation.tmid))
            offsets = angular_separation_deg(lon, lat, p_lon, p_lat)
            data = np.average(make_exposure_data(aeff, axis, offsets, observation.livetime), axis=-1, weights=weights)
        data = np.reshape(data, geom.data_shape)
        if self.containment_correction:
            data = data * self._containment(geom, observation, is_pointlike).reshape(geom.data_shape)
        meta = {"livetime": observation.livetime.to("s"), "is_pointlike": is_pointlike}
        return Map.from_geom(geom, data=data, unit="m2 s", meta=meta)

    def _containment(self, geom, observation, is_pointlike):
        if is_pointlike:
            raise IncompatibleRegionError(
                "cannot apply a containment correction with point-like IRFs", obs_id=observation.obs_id
            )
        if not isinstance(geom.region, CircleSkyRegion):
            raise IncompatibleRegionError(
                f"containment correction needs a circular ON region, got {type(geom.region).__name__}",
                obs_id=observation.obs_id,
            )
        offset = float(np.ravel(self._centre_offsets(geom, observation))[0])
        energy = geom.axes["energy_true"].center
        containment = observation.psf.containment(rad=geom.region.radius, energy_true=energy, offset=offset * u.deg)
        return np.asarray(containment, dtype=float)

    def _background_computation(self, geom, observation, out=None):
        if not _is_region(geom):
            return super()._background_computation(geom, observation, out=out)
        if observation.pointing.mode == "DRIFT":
            raise NotImplementedError(f"obs {observation.obs_id}: background for DRIFT pointing is not supported")
        data = region_background(
            self._background_irf(observation),
            geom,
            observation.get_pointing_icrs(observation.tmid),
            observation.observation_time_duration,
            oversampling=self.background_oversampling,
            use_region_center=self.use_region_center,
        )
        return _Computed(data)

    def make_edisp_kernel(self, geom, observation):
        """Energy-dispersion kernel at the region centre (geometry with ``[energy, energy_true]``)."""
        if not _is_region(geom):
            return super().make_edisp_kernel(geom, observation)
        offsets = self._centre_offsets(geom, observation)
        data = make_edisp_kernel_data(observation.edisp, geom.axes["energy_true"], geom.axes["energy"], offsets)
        kernel = Map.from_geom(geom, data=data, unit="")
        return EDispKernelMap(kernel, self._irf_exposure(geom.squash("energy"), observation, offsets))

    def make_edisp(self, geom, observation):
        """Migration density at the region centre (geometry with ``[migra, energy_true]``)."""
        if not _is_region(geom):
            return super().make_edisp(geom, observation)
        offsets = self._centre_offsets(geom, observation)
        data = make_edisp_map_data(observation.edisp, geom.axes["energy_true"], geom.axes["migra"], offsets)
        edisp_map = Map.from_geom(geom, data=data, unit="")
        return EDispMap(edisp_map, self._irf_exposure(geom.squash("migra"), observation, offsets))
