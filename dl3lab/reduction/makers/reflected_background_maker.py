"""`ReflectedRegionsBackgroundMaker`: OFF counts from regions reflected about the pointing (spec §8.4)."""

import warnings
from itertools import combinations

import numpy as np
import traitlets
from astropy import units as u
from regions import CircleSkyRegion, PointSkyRegion

from ..datasets.spectrum import SpectrumDatasetOnOff
from ..errors import IncompatibleRegionError
from ..geom import RegionGeom
from ..geom._utils import frame_from_wcs, rotated_lonlat
from ..maps import Map
from .core import Maker
from .region_finders import OffRegions, ReflectedRegionsFinder, RegionsFinder
from .region_products import (
    count_rad_max,
    events_pointing_deg,
    histogram_energy,
    icrs_deg,
    north_pixel_scale,
    point_centres_icrs,
)
from .sky import angular_separation_deg, events_in_frame
from .traits import OptionalInstance

__all__ = ["ReflectedRegionsBackgroundMaker", "check_rad_max_region"]


def _is_mask_map(value):
    return hasattr(value, "geom") and hasattr(value, "data") and np.asarray(value.data).dtype == bool


def check_rad_max_region(rad_max, geom, obs_id=None, rtol=1e-3):
    """Check that an ON region suits point-like IRFs with a RAD_MAX cut (spec §8.4 step 1).

    Point regions always do; a circle must have the radius of a fixed RAD_MAX.

    Raises
    ------
    IncompatibleRegionError
        For a circle of another radius, an energy-dependent RAD_MAX with a circle,
        or any other shape.
    """
    if geom.is_all_point_sky_regions:
        return
    region = geom.region
    if isinstance(region, CircleSkyRegion) and rad_max.is_fixed_rad_max:
        expected = float(np.ravel(rad_max.quantity.to_value("deg"))[0])
        radius = region.radius.to_value("deg")
        if not np.isclose(radius, expected, rtol=rtol, atol=0):
            raise IncompatibleRegionError(
                f"CircleSkyRegion radius must equal RAD_MAX for point-like IRFs with a fixed RAD_MAX: "
                f"expected {expected} deg, got {radius} deg",
                obs_id=obs_id,
            )
        return
    detail = " with an energy-dependent RAD_MAX" if isinstance(region, CircleSkyRegion) else ""
    raise IncompatibleRegionError(
        "point-like IRFs need a PointSkyRegion ON region, or a CircleSkyRegion with the fixed RAD_MAX radius; "
        f"got {type(region).__name__}{detail}",
        obs_id=obs_id,
    )


def regions_overlap_rad_max(centres, rad_max, offset_deg, energy_axis):
    """Whether two of the point positions ``centres`` (ICRS deg) are closer than twice RAD_MAX (spec §8.4 step 3).

    RAD_MAX is evaluated at ``offset_deg`` for its energy bins overlapping the reco axis.
    """
    if len(centres) < 2:
        return False
    pairs = np.array([(a[0], a[1], b[0], b[1]) for a, b in combinations(centres, 2)])
    separations = angular_separation_deg(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3])
    axis = rad_max.axes["energy"]
    values = rad_max.evaluate(energy=axis.center, offset=offset_deg * u.deg).to_value("deg")
    values = np.ravel(np.broadcast_to(values, np.broadcast_shapes(np.shape(values), (axis.nbin,))))
    e_min, e_max = energy_axis.edges[0], energy_axis.edges[-1]
    select = (axis.edges[1:] >= e_min) & (axis.edges[:-1] <= e_max)
    return bool(np.any(separations[None, :] < 2 * values[select][:, None]))


class ReflectedRegionsBackgroundMaker(Maker):
    """Turn a `SpectrumDataset` into a `SpectrumDatasetOnOff` with OFF counts from reflected regions.

    Parameters
    ----------
    region_finder : `RegionsFinder`, optional
        OFF-region finder; by default a `ReflectedRegionsFinder` built from ``**kwargs``.
    exclusion_mask : `~dl3lab.reduction.maps.Map`, optional
        Boolean map, True where OFF regions may lie. Its non-spatial axes must have
        one bin; it is reduced to 2-D.
    **kwargs
        Parameters of the default `ReflectedRegionsFinder` (e.g. ``min_distance_input``).
    """

    tag = "ReflectedRegionsBackgroundMaker"

    region_finder = OptionalInstance(lambda v: isinstance(v, RegionsFinder), "a RegionsFinder")
    exclusion_mask = OptionalInstance(_is_mask_map, "a boolean Map")

    def __init__(self, region_finder=None, exclusion_mask=None, **kwargs):
        if region_finder is None:
            region_finder = ReflectedRegionsFinder(**kwargs)
        elif kwargs:
            raise ValueError("no finder keyword arguments can be given together with a region_finder")
        super().__init__(region_finder=region_finder, exclusion_mask=exclusion_mask)

    @traitlets.validate("exclusion_mask")
    def _flat_mask(self, proposal):
        mask = proposal["value"]
        if mask is None:
            return None
        if not mask.geom.is_flat:
            raise traitlets.TraitError(
                "ReflectedRegionsBackgroundMaker: the exclusion mask must only have spatial dimensions "
                f"(non-spatial axes of one bin), got axes {mask.geom.axes.names} of shape {mask.data.shape}"
            )
        if mask.geom.axes.names:
            mask = Map.from_geom(mask.geom.to_image(), data=mask.data.reshape(mask.data.shape[-2:]), dtype=bool)
        return mask

    @traitlets.validate("region_finder")
    def _default_finder(self, proposal):
        return proposal["value"] if proposal["value"] is not None else ReflectedRegionsFinder()

    # --------------------------------------------------------------- OFF counts
    def make_counts_off(self, dataset, observation):
        """OFF counts and acceptance for one observation.

        Returns
        -------
        counts_off : `~dl3lab.reduction.maps.RegionNDMap` or None
            OFF counts on the union of the OFF regions (None if no region was found).
        acceptance_off : `~dl3lab.reduction.maps.RegionNDMap`
            The number of OFF regions, in every energy bin.
        regions : list of `~regions.SkyRegion`
            The OFF regions.

        Raises
        ------
        IncompatibleRegionError
            If the ON region does not suit the observation's point-like RAD_MAX.
        """
        geom = dataset.counts.geom
        energy_axis = geom.axes["energy"]
        events = observation.events
        rad_max = observation.rad_max
        is_point = geom.is_all_point_sky_regions
        if rad_max is not None:
            check_rad_max_region(rad_max, geom, obs_id=observation.obs_id)
        elif is_point:
            raise IncompatibleRegionError(
                "a PointSkyRegion ON region needs point-like IRFs with RAD_MAX", obs_id=observation.obs_id
            )
        if is_point and isinstance(self.region_finder, ReflectedRegionsFinder):
            raise IncompatibleRegionError(
                "ReflectedRegionsFinder does not work with a PointSkyRegion ON region; use WobbleRegionsFinder",
                obs_id=observation.obs_id,
            )
        kwargs = dict(
            region=geom.region,
            center=observation.get_pointing_icrs(observation.tmid),
            exclusion_mask=self.exclusion_mask,
        )
        try:
            found = self.region_finder.find(**kwargs)
        except NotImplementedError:  # a finder that only implements ``run``
            found = OffRegions(*self.region_finder.run(**kwargs), None)
        regions, wcs = found.regions, found.wcs
        pointing = events_pointing_deg(events, observation)
        if is_point and regions:
            on_lon, on_lat = (float(v) for v in icrs_deg(geom.region.center))
            offset = float(angular_separation_deg(on_lon, on_lat, pointing[0], pointing[1]))
            centres = point_centres_icrs(geom.region) + [tuple(float(v) for v in icrs_deg(r.center)) for r in regions]
            if regions_overlap_rad_max(centres, rad_max, offset, energy_axis):
                warnings.warn(
                    f"obs {observation.obs_id}: ON and OFF regions overlap for the RAD_MAX cut; choose fewer OFF "
                    "regions",
                    stacklevel=2,
                )
                regions = []
        if not regions:
            warnings.warn(
                f"ReflectedRegionsBackgroundMaker failed: no OFF region found outside the exclusion mask "
                f"for dataset {dataset.name!r} (obs {observation.obs_id})",
                stacklevel=2,
            )
            return None, Map.from_geom(geom, data=0.0), []
        geom_off = RegionGeom.create(regions, axes=[energy_axis], wcs=wcs)
        if is_point:
            centres = [tuple(float(v) for v in icrs_deg(r.center)) for r in regions]
            data = count_rad_max(centres, events, rad_max, energy_axis, pointing)
        else:
            circles = found.circles if found.circles is not None and len(found.circles[0]) == len(regions) else None
            data = histogram_energy(energy_axis, events.energy_tev, _inside_any(regions, wcs, events, circles))
        counts_off = Map.from_geom(geom_off, data=data, dtype=np.float32)
        acceptance_off = Map.from_geom(geom_off, data=float(len(regions)))
        return counts_off, acceptance_off, regions

    # --------------------------------------------------------------------- run
    def run(self, dataset, observation):
        """ON/OFF spectrum of ``observation`` (spec §8.4).

        Without any OFF region the result has ``counts_off = None``,
        ``acceptance_off = 0``, an all-False safe mask and
        ``meta["no_off_regions"] = True``; a warning is issued.
        """
        counts_off, acceptance_off, regions = self.make_counts_off(dataset, observation)
        acceptance = Map.from_geom(dataset.counts.geom, data=1.0)
        onoff = SpectrumDatasetOnOff.from_spectrum_dataset(
            dataset=dataset,
            acceptance=acceptance,
            acceptance_off=acceptance_off,
            counts_off=counts_off,
            name=dataset.name,
        )
        onoff.off_regions = list(regions)
        onoff.meta["no_off_regions"] = counts_off is None
        if counts_off is None:
            onoff.counts_off = None  # not derived from a background template: there is no OFF measurement
            onoff.mask_safe = Map.from_geom(dataset.counts.geom, data=False)
            warnings.warn(
                f"ReflectedRegionsBackgroundMaker failed: setting the safe mask of {onoff.name!r} to False",
                stacklevel=2,
            )
        return onoff


def _inside_any(regions, wcs, events, circles=None):
    """Events inside any of the OFF regions, tested on the reference WCS (strict ``<`` for circles).

    ``circles`` optionally gives the circle centres and radii ``(lon, lat, radius_deg)`` as arrays.
    """
    from ..geom._regions import contains_pix

    frame = frame_from_wcs(wcs)
    lon, lat = events_in_frame(events, frame)
    inside = np.zeros(len(lon), bool)
    if len(lon) == 0:
        return inside
    others = [r for r in regions if not isinstance(r, (CircleSkyRegion, PointSkyRegion))]
    if circles is None and any(isinstance(r, CircleSkyRegion) for r in regions):
        parts = [r for r in regions if isinstance(r, CircleSkyRegion)]
        c_lon, c_lat = (np.array(v) for v in zip(*(rotated_lonlat(r.center, frame) for r in parts)))
        circles = (c_lon, c_lat, np.array([r.radius.to_value("deg") for r in parts]))
    if circles is not None:
        c_lon, c_lat, radius_deg = circles
        # the circles lie in a band around the reference tangent point: transform only the events there
        t_lon, t_lat = wcs.wcs.crval
        d = angular_separation_deg(c_lon, c_lat, t_lon, t_lat)
        margin = 1.5 * radius_deg + np.max(np.abs(wcs.wcs.cdelt))
        sep = angular_separation_deg(lon, lat, t_lon, t_lat)
        idx = np.flatnonzero((sep > np.min(d - margin)) & (sep < np.max(d + margin)))
        x, y = wcs.wcs_world2pix(lon[idx], lat[idx], 0)
        cx, cy, scale = north_pixel_scale(wcs, c_lon, c_lat)
        radius = radius_deg * 3600.0 / scale
        dist = np.hypot(np.asarray(x)[:, None] - cx[None, :], np.asarray(y)[:, None] - cy[None, :])
        inside[idx] = np.any(dist < radius[None, :], axis=1)
    if others:
        x, y = wcs.wcs_world2pix(lon, lat, 0)
        for region in others:
            inside |= contains_pix(region, wcs, np.asarray(x), np.asarray(y))
    return inside
