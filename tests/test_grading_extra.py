"""The instructor's own exercises (`make assignments EXTRA=dir`, booktools.book.extra_exercises):
added to a lecture's assignment and graded like the lecture's, never published. The
fixture is tests/extra/numpy.md, one exercise with a variant."""
import zipfile

import nbformat
import pytest
from submissions import answered, exercises_only, read, solutions

from booktools import assignments, grading, lecture_source
from booktools.book import ROOT
from booktools.sandbox import why_not_sandboxed

DOC = "lectures/numpy"
EXTRA = ROOT / "tests" / "extra"
LABEL = "numpy-extra1"


def test_the_instructors_exercise_is_a_question_after_the_lectures_only_with_extra(monkeypatch):
    without = grading.questions(DOC)
    assert LABEL not in {q.label for q in without}
    monkeypatch.setenv("EXTRA_EXERCISES", str(EXTRA))
    found = grading.questions(DOC)
    assert [q.label for q in found] == [q.label for q in without] + [LABEL]
    assert found[-1].exercise == f"Exercise 1.{len(without) + 1}" and found[-1].points == 2
    with_extra = grading.checks_version(DOC)
    monkeypatch.delenv("EXTRA_EXERCISES")
    assert with_extra != grading.checks_version(DOC)


@pytest.mark.needs_build
def test_the_instructors_exercise_is_never_published(built_notebooks, student):
    """Not on the site, in its sources or its notebooks, nor in the student edition: it is
    outside the book (its statement's words are nowhere in what the builds wrote)."""
    statement = lecture_source.exercises((EXTRA / "numpy.md").read_text())[0].statement
    phrase = "standard deviation along the axis"
    assert phrase in statement
    for folder in (ROOT / "_build" / "html", built_notebooks, student):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in {".html", ".txt", ".md", ".ipynb", ".js"}:
                assert phrase not in path.read_text(errors="replace") and LABEL not in path.read_text(
                    errors="replace"), path


@pytest.mark.needs_build
@pytest.mark.slow
def test_the_instructors_exercise_is_assigned_and_graded_like_the_lectures(monkeypatch, tmp_path, student,
                                                                          built_notebooks):
    assert why_not_sandboxed() is None, f"this test needs the sandbox: {why_not_sandboxed()}"
    monkeypatch.setenv("EXTRA_EXERCISES", str(EXTRA))
    zipped = tmp_path / "numpy.zip"
    assignments.student_zip(DOC, student / "notebooks" / f"{DOC}.ipynb", zipped)
    with zipfile.ZipFile(zipped) as z:
        nb = nbformat.reads(z.read("numpy/numpy.ipynb").decode(), as_version=4)
        readme = z.read("numpy/README.md").decode()
    extra = grading.questions(DOC)[-1]
    assert nb.metadata["assignment"]["checks"] == grading.checks_version(DOC)
    headed = [i for i, c in enumerate(nb.cells) if c.source.startswith(f"### {extra.exercise}")]
    assert len(headed) == 1 and "standardize(x)" in nb.cells[headed[0]].source and extra.exercise in readme
    assert [c.source for c in nb.cells[headed[0] + 1:headed[0] + 3]] == ["standardize_axis = 0",
                                                                         "# Your solution to the exercise above."]
    site = solutions(read(built_notebooks, DOC))
    own = lecture_source.exercises((EXTRA / "numpy.md").read_text())[0].solution
    path = tmp_path / "answered.ipynb"
    nbformat.write(exercises_only(answered(nb, {**site, extra.exercise: own})), path)
    result = grading.grade(path)
    assert result.total == result.possible and extra.label in {q.label for q in result.questions}, \
        grading.report(result)
    bundle = assignments.autograder_bundle(DOC, tmp_path / "numpy-autograder.zip", "numpy\n")
    with zipfile.ZipFile(bundle) as z:
        assert "grader/extra/numpy.md" in z.namelist() and b"EXTRA_EXERCISES=extra" in z.read("run_autograder")
    monkeypatch.delenv("EXTRA_EXERCISES")          # graded without the overlay: refused, not guessed
    with pytest.raises(grading.SubmissionError, match="handed out with version"):
        grading.grade(path)
