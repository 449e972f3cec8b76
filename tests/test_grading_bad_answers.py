"""Bad answers (`make grade`): each costs its own question only, and the grader finishes.

The submissions are the numpy lecture's student notebook with Exercises 1.2 and 1.3
answered as the site does, and Exercise 1.1 answered badly; the lecture's own cells are
deleted, as a student may do (`grading.exercises_only`; whole answered notebooks are graded
in the Colab-like run, tests/test_colab_run.py), so that each of these runs costs a
kernel's start, not the lecture's timings."""
from pathlib import Path

import nbformat
import pytest

from booktools import grading

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]


def read(folder, doc):
    return nbformat.read(folder / f"{doc}.ipynb", as_version=4)


def submit(tmp_path, nb):
    path = tmp_path / "hand-in" / "submission.ipynb"
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    return path

# Bad answers to Exercise 1.1 (`poly`, 2 points); Exercises 1.2 and 1.3 are answered right
# (3 points). Each must cost Exercise 1.1 at most, and the grader must finish.
POLY = '''
def poly(x, coef):
    x = np.asarray(x, dtype=float)
    return sum(c * x**k for k, c in enumerate(coef))
'''
BAD = {
    "wrong": ("def poly(x, coef):\n    return np.zeros_like(np.asarray(x, dtype=float))", 0, "AssertionError"),
    "raises": ("def poly(x, coef):\n    raise ValueError('not done yet')", 0, "ValueError: not done yet"),
    "cell never ends": ("while True:\n    pass", 0, "NameError"),
    "function never ends": ("def poly(x, coef):\n    while True:\n        pass", 0, "did not finish within"),
    "prints megabytes": ("print('x' * 5_000_000)\n" + POLY, 2, ""),
    "deletes its folder's files": ("import os\nfor name in os.listdir('.'):\n    os.remove(name)\n" + POLY, 2, ""),
    "reads the tests": ("import glob\ndef poly(x, coef):\n    return open(glob.glob('**/*numpy-ex1*', "
                        "recursive=True)[0]).read()", 0, "IndexError"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_answer_costs_its_own_question_only(case, built_notebooks, student, tmp_path):
    code, earned, message = BAD[case]
    answers = grading.solutions(read(built_notebooks, "lectures/numpy"))
    answers["Exercise 1.1"] = code
    received = read(student / "notebooks", "lectures/numpy")
    path = submit(tmp_path, grading.exercises_only(grading.answered(received, answers)))
    keep = tmp_path / "hand-in" / "other-work.txt"          # beside the submission, outside the grader's folder
    keep.write_text("not the grader's")
    result = grading.grade(path, cell_timeout=6, question_timeout=3)
    rows = {row["exercise"]: row for row in result["questions"]}
    assert rows["Exercise 1.1"]["earned"] == earned, rows["Exercise 1.1"]
    assert message in rows["Exercise 1.1"]["message"]
    assert rows["Exercise 1.2"]["earned"] == rows["Exercise 1.2"]["points"]
    assert rows["Exercise 1.3"]["earned"] == rows["Exercise 1.3"]["points"]
    assert path.exists() and keep.read_text() == "not the grader's"
    assert not list(Path(path.parent).glob("*.grade.json"))     # grade() itself writes nothing
