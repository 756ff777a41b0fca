"""Benchmark: live tuning of the reactive pipeline (no widgets).

Builds a `ReductionPipeline` with the default `GeometrySpec` centred on the target
and an ``aeff-max`` + ``offset-max`` safe mask, runs it once, then changes
``safe_mask_maker.aeff_percent`` through a sequence of values and measures, per
change, the time from the trait change to the updated ``pipeline.stacked``
(``pipeline.run()``). Reported for the four Crab runs (target: median < 50 ms) and
for the 21 PKS 2155-304 runs (target: < 300 ms), with the full-run time beside them.

A second line per target measures the same with the stacking step done the plain
way (a copy of the reference dataset and `MapDataset.stack` for each observation)
instead of the pipeline's `stack_datasets` with a `StackCache`, for comparison.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CRAB_RUNS, data_dir  # noqa: E402

#: aeff_percent values set one after the other (the pipeline starts at 10).
VALUES = [5, 15, 10, 20, 8, 12, 3, 25, 10, 6, 14, 18, 9, 11, 4, 16, 7, 13, 2, 10, 22, 5]
PKS_POSITION = (329.71694, -30.22559)


def pks_runs(store, radius=2.5):
    """Runs whose OBJECT is PKS 2155-304, or whose pointing lies within ``radius`` deg of it."""
    import numpy as np

    from dl3lab.reduction.makers.sky import angular_separation_deg

    table = store.obs_table
    names = [str(name).strip() for name in table["OBJECT"]] if "OBJECT" in table.colnames else []
    ids = [int(i) for i, name in zip(table["OBS_ID"], names) if name == "PKS 2155-304"]
    if not ids:
        sep = angular_separation_deg(np.asarray(table["RA_PNT"], float), np.asarray(table["DEC_PNT"], float),
                                     *PKS_POSITION)
        ids = [int(i) for i, s in zip(table["OBS_ID"], sep) if s < radius]
    return sorted(ids)


def _stats(values):
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return 1000 * statistics.median(values), 1000 * p90


def with_sequential_stacking(pipeline):
    """Let ``pipeline`` stack by copying its reference and stacking each dataset (False if it cannot be set)."""
    if not hasattr(pipeline, "_stack_maps") or not hasattr(pipeline, "_reference_dataset"):
        return False

    def stack(datasets):
        stacked = pipeline._reference_dataset().copy(name="stacked")
        for dataset in datasets:
            stacked.stack(dataset)
        return stacked

    pipeline._stack_maps = stack
    return True


def measure(store, obs_ids, center=None, sequential=False):
    """Full-run time, per-change wall and CPU times (s) of the stacked dataset after ``aeff_percent`` changes."""
    from dl3lab.reduction import SafeMaskMaker
    from dl3lab.reduction.pipeline import GeometrySpec, ReductionPipeline

    geometry = GeometrySpec() if center is None else GeometrySpec(lon=center[0], lat=center[1])
    safe = SafeMaskMaker(methods=["aeff-max", "offset-max"], aeff_percent=10.0)
    pipeline = ReductionPipeline(store, obs_ids, geometry=geometry, safe_mask_maker=safe)
    if sequential and not with_sequential_stacking(pipeline):
        return None
    start = time.perf_counter()
    pipeline.run()
    full = time.perf_counter() - start
    if pipeline.errors:
        raise RuntimeError(pipeline.error_report())
    times, cpu = [], []
    for value in VALUES:
        before = pipeline.run_counts["maps"]
        start, start_cpu = time.perf_counter(), time.thread_time()
        pipeline.safe_mask_maker.aeff_percent = float(value)
        stacked = pipeline.run()
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        assert stacked is pipeline.stacked and pipeline.run_counts["maps"] == before
    return full, times, cpu, float(stacked.counts.data[stacked.mask_safe.data].sum())


def main():
    from dl3lab.reduction import DataStore

    store = DataStore.from_dir(data_dir())
    for label, ids, center, target in (
        ("Crab", CRAB_RUNS, None, 50),
        ("PKS 2155-304", pks_runs(store), PKS_POSITION, 300),
    ):
        for sequential in (False, True):
            result = measure(store, ids, center, sequential=sequential)
            if result is None:
                continue
            full, times, cpu, counts = result
            median, p90 = _stats(times)
            how = "plain sequential stacking" if sequential else "pipeline"
            print(f"live_tuning: {label}, {len(ids)} runs, {how}: full run {full:.2f} s; {len(times)} aeff_percent "
                  f"changes: median {median:.0f} ms, p90 {p90:.0f} ms (target < {target} ms; "
                  f"main-thread CPU median {_stats(cpu)[0]:.0f} ms; counts {counts:.0f})")


if __name__ == "__main__":
    main()
