"""Benchmark: the makers tutorial's stacked 3-D loop on the four Crab runs, dl3lab against Gammapy.

Gammapy runs in its own environment (``make gammapy-env`` or ``GAMMAPY_PYTHON``) on the
same machine, in the same benchmark run, and the per-observation ratio is printed.
"""

import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import CRAB_RUNS, data_dir, run_gammapy  # noqa: E402

#: Timing samples (after one warm-up sample); the fastest counts. A sample times consecutive loops over the
#: four runs: one for Gammapy (about 3 s), `DL3LAB_LOOPS` for dl3lab, so that both samples span a similar
#: stretch of time and average out the machine's short-term noise in the same way.
SAMPLES = 5
DL3LAB_LOOPS = 20

LOOP = """
import sys, time
from astropy import units as u
from regions import CircleSkyRegion
{imports}
store = DataStore.from_dir(sys.argv[1])
energy_axis = MapAxis.from_bounds(1, 10, nbin=11, name="energy", unit="TeV", interp="log")
geom = WcsGeom.create(skydir=(83.63, 22.01), axes=[energy_axis], width=5, binsz=0.02)
exclusion = geom.region_mask([CircleSkyRegion(geom.center_skydir, 0.2 * u.deg)], inside=False)
maker = MapDatasetMaker()
safe = SafeMaskMaker(methods=["aeff-default", "offset-max"], offset_max="3 deg")
fov = FoVBackgroundMaker(method="scale", exclusion_mask=exclusion)
ids = [int(i) for i in sys.argv[2].split(",")]
inner = int(sys.argv[4])
times = []
for sample in range(int(sys.argv[3]) + 1):
    start = time.perf_counter()
    for loop in range(inner):
        stacked = MapDataset.create(geom)
        for obs in store.get_observations(ids):
            local = stacked.cutout(obs.get_pointing_icrs(obs.tmid), width="6 deg")
            stacked.stack(fov.run(safe.run(maker.run(local, obs), obs)))
    if sample:
        times.append((time.perf_counter() - start) / inner)
counts = float((stacked.counts.data * stacked.mask_safe.data).sum())
print(min(times) / len(ids), counts)
"""

DL3LAB = "from dl3lab.reduction import (DataStore, MapAxis, WcsGeom, MapDataset, MapDatasetMaker, " \
    "SafeMaskMaker, FoVBackgroundMaker)"
GAMMAPY = "from gammapy.data import DataStore\nfrom gammapy.maps import MapAxis, WcsGeom\n" \
    "from gammapy.datasets import MapDataset\nfrom gammapy.makers import MapDatasetMaker, SafeMaskMaker, " \
    "FoVBackgroundMaker\nimport logging; logging.disable(logging.WARNING)"


def _script(imports, tmp):
    path = Path(tmp) / f"loop_{abs(hash(imports))}.py"
    path.write_text(LOOP.format(imports=imports))
    return path


def main():
    import subprocess
    import tempfile

    args = [str(data_dir()), ",".join(map(str, CRAB_RUNS)), str(SAMPLES)]
    with tempfile.TemporaryDirectory() as tmp:
        ours = subprocess.run([sys.executable, str(_script(DL3LAB, tmp)), *args, str(DL3LAB_LOOPS)],
                              capture_output=True, text=True, check=True).stdout.split()
        print(f"reduce_3d: dl3lab  {1000 * float(ours[0]):7.1f} ms per observation (counts {float(ours[1]):.0f})")
        start = time.perf_counter()
        theirs = run_gammapy(_script(GAMMAPY, tmp), *args, 1)
        if theirs is None:
            print("reduce_3d: Gammapy not installed in a separate environment (make gammapy-env); no ratio")
            return
        per_obs = float(theirs.split()[0])
        print(f"reduce_3d: Gammapy {1000 * per_obs:7.1f} ms per observation (counts {float(theirs.split()[1]):.0f}, "
              f"{time.perf_counter() - start:.1f} s with start-up)")
        print(f"reduce_3d: dl3lab is {per_obs / float(ours[0]):.1f}x faster per observation")


if __name__ == "__main__":
    main()
