"""Benchmark: open all runs of the data store and read every HDU once."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Timer, data_dir  # noqa: E402


def main():
    from dl3lab.reduction import DataStore

    with Timer() as total:
        store = DataStore.from_dir(data_dir())
        observations = store.get_observations()
        n_events = 0
        for obs in observations:
            n_events += len(obs.events)
            obs.gti, obs.aeff, obs.edisp, obs.psf, obs.bkg, obs.get_pointing_icrs(obs.tmid)  # noqa: B018
            obs.release()
    n = len(observations)
    print(f"read_all: {n} runs, {n_events} events, every HDU once: {total.seconds:.2f} s "
          f"({1000 * total.seconds / n:.1f} ms per run)")


if __name__ == "__main__":
    main()
