"""Helpers shared by the benchmarks: data location, timing, and running Gammapy in its own environment."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRAB_RUNS = [23523, 23592, 23526, 23559]


def data_dir():
    """The HESS DL3 DR1 directory (``DL3LAB_DATA`` or ``../shared/data/hess-dl3-dr1``)."""
    sys.path.insert(0, str(ROOT))
    from dl3lab.reduction.example_data import example_data_dir

    return example_data_dir()


def gammapy_python():
    """Python interpreter of a separate environment with Gammapy 2.1, or None.

    ``GAMMAPY_PYTHON`` (or ``DL3LAB_GAMMAPY_PYTHON``) names it; otherwise ``.venv-gammapy``
    (made by ``make gammapy-env``) is used, else the environment the interoperability
    tests cache under ``$XDG_CACHE_HOME/dl3lab/gammapy-2.1`` once it is complete.
    """
    for name in ("GAMMAPY_PYTHON", "DL3LAB_GAMMAPY_PYTHON"):
        env = os.environ.get(name)
        if env and (shutil.which(env) or Path(env).exists()):
            return env
    local = ROOT / ".venv-gammapy" / "bin" / "python"
    if local.exists():
        return str(local)
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dl3lab" / "gammapy-2.1"
    return str(cached / "bin" / "python") if (cached / ".complete").exists() else None


def run_gammapy(script, *args, timeout=1800):
    """Run a benchmark script under the Gammapy interpreter and return its stdout (None without Gammapy)."""
    python = gammapy_python()
    if python is None:
        return None
    out = subprocess.run(
        [python, str(script), *map(str, args)], capture_output=True, text=True, timeout=timeout, check=True
    )
    return out.stdout


def installed_env(**extra):
    """Environment for a benchmark subprocess that runs dl3lab as an installed package would.

    An installed package comes with compiled bytecode (as Gammapy's environment does), so
    ``dl3lab`` is compiled here once and bytecode writing is not switched off for the
    subprocess; otherwise every fresh process would compile the modules it imports lazily
    inside the timed region.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "dl3lab"), quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


class Timer:
    """Context manager measuring wall time in seconds."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
