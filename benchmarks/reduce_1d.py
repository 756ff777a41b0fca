"""Benchmark: the makers tutorial's 1-D reflected-regions loop on the four Crab runs, dl3lab against Gammapy.

Gammapy runs in its own environment (``make gammapy-env`` or ``GAMMAPY_PYTHON``) on the
same machine, in the same benchmark run, and the per-observation ratio is printed.
"""

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import CRAB_RUNS, data_dir, run_gammapy  # noqa: E402

REPEATS = 5

LOOP = """
import sys, time
import numpy as np
from astropy import units as u
from regions import CircleSkyRegion
{imports}
store = DataStore.from_dir(sys.argv[1])
energy_axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[energy_axis], width=5 * u.deg, binsz=0.05 * u.deg, frame="icrs")
energy_axis_true = MapAxis.from_bounds(0.3, 10, nbin=31, name="energy_true", unit="TeV", interp="log")
circle = CircleSkyRegion(center=geom.center_skydir, radius=0.2 * u.deg)
exclusion_mask = geom.region_mask([circle], inside=False)
geom = RegionGeom.create(region=circle, axes=[energy_axis])
exclusion_mask_2d = exclusion_mask.reduce_over_axes(np.logical_or, keepdims=False)
empty = SpectrumDataset.create(geom=geom, energy_axis_true=energy_axis_true)
maker = SpectrumDatasetMaker(containment_correction=False, selection=["counts", "exposure", "edisp"])
reflected = ReflectedRegionsBackgroundMaker(exclusion_mask=exclusion_mask_2d)
safe = SafeMaskMaker(methods=["aeff-max"], aeff_percent=10)
ids = [int(i) for i in sys.argv[2].split(",")]
per_obs = {{i: [] for i in ids}}
for repeat in range(int(sys.argv[3]) + 1):
    datasets = Datasets()
    for obs in store.get_observations(ids):
        start = time.perf_counter()
        dataset = maker.run(empty.copy(name=f"obs-{{obs.obs_id}}"), obs)
        dataset = safe.run(reflected.run(dataset, obs), obs)
        datasets.append(dataset)
        if repeat:
            per_obs[obs.obs_id].append(time.perf_counter() - start)
counts = [float(d.counts.data.sum()) for d in datasets]
counts_off = [float(d.counts_off.data.sum()) for d in datasets]
print(" ".join(f"{{i}}:{{min(per_obs[i])}}" for i in ids), sum(counts), sum(counts_off))
"""

DL3LAB = (
    "from dl3lab.reduction import (DataStore, Datasets, MapAxis, WcsGeom, RegionGeom, SpectrumDataset, "
    "SpectrumDatasetMaker, ReflectedRegionsBackgroundMaker, SafeMaskMaker)\n"
    "import warnings; warnings.simplefilter('ignore')"
)
GAMMAPY = (
    "from gammapy.data import DataStore\nfrom gammapy.maps import MapAxis, WcsGeom, RegionGeom\n"
    "from gammapy.datasets import Datasets, SpectrumDataset\nfrom gammapy.makers import SpectrumDatasetMaker, "
    "ReflectedRegionsBackgroundMaker, SafeMaskMaker\nimport logging; logging.disable(logging.WARNING)"
)


def _script(imports, tmp):
    path = Path(tmp) / f"loop1d_{abs(hash(imports))}.py"
    path.write_text(LOOP.format(imports=imports))
    return path


def _parse(out):
    fields = out.split()
    times = {int(k): float(v) for k, v in (f.split(":") for f in fields[:-2])}
    return times, float(fields[-2]), float(fields[-1])


def main():
    import subprocess
    import tempfile

    args = [str(data_dir()), ",".join(map(str, CRAB_RUNS)), str(REPEATS)]
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, str(_script(DL3LAB, tmp)), *args], capture_output=True, text=True, check=True
        ).stdout
        ours, counts, counts_off = _parse(out)
        print(f"reduce_1d: dl3lab  counts {counts:.0f}, OFF counts {counts_off:.0f}")
        start = time.perf_counter()
        theirs = run_gammapy(_script(GAMMAPY, tmp), *args[:2], 2)
        if theirs is None:
            for obs_id, seconds in ours.items():
                print(f"reduce_1d: obs {obs_id}: dl3lab {1000 * seconds:6.1f} ms")
            print("reduce_1d: Gammapy not installed in a separate environment (make gammapy-env); no ratio")
            return
        gp, gp_counts, gp_off = _parse(theirs)
        print(f"reduce_1d: Gammapy counts {gp_counts:.0f}, OFF counts {gp_off:.0f} "
              f"({time.perf_counter() - start:.1f} s with start-up)")
        for obs_id, seconds in ours.items():
            print(f"reduce_1d: obs {obs_id}: dl3lab {1000 * seconds:6.1f} ms, Gammapy {1000 * gp[obs_id]:6.1f} ms, "
                  f"ratio {gp[obs_id] / seconds:5.1f}x")
        mean_ours = sum(ours.values()) / len(ours)
        mean_gp = sum(gp.values()) / len(gp)
        print(f"reduce_1d: dl3lab is {mean_gp / mean_ours:.1f}x faster per observation "
              f"({1000 * mean_ours:.1f} ms against {1000 * mean_gp:.1f} ms)")


if __name__ == "__main__":
    main()
