"""The Binder set-up: runtime and pins agree with pyproject.toml, postBuild installs dl3lab and downloads the
Crab runs, and the README's badge opens the app notebook with Voilà."""

import re
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
BADGE = ("[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/dl3lab/dl3lab/main"
         "?urlpath=voila/render/notebooks/02-interactive-pipeline.ipynb)")


def project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins():
    """Package name -> pinned version of binder/requirements.txt (every line must be an exact pin)."""
    result = {}
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"binder/requirements.txt: {line!r} is not pinned"
            result[requirement.name.lower().replace("_", "-")] = spec.version
    return result


def test_runtime_is_a_python_that_dl3lab_supports():
    match = re.fullmatch(r"python-(\d+\.\d+)\s*", (BINDER / "runtime.txt").read_text())
    assert match, "binder/runtime.txt must read python-X.Y"
    assert SpecifierSet(project()["requires-python"]).contains(match.group(1) + ".0")


def test_every_dependency_and_the_app_extra_are_pinned_within_their_ranges():
    pinned = pins()
    needed = project()["dependencies"] + project()["optional-dependencies"]["app"]
    for line in needed:
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not pinned in binder/requirements.txt"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]} is outside {line!r}"


def test_ipyaladin_pin_is_the_tested_version():
    # the sky view swaps ipyaladin's CDN import of Aladin Lite for a local copy: tied to this exact version
    assert pins()["ipyaladin"] == version("ipyaladin")


def test_post_build_installs_dl3lab_and_downloads_the_crab_runs():
    script = BINDER / "postBuild"
    assert script.stat().st_mode & 0o111, "binder/postBuild must be executable"
    subprocess.run(["bash", "-n", str(script)], check=True)
    lines = [line.strip() for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert "set -euo pipefail" in lines
    assert any(re.fullmatch(r"python -m pip install .*'\.\[app\]'", line) for line in lines)
    download = next(line for line in lines if line.startswith("dl3lab download"))
    assert download.split()[:3] == ["dl3lab", "download", "hess-dl3-dr1"] and "--runs crab" in download


def test_readme_has_the_binder_badge_for_the_app_notebook():
    readme = (ROOT / "README.md").read_text()
    assert BADGE in readme
    notebook = BADGE.split("voila/render/", 1)[1].rstrip(")")
    assert (ROOT / notebook).is_file()
