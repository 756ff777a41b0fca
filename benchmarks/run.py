"""Run every benchmark and print its figures (``make bench``)."""

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["read_all.py", "reduce_3d.py", "reduce_1d.py", "simulate.py", "live_tuning.py", "live_widgets.py",
              "scale_out.py", "soak.py"]


def main(names=None):
    for name in names or BENCHMARKS:
        path = HERE / name
        if path.exists():
            print(f"== {name}")
            runpy.run_path(str(path), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
