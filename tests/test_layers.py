"""The compute layer must not pull in any widget library."""

import subprocess
import sys
from pathlib import Path

import dl3lab.reduction

WIDGET_MODULES = ("ipywidgets", "bqplot", "ipyaladin")


def test_reduction_imports_no_widget_library():
    code = (
        "import sys, dl3lab.reduction as r\n"
        "for name in r.__all__:\n"
        "    getattr(r, name)\n"
        f"bad = [m for m in {WIDGET_MODULES!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"dl3lab.reduction imported widget libraries: {out.stdout}"


def test_reduction_sources_do_not_mention_widget_libraries():
    root = Path(dl3lab.reduction.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        for name in WIDGET_MODULES:
            if f"import {name}" in text or f"from {name}" in text:
                offenders.append(f"{path.name}: {name}")
    assert not offenders
