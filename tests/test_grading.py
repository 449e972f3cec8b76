"""The grader's questions and refusals (booktools/grading.py), without executing a lecture.

Real submissions: answered (full marks) in the Colab-like run, tests/test_colab_run.py;
unanswered in tests/test_grading_submissions.py; bad answers in
tests/test_grading_bad_answers.py."""
import json

import nbformat
import pytest
from submissions import exercises_only

from booktools import assignments, grading, lecture_source
from booktools.book import ROOT, lectures

LECTURES = lectures()


@pytest.mark.parametrize("doc", LECTURES)
def test_every_exercise_is_a_question_with_points_and_a_check(doc):
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    graded = grading.questions(doc)
    assert [q.label for q in graded] == [exercise.label for exercise in lecture_source.exercises(text)]
    assert all(q.points > 0 and "assert" in q.check for q in graded)
    chapter = LECTURES.index(doc) + 1
    assert [q.exercise for q in graded] == [f"Exercise {chapter}.{k}" for k in range(1, len(graded) + 1)]


@pytest.mark.parametrize("doc", LECTURES)
def test_otter_test_files_hold_each_check_with_its_points(doc, tmp_path):
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    paths = assignments.write_test_files(doc, tmp_path)
    for q, path in zip(grading.questions(doc), paths):
        test = create_test_file(str(path), NBMetadataConfig())     # as Otter reads it
        assert test.name == q.label and sum(case.points for case in test.test_cases) == q.points
        assert repr(q.check) in path.read_text()


def test_an_otter_test_passes_on_a_right_answer_and_fails_on_a_wrong_one(tmp_path):
    import numpy as np
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    path = assignments.write_test_files("lectures/numpy", tmp_path)[0]           # poly(x, coef)
    right = {"np": np, "poly": lambda x, coef: np.polynomial.polynomial.polyval(np.asarray(x, float), coef)}
    wrong = {"np": np, "poly": lambda x, coef: np.zeros_like(np.asarray(x, float))}
    for env, passed in ((right, True), (wrong, False)):
        test = create_test_file(str(path), NBMetadataConfig())
        test.run(env)
        assert test.passed_all is passed


def run_grader(capsys, *args):
    """The command line, in this process (a refusal starts no kernel): (exit code, stderr)."""
    code = grading.main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_a_file_that_is_not_a_notebook_is_refused(tmp_path, capsys):
    path = tmp_path / "answers.ipynb"
    path.write_text("print('hello')\n")
    code, err = run_grader(capsys, path)
    assert code == 2 and "is not a Jupyter notebook" in err
    assert not list(tmp_path.glob("*.json"))


def test_an_empty_notebook_is_refused(tmp_path, capsys):
    path = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# NumPy")]), path)
    code, err = run_grader(capsys, path)
    assert code == 2 and "empty notebook" in err


def student_like(doc):
    """A notebook with the lecture's title and exercise headings, as a student's would have."""
    cells = [nbformat.v4.new_markdown_cell(f"### {q.exercise}\n\nText.") for q in grading.questions(doc)]
    cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["title"] = grading.title(doc)
    return nb


def test_a_notebook_from_another_lecture_is_refused(tmp_path, capsys):
    path = tmp_path / "numba.ipynb"
    nbformat.write(student_like("lectures/numba"), path)
    code, err = run_grader(capsys, path, "--lecture", "numpy")
    assert code == 2 and "is the assignment of lectures/numba, not of numpy" in err


def test_a_notebook_of_no_lecture_is_refused(tmp_path, capsys):
    path = tmp_path / "other.ipynb"
    nb = student_like("lectures/numba")
    nb.metadata["title"] = "Some other course"
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]
    nbformat.write(nb, path)
    code, err = run_grader(capsys, path)
    assert code == 2 and "cannot tell which lecture" in err


def test_the_notebook_is_identified_by_its_title_or_its_exercises():
    nb = student_like("lectures/scaling")
    assert grading.identify(nb, "x.ipynb") == "lectures/scaling"
    nb.metadata.pop("title")
    assert grading.identify(nb, "x.ipynb", "scaling") == "lectures/scaling"


def test_the_report_lists_each_question_and_the_total():
    result = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, 2.0, ""),
        grading.QuestionResult("numpy-ex2", "Exercise 1.2", 3.0, 0.0, "AssertionError: wrong")],
        seconds=3.0, sandboxed=True, flags=[grading.Flag(4, "Exercise 1.1", "rebinds np.allclose")])
    text = grading.report(result)
    assert "Exercise 1.1 (numpy-ex1): 2 / 2" in text
    assert "Exercise 1.2 (numpy-ex2): 0 / 3  AssertionError: wrong" in text
    assert "flag: cell 4 (Exercise 1.1): rebinds np.allclose" in text
    assert text.endswith("total: 2 / 5  (3 s)")


def test_a_result_is_saved_and_read_back_whole():
    result = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, 0.0, "no points")],
        seconds=1.5, sandboxed=False, flags=[grading.Flag(None, None, "the kernel reports that x")], notes=["n"])
    saved = json.loads(json.dumps(result.to_dict()))
    assert saved["total"] == 0.0 and saved["max"] == 2.0
    assert grading.GradingResult.from_dict(saved) == result


def test_exercises_only_keeps_the_opening_cells_and_the_exercises():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        md("# Title"), md("## Before you start"), code("setup"), code("import numpy as np"),
        md("## A section"), code("lecture()"), md("## Another"), code("more()"),
        md("## Exercises"), md("### Exercise 1.1"), code("# answer")])
    assert [c.source for c in exercises_only(nb).cells] == [
        "# Title", "## Before you start", "setup", "import numpy as np",
        "## Exercises", "### Exercise 1.1", "# answer"]
