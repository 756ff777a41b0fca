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
stack.
"""

import threading

import traitlets
from astropy import units as u
from regions import CircleSkyRegion

from ..executor import failure_from_exception
from ..makers import FoVBackgroundMaker, MapDatasetMaker, SafeMaskMaker
from .geometry_spec import GeometrySpec

__all__ = ["ReductionPipeline", "STAGES"]

STAGES = ("maps", "safe_mask", "background", "stack")


def _with_mask(dataset, mask_safe):
    """A new dataset sharing the maps of ``dataset`` with another safe mask (no copies)."""
    new = dataset.__class__(
        counts=dataset.counts, exposure=dataset.exposure, background=dataset.background, psf=dataset.psf,
        edisp=dataset.edisp, mask_safe=mask_safe, mask_fit=dataset.mask_fit, gti=dataset.gti,
        meta_table=dataset.meta_table, name=dataset.name, meta=dataset.meta,
    )
    new.models = [m.copy() for m in dataset.models]
    return new


class ReductionPipeline(traitlets.HasTraits):
    """Observations, geometry and a chain of makers, with per-stage caching.

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

    obs_ids = traitlets.List(traitlets.Int())
    geometry = traitlets.Instance(GeometrySpec)
    dataset_maker = traitlets.Instance(MapDatasetMaker)
    safe_mask_maker = traitlets.Instance(SafeMaskMaker)
    background_maker = traitlets.Instance(FoVBackgroundMaker, allow_none=True)
    exclusion_regions = traitlets.List(traitlets.Dict())
    cutout_width = traitlets.Float(6.0, min=0.1)

    def __init__(self, data_store, obs_ids=(), geometry=None, dataset_maker=None, safe_mask_maker=None,
                 background_maker="default", exclusion_regions=(), cutout_width=6.0):
        if background_maker == "default":
            background_maker = FoVBackgroundMaker()
        self._lock = threading.RLock()
        self._products = {}
        self._stale = {}
        self._observations = {}
        self._reference = None
        self._exclusion = None
        self.run_counts = dict.fromkeys(STAGES, 0)
        self.errors = {}
        self.stacked = None
        super().__init__(
            obs_ids=[int(i) for i in obs_ids],
            geometry=geometry or GeometrySpec(),
            dataset_maker=dataset_maker or MapDatasetMaker(),
            safe_mask_maker=safe_mask_maker or SafeMaskMaker(methods=["aeff-default", "offset-max"]),
            background_maker=background_maker,
            exclusion_regions=[dict(r) for r in exclusion_regions],
            cutout_width=cutout_width,
        )
        self.data_store = data_store
        self._watch(self.geometry, "maps")
        self._watch(self.dataset_maker, "maps")
        self._watch(self.safe_mask_maker, "safe_mask")
        if self.background_maker is not None:
            self._watch(self.background_maker, "background")

    # ---------------------------------------------------------- invalidation
    def _watch(self, obj, stage):
        obj.observe(lambda change: self.invalidate(stage), names=traitlets.All)

    def _unwatch(self, obj):
        if obj is not None:
            obj.unobserve_all()

    @traitlets.observe("geometry", "dataset_maker", "safe_mask_maker", "background_maker")
    def _component_replaced(self, change):
        if not hasattr(self, "data_store"):
            return
        self._unwatch(change["old"])
        stage = {"geometry": "maps", "dataset_maker": "maps", "safe_mask_maker": "safe_mask",
                 "background_maker": "background"}[change["name"]]
        if change["new"] is not None:
            self._watch(change["new"], stage)
        self.invalidate(stage)

    @traitlets.observe("cutout_width")
    def _cutout_changed(self, change):
        if hasattr(self, "data_store"):
            self.invalidate("maps")

    @traitlets.observe("exclusion_regions")
    def _exclusion_changed(self, change):
        if hasattr(self, "data_store"):
            self._exclusion = None
            self.invalidate("background")

    @traitlets.observe("obs_ids")
    def _obs_changed(self, change):
        if not hasattr(self, "data_store"):
            return
        with self._lock:
            for obs_id in set(self._products) - set(change["new"]):
                self._products.pop(obs_id, None)
                self._stale.pop(obs_id, None)
                self._observations.pop(obs_id, None)
                self.errors.pop(obs_id, None)
            self.stacked = None

    def invalidate(self, stage):
        """Mark ``stage`` and every later stage stale for all observations."""
        index = STAGES.index(stage)
        with self._lock:
            if index == 0:
                self._reference = None
                self._exclusion = None
            for obs_id in list(self._stale):
                self._stale[obs_id] = min(self._stale[obs_id], index)
            self.stacked = None if index <= STAGES.index("stack") else self.stacked

    def stale_stages(self, obs_id):
        """Stages that the next :meth:`run` recomputes for ``obs_id``."""
        return list(STAGES[self._stale.get(int(obs_id), 0):])

    # ------------------------------------------------------------- computing
    def observation(self, obs_id):
        """The (cached) `Observation` for ``obs_id``."""
        if obs_id not in self._observations:
            self._observations[obs_id] = self.data_store.obs(obs_id)
        return self._observations[obs_id]

    def exclusion_mask(self):
        """Boolean exclusion mask on the geometry (True = usable), or None without regions."""
        if not self.exclusion_regions:
            return None
        geom = self._reference_dataset().counts.geom.to_image()
        frame = self.geometry.frame
        from astropy.coordinates import SkyCoord

        circles = [
            CircleSkyRegion(SkyCoord(r["lon"], r["lat"], unit="deg", frame=frame), r["radius"] * u.deg)
            for r in self.exclusion_regions
        ]
        return geom.region_mask(circles, inside=False)

    def _reference_dataset(self):
        if self._reference is None:
            self._reference = self.geometry.make_dataset(name="stacked")
        return self._reference

    def _run_maps(self, obs):
        reference = self._reference_dataset()
        local = reference.cutout(obs.get_pointing_icrs(obs.tmid), width=self.cutout_width * u.deg)
        return self.dataset_maker.run(local, obs)

    def _run_safe_mask(self, dataset, obs):
        mask = self.safe_mask_maker.make_mask(dataset, obs)
        from ..maps import Map

        return _with_mask(dataset, Map.from_geom(dataset.counts.geom, data=mask, dtype=bool))

    def _run_background(self, dataset, obs):
        if self.background_maker is None:
            return dataset
        result = _with_mask(dataset, dataset.mask_safe.copy())
        result.models = None
        return self.background_maker.run(result, obs, exclusion_mask=self._exclusion_mask())

    def _exclusion_mask(self):
        if self._exclusion is None and self.exclusion_regions:
            self._exclusion = self.exclusion_mask()
        return self._exclusion

    def _reduce(self, obs_id):
        """Bring the products of one observation up to date; returns the final dataset or raises."""
        start = self._stale.get(obs_id, 0)
        products = self._products.setdefault(obs_id, {})
        obs = self.observation(obs_id)
        steps = (
            ("maps", lambda: self._run_maps(obs)),
            ("safe_mask", lambda: self._run_safe_mask(products["maps"], obs)),
            ("background", lambda: self._run_background(products["safe_mask"], obs)),
        )
        for index, (stage, compute) in enumerate(steps):
            if index >= start or stage not in products:
                products[stage] = compute()
                self.run_counts[stage] += 1
            self._stale[obs_id] = index + 1
        return products["background"]

    def run(self, cancel=None, progress=None):
        """Recompute the stale stages and the stacked dataset.

        Parameters
        ----------
        cancel : `threading.Event`, optional
            When set, the run stops between observations and returns None.
        progress : callable, optional
            Called as ``progress(done, total)``.

        Returns
        -------
        `~dl3lab.reduction.MapDataset` or None
            The stacked dataset (None if cancelled).
        """
        with self._lock:
            datasets = []
            total = len(self.obs_ids)
            for done, obs_id in enumerate(self.obs_ids):
                if cancel is not None and cancel.is_set():
                    return None
                self._stale.setdefault(obs_id, 0)
                try:
                    datasets.append(self._reduce(obs_id))
                    self.errors.pop(obs_id, None)
                except Exception as exc:
                    self.errors[obs_id] = failure_from_exception(exc, obs_id)
                    self._stale[obs_id] = 0
                    self._products.pop(obs_id, None)
                if progress is not None:
                    progress(done + 1, total)
            if self.stacked is None:
                stacked = self._reference_dataset().copy(name="stacked")
                for dataset in datasets:
                    stacked.stack(dataset)
                self.stacked = stacked
                self.run_counts["stack"] += 1
            return self.stacked

    @property
    def datasets(self):
        """Per-observation final datasets (those computed without error), in order."""
        from ..datasets import Datasets

        return Datasets([
            self._products[i]["background"] for i in self.obs_ids
            if i in self._products and "background" in self._products[i]
        ])

    # ------------------------------------------------------------------ state
    def to_dict(self):
        """The whole state as plain Python data (for YAML)."""
        from .state import pipeline_to_dict

        return pipeline_to_dict(self)

    @classmethod
    def from_dict(cls, data, data_store=None):
        """Pipeline from :meth:`to_dict` output."""
        from .state import pipeline_from_dict

        return pipeline_from_dict(cls, data, data_store=data_store)

    def save(self, filename, overwrite=False):
        """Write the state to a YAML file (atomic; refuses to overwrite unless ``overwrite``)."""
        from .state import save_state

        save_state(self, filename, overwrite=overwrite)

    @classmethod
    def load(cls, filename, data_store=None):
        """Pipeline from a YAML state file."""
        from .state import load_state

        return load_state(cls, filename, data_store=data_store)

    def error_report(self):
        """Text listing each failed observation with the last lines of its traceback."""
        lines = []
        for obs_id, error in self.errors.items():
            tail = (error.traceback or "").strip().splitlines()[-3:]
            lines.append(f"obs {obs_id}: {error}")
            lines += ["    " + t for t in tail]
        return "\n".join(lines)

