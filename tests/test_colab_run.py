"""A Colab-like run: each notebook a student receives, alone, in a fresh Python that has
only what Colab ships (NumPy, Numba, JAX, Matplotlib and the Jupyter kernel), runs top to
bottom.

For a lecture that is its assignment (`make assignments`: the student notebook, unzipped
into an empty folder, exercises unanswered), run the way an instructor grades it: by
`python -m booktools.grading` (`make grade`) with that Python as its kernel, which must
score it 0 with a line per question. For the other notebook pages, the published
notebook. Its setup cell must bring in the rest (quantecon, threadpoolctl), and its
helper cells the `lecture_tools` module, without touching the NumPy, Numba and JAX
already there. The full edition's notebooks carry the same setup cells
(tests/test_notebooks.py checks), and their code runs under nbval; running the student
edition here is that edition's one execution.
"""
import json
import os
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
KERNEL_NAME = "colab-like"

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
    """A fresh venv holding only what a stock Colab runtime has (installed by uv, as `make
    venv` does), its package list, and the environment in which the grader finds it as
    the Jupyter kernel KERNEL_NAME."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--python", python, "--quiet",
                    *pinned(COLAB_SHIPS + KERNEL)], check=True)
    subprocess.run([python, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL_NAME],
                   check=True, capture_output=True)
    before = installed(python)
    assert "quantecon" not in before and "threadpoolctl" not in before
    # The helper module is nowhere this Python can import it from: only a notebook can write it.
    assert subprocess.run([python, "-c", "import lecture_tools"], cwd=venv, capture_output=True).returncode
    return {"python": python, "before": before, "times": {},
            "env": {**os.environ, "JUPYTER_PATH": str(venv / "share" / "jupyter")}}


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


def ran_alone(colab, doc, executed):
    """The checks every run shares: each code cell ran, only cells tagged `raises-exception`
    raised, and nothing the notebook started outlives it."""
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{doc}: a cell did not run"
    raised = [c for c in code if any(o.output_type == "error" for o in c.outputs)]
    assert all("raises-exception" in c.metadata.get("tags", []) for c in raised), (
        f"{doc}: an error in a cell that should not raise:\n"
        + "\n".join(o.get("evalue", "") for c in raised for o in c.outputs if o.output_type == "error"))
    # No kernel, no Dask worker or scheduler process left behind.
    stray = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
             if (p.info["cmdline"] or [""])[0] == colab["python"]]
    assert not stray, f"{doc} left processes running: {stray}"
    return code


@pytest.mark.parametrize("doc", [d for d in notebook_pages() if d not in lectures()])
def test_page_notebook_runs_top_to_bottom_alone_in_a_colab_like_python(colab, built_notebooks, tmp_path, doc):
    path = notebook_as_received(built_notebooks, doc, tmp_path)
    assert not (path.parent / "lecture_tools.py").exists()
    result = subprocess.run([colab["python"], "-c", RUN_NOTEBOOK, path.name], cwd=path.parent,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"{doc} failed in the Colab-like run:\n{result.stderr[-4000:]}"
    colab["times"][doc] = float(result.stdout.split()[-1])
    print(f"{doc}: {colab['times'][doc]:.1f} s")
    code = ran_alone(colab, doc, nbformat.read(path.parent / "executed.ipynb", as_version=4))
    if "import lecture_tools" in "".join(c.source for c in code):
        # It ran standalone: the helper module came out of the notebook, next to it.
        assert (path.parent / "lecture_tools.py").exists()


@pytest.mark.parametrize("doc", lectures())
def test_unanswered_assignment_runs_alone_in_a_colab_like_python_and_scores_zero(colab, tmp_path, doc):
    path = notebook_as_received(None, doc, tmp_path)
    out, ran = tmp_path / "result.json", tmp_path / "ran.ipynb"
    run = subprocess.run([sys.executable, "-m", "booktools.grading", str(path), "--kernel", KERNEL_NAME,
                          "--out", str(out), "--executed", str(ran)],
                         capture_output=True, text=True, timeout=1800, env=colab["env"])
    assert run.returncode == 0, f"{doc}: grading failed:\n{run.stderr[-4000:]}"
    result = json.loads(out.read_text())
    colab["times"][doc] = result["seconds"]
    print(f"{doc}: {result['seconds']:g} s")
    code = ran_alone(colab, doc, nbformat.read(ran, as_version=4))
    assert not any("_grading_env" in c.source for c in code), "the tests were written out with the notebook"
    assert result["lecture"] == doc and result["total"] == 0 and result["max"] > 0
    assert all(row["earned"] == 0 and row["message"] for row in result["questions"])
    for row in result["questions"]:
        assert f"{row['exercise']} ({row['label']}): 0 / {row['points']:g}" in run.stdout
    assert f"total: 0 / {result['max']:g}" in run.stdout


def test_setup_cells_installed_the_rest_and_left_numpy_numba_jax_alone(colab):
    if not colab["times"]:
        pytest.fail("no notebook ran in the Colab-like environment")
    after = installed(colab["python"])
    assert "quantecon" in after and "threadpoolctl" in after
    for package in PROTECTED:
        assert after[package] == colab["before"][package], f"{package} was changed by a setup cell"
