"""A Colab-like run: each notebook a student receives, alone, in a fresh Python that has
only what Colab ships (NumPy, Numba, JAX, Matplotlib and the Jupyter kernel), runs top to
bottom.

For a lecture that is its assignment (`make assignments`: the student notebook, unzipped
into an empty folder, exercises unanswered); for the other notebook pages, the published
notebook. Its setup cell must bring in the rest (quantecon, threadpoolctl), and its
helper cells the `lecture_tools` module, without touching the NumPy, Numba and JAX
already there. The full edition's notebooks carry the same setup cells
(tests/test_notebooks.py checks), and their code runs under nbval; running the student
edition here is that edition's one execution.
"""
import json
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import nbformat
import psutil
import pytest

from booktools.book import lectures, notebook_pages
from booktools.layout import ASSIGNMENTS
from booktools.requirements import pinned_versions

pytestmark = pytest.mark.slow

COLAB_SHIPS = ["numpy", "numba", "llvmlite", "jax", "jaxlib", "matplotlib"]
KERNEL = ["ipykernel", "nbclient"]
PROTECTED = ["numpy", "numba", "llvmlite", "jax", "jaxlib"]

RUN_NOTEBOOK = """
import sys, time, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
start = time.perf_counter()
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, "executed.ipynb")
print(f"{time.perf_counter() - start:.1f}")
"""


def pinned(names):
    pins = pinned_versions()
    return [f"{n}=={pins[n]}" if n in pins else f"{n}=={version(n)}" for n in names]


def installed(python):
    out = subprocess.run([python, "-m", "pip", "list", "--format=json"], capture_output=True,
                         text=True, check=True).stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A fresh venv holding only what a stock Colab runtime has, and its package list."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *pinned(COLAB_SHIPS + KERNEL)], check=True)
    before = installed(python)
    assert "quantecon" not in before and "threadpoolctl" not in before
    return {"python": python, "before": before, "times": {}}


def notebook_as_received(built_notebooks, doc, folder):
    """The notebook a student gets for `doc`, alone in `folder`: the assignment's, unzipped,
    for a lecture; the published one for another page. Returns its path."""
    name = Path(doc).name
    if doc in lectures():
        with zipfile.ZipFile(ASSIGNMENTS / f"{name}.zip") as archive:
            archive.extractall(folder)
        return folder / name / f"{name}.ipynb"
    shutil.copy(built_notebooks / f"{doc}.ipynb", folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


@pytest.mark.parametrize("doc", notebook_pages())
def test_notebook_runs_top_to_bottom_alone_in_a_colab_like_python(colab, built_notebooks, tmp_path, doc):
    path = notebook_as_received(built_notebooks, doc, tmp_path)
    assert not (path.parent / "lecture_tools.py").exists()
    result = subprocess.run([colab["python"], "-c", RUN_NOTEBOOK, path.name], cwd=path.parent,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"{doc} failed in the Colab-like run:\n{result.stderr[-4000:]}"
    colab["times"][doc] = float(result.stdout.split()[-1])
    print(f"{doc}: {colab['times'][doc]:.1f} s")
    code = [c for c in nbformat.read(path.parent / "executed.ipynb", as_version=4).cells
            if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{doc}: a cell did not run"
    raised = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert all("raises-exception" in c.metadata.get("tags", []) for c in raised), (
        f"{doc}: an error in a cell that should not raise")
    # Nothing it started outlives it: no kernel, no Dask worker or scheduler process.
    stray = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
             if (p.info["cmdline"] or [""])[0] == colab["python"]]
    assert not stray, f"{doc} left processes running: {stray}"
    if "import lecture_tools" in "".join(c.source for c in code):
        # It ran standalone: the helper module came out of the notebook, next to it.
        assert (path.parent / "lecture_tools.py").exists()


def test_setup_cells_installed_the_rest_and_left_numpy_numba_jax_alone(colab):
    if not colab["times"]:
        pytest.fail("no notebook ran in the Colab-like environment")
    after = installed(colab["python"])
    assert "quantecon" in after and "threadpoolctl" in after
    for package in PROTECTED:
        assert after[package] == colab["before"][package], f"{package} was changed by a setup cell"
