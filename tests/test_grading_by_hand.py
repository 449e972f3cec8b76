"""Parts of a question marked by a person (lecture_source.PART `, by hand`): the grader
leaves them out, the class's grading exports the student's work on them for marking
(to-mark.csv and a page per answer), and the marks an instructor writes back
(marks.csv) are added on every run, surviving regrades."""
import csv
import json
import subprocess
import sys

import nbformat
import pytest
from submissions import read, solutions, submission

from booktools import gradebook, grading, lecture_source
from booktools.book import ROOT

DOC = "lectures/sequential"
LABEL = "sequential-ex2"
EXPLANATION = "The gap between the two series doubles at every step, so a tenth of tol comes 3 steps sooner."


def test_a_part_marked_by_hand_is_parsed_and_counted_in_the_points():
    check = "x = 1\n# Part (0.5 points, by hand): the why\n# Part (1.5 points): the value\nassert x == 1\n"
    parts = lecture_source.check_parts(check, 2.0)
    assert [(p.points, p.by_hand, p.what) for p in parts] == [(0.5, True, "the why"), (1.5, False, "the value")]
    question = next(q for q in grading.questions(DOC) if q.label == LABEL)
    assert [p.by_hand for p in question.parts].count(True) == 1


def _row(student, earned=1.5, flags=()):
    result = grading.GradingResult(f"{student}.ipynb", DOC, [grading.QuestionResult(LABEL, "Exercise 5.2", 2.0, earned,
                                                                                     "", 0.5)], 1.0, True, list(flags))
    return {**result.to_dict(), "student": student, "sha256": f"{student}-first"}


def _ran(path, text):
    """An executed notebook with the exercise, a text answer under a heading of the
    student's own, and a figure."""
    cells = [nbformat.v4.new_markdown_cell("### Exercise 5.2\n\nWrite it."), nbformat.v4.new_code_cell("print(3)"),
             nbformat.v4.new_markdown_cell("### My explanation\n\n" + text),
             nbformat.v4.new_markdown_cell("### Exercise 5.3\n\nOther.")]
    cells[1].outputs = [nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def test_a_part_to_mark_is_exported_with_the_students_cells_and_a_mark_is_added_and_listed(tmp_path):
    (tmp_path / gradebook.RAN).mkdir()
    _ran(tmp_path / gradebook.RAN / "ana.ipynb", EXPLANATION)
    _ran(tmp_path / gradebook.RAN / "ben.ipynb", "no idea")
    rows = [_row("ana"), _row("ben", earned=0.0)]
    assert gradebook.export_for_marking(rows, tmp_path) == 2
    page = (tmp_path / "to-mark" / "ana.sequential-ex2.html").read_text()
    assert EXPLANATION in page and "data:image/png;base64,iVBORw0KGgo=" in page and "Other." not in page
    with open(tmp_path / "to-mark.csv", newline="") as f:
        todo = list(csv.DictReader(f))
    assert [(r["student"], r["question"], r["points"]) for r in todo] == [("ana", LABEL, ""), ("ben", LABEL, "")]
    todo[0]["points"], todo[0]["comment"] = "0.5", "right: the doubling"   # the instructor marks ana only
    with open(tmp_path / "marks.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(todo[0]))
        writer.writeheader()
        writer.writerows(todo)
    marks = gradebook.read_marks(tmp_path / "marks.csv")
    assert marks == [gradebook.Mark("ana", LABEL, 0.5, "right: the doubling", "ana-first")]   # ben's blank row skipped
    gradebook.write_gradebook(rows, tmp_path / "gradebook.csv", marks=marks)
    with open(tmp_path / "gradebook.csv", newline="") as f:
        table = {r["student"]: r for r in csv.DictReader(f)}
    assert (table["ana"]["total"], table["ana"]["to mark"]) == ("2.0", "")
    assert (table["ben"]["total"], table["ben"]["to mark"]) == ("0.0", LABEL)
    assert gradebook.export_for_marking(rows, tmp_path, marks) == 1           # only ben's is left
    resubmitted = [{**rows[0], "sha256": "ana-second"}]                       # a new notebook: marked again
    assert gradebook.export_for_marking(resubmitted, tmp_path, marks) == 1
    tampered = [_row("ana", flags=[grading.Flag(3, None, "rebinds print")])]  # scores 0: nothing to mark
    assert gradebook.export_for_marking(tampered, tmp_path, marks) == 0


def test_the_marking_page_shows_whatever_a_kernel_wrote_without_running_it(tmp_path):
    """Outputs come from the student's kernel: a value of the wrong type, or one made to
    break out of the page's HTML, is shown as text or left out, never run."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("### Exercise 5.2\n\nWrite it."),
                                         nbformat.v4.new_code_cell("x")])
    nb.cells[1].outputs = [{"output_type": "display_data", "metadata": {},
                            "data": {"image/png": "x' onerror='alert(1)", "text/plain": [{"not": "text"}]}},
                           {"output_type": "display_data", "metadata": {}, "data": {"image/png": [1]}},
                           {"output_type": "stream", "name": "stdout", "text": "<script>alert(2)</script>"}]
    page = gradebook.answer_page(nb, "ana", grading.QuestionResult(LABEL, "Exercise 5.2", 2.0, 1.5, "", 0.5))
    assert "onerror" not in page and "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.needs_build
@pytest.mark.slow
def test_a_hand_marked_part_round_trips_through_the_gradebook(tmp_path, student, built_notebooks):
    """A notebook answered as the site does, with the explanation in a text cell, graded by
    `make grade SUBMISSIONS=`: the part is exported with the text; the mark written back
    is in the gradebook of the next run, which grades nothing again."""
    site = solutions(read(built_notebooks, DOC))
    path = submission(tmp_path / "in" / "ana.ipynb", student, DOC, site, lecture="needed")   # what its answers read
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source == site["Exercise 5.2"])
    nb.cells.insert(at + 1, nbformat.v4.new_markdown_cell(EXPLANATION))
    nbformat.write(nb, path)
    out = tmp_path / "graded"
    command = [sys.executable, "-m", "booktools.gradebook", str(tmp_path / "in"), "--out", str(out)]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert first.returncode == 0, first.stderr[-3000:]
    result = grading.GradingResult.from_dict(json.loads((out / "ana.json").read_text()))
    question = next(q for q in result.questions if q.label == LABEL)
    assert (question.earned, question.by_hand) == (1.5, 0.5), grading.report(result)
    assert EXPLANATION in (out / "to-mark" / f"ana.{LABEL}.html").read_text()
    (out / "marks.csv").write_text(f"student,question,points,comment\nana,{LABEL},0.5,the doubling\n")
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "unchanged, graded before" in again.stdout, again.stdout + again.stderr
    with open(out / "gradebook.csv", newline="") as f:
        row = next(csv.DictReader(f))
    assert float(row[f"Exercise 5.2 ({LABEL})"]) == 2.0 and row["to mark"] == ""
    assert float(row["total"]) == float(row["max"]) and (out / "to-mark.csv").read_text().count("\n") == 1
