"""`SpectrumReductionPipeline`: the reactive 1-D reflected-regions chain, giving a `SpectrumDatasetOnOff`.

Stages, in order, for each observation:

1. ``spectrum``: `SpectrumDatasetMaker` in the ON region (depends on the ON region,
   the energy axes of the geometry and the dataset maker);
2. ``off_regions``: `ReflectedRegionsBackgroundMaker` (and its region finder) with
   the exclusion mask made from ``exclusion_regions`` on the sky part of the
   geometry;
3. ``safe_mask``: `SafeMaskMaker.make_mask` computed from scratch on the cached
   unmasked ON/OFF dataset (ANDed with the all-False mask that the reflected maker
   gives an observation without OFF regions);
4. ``stack``: all ON/OFF spectra stacked into one `SpectrumDatasetOnOff`.

An observation without OFF regions is kept (with an all-False safe mask, so it
adds nothing to the stack) and reported in ``warnings``.
"""

import traitlets

from ..datasets import SpectrumDataset, SpectrumDatasetOnOff
from ..geom import RegionGeom
from ..makers import ReflectedRegionsBackgroundMaker, SafeMaskMaker, SpectrumDatasetMaker
from .base import ChainPipeline, with_exclusion, with_mask
from .geometry_spec import GeometrySpec
from .specs import OnRegionSpec

__all__ = ["SpectrumReductionPipeline", "SPECTRUM_STAGES"]

SPECTRUM_STAGES = ("spectrum", "off_regions", "safe_mask", "stack")

#: Which stage a geometry trait invalidates: the energy axes define the spectra, the sky part
#: only the exclusion mask; ``binsz_irf`` is not used by this chain.
_GEOMETRY_STAGES = {**dict.fromkeys(GeometrySpec.sky_traits, "off_regions"), "binsz_irf": None, "*": "spectrum"}


class SpectrumReductionPipeline(ChainPipeline):
    """ON/OFF spectra of an ON region with reflected OFF regions, per observation and stacked.

    Parameters
    ----------
    data_store : `~dl3lab.reduction.DataStore`
        Where the observations are read.
    obs_ids : list of int
        Observations to reduce, in stacking order.
    on_region : `OnRegionSpec`, optional
        The circular ON region.
    geometry : `GeometrySpec`, optional
        Its energy and true-energy axes are the spectra's axes; its sky part is the
        geometry of the exclusion mask.
    dataset_maker : `~dl3lab.reduction.SpectrumDatasetMaker`, optional
        Default: counts, exposure and edisp, no containment correction.
    background_maker : `~dl3lab.reduction.ReflectedRegionsBackgroundMaker`, optional
        Default: a `ReflectedRegionsFinder` with its defaults. Its own exclusion mask
        is used only when the pipeline has no exclusion regions.
    safe_mask_maker : `~dl3lab.reduction.SafeMaskMaker`, optional
        Default: ``aeff-max`` at 10 %.
    exclusion_regions : list of dict
        Circles ``{"lon", "lat", "radius"}`` (deg, geometry frame) where OFF regions
        may not lie.
    """

    chain = "reflected"
    stages = SPECTRUM_STAGES
    _components = {"on_region": "spectrum", "geometry": _GEOMETRY_STAGES, "dataset_maker": "spectrum",
                   "background_maker": "off_regions", "safe_mask_maker": "safe_mask"}
    _plain = {"exclusion_regions": "off_regions"}
    _cache_stages = {"empty": "spectrum", "exclusion": "off_regions"}

    on_region = traitlets.Instance(OnRegionSpec)
    geometry = traitlets.Instance(GeometrySpec)
    dataset_maker = traitlets.Instance(SpectrumDatasetMaker)
    background_maker = traitlets.Instance(ReflectedRegionsBackgroundMaker)
    safe_mask_maker = traitlets.Instance(SafeMaskMaker)

    def __init__(self, data_store, obs_ids=(), on_region=None, geometry=None, dataset_maker=None,
                 background_maker=None, safe_mask_maker=None, exclusion_regions=()):
        super().__init__(
            data_store,
            obs_ids=obs_ids,
            on_region=on_region or OnRegionSpec(),
            geometry=geometry or GeometrySpec(),
            dataset_maker=dataset_maker or SpectrumDatasetMaker(selection=["counts", "exposure", "edisp"]),
            background_maker=background_maker or ReflectedRegionsBackgroundMaker(),
            safe_mask_maker=safe_mask_maker or SafeMaskMaker(methods=["aeff-max"], aeff_percent=10),
            exclusion_regions=exclusion_regions,
        )

    # ------------------------------------------------------------- computing
    def region_geom(self):
        """The ON region geometry with the reco energy axis."""
        return RegionGeom.create(self.on_region.region(), axes=[self.geometry.energy_axis()])

    def _empty(self):
        return self._cached("empty", lambda: SpectrumDataset.create(
            self.region_geom(), energy_axis_true=self.geometry.energy_axis_true(), name="empty"
        ))

    def _exclusion_geom(self):
        return self.geometry.make_geom().to_image()

    def _run_spectrum(self, previous, obs):
        return self.dataset_maker.run(self._empty().copy(name=str(obs.obs_id)), obs)

    def _run_off_regions(self, dataset, obs):
        result = with_exclusion(self.background_maker, self._exclusion_mask()).run(dataset, obs)
        if result.meta.get("no_off_regions"):
            self.warnings[obs.obs_id] = (
                "no OFF region found outside the exclusion regions: the observation is left out of the stack "
                "(its safe mask is all False)"
            )
        else:
            self.warnings.pop(obs.obs_id, None)
        return result

    def _run_safe_mask(self, dataset, obs):
        mask = self.safe_mask_maker.make_mask(dataset, obs)
        if dataset.mask_safe is not None:
            mask &= dataset.mask_safe.data
        return with_mask(dataset, mask)

    def _steps(self):
        return [("spectrum", self._run_spectrum), ("off_regions", self._run_off_regions),
                ("safe_mask", self._run_safe_mask)]

    def _stack(self, datasets):
        self.run_counts["stack"] += 1
        stacked = SpectrumDatasetOnOff.create(
            self.region_geom(), energy_axis_true=self.geometry.energy_axis_true(), name="stacked"
        )
        for dataset in datasets:
            stacked.stack(dataset)
        return stacked

    def off_regions(self):
        """OFF regions of every observation reduced so far, by obs id (an empty list without OFF regions)."""
        return {
            obs_id: list(self._products[obs_id]["off_regions"].off_regions)
            for obs_id in self.obs_ids
            if "off_regions" in self._products.get(obs_id, {})
        }
