"""`ChainPipeline`: what every reactive reduction chain shares.

A chain is an ordered list of per-observation stages followed by ``stack``. The
pipeline observes the traits of its components (geometry, region and makers,
including traits holding nested `traitlets.HasTraits` objects such as a region
finder); a change marks the component's stage and all later stages stale for
every observation, and :meth:`ChainPipeline.run` recomputes only those. Per-
observation failures are recorded in ``errors`` and the other observations still
stack; per-observation warnings (for instance an observation without OFF
regions) are kept in ``warnings``.

Subclasses define ``chain`` (the name in state files), ``stages``, the component
traits and their stages (``_components``), plain traits and their stages
(``_plain``), the per-observation steps (:meth:`_steps`) and the stacking
(:meth:`_stack`).
"""

import contextlib
import copy
import threading

import traitlets

from ..errors import ReductionError
from ..executor import capture_failure, failure_from_exception, run_tasks
from .exclusion import exclusion_sky_regions

__all__ = ["ChainPipeline", "with_mask", "with_exclusion"]


def with_mask(dataset, mask_data):
    """A shallow copy of ``dataset`` (maps shared, no data copied) with a new boolean safe mask.

    The copy has its own ``meta`` dict, copies of the models and, for ON/OFF
    spectra, its own list of OFF regions, so that makers changing those on the copy
    leave the cached ``dataset`` untouched.
    """
    from ..maps import Map

    new = copy.copy(dataset)
    new.mask_safe = Map.from_geom(dataset._geom, data=mask_data, dtype=bool)
    new.meta = dict(dataset.meta)
    new.models = [m.copy() for m in dataset.models]
    if hasattr(dataset, "off_regions"):
        new.off_regions = list(dataset.off_regions)
    return new


def with_exclusion(maker, exclusion_mask):
    """A maker of the same class and parameters as ``maker`` with another exclusion mask.

    Returns ``maker`` itself when ``exclusion_mask`` is None. The copy shares the
    parameter values (e.g. the region finder object), so nothing is observed twice
    and the pipeline's own maker is never modified.
    """
    if exclusion_mask is None:
        return maker
    params = dict(maker.parameters())
    params["exclusion_mask"] = exclusion_mask
    return type(maker)(**params)


def _stage_for(spec, name):
    """The stage that a change of trait ``name`` invalidates (``spec``: a stage or a dict with a ``"*"`` default)."""
    if spec is None or isinstance(spec, str):
        return spec
    return spec.get(name, spec.get("*"))


def _call(func, args):
    """Worker side of a first-stage task (module level, so it pickles)."""
    obs = args[0]
    return capture_failure(func, obs.obs_id, *args)


class ChainPipeline(traitlets.HasTraits):
    """Observations, exclusion regions and a chain of components, with per-stage caching.

    Subclasses call ``super().__init__(data_store, **traits)`` with all their trait
    values.

    Attributes
    ----------
    run_counts : dict
        Stage name -> how many times it was computed (per observation for the
        per-observation stages, once per stacking for ``stack``).
    errors : dict
        Obs id -> `~dl3lab.reduction.ReductionError` of the last run.
    warnings : dict
        Obs id -> text of a problem that did not stop the observation (its data
        may still be left out of the stack, e.g. an all-False safe mask).
    stacked : dataset or None
        The last stacked result (None when stale).
    """

    #: Name of the chain in state files.
    chain = None
    #: Stage names, in order; the last one is ``"stack"``.
    stages = ("stack",)
    #: Component trait -> stage (or dict trait name -> stage, ``"*"`` as default; None: ignored).
    _components = {}
    #: Plain trait -> stage.
    _plain = {}
    #: Cache key -> stage: the cached value is dropped when that stage or an earlier one is invalidated.
    _cache_stages = {}

    obs_ids = traitlets.List(traitlets.Int())
    #: Grows by one after every invalidation (a parameter, exclusion or observation change): a view
    #: observing this one trait learns of every change, after the pipeline has marked its stages stale.
    revision = traitlets.Int(0, read_only=True)
    exclusion_regions = traitlets.List(traitlets.Dict())

    def __init__(self, data_store, **traits):
        # ``_lock`` is held by a run from start to end (one run at a time); ``_state`` guards the
        # bookkeeping only, so a parameter change during a run never waits for the run. ``_epoch``
        # grows with every invalidation: a run does not mark as fresh what it computed across one.
        self._lock = threading.RLock()
        self._state = threading.RLock()
        #: Default executor and worker count of :meth:`run` (attributes, not part of the saved state).
        self.executor = None
        self.n_jobs = None
        self._epoch = 0
        self._products = {}
        self._stale = {}
        self._observations = {}
        self._cache = {}
        self._watched = {}
        self._stacked_ids = None
        self.run_counts = dict.fromkeys(self.stages, 0)
        self.errors = {}
        self.warnings = {}
        self.stacked = None
        traits["obs_ids"] = [int(i) for i in traits.get("obs_ids", ())]
        traits["exclusion_regions"] = [dict(r) for r in traits.get("exclusion_regions", ())]
        super().__init__(**traits)
        self.data_store = data_store
        for name, spec in self._components.items():
            self._watch(getattr(self, name), spec)
        if self._components:
            self.observe(self._component_replaced, names=list(self._components))
        if self._plain:
            self.observe(self._plain_changed, names=list(self._plain))
        self.observe(self._obs_changed, names="obs_ids")

    # ---------------------------------------------------------- invalidation
    def _watch(self, obj, spec):
        """Observe every trait of ``obj`` (and of the HasTraits objects it holds)."""
        if not isinstance(obj, traitlets.HasTraits) or id(obj) in self._watched:
            return

        def changed(change):
            stage = _stage_for(spec, change["name"])
            if isinstance(change["old"], traitlets.HasTraits):
                self._unwatch(change["old"])
            if isinstance(change["new"], traitlets.HasTraits):
                self._watch(change["new"], stage)
            if stage is not None:
                self.invalidate(stage)

        obj.observe(changed, names=traitlets.All)
        self._watched[id(obj)] = (obj, changed)
        for name in obj.trait_names():
            value = getattr(obj, name)
            if isinstance(value, traitlets.HasTraits):
                self._watch(value, _stage_for(spec, name))

    def _unwatch(self, obj):
        entry = self._watched.pop(id(obj), None)
        if entry is None:
            return
        obj.unobserve(entry[1], names=traitlets.All)
        for name in obj.trait_names():
            value = getattr(obj, name)
            if isinstance(value, traitlets.HasTraits):
                self._unwatch(value)

    def _component_replaced(self, change):
        spec = self._components[change["name"]]
        self._unwatch(change["old"])
        self._watch(change["new"], spec)
        stage = spec if isinstance(spec, str) else self.stages[0]
        self.invalidate(stage)

    def _plain_changed(self, change):
        self.invalidate(self._plain[change["name"]])

    def _obs_changed(self, change):
        with self._state:
            self._epoch += 1
            for obs_id in set(self._products) | set(self.errors) | set(self.warnings):
                if obs_id in change["new"]:
                    continue
                self._products.pop(obs_id, None)
                self._stale.pop(obs_id, None)
                self._observations.pop(obs_id, None)
                self.errors.pop(obs_id, None)
                self.warnings.pop(obs_id, None)
            self.stacked = None
        self._bump()

    def invalidate(self, stage):
        """Mark ``stage`` and every later stage stale for all observations."""
        index = self.stages.index(stage)
        with self._state:
            self._epoch += 1
            for key, cache_stage in self._cache_stages.items():
                if index <= self.stages.index(cache_stage):
                    self._cache.pop(key, None)
            for obs_id in list(self._stale):
                self._stale[obs_id] = min(self._stale[obs_id], index)
            self.stacked = None
        self._bump()

    def _bump(self):
        self.set_trait("revision", self.revision + 1)

    def stale_stages(self, obs_id):
        """Stages that the next :meth:`run` recomputes for ``obs_id``."""
        return list(self.stages[self._stale.get(int(obs_id), 0):])

    @property
    def components(self):
        """The component objects (geometry, regions, makers) by trait name, in stage order."""
        return {name: getattr(self, name) for name in self._components}

    # ------------------------------------------------------------- computing
    def observation(self, obs_id):
        """The (cached) `Observation` for ``obs_id``."""
        if obs_id not in self._observations:
            self._observations[obs_id] = self.data_store.obs(obs_id)
        return self._observations[obs_id]

    def _cached(self, key, make):
        with self._state:
            if key in self._cache:
                return self._cache[key]
            epoch = self._epoch
        value = make()
        with self._state:
            if self._epoch == epoch:
                self._cache[key] = value
        return value

    def _exclusion_geom(self):
        """The 2-D geometry of the exclusion mask (subclasses)."""
        raise NotImplementedError

    def exclusion_mask(self):
        """Boolean exclusion mask (True = usable) from ``exclusion_regions``, or None without regions.

        The circles are ``{"lon", "lat", "radius"}`` in deg, in the geometry frame.
        """
        if not self.exclusion_regions:
            return None
        circles = exclusion_sky_regions(self.exclusion_regions, self.geometry.frame)
        return self._exclusion_geom().region_mask(circles, inside=False)

    def _exclusion_mask(self):
        if not self.exclusion_regions:
            return None
        return self._cached("exclusion", self.exclusion_mask)

    def _steps(self):
        """The per-observation steps: a list of ``(stage, compute)``, ``compute(previous, observation)``."""
        raise NotImplementedError

    def _stack(self, datasets):
        """The stacked result of the per-observation results (counts its own stages)."""
        raise NotImplementedError

    def _reduce(self, obs_id):
        """Bring the products of one observation up to date; returns its final dataset or raises."""
        with self._state:
            start = self._stale.get(obs_id, 0)
            products = self._products.setdefault(obs_id, {})
            epoch = self._epoch
        obs = self.observation(obs_id)
        steps = self._steps()
        previous = None
        for index, (stage, compute) in enumerate(steps):
            if index >= start or stage not in products:
                products[stage] = compute(previous, obs)
                self.run_counts[stage] += 1
            previous = products[stage]
            with self._state:
                if self._epoch == epoch:
                    self._stale[obs_id] = index + 1
        for stage in set(products) - {stage for stage, _ in steps}:
            del products[stage]
        return previous

    def _first_stage_task(self, obs):
        """``(func, args)`` computing the first stage of ``obs`` from small picklable inputs, or None
        (then the first stage runs in this process). ``func`` returns the product or a
        `~dl3lab.reduction.ReductionError`."""
        return None

    def _prefetch(self, obs_ids, executor, n_jobs, epoch):
        """Compute the stale first stages of ``obs_ids`` on ``executor`` (results in observation order)."""
        first = self.stages[0]
        todo = []
        for obs_id in obs_ids:
            with self._state:
                needed = self._stale.get(obs_id, 0) == 0 or first not in self._products.get(obs_id, {})
            if needed:
                try:
                    task = self._first_stage_task(self.observation(obs_id))
                except Exception:  # the serial path reports it with its traceback
                    task = None
                if task is not None:
                    todo.append((obs_id, task))
        if not todo:
            return
        tasks = [(func, args) for _, (func, args) in todo]
        with contextlib.closing(run_tasks(_call, tasks, executor=executor, n_jobs=n_jobs)) as results:
            for (obs_id, _), (_, result) in zip(todo, results):
                if isinstance(result, ReductionError):
                    continue  # computed again in this process, which records the error
                with self._state:
                    self._products.setdefault(obs_id, {})[first] = result
                    if self._epoch == epoch:
                        self._stale[obs_id] = max(self._stale.get(obs_id, 0), 1)
                self.run_counts[first] += 1

    def run(self, cancel=None, progress=None, executor=None, n_jobs=None):
        """Recompute the stale stages and the stacked result.

        Parameters
        ----------
        cancel : `threading.Event`, optional
            When set, the run stops between observations and returns None.
        progress : callable, optional
            Called as ``progress(done, total)``.
        executor : str or executor, optional
            Where the first (heaviest) stage of each observation runs: ``"serial"``
            (default), ``"processes"`` (``n_jobs`` processes; see `dl3lab.reduction.executor`), a
            ``dask.distributed.Client`` or any `concurrent.futures.Executor`. Workers
            get the observation and small creation arguments, never the reference
            dataset; the later stages and the stacking run here, in observation order,
            so every executor gives the identical result.
        n_jobs : int, optional
            Number of processes for ``"processes"``.

        Returns
        -------
        dataset or None
            The stacked dataset (None if cancelled).
        """
        executor = executor if executor is not None else self.executor
        n_jobs = n_jobs if n_jobs is not None else self.n_jobs
        with self._lock:
            datasets, ids = [], []
            obs_ids = list(self.obs_ids)
            total = len(obs_ids)
            with self._state:
                epoch = self._epoch
            if executor not in (None, "serial"):
                self._prefetch(obs_ids, executor, n_jobs, epoch)
            for done, obs_id in enumerate(obs_ids):
                if cancel is not None and cancel.is_set():
                    return None
                with self._state:
                    self._stale.setdefault(obs_id, 0)
                try:
                    datasets.append(self._reduce(obs_id))
                    ids.append(obs_id)
                    self.errors.pop(obs_id, None)
                except Exception as exc:
                    self.errors[obs_id] = failure_from_exception(exc, obs_id)
                    self.warnings.pop(obs_id, None)
                    with self._state:
                        self._stale[obs_id] = 0
                        self._products.pop(obs_id, None)
                if progress is not None:
                    progress(done + 1, total)
            with self._state:
                stacked, stacked_ids = self.stacked, self._stacked_ids
            if stacked is None or stacked_ids != ids:
                stacked = self._stack(datasets)
                with self._state:
                    if self._epoch == epoch:  # else a change came in meanwhile: the next run stacks again
                        self.stacked, self._stacked_ids = stacked, ids
            return stacked

    @property
    def datasets(self):
        """Per-observation final datasets (those computed without error), in order."""
        from ..datasets import Datasets

        final = self._steps()[-1][0]
        return Datasets([
            self._products[i][final] for i in self.obs_ids if i in self._products and final in self._products[i]
        ])

    def safe_mask_input(self, obs_id):
        """The cached dataset the safe mask of ``obs_id`` is computed on (before any mask), or None.

        That is the product of the stage before ``"safe_mask"``; views use it to plot
        the safe-mask rules (`SafeMaskMaker.diagnostics`).
        """
        if "safe_mask" not in self.stages:
            return None
        before = self.stages[self.stages.index("safe_mask") - 1]
        with self._state:
            return self._products.get(int(obs_id), {}).get(before)

    def error_report(self):
        """Text listing each failed observation with the last lines of its traceback, then the warnings."""
        lines = []
        for obs_id, error in self.errors.items():
            tail = (error.traceback or "").strip().splitlines()[-3:]
            lines.append(f"obs {obs_id}: {error}")
            lines += ["    " + t for t in tail]
        for obs_id, text in self.warnings.items():
            lines.append(f"obs {obs_id}: warning: {text}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ state
    def to_dict(self):
        """The whole state as plain Python data (for YAML)."""
        from .state import pipeline_to_dict

        return pipeline_to_dict(self)

    @classmethod
    def from_dict(cls, data, data_store=None):
        """Pipeline from :meth:`to_dict` output (the chain must be this class's)."""
        from .state import pipeline_from_dict

        return pipeline_from_dict(data, data_store=data_store, cls=cls)

    def save(self, filename, overwrite=False):
        """Write the state to a YAML file (atomic; refuses to overwrite unless ``overwrite``)."""
        from .state import save_state

        save_state(self, filename, overwrite=overwrite)

    @classmethod
    def load(cls, filename, data_store=None):
        """Pipeline from a YAML state file (the chain must be this class's)."""
        from .state import load_state

        return load_state(filename, data_store=data_store, cls=cls)
