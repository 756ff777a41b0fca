"""Soak benchmark: reduce the four Crab runs 200 times in one process; memory must stay flat.

Reports the resident memory after run 10 and after run 200 (target: within 5 %), for
this process and for the background helper process it uses.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import CRAB_RUNS, data_dir  # noqa: E402

N_RUNS = 200


def rss_mib(pid="self"):
    """Current resident set size of a process (default: this one) in MiB."""
    import os

    with open(f"/proc/{pid}/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**2


def main(n_runs=N_RUNS):
    import gc

    from astropy import units as u
    from regions import CircleSkyRegion

    from dl3lab.reduction import (
        DatasetsMaker,
        DataStore,
        FoVBackgroundMaker,
        MapAxis,
        MapDataset,
        MapDatasetMaker,
        SafeMaskMaker,
        WcsGeom,
    )

    store = DataStore.from_dir(data_dir())
    energy = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
    geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[energy], width=5, binsz=0.02)
    exclusion = geom.region_mask([CircleSkyRegion(geom.center_skydir, 0.2 * u.deg)], inside=False)
    makers = [MapDatasetMaker(), SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max="3 deg"),
              FoVBackgroundMaker(method="scale", exclusion_mask=exclusion)]
    from dl3lab.reduction.makers.background_worker import background_worker

    rss, helper_rss = {}, {}
    counts = None
    for run in range(1, n_runs + 1):
        observations = store.get_observations(CRAB_RUNS)
        stacked = DatasetsMaker(makers, progress_bar=False).run(MapDataset.create(geom, name="stacked"),
                                                                 observations)[0]
        total = float(stacked.counts.data.sum())
        if counts is None:
            counts = total
        assert total == counts, "the result changed between runs"
        del stacked, observations
        gc.collect()
        if run in (10, n_runs) or run % 50 == 0:
            rss[run] = rss_mib()
            helper = background_worker(start=False)
            if helper is not None and helper.pid is not None and not helper.broken:
                helper_rss[run] = rss_mib(helper.pid)
    report("", rss, n_runs)
    if 10 in helper_rss and n_runs in helper_rss:
        report(" (background helper process)", helper_rss, n_runs)


def report(label, rss, n_runs):
    """Print the resident memory after run 10 and later, and the growth against the 5 % target."""
    growth = rss[n_runs] / rss[10] - 1
    status = "ok" if abs(growth) <= 0.05 else "ABOVE the 5 % target"
    print(f"soak: {n_runs} reductions of the 4 Crab runs; resident memory{label} after run 10 {rss[10]:.0f} MiB, "
          + ", ".join(f"run {k} {v:.0f} MiB" for k, v in sorted(rss.items()) if k != 10)
          + f"; growth {100 * growth:+.1f} % ({status})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else N_RUNS)
