"""A Colab-like run: notebooks a student receives, alone, in a fresh Python that has only
what Colab ships (NumPy, Numba, JAX, Matplotlib and the Jupyter kernel).

For a lecture, its assignment (`make assignments`: the student notebook, unzipped into an
empty folder) as a student hands it back: its opening cells (setup, helper modules,
imports) as received, its exercises answered (the site's solutions, one written
differently) and, in between, only the lecture code those answers read
(`submissions.lean`). It is graded by `python -m booktools.grading` (`make grade`'s
command) with that Python as its kernel, which must give full marks, run from the copy of
the grader the lecture's autograder zip carries, where and as the zip's run_autograder runs
it on Gradescope (`submissions.unpacked_grader`): the files the zip carries are enough to
grade every lecture's answers in full. (Gradescope's own entry point gives the verdict `make
grade` gives: tests/test_grading_submissions.py for each lecture's unanswered notebook,
tests/test_grading_hostile.py and tests/test_grading_variants.py for classes of numpy
submissions.) For the other notebook pages, the whole published notebook. The setup cell
must bring in the rest (quantecon, threadpoolctl, Dask), and the helper cells the
`lecture_tools` module, without touching the NumPy, Numba and JAX already there.

A lecture's own cells are executed whole twice in `make test`: by the build and by nbval
(booktools/pytest_lectures.py), both in .venv, which holds more than Colab does. What a whole run
here would add, a module the notebooks import that Colab lacks, is checked without one:
every module the notebooks and their helper modules import is found by this Python once
the setup cells ran. The pins of NumPy, Numba and JAX are the same here as in .venv.
"""
import ast
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
from submissions import lean, make_grade, read, solutions, unpacked_grader

from booktools import grading
from booktools.book import ROOT, lectures, notebook_pages
from booktools.layout import ASSIGNMENTS
from booktools.requirements import pinned_versions

pytestmark = pytest.mark.slow

COLAB_SHIPS = ["numpy", "numba", "llvmlite", "jax", "jaxlib", "matplotlib"]
KERNEL = ["ipykernel", "nbclient"]
PROTECTED = ["numpy", "numba", "llvmlite", "jax", "jaxlib"]
KERNEL_NAME = "colab-like"

# One answer per lecture written differently from the site's solution (and correct).
ALTERNATIVES = {
    "lectures/numpy": ("Exercise 1.2", '''
def ecdf(data, t):
    ordered = np.sort(np.asarray(data, dtype=float))
    return np.searchsorted(ordered, np.asarray(t, dtype=float), side="right") / ordered.size
'''),
    "lectures/numba": ("Exercise 2.1", '''
@numba.jit
def pi_estimate(n):
    u = np.random.random(n)
    v = np.random.random(n)
    return 4.0 * np.count_nonzero(u * u + v * v <= 1.0) / n
'''),
    "lectures/jax_intro": ("Exercise 3.4", '''
@jax.jit
def steps_to_exceed(x0, threshold, max_steps):
    x1 = 4.0 * jnp.asarray(x0, dtype=float) * (1.0 - x0)
    state = lax.while_loop(lambda s: (s["x"] <= threshold) & (s["t"] < max_steps),
                           lambda s: {"t": s["t"] + 1, "x": 4.0 * s["x"] * (1.0 - s["x"])},
                           {"t": 1, "x": x1})
    return jnp.where(state["x"] > threshold, state["t"], max_steps)
'''),
    "lectures/vectorized": ("Exercise 4.1", '''
@numba.jit(parallel=True)
def argmax_f(grid):
    n = len(grid)
    best, where = np.empty(n), np.empty(n, dtype=np.int64)
    for i in numba.prange(n):
        row = np.cos(grid[i]**2 + grid**2) / (1 + grid[i]**2 + grid**2)
        where[i] = np.argmax(row)
        best[i] = row[where[i]]
    i = np.argmax(best)
    return best[i], i, where[i]
'''),
    "lectures/sequential": ("Exercise 5.2", '''
def steps_until_apart(x0, tol):
    low, high = np.float32(x0), np.float64(x0)
    t = 0
    while abs(np.float64(low) - high) <= tol:
        if t == 200:
            return None
        low, high = np.float32(4.0) * low * (np.float32(1.0) - low), 4.0 * high * (1.0 - high)
        t += 1
    return t
'''),
    "lectures/beyond_one_device": ("Exercise 7.2", '''
@numba.vectorize(["float64(float64, int64)"])
def final_value(x0, T):
    x = x0
    for _ in range(T):
        x = 4.0 * x * (1 - x)
    return x

def paths_mean(x0s, T, chunk):
    blocks = da.from_array(np.asarray(x0s, dtype=float), chunks=chunk)
    return blocks.map_blocks(lambda b: final_value(b, T), dtype=float).mean().compute()
'''),
    "lectures/scaling": ("Exercise 6.2", '''
def growth_exponent(records, name):
    largest = sorted((r["n"], r["best_s"]) for r in records if r["name"] == name)[-3:]
    x = np.log([n for n, _ in largest])
    y = np.log([t for _, t in largest])
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())

expected_exponents = dict([("logistic map", 1.0), ("max of f", 2.0)])
'''),
}


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


# What a kernel of the Colab-like Python imports before a notebook's own code runs: their
# bytecode is written once, when the venv is made (see `colab`).
KERNEL_IMPORTS = ["numpy", "numba", "jax", "jax.numpy", "jax.random", "jax.lax", "matplotlib.pyplot",
                  "matplotlib_inline.backend_inline", "ipykernel.kernelapp", "nbclient"]


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A fresh venv holding only what a stock Colab runtime has (installed by uv, as `make
    venv` does; `--seed` gives it pip, as Colab has), its package list, and the environment
    in which the grader finds it as the Jupyter kernel KERNEL_NAME. Where no bytecode is
    written (PYTHONDONTWRITEBYTECODE), every kernel would compile again what it imports:
    one import of KERNEL_IMPORTS, with bytecode written, compiles those modules once
    (7 s here, against 18 s for uv's `--compile-bytecode` of every module installed)."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    subprocess.run([sys.executable, "-m", "uv", "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)],
                   check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--python", python, "--quiet",
                    *pinned(COLAB_SHIPS + KERNEL)], check=True)
    writing = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([python, "-c", f"import {', '.join(KERNEL_IMPORTS)}"], check=True, env=writing, cwd=venv)
    subprocess.run([python, "-m", "ipykernel", "install", "--prefix", str(venv), "--name", KERNEL_NAME],
                   check=True, capture_output=True)
    before = installed(python)
    assert "quantecon" not in before and "threadpoolctl" not in before
    # The helper module is nowhere this Python can import it from: only a notebook can write it.
    assert subprocess.run([python, "-c", "import lecture_tools"], cwd=venv, capture_output=True).returncode
    return {"python": python, "before": before,
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
    print(f"{doc}: {float(result.stdout.split()[-1]):.1f} s")
    code = ran_alone(colab, doc, nbformat.read(path.parent / "executed.ipynb", as_version=4))
    if "import lecture_tools" in "".join(c.source for c in code):
        # It ran standalone: the helper module came out of the notebook, next to it.
        assert (path.parent / "lecture_tools.py").exists()


@pytest.mark.parametrize("doc", lectures())
def test_answered_assignment_runs_alone_in_a_colab_like_python_and_scores_full_marks(colab, built_notebooks, tmp_path,
                                                                                     doc):
    """The assignment as received, its opening cells (setup, helper modules, imports) and
    its exercises, answered, with only the lecture code the answers read in between
    (`submissions.lean`): its setup and helper cells bring in the rest, and a student's
    answers (the site's, one of them written another way) then score in full, graded by
    the copy of the grader the lecture's autograder zip carries. The lecture's own cells run
    whole under nbval and in the build; what they import is there after the setup cells (the
    test below). Every check also fails wrong answers: tests/test_exercise_checks.py."""
    path = notebook_as_received(built_notebooks, doc, tmp_path)
    answers = solutions(read(built_notebooks, doc))
    exercise, alternative = ALTERNATIVES[doc]
    assert exercise in answers
    answers[exercise] = alternative
    received = nbformat.read(path, as_version=4)
    handed_in = lean(received, doc, answers)
    nbformat.write(handed_in, path)
    out, ran = tmp_path / "result.json", tmp_path / "ran.ipynb"
    grader, env = unpacked_grader(ASSIGNMENTS / f"{Path(doc).name}-autograder.zip", tmp_path / "autograder")
    result, printed = make_grade(path, out, "--lecture", doc, "--kernel", KERNEL_NAME, "--executed", str(ran),
                                 cwd=grader, env={**env, "JUPYTER_PATH": colab["env"]["JUPYTER_PATH"]})
    assert result["site"] == env["SITE_VERSION"]         # the version the zip's grader was built with
    print(f"{doc}: {result['seconds']:g} s")
    executed = nbformat.read(ran, as_version=4)
    code = ran_alone(colab, doc, executed)
    # What ran is the notebook handed in, whose opening cells are the notebook's as received.
    assert [c.source for c in executed.cells] == [c.source for c in handed_in.cells]
    first_code = next(i for i, c in enumerate(received.cells) if c.cell_type == "code")
    opening = next(i for i, c in enumerate(received.cells) if i > first_code and c.source.startswith("## "))
    assert [c.source for c in handed_in.cells[:opening]] == [c.source for c in received.cells[:opening]]
    assert any("setup" in c.metadata.get("tags", []) for c in handed_in.cells[:opening])
    checks = [q.check.strip() for q in grading.questions(doc)]
    assert not any(check in c.source for c in code for check in checks), "a check was written out with the notebook"
    # Full marks, but for the parts a person marks (they wait for marks.csv: booktools.gradebook).
    lost = [row for row in result["questions"] if row["earned"] != row["points"] - row["by_hand"]]
    assert not lost and result["total"] == result["max"] - sum(row["by_hand"] for row in result["questions"]) > 0, lost
    for row in result["questions"]:
        assert f"{row['exercise']} ({row['label']}): {row['points'] - row['by_hand']:g} / {row['points']:g}" \
            in printed


@pytest.fixture(scope="module")
def colab_set_up(colab, tmp_path_factory):
    """The Colab-like Python after the notebooks' setup cells ran in it, alone: its package
    list. (The answered runs above may have run them already: they install nothing twice.)"""
    from booktools.notebooks import HELPERS, setup_cells
    folder = tmp_path_factory.mktemp("setup")
    nbformat.write(nbformat.v4.new_notebook(cells=setup_cells(HELPERS)), folder / "setup.ipynb")
    result = subprocess.run([colab["python"], "-c", RUN_NOTEBOOK, "setup.ipynb"], cwd=folder,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, f"the setup cells failed:\n{result.stderr[-4000:]}"
    return installed(colab["python"])


def test_setup_cells_installed_the_rest_and_left_numpy_numba_jax_alone(colab, colab_set_up):
    assert "quantecon" in colab_set_up and "threadpoolctl" in colab_set_up
    for package in PROTECTED:
        assert colab_set_up[package] == colab["before"][package], f"{package} was changed by a setup cell"


IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def imported_modules(source):
    """The top-level modules `source` imports, each with its line; not those imported in a
    `try` whose handler catches the ImportError (the code runs on without them), nor
    relative imports."""
    found = {}

    def visit(node, guarded):
        if isinstance(node, ast.Try):
            caught = set()
            for handler in node.handlers:
                kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
                caught |= {"Exception" if kind is None else getattr(kind, "id", "") for kind in kinds}
            for child in node.body:
                visit(child, guarded or bool(caught & IMPORT_ERRORS))
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, guarded)
            return
        if not guarded and isinstance(node, ast.Import):
            for alias in node.names:
                found.setdefault(alias.name.split(".")[0], node.lineno)
        elif not guarded and isinstance(node, ast.ImportFrom) and node.level == 0:
            found.setdefault(node.module.split(".")[0], node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    visit(ast.parse(code), False)
    return found


def missing_in(python, sources):
    """Of the modules `sources` ({where: code}) import, those `python` cannot find, each
    with where it is first imported ({module: "where, line N"}); helper modules (the
    notebooks' helper cells write them) aside."""
    from booktools.notebooks import HELPERS
    wanted = {}
    for where, code in sources.items():
        for module, line in imported_modules(code).items():
            if module not in HELPERS:
                wanted.setdefault(module, f"{where}, line {line}")
    probe = "import importlib.util, json, sys; " \
            "print(json.dumps([m for m in json.loads(sys.argv[1]) if importlib.util.find_spec(m) is None]))"
    out = subprocess.run([python, "-c", probe, json.dumps(sorted(wanted))], capture_output=True, text=True,
                         check=True, cwd=Path(python).parent).stdout
    return {module: wanted[module] for module in json.loads(out)}


def test_a_module_colab_lacks_is_named_with_where_it_is_imported(colab):
    sources = {"cell 1": "import numpy as np\nfrom no_such_package_in_colab.sub import thing",
               "cell 2": "try:\n    import another_missing_one\nexcept ImportError:\n    pass",
               "cell 3": "%timeit 1\nimport jax.numpy as jnp\nimport lecture_tools"}
    assert missing_in(colab["python"], sources) == {"no_such_package_in_colab": "cell 1, line 2"}
    assert imported_modules(sources["cell 3"]) == {"jax": 2, "lecture_tools": 3}


@pytest.mark.parametrize("doc", lectures())
def test_every_module_a_lectures_notebooks_import_is_there_after_their_setup_cells(colab, colab_set_up, built_notebooks,
                                                                                   student, doc):
    """The lecture's code runs whole under nbval, in .venv, which holds more than Colab
    (pytest, Jupyter Book, ...); here, every module its notebooks (the full edition's, the
    student's) and their helper modules import, but under a guard, is found by the
    Colab-like Python once the setup cells ran: what the whole notebook run in it caught
    that nbval cannot."""
    from booktools.notebooks import helpers_needed
    sources = {}
    editions = {"full edition": read(built_notebooks, doc), "student edition": read(student / "notebooks", doc)}
    for edition, nb in editions.items():
        for number, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                sources[f"{doc}, {edition} notebook, cell {number}"] = cell.source
        for module in helpers_needed(nb):
            sources[f"lectures/{module}.py"] = (ROOT / "lectures" / f"{module}.py").read_text(encoding="utf-8")
    assert len(sources) > 2
    missing = missing_in(colab["python"], sources)
    assert not missing, f"{doc} imports what a Colab-like Python lacks after the setup cells: {missing}"
