"""A separate virtual environment with Gammapy 2.1, created once and cached, for interoperability tests.

dl3lab never imports Gammapy; tests run small scripts in this environment instead.
Location: ``DL3LAB_GAMMAPY_PYTHON`` (an interpreter), else ``$XDG_CACHE_HOME/dl3lab/gammapy-2.1``
(default ``~/.cache/dl3lab/gammapy-2.1``), created on first use.
"""

import os
import subprocess
import sys
import venv
from pathlib import Path

REQUIREMENTS = ["gammapy==2.1", "regions==0.10"]


def env_dir():
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "dl3lab" / "gammapy-2.1"


def gammapy_python(create=True):
    """Interpreter of the Gammapy environment (created and cached when missing)."""
    explicit = os.environ.get("DL3LAB_GAMMAPY_PYTHON")
    if explicit:
        return explicit
    root = env_dir()
    python = root / "bin" / "python"
    marker = root / ".complete"
    if marker.exists():
        return str(python)
    if not create:
        return None
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS], check=True, timeout=1800)
    marker.write_text(" ".join(REQUIREMENTS))
    return str(python)


def run_script(code, *args, timeout=600):
    """Run Python ``code`` in the Gammapy environment and return its stdout."""
    out = subprocess.run(
        [gammapy_python(), "-c", code, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    if out.returncode:
        raise RuntimeError(f"Gammapy script failed:\n{out.stderr[-3000:]}")
    return out.stdout


if __name__ == "__main__":
    print(gammapy_python())
    sys.exit(0)
