"""The tutorial notebooks run from top to bottom (their asserts included) on real and on simulated data,
and are stored without outputs."""

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: Seconds a single cell may take before the run counts as failed.
CELL_TIMEOUT = 300
KERNEL_NAME = "dl3lab-test"


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory):
    """A kernel spec that starts ipykernel with the interpreter running the tests."""
    path = tmp_path_factory.mktemp("kernels")
    spec = path / KERNEL_NAME
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "dl3lab tests", "language": "python"}))
    return path


@pytest.fixture(scope="session")
def simulated_store(tmp_path_factory):
    from dl3lab.reduction.example_data import make_simulated_example

    return make_simulated_example(tmp_path_factory.mktemp("simulated-crab"))


@pytest.fixture(params=["real", "simulated"])
def example_data(request, monkeypatch, tmp_path):
    """``DL3LAB_DATA`` for the kernel: the H.E.S.S. data or the simulated example store."""
    store = request.getfixturevalue("hess_dir" if request.param == "real" else "simulated_store")
    monkeypatch.setenv("DL3LAB_DATA", str(store))
    # Nothing is looked up in, or written to, the user's cache, IPython profile or Jupyter runtime directory.
    monkeypatch.setenv("DL3LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    return request.param


def execute(path, kernel_dir):
    """Run every cell of the notebook at ``path`` in a fresh kernel; raises on the first error."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    client = NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_dir, example_data):
    notebook = execute(path, kernel_dir)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.get('id')} has outputs"
            assert cell.execution_count is None, f"{path.name}: cell {cell.get('id')} has an execution count"
    assert "widgets" not in notebook.metadata, f"{path.name} stores widget state"
    assert notebook.metadata.get("kernelspec", {}).get("language") == "python"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Notebooks"):]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in section, f"{path.name} is not listed in the README's Notebooks section"
