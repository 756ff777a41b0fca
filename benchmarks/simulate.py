"""Benchmark: simulate a data store of 20 wobble runs of 28 min (events, IRFs, gzipped GADF files)."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Timer  # noqa: E402

N_OBS = 20
DURATION = 28 * 60.0
TARGET_SECONDS = 20.0


def main():
    from dl3lab.reduction.simulate import simulate_data_store

    with tempfile.TemporaryDirectory(prefix="dl3lab-bench-sim-") as tmp:
        with Timer() as total:
            result = simulate_data_store(Path(tmp) / "store", n_obs=N_OBS, seed=1, duration=DURATION,
                                         zenith=(25.0, 30.0, 35.0, 40.0))
        size = sum(p.stat().st_size for p in (Path(tmp) / "store").rglob("*") if p.is_file())
    n_events = sum(result.n_events.values())
    status = "ok" if total.seconds < TARGET_SECONDS else f"SLOWER than the {TARGET_SECONDS:.0f} s target"
    print(f"simulate: {N_OBS} runs of {DURATION / 60:.0f} min, {n_events} events, {size / 1e6:.1f} MB written: "
          f"{total.seconds:.2f} s ({1000 * total.seconds / N_OBS:.0f} ms per run; {status})")


if __name__ == "__main__":
    main()
