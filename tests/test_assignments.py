"""The assignment zips (`make assignments`): what an instructor uploads and a student opens.

tests/test_colab_run.py executes each one's notebook, unzipped alone into an empty folder,
in the Colab-like Python.
"""
import zipfile
from pathlib import Path

import nbformat
import pytest

from booktools import assignments, grading
from booktools.book import ROOT, config, lectures
from booktools.layout import ASSIGNMENTS, STUDENT
from booktools.notebooks import EXERCISE_HEADING

STUDENT_NOTEBOOKS = STUDENT / "notebooks"
LECTURES = lectures()
pytestmark = pytest.mark.needs_build     # reads the zips `make assignments` wrote


def unpack(doc, into):
    path = ASSIGNMENTS / f"{Path(doc).name}.zip"
    if not path.exists():
        pytest.fail(f"no {path}: run `make assignments` first (`make test` does)")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(into)
        return archive.namelist()


def test_there_is_a_student_zip_and_an_autograder_per_lecture_and_nothing_else():
    expected = [f"{Path(d).name}{suffix}.zip" for d in LECTURES for suffix in ("", "-autograder")]
    assert sorted(p.name for p in ASSIGNMENTS.glob("*")) == sorted(expected)


@pytest.mark.parametrize("doc", LECTURES)
def test_autograder_holds_one_test_per_exercise_and_the_pinned_runtime(doc):
    from booktools.grading import questions
    with zipfile.ZipFile(ASSIGNMENTS / f"{Path(doc).name}-autograder.zip") as archive:
        names = set(archive.namelist())
        assert {f"tests/{q.label}.py" for q in questions(doc)} <= names
        assert {"run_autograder", "setup.sh", "environment.yml"} <= names
        environment = archive.read("environment.yml").decode()
        for q in questions(doc):
            test = archive.read(f"tests/{q.label}.py").decode()
            graded = [part for part in q.parts if not part.by_hand]      # a person marks the rest
            assert f"points = {sum(part.points for part in graded)!r}" in test
            assert all(repr(part.code) in test for part in graded)
    assert "python=3.11" in environment and "numba==" in environment and "jax==" in environment


@pytest.mark.parametrize("doc", LECTURES)
def test_the_autograder_runs_the_projects_grader_from_the_copy_it_carries(doc):
    """Gradescope runs run_autograder: this project's grader (booktools.gradescope) from
    the zip's grader/, the same files as this checkout's, with `make grade`'s timeouts
    (the grading tests run it and compare its verdicts with `make grade`'s)."""
    with zipfile.ZipFile(ASSIGNMENTS / f"{Path(doc).name}-autograder.zip") as archive:
        run = archive.read("run_autograder").decode()
        assert "-m booktools.gradescope" in run and f"--lecture {doc}" in run
        for name, limit in vars(grading.Timeouts()).items():
            assert f"--{name}-timeout {float(limit)!r}" in run, name
        assert archive.getinfo("run_autograder").external_attr >> 16 == 0o755
        for path in ("booktools/grading.py", "booktools/remote.py", "booktools/sandbox.py", f"{doc}.md",
                     "lectures/lecture_tools.py", "requirements.txt"):
            assert archive.read(f"grader/{path}") == (ROOT / path).read_bytes(), path
        assert "apt-get install -y bubblewrap" in archive.read("setup.sh").decode()


def test_the_student_zip_holds_no_test():
    for doc in LECTURES:
        with zipfile.ZipFile(ASSIGNMENTS / f"{Path(doc).name}.zip") as archive:
            assert not [n for n in archive.namelist() if "/tests/" in n or n.endswith(".py")]


@pytest.mark.parametrize("doc", LECTURES)
def test_zip_holds_the_student_notebook_and_a_readme_naming_each_exercise(doc, tmp_path):
    name = Path(doc).name
    assert unpack(doc, tmp_path) == [f"{name}/{name}.ipynb", f"{name}/README.md", f"{name}/LICENSE",
                                     f"{name}/LICENSE-CONTENT"]
    notebook = tmp_path / name / f"{name}.ipynb"
    assert notebook.read_bytes() == (STUDENT_NOTEBOOKS / f"{doc}.ipynb").read_bytes()
    nb = nbformat.read(notebook, as_version=4)
    headings = [h[0] for h in EXERCISE_HEADING.findall("\n".join(c.source for c in nb.cells))]
    readme = (tmp_path / name / "README.md").read_text(encoding="utf-8")
    assert len(headings) >= 2
    for heading in headings:
        assert f"**{heading}.**" in readme, f"{name}/README.md does not list {heading}"
    assert readme.startswith(f"# Assignment: {nb.metadata['title']}\n")
    assert "**Prerequisites:**" in readme and "**Time:**" in readme and f"{name}.ipynb" in readme
    # What it was built from, whose it is, and on what terms.
    assert f"Built from version {grading.site_version()} of the lectures (its checks: version " \
           f"{grading.checks_version(doc)})" in readme
    assert "CC BY-SA 4.0" in readme and config()["author"] in readme
    assert (tmp_path / name / "LICENSE-CONTENT").read_bytes() == (ROOT / "LICENSE-CONTENT").read_bytes()


@pytest.mark.parametrize("doc", LECTURES)
def test_a_student_zip_rebuilt_from_the_same_notebook_has_the_same_bytes(doc, tmp_path):
    """Fixed order, timestamps and permissions: diffable, cacheable, and a course can tell
    that the zip it handed out is the one the site's version builds."""
    name = Path(doc).name
    assignments.student_zip(doc, STUDENT_NOTEBOOKS / f"{doc}.ipynb", tmp_path / f"{name}.zip")
    assert (tmp_path / f"{name}.zip").read_bytes() == (ASSIGNMENTS / f"{name}.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / f"{name}.zip") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
