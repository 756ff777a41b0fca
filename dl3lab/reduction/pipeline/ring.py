"""`RingReductionPipeline`: the 3-D chain followed by a ring background, giving a `MapDatasetOnOff`.

Stages, in order:

1. ``maps``, ``safe_mask``, ``background``: as in `ReductionPipeline` (the FoV
   background step is optional; its normalisation enters the ring acceptance);
2. ``ring``: `RingBackgroundMaker` with the pipeline's exclusion mask, on the
   energy-summed image (``to_image=True``) or on every energy bin;
3. ``stack``: the ON/OFF datasets stacked into one `MapDatasetOnOff`.

With ``ring_mode="observation"`` (the default, as Gammapy's ring-background
tutorial) the ring runs on every observation's dataset and the ON/OFF datasets
are stacked. With ``ring_mode="stacked"`` the 3-D datasets are stacked first and
the ring runs once on the stacked dataset; then ``run_counts["ring"]`` grows by
one per stacking, and a ring parameter change does not re-stack the maps.
"""

import traitlets
from astropy import units as u

from ..datasets import MapDatasetOnOff
from ..makers import RingBackgroundMaker
from .base import with_exclusion
from .pipeline import ReductionPipeline

__all__ = ["RingReductionPipeline", "RING_STAGES"]

RING_STAGES = ("maps", "safe_mask", "background", "ring", "stack")


class RingReductionPipeline(ReductionPipeline):
    """The 3-D chain with a ring background: the result is a stacked `MapDatasetOnOff`.

    Parameters
    ----------
    data_store, obs_ids, geometry, dataset_maker, safe_mask_maker, background_maker, cutout_width
        As for `ReductionPipeline`.
    ring_maker : `~dl3lab.reduction.RingBackgroundMaker`, optional
        The ring (default: ``r_in=0.5 deg``, ``width=0.3 deg``). Its own exclusion
        mask is used only when the pipeline has no exclusion regions.
    exclusion_regions : list of dict
        Circles ``{"lon", "lat", "radius"}`` (deg, geometry frame), excluded from the
        FoV normalisation and from the rings.
    ring_mode : {"observation", "stacked"}
        Ring on every observation, or once on the stacked dataset.
    to_image : bool
        Sum the safe energy bins into one before the ring (a ring image).
    """

    chain = "ring"
    stages = RING_STAGES
    _components = {**ReductionPipeline._components, "ring_maker": "ring"}
    _plain = {**ReductionPipeline._plain, "ring_mode": "ring", "to_image": "ring"}
    _cache_stages = {**ReductionPipeline._cache_stages, "stacked_maps": "background"}

    ring_maker = traitlets.Instance(RingBackgroundMaker)
    ring_mode = traitlets.Enum(["observation", "stacked"], default_value="observation")
    to_image = traitlets.Bool(True)

    def __init__(self, data_store, obs_ids=(), geometry=None, dataset_maker=None, safe_mask_maker=None,
                 background_maker="default", ring_maker=None, exclusion_regions=(), cutout_width=6.0,
                 ring_mode="observation", to_image=True):
        traits = self._map_traits(
            obs_ids, geometry, dataset_maker, safe_mask_maker, background_maker, exclusion_regions, cutout_width)
        traits.update(
            ring_maker=ring_maker or RingBackgroundMaker(r_in="0.5 deg", width="0.3 deg"),
            ring_mode=ring_mode,
            to_image=to_image,
        )
        super(ReductionPipeline, self).__init__(data_store, **traits)

    def _ring(self, dataset):
        """ON/OFF dataset of ``dataset`` (summed over energy first with ``to_image``)."""
        if self.to_image:
            dataset = dataset.to_image(name=dataset.name)
        return with_exclusion(self.ring_maker, self._exclusion_mask()).run(dataset)

    def _run_ring(self, dataset, obs):
        return self._ring(dataset)

    def _steps(self):
        steps = super()._steps()
        if self.ring_mode == "observation":
            steps.append(("ring", self._run_ring))
        return steps

    def _stack(self, datasets):
        self.run_counts["stack"] += 1
        if self.ring_mode == "stacked":
            self.run_counts["ring"] += 1
            cached = self._cache.get("stacked_maps")
            if cached is None or len(cached[0]) != len(datasets) or any(
                a is not b for a, b in zip(cached[0], datasets)
            ):
                cached = self._cache["stacked_maps"] = (list(datasets), self._stack_maps(datasets))
            return self._ring(cached[1])
        geom = self._reference_dataset().counts.geom
        if self.to_image:
            geom = geom.squash("energy")
        geometry = self.geometry
        stacked = MapDatasetOnOff.create(
            geom, energy_axis_true=geometry.energy_axis_true(), binsz_irf=geometry.binsz_irf * u.deg, name="stacked"
        )
        for dataset in datasets:
            stacked.stack(dataset)
        return stacked
