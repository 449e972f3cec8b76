"""A Colab-like run: each generated notebook, alone, in a fresh Python that has only what
Colab ships (NumPy, Numba, JAX, Matplotlib and the Jupyter kernel), runs top to bottom.

Its setup cell must bring in the rest (quantecon, threadpoolctl), and its helper cell
the `lecture_tools` module, without touching the NumPy, Numba and JAX already there.
This is the slow part of the suite: it builds a virtual environment (about a minute)
and runs every lecture once more.
"""
import json
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest

from booktools.book import notebook_pages
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


@pytest.mark.parametrize("doc", notebook_pages())
def test_notebook_runs_top_to_bottom_alone_in_a_colab_like_python(colab, built_notebooks, tmp_path, doc):
    name = doc.split("/")[-1]
    shutil.copy(built_notebooks / f"{doc}.ipynb", tmp_path / f"{name}.ipynb")   # alone: no helper beside it
    result = subprocess.run([colab["python"], "-c", RUN_NOTEBOOK, f"{name}.ipynb"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"{doc} failed in the Colab-like run:\n{result.stderr[-4000:]}"
    colab["times"][doc] = float(result.stdout.split()[-1])
    print(f"{doc}: {colab['times'][doc]:.1f} s")


def test_setup_cells_installed_the_rest_and_left_numpy_numba_jax_alone(colab):
    if not colab["times"]:
        pytest.fail("no notebook ran in the Colab-like environment")
    after = installed(colab["python"])
    assert "quantecon" in after and "threadpoolctl" in after
    for package in PROTECTED:
        assert after[package] == colab["before"][package], f"{package} was changed by a setup cell"
