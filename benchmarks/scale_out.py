"""Benchmark: scaling out over the whole HESS DL3 DR1, dl3lab against Gammapy in the same run.

Two scenarios, each with 1 and 2 worker processes (``DatasetsMaker(n_jobs=...)``):

* ``pks``: the 21 PKS 2155-304 runs stacked on a 4 deg geometry at 0.02 deg;
* ``all``: all 105 runs reduced into per-run datasets (``stack_datasets=False``),
  each on a 4 deg geometry at 0.02 deg around its pointing.

Each configuration runs in a fresh process; wall time and peak resident memory (of
the main process and of the largest worker) are reported. The timer starts after the
imports, the data store index and a garbage collection, for both tools. A worker is one core:
dl3lab runs with ``DL3LAB_THREADS=1`` here (by default a single dl3lab process also
uses a helper process, or thread, for the background maps), so that 1 and 2 workers
compare one core with two. Targets: dl3lab at least
20x faster than Gammapy, at least 1.7x faster with 2 workers than with 1, peak
memory under 1.5 GiB.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import data_dir, gammapy_python, installed_env  # noqa: E402

SCRIPT = """
import gc, resource, sys, time, warnings
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from regions import CircleSkyRegion
{imports}
warnings.simplefilter("ignore")
store = DataStore.from_dir(sys.argv[1])
scenario, n_jobs = sys.argv[2], int(sys.argv[3])
energy = MapAxis.from_energy_bounds("0.5 TeV", "20 TeV", nbin=12)
table = store.obs_table
gc.collect()  # garbage left by the imports is not part of the reduction (for both tools)
start = time.perf_counter()
if scenario == "pks":
    ids = [int(i) for i, name in zip(table["OBS_ID"], table["OBJECT"]) if str(name).strip() == "PKS 2155-304"]
    target = SkyCoord(329.71694, -30.22559, unit="deg")
    geom = WcsGeom.create(skydir=target, width=4, binsz=0.02, axes=[energy])
    exclusion = geom.region_mask([CircleSkyRegion(target, 0.3 * u.deg)], inside=False)
    makers = [MapDatasetMaker(), SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max="2.5 deg"),
              FoVBackgroundMaker(method="scale", exclusion_mask=exclusion)]
    observations = store.get_observations(ids)
    maker = DatasetsMaker(makers, stack_datasets=True, n_jobs=n_jobs, cutout_width="5 deg"{extra})
    result = maker.run(MapDataset.create(geom, name="stacked"), observations)
    check = float(result[0].counts.data.sum())
else:
    ids = [int(i) for i in table["OBS_ID"]]
    observations = store.get_observations(ids)
    datasets = [MapDataset.create(WcsGeom.create(skydir=obs.get_pointing_icrs(obs.tmid), width=4, binsz=0.02,
                                                 axes=[energy]), name=f"obs-{{obs.obs_id}}")
                for obs in observations]
    makers = [MapDatasetMaker(), SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max="2 deg"),
              FoVBackgroundMaker(method="scale")]
    maker = DatasetsMaker(makers, stack_datasets=False, n_jobs=n_jobs{extra})
    result = maker.run(datasets[0], observations, datasets=datasets)
    check = float(sum(d.counts.data.sum() for d in result))
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(wall, own, children, len(ids), check)
"""

DL3LAB = ("from dl3lab.reduction import (DataStore, MapAxis, WcsGeom, MapDataset, MapDatasetMaker, SafeMaskMaker, "
          "FoVBackgroundMaker, DatasetsMaker)")
GAMMAPY = ("from gammapy.data import DataStore\nfrom gammapy.maps import MapAxis, WcsGeom\n"
           "from gammapy.datasets import MapDataset\nfrom gammapy.makers import MapDatasetMaker, SafeMaskMaker, "
           "FoVBackgroundMaker, DatasetsMaker\nimport logging; logging.disable(logging.WARNING)")


def run(python, imports, extra, scenario, n_jobs, tmp):
    path = Path(tmp) / f"scale_{abs(hash(imports))}.py"
    path.write_text(SCRIPT.format(imports=imports, extra=extra))
    env = installed_env(DL3LAB_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([python, str(path), str(data_dir()), scenario, str(n_jobs)], capture_output=True,
                         text=True, timeout=3600, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    wall, own, children, n_obs, check = (float(v) for v in out.stdout.split()[-5:])
    return dict(wall=wall, own=own, children=children, n_obs=int(n_obs), check=check)


def main():
    gammapy = gammapy_python()
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in ("pks", "all"):
            ours = {n: run(sys.executable, DL3LAB, ", progress_bar=False", scenario, n, tmp) for n in (1, 2)}
            theirs = {n: run(gammapy, GAMMAPY, "", scenario, n, tmp) for n in (1, 2)} if gammapy else {}
            for n in (1, 2):
                o = ours[n]
                line = (f"scale_out {scenario:3s} {o['n_obs']:3d} runs, {n} worker(s): dl3lab {o['wall']:6.2f} s, "
                        f"peak {o['own']:5.0f} MiB (largest worker {o['children']:4.0f} MiB)")
                if n in theirs:
                    t = theirs[n]
                    line += (f"; Gammapy {t['wall']:6.2f} s, peak {t['own']:5.0f} MiB "
                             f"(worker {t['children']:4.0f} MiB): {t['wall'] / o['wall']:.1f}x; "
                             f"counts {o['check']:.0f} vs {t['check']:.0f}")
                print(line, flush=True)
            print(f"scale_out {scenario}: 1 -> 2 workers: dl3lab {ours[1]['wall'] / ours[2]['wall']:.2f}x"
                  + (f", Gammapy {theirs[1]['wall'] / theirs[2]['wall']:.2f}x" if theirs else ""), flush=True)
        if not gammapy:
            print("scale_out: Gammapy not installed in a separate environment (make gammapy-env); no ratios")


if __name__ == "__main__":
    main()
