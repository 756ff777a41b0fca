"""`ReductionPipeline`: a reactive 3-D reduction that re-runs only what a parameter change invalidates.

Stages, in order, for each observation:

1. ``maps``: cutout of the geometry around the pointing and `MapDatasetMaker`
   (depends on the geometry, the cutout width and the dataset maker);
2. ``safe_mask``: `SafeMaskMaker.make_mask` computed from scratch on the cached
   unmasked dataset, so a looser threshold works again;
3. ``background``: `FoVBackgroundMaker` with the exclusion regions;
4. ``stack``: all observations stacked in observation order.

The pipeline observes the traits of the geometry and of every maker; a change
marks its stage and all later stages stale, and :meth:`run` recomputes only
those. Per-observation failures are recorded and the other observations still
stack. The caching and invalidation machinery is `ChainPipeline`'s.
"""

import traitlets
from astropy import units as u

from ..datasets.stack_engine import StackCache, stack_datasets
from ..datasets.template import DatasetTemplate
from ..makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
from .base import ChainPipeline, with_mask
from .geometry_spec import GeometrySpec

__all__ = ["ReductionPipeline", "STAGES"]

STAGES = ("maps", "safe_mask", "background", "stack")


def _maps_task(obs, template, dataset_maker, cutout_width):
    """Worker side of the ``maps`` stage: the same cutout and maker run as `ReductionPipeline._run_maps`."""
    try:
        reference = template.dataset()
        local = reference.cutout(obs.get_pointing_icrs(obs.tmid), width=cutout_width * u.deg)
        return dataset_maker.run(local, obs)
    finally:
        obs.release()


class ReductionPipeline(ChainPipeline):
    """Observations, geometry and a chain of makers, with per-stage caching (the 3-D chain).

    Parameters
    ----------
    data_store : `~dl3lab.reduction.DataStore`
        Where the observations are read.
    obs_ids : list of int
        Observations to reduce, in stacking order.
    geometry : `GeometrySpec`, optional
        Analysis geometry.
    dataset_maker, safe_mask_maker, background_maker : makers, optional
        The chain; ``background_maker=None`` disables the FoV background step.
    exclusion_regions : list of dict
        Circles ``{"lon": deg, "lat": deg, "radius": deg}`` (in the geometry frame)
        excluded from the FoV background normalisation.
    cutout_width : float
        Width (deg) of the per-observation cutout; larger than ``2 * offset_max`` so
        the safe mask can be widened without re-reducing.
    """

    chain = "3d"
    stages = STAGES
    _components = {"geometry": "maps", "dataset_maker": "maps", "safe_mask_maker": "safe_mask",
                   "background_maker": "background"}
    _plain = {"cutout_width": "maps", "exclusion_regions": "background"}
    _cache_stages = {"reference": "maps", "template": "maps", "exclusion": "background"}

    geometry = traitlets.Instance(GeometrySpec)
    dataset_maker = traitlets.Instance(MapDatasetMaker)
    safe_mask_maker = traitlets.Instance(SafeMaskMaker)
    background_maker = traitlets.Instance(FoVBackgroundMaker, allow_none=True)
    cutout_width = traitlets.Float(6.0, min=0.1)

    def __init__(self, data_store, obs_ids=(), geometry=None, dataset_maker=None, safe_mask_maker=None,
                 background_maker="default", exclusion_regions=(), cutout_width=6.0):
        super().__init__(data_store, **self._map_traits(
            obs_ids, geometry, dataset_maker, safe_mask_maker, background_maker, exclusion_regions, cutout_width))

    @staticmethod
    def _map_traits(obs_ids, geometry, dataset_maker, safe_mask_maker, background_maker, exclusion_regions,
                    cutout_width):
        """Trait values of the 3-D chain, with its defaults filled in."""
        if isinstance(background_maker, str) and background_maker == "default":
            background_maker = FoVBackgroundMaker()
        return dict(
            obs_ids=obs_ids,
            geometry=geometry or GeometrySpec(),
            dataset_maker=dataset_maker or MapDatasetMaker(),
            safe_mask_maker=safe_mask_maker or SafeMaskMaker(methods=["aeff-default", "offset-max"]),
            background_maker=background_maker,
            exclusion_regions=exclusion_regions,
            cutout_width=cutout_width,
        )

    # ------------------------------------------------------------- computing
    def _reference_dataset(self):
        return self._cached("reference", lambda: self.geometry.make_dataset(name="stacked"))

    def _exclusion_geom(self):
        return self._reference_dataset().counts.geom.to_image()

    def _run_maps(self, previous, obs):
        reference = self._reference_dataset()
        local = reference.cutout(obs.get_pointing_icrs(obs.tmid), width=self.cutout_width * u.deg)
        return self.dataset_maker.run(local, obs)

    def _first_stage_task(self, obs):
        template = self._cached("template", lambda: DatasetTemplate.from_dataset(self._reference_dataset()))
        if template is None:
            return None
        template.share(self._reference_dataset())  # forked workers and this process reuse it
        return _maps_task, (obs, template, self.dataset_maker, self.cutout_width)

    def _run_safe_mask(self, dataset, obs):
        return with_mask(dataset, self.safe_mask_maker.make_mask(dataset, obs))

    def _run_background(self, dataset, obs):
        if self.background_maker is None:
            return dataset
        result = with_mask(dataset, dataset.mask_safe.data.copy())
        result.models = None
        return self.background_maker.run(result, obs, exclusion_mask=self._exclusion_mask())

    def _steps(self):
        return [("maps", self._run_maps), ("safe_mask", self._run_safe_mask), ("background", self._run_background)]

    def _stack_maps(self, datasets):
        # identical to copying the reference and stacking each dataset in turn; the cache keeps the
        # stacked exposure and PSF while only energy thresholds change (live tuning)
        if getattr(self, "_stack_cache", None) is None:
            self._stack_cache = StackCache()
        return stack_datasets(datasets, self._reference_dataset(), name="stacked", cache=self._stack_cache)

    def _stack(self, datasets):
        self.run_counts["stack"] += 1
        return self._stack_maps(datasets)
