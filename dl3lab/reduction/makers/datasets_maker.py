"""`DatasetsMaker`: run a chain of makers over many observations, then stack or collect (spec §10.2)."""

import warnings

import traitlets

from ..datasets.datasets import Datasets
from ..datasets.template import DatasetTemplate
from ..errors import NoOverlapError, ReductionError
from ..executor import capture_failure, failure_from_exception, forks_workers, run_tasks, runs_in_process
from ..geom._utils import frame_skycoord
from .core import Maker
from .safe_mask_maker import SafeMaskMaker
from .traits import AngleTrait

__all__ = ["DatasetsMaker", "reduce_observation"]


def reduce_observation(dataset, observation, makers):
    """Run ``makers`` in order on ``dataset`` for one observation and return the result.

    Each maker's ``run`` receives the previous result and the observation. The
    observation's data are released afterwards.
    """
    try:
        for maker in makers:
            dataset = maker.run(dataset, observation)
        return dataset
    finally:
        observation.release()


def _reduce_task(dataset, observation, makers):
    return capture_failure(reduce_observation, observation.obs_id, dataset, observation, makers)


class _NoOverlap:
    """Returned by a worker when the observation does not overlap the geometry."""

    def __init__(self, obs_id):
        self.obs_id = obs_id


def _reduce_template_task(template, observation, makers, cutout):
    """Worker side: create (once) the reference from ``template``, cut out around the pointing, reduce."""
    try:
        if cutout == "as-is":
            local = template.create()
        elif cutout is None:
            local = template.dataset().copy()
        else:
            position = frame_skycoord(observation.get_pointing_icrs(observation.tmid), "galactic")
            local = template.cutout(position, width=cutout[0], mode=cutout[1])
    except NoOverlapError:
        observation.release()
        return _NoOverlap(observation.obs_id)
    except Exception as exc:  # a damaged observation: reported like a failure inside the reduction
        observation.release()
        return failure_from_exception(exc, observation.obs_id)
    return _reduce_task(local, observation, makers)


def _stackable(result, stacked):
    """``result`` converted for stacking into ``stacked`` (an ON/OFF map dataset into a plain one)."""
    if hasattr(result, "to_map_dataset") and not hasattr(stacked, "counts_off"):
        return result.to_map_dataset(name=result.name)
    return result


class DatasetsMaker(Maker):
    """Reduce a list of observations with a chain of makers.

    Parameters
    ----------
    makers : list
        Makers run in order for each observation (e.g. MapDatasetMaker, SafeMaskMaker,
        FoVBackgroundMaker).
    stack_datasets : bool
        Stack the per-observation datasets into one, or return them all.
    n_jobs : int, optional
        Number of processes reducing with ``"processes"`` (default 1); where processes can
        be forked this process is one of them (see `dl3lab.reduction.executor`).
    cutout_mode : {"trim", "partial", "strict"}
        Cutout mode around each pointing.
    cutout_width : angle, optional
        Cutout width (default: twice the ``offset_max`` of the first SafeMaskMaker;
        no cutout if there is none).
    executor : str or executor
        ``"serial"``/``"processes"`` or any object with ``submit`` (e.g. a Dask client).
    skip_failed : bool
        Warn about observations whose reduction failed and keep the others; otherwise
        raise the first `ReductionError` (carrying obs id and traceback).
    progress_bar : bool
        Show a text progress bar.

    Notes
    -----
    Each task reduces one observation and returns its dataset; the datasets are
    stacked in observation order, as they arrive, whatever the executor, so every
    executor gives the identical stacked dataset, equal to stacking one observation
    at a time.
    """

    tag = "DatasetsMaker"

    makers = traitlets.List()
    stack_datasets = traitlets.Bool(True)
    n_jobs = traitlets.Int(None, allow_none=True, min=1)
    cutout_mode = traitlets.Enum(["trim", "partial", "strict"], default_value="trim")
    cutout_width = AngleTrait(None, allow_none=True, positive=True)
    executor = traitlets.Any(None, allow_none=True)
    skip_failed = traitlets.Bool(False)
    progress_bar = traitlets.Bool(True)

    def __init__(self, makers, **kwargs):
        super().__init__(makers=list(makers), **kwargs)
        self.failures = []

    @property
    def effective_cutout_width(self):
        """The cutout width used, or None for no cutout."""
        if self.cutout_width is not None:
            return self.cutout_width
        for maker in self.makers:
            if isinstance(maker, SafeMaskMaker):
                return 2 * maker.offset_max
        return None

    def _prepare(self, dataset, observation, use_cutout):
        if not use_cutout:
            return dataset.copy()
        position = frame_skycoord(observation.get_pointing_icrs(observation.tmid), "galactic")
        return dataset.cutout(position=position, width=self.effective_cutout_width, mode=self.cutout_mode)

    def _report(self, outcome):
        """Warn about a skipped observation; record a failure and raise it unless ``skip_failed``."""
        if isinstance(outcome, _NoOverlap):
            warnings.warn(f"Observation {outcome.obs_id} does not overlap the geometry; skipped", stacklevel=3)
            return
        self.failures.append(outcome)
        if not self.skip_failed:
            raise outcome
        warnings.warn(str(outcome), stacklevel=3)

    def run(self, dataset, observations, datasets=None):
        """Reduce ``observations`` into copies or cutouts of ``dataset``.

        Returns
        -------
        `Datasets`
            One stacked dataset (named like ``dataset``; ``dataset`` itself is not
            modified) or one dataset per observation, in observation order.
        """
        self.failures = []
        use_cutout = datasets is None and self.effective_cutout_width is not None and not getattr(
            dataset._geom, "is_region", False
        )
        executor = self.executor or ("processes" if (self.n_jobs or 1) > 1 else "serial")
        # Per-observation datasets reduced in this process, or in forked workers that inherit
        # them, are used as they are; other processes get a template when the dataset is still empty.
        inherited = runs_in_process(executor, self.n_jobs, len(observations)) or forks_workers(
            executor, self.n_jobs, len(observations))
        template = DatasetTemplate.from_dataset(dataset) if datasets is None else None
        templates = [DatasetTemplate.from_dataset(d) for d in datasets] if datasets is not None and not inherited \
            else []
        tasks, outcomes = [], []
        if templates and all(t is not None for t in templates):
            # one untouched dataset per observation: each worker creates its own
            for obs, own in zip(observations, templates):
                outcomes.append(len(tasks))
                tasks.append((own, obs, self.makers, "as-is"))
            func = _reduce_template_task
        elif template is not None:
            # Workers get the small template and the observations (obs id and file locations) and
            # cut out themselves; this process's copy of the reference serves serial runs and forks.
            template.share(dataset)
            cutout = (self.effective_cutout_width, self.cutout_mode) if use_cutout else None
            for obs in observations:
                outcomes.append(len(tasks))
                tasks.append((template, obs, self.makers, cutout))
            func = _reduce_template_task
        else:
            for idx, obs in enumerate(observations):
                try:
                    local = datasets[idx] if datasets is not None else self._prepare(dataset, obs, use_cutout)
                except NoOverlapError:
                    outcomes.append(_NoOverlap(obs.obs_id))
                    continue
                except Exception as exc:  # a damaged observation: reported like a failure inside the reduction
                    outcomes.append(failure_from_exception(exc, obs.obs_id))
                    continue
                outcomes.append(len(tasks))
                tasks.append((local, obs, self.makers))
            func = _reduce_task
        # a task lost with its worker process (killed, crashed) is a failure of its observation
        lost = lambda index, exc: failure_from_exception(exc, tasks[index][1].obs_id)  # noqa: E731
        results = run_tasks(func, tasks, executor=executor, n_jobs=self.n_jobs, on_lost=lost)
        bar = None
        if self.progress_bar and tasks:
            from tqdm import tqdm

            bar = tqdm(total=len(observations), desc="Reducing observations", unit="obs")
        stacked = dataset.copy(name=dataset.name) if self.stack_datasets else None
        collected = Datasets()
        try:
            for outcome in outcomes:
                result = next(results)[1] if isinstance(outcome, int) else outcome
                if bar is not None:
                    bar.update(1)
                if isinstance(result, (_NoOverlap, ReductionError)):
                    self._report(result)
                elif stacked is not None:
                    stacked.stack(_stackable(result, stacked))
                else:
                    collected.append(result)
        finally:
            results.close()  # stops the workers if a failure ended the loop early
            if bar is not None:
                bar.close()
            if template is not None:
                template.release()
        if stacked is not None:
            return Datasets([stacked])
        return collected
