"""``dl3lab run CONFIG.yaml --out DIR``: reduce a saved pipeline state without a notebook."""

import sys
from pathlib import Path

__all__ = ["run_config", "add_run_command", "resolve_executor"]


def resolve_executor(text):
    """``"serial"``, ``"processes"`` or ``"dask://HOST:PORT"`` -> what `ChainPipeline.run` takes.

    Returns ``(executor, close)`` where ``close()`` releases a Dask client.
    """
    if text in (None, "serial", "processes"):
        return text or "serial", lambda: None
    if text.startswith("dask://"):
        try:
            from distributed import Client
        except ImportError as exc:
            raise ValueError("--executor dask://... needs dask.distributed: pip install 'dl3lab[dask]'") from exc
        client = Client("tcp://" + text[len("dask://"):])
        return client, client.close
    raise ValueError(f"--executor must be serial, processes or dask://HOST:PORT, got {text!r}")


def run_config(config, out, executor="serial", n_jobs=None, overwrite=False, per_observation=False,
               skip_failed=False, progress=True, stream=None):
    """Reduce the pipeline saved in ``config`` and write its datasets under ``out``.

    Writes ``out/datasets.yaml`` and one FITS file per dataset: the stacked result
    (``stacked``) and, with ``per_observation``, each observation's (``obs-<id>``).

    Raises
    ------
    dl3lab.reduction.ReductionError
        If an observation failed and ``skip_failed`` is False (nothing is written).
    FileExistsError
        If an output file exists and ``overwrite`` is False.
    """
    from .reduction import Datasets
    from .reduction.errors import ReductionError
    from .reduction.pipeline import load_pipeline

    stream = stream or sys.stdout
    pipeline = load_pipeline(config)
    target = Path(out) / "datasets.yaml"
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; use --overwrite to replace it")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pipeline.obs_ids), desc="Reducing observations", unit="obs", file=sys.stderr)

    def report(done, total):
        if bar is not None:
            bar.n = done
            bar.refresh()

    executor, close = resolve_executor(executor)
    try:
        stacked = pipeline.run(progress=report, executor=executor, n_jobs=n_jobs)
    finally:
        close()
        if bar is not None:
            bar.close()
    if pipeline.errors and not skip_failed:
        first = next(iter(pipeline.errors.values()))
        raise ReductionError(f"{len(pipeline.errors)} observation(s) failed (use --skip-failed to write the "
                             f"others):\n{pipeline.error_report()}", obs_id=first.obs_id,
                             traceback=first.traceback)
    datasets = Datasets([stacked.copy(name="stacked")])
    if per_observation:
        good = [i for i in pipeline.obs_ids if i not in pipeline.errors]
        for obs_id, dataset in zip(good, pipeline.datasets):
            datasets.append(dataset.copy(name=f"obs-{obs_id}"))
    Path(out).mkdir(parents=True, exist_ok=True)
    datasets.write(target, overwrite=overwrite)
    n_ok = len(pipeline.obs_ids) - len(pipeline.errors)
    print(f"dl3lab run: {pipeline.chain} chain, {n_ok} observations reduced"
          + (f", {len(pipeline.errors)} failed (skipped)" if pipeline.errors else "")
          + f"; wrote {len(datasets)} dataset(s) to {target}", file=stream)
    if pipeline.errors:
        print(pipeline.error_report(), file=sys.stderr)
    return datasets


def _run(args):
    run_config(args.config, args.out, executor=args.executor, n_jobs=args.n_jobs, overwrite=args.overwrite,
               per_observation=args.per_observation, skip_failed=args.skip_failed, progress=not args.quiet)
    return 0


def add_run_command(sub):
    """Register ``dl3lab run`` on an argparse sub-parser collection."""
    p = sub.add_parser("run", help="reduce a saved pipeline state (YAML) and write the datasets")
    p.add_argument("config", help="pipeline state written by ReductionPipeline.save / the app")
    p.add_argument("--out", required=True, help="output directory (datasets.yaml and one FITS file per dataset)")
    p.add_argument("--executor", default="serial", help="serial (default), processes or dask://HOST:PORT")
    p.add_argument("--n-jobs", type=int, default=None, help="worker processes for --executor processes")
    p.add_argument("--per-observation", action="store_true", help="also write each observation's dataset")
    p.add_argument("--skip-failed", action="store_true", help="write the result of the observations that worked")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
