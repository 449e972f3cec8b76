"""Each student's own values (booktools.variants), from the roster to the gradebook: the
demo class of issue 37, graded as an instructor would (`make assignments ROSTER=`, then
`make grade SUBMISSIONS= ROSTER=`, with the course's VARIANT_SEED), in the sandbox.

Five students on a roster each get the numpy assignment with their own values (the zip
`make assignments` writes for them). Each hands in the notebook answered for their own
values: full marks. Each notebook answered with the next student's answers (values
written into the code, as a student copying from another would have them) loses
points. A notebook of another student handed in as one's own is flagged, and graded
against its student's values. On Gradescope (the autograder zip, carrying the seed, run on
a submission whose metadata names its submitter), each gets the same verdict."""
import csv
import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest
from submissions import (
    answered,
    assert_same_verdict,
    class_answers,
    exercises_only,
    read,
    run_autograder,
    solutions,
    variant_answer,
)

from booktools import assignments, grading, variants
from booktools.book import ROOT
from booktools.notebooks import binder_requirements
from booktools.sandbox import why_not_sandboxed

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]

DOC = "lectures/numpy"
SEED = "autumn 2026"        # its five draws differ, and so do the answers of each two neighbours
ROSTER = ["ana", "ben", "chloe", "dev", "emma"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, student, built_notebooks):
    """{submission name: its saved result} and the gradebook's rows, for the demo class."""
    assert why_not_sandboxed() is None, f"these tests need the sandbox: {why_not_sandboxed()}"
    tmp = tmp_path_factory.mktemp("variants")
    site = class_answers(DOC, solutions(read(built_notebooks, DOC)))
    notebooks, answers = {}, {}
    for name in ROSTER:
        path = tmp / "zips" / f"{name}.zip"            # as `make assignments ROSTER=` writes it
        path.parent.mkdir(exist_ok=True)
        assignments.student_zip(DOC, student / "notebooks" / f"{DOC}.ipynb", path, name, SEED)
        with zipfile.ZipFile(path) as handed_out:
            notebooks[name] = nbformat.reads(handed_out.read("numpy/numpy.ipynb").decode(), as_version=4)
        values = variants.draw(DOC, name, SEED)
        answers[name] = {q.exercise: variant_answer(q.label, values[q.label]) if q.label in values
                         else site[q.exercise] for q in grading.questions(DOC)}
    submissions = tmp / "submissions"
    submissions.mkdir()
    for k, name in enumerate(ROSTER):
        other = ROSTER[(k + 1) % len(ROSTER)]
        nbformat.write(exercises_only(answered(notebooks[name], answers[name])), submissions / f"{name}_own.ipynb")
        nbformat.write(exercises_only(answered(notebooks[name], answers[other])),
                       submissions / f"{name}_with_{other}s_answers.ipynb")
    nbformat.write(exercises_only(answered(notebooks["ben"], answers["ben"])), submissions / "ana_bens_notebook.ipynb")
    roster = tmp / "roster.csv"
    roster.write_text("id\n" + "\n".join(ROSTER) + "\n")
    out = tmp / "graded"
    run = subprocess.run([sys.executable, "-m", "booktools.gradebook", str(submissions), "--out", str(out),
                          "--jobs", "2", "--roster", str(roster)], cwd=ROOT, capture_output=True, text=True,
                         timeout=1800, env={**os.environ, "VARIANT_SEED": SEED})
    assert run.returncode == 0, run.stderr[-3000:]
    results = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
    with open(out / "gradebook.csv", newline="") as f:
        table = {row["student"]: row for row in csv.DictReader(f)}
    for row in table.values():          # the demo class's gradebook, for the record (pytest -rP shows it)
        print(f"{row['student']:28} {row['total']:>4} / {row['max']:<4} {row['variant']:6} {row['flags']}")
    return notebooks, results, table, submissions


def test_five_students_get_five_different_variants_recorded_in_their_notebooks(demo):
    notebooks, *_ = demo
    drawn = {name: variants.draw(DOC, name, SEED) for name in ROSTER}
    assert len({json.dumps(values, sort_keys=True) for values in drawn.values()}) == len(ROSTER)
    for name, nb in notebooks.items():
        stamp = nb.metadata["assignment"]
        assert stamp["student"] == name and stamp["variants"] == drawn[name]
        assert stamp["seed"] == variants.fingerprint(SEED) != variants.fingerprint("")
        sources = {c.source for c in nb.cells if c.cell_type == "code"}
        for label, variant in variants.variants(DOC).items():    # the values the student reads
            assert variants.cell_code(variant, drawn[name][label]) in sources, (name, label)


def test_each_student_scores_full_marks_with_their_own_answers(demo):
    _, results, table, _ = demo
    for name in ROSTER:
        result = grading.GradingResult.from_dict(results[f"{name}_own"])
        assert result.total == result.possible > 0, (name, grading.report(result))
        assert result.variant == name and not result.flags
        assert table[f"{name}_own"]["variant"] == name and table[f"{name}_own"]["roster"] == name


def test_another_students_answers_lose_points_on_the_questions_whose_values_differ(demo):
    _, results, _, _ = demo
    for k, name in enumerate(ROSTER):
        other = ROSTER[(k + 1) % len(ROSTER)]
        result = grading.GradingResult.from_dict(results[f"{name}_with_{other}s_answers"])
        assert result.total < result.possible, (name, other, grading.report(result))
        lost = {q.label for q in result.questions if q.earned < q.points}
        mine, theirs = variants.draw(DOC, name, SEED), variants.draw(DOC, other, SEED)
        assert lost and all(mine[label] != theirs[label] for label in lost), (name, other, lost)


def test_another_students_notebook_is_flagged_and_graded_against_the_students_own_values(demo):
    _, results, table, _ = demo
    result = grading.GradingResult.from_dict(results["ana_bens_notebook"])
    assert [f.kind for f in result.flags] == ["variant"], result.flags
    assert "carries the exercises' values of ben, not ana's" in result.flags[0].reason
    assert result.variant == "ana" and result.total < result.possible
    assert "values of ben" in table["ana_bens_notebook"]["flags"]


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    """The numpy autograder zip as `make assignments ROSTER= VARIANT_SEED=` writes it."""
    return assignments.autograder_bundle(DOC, tmp_path_factory.mktemp("zip") / "numpy-autograder.zip",
                                         binder_requirements(), SEED)


@pytest.mark.parametrize("name", ["ana_own", "ana_with_bens_answers", "ana_bens_notebook"])
def test_gradescope_grades_each_as_its_submitter_with_the_same_verdict(demo, autograder_zip, tmp_path, name):
    """The autograder zip `make assignments ROSTER= VARIANT_SEED=` writes, run as Gradescope
    runs it, with ana as the submitter (her SID, the roster's id): her own values, whoever's
    notebook it is; the same points, flags and notes as `make grade`."""
    _, results, _, submissions = demo
    found = run_autograder(autograder_zip, submissions / f"{name}.ipynb", tmp_path / "gradescope",
                           metadata={"users": [{"sid": "ana", "email": "ana@example.edu", "name": "Ana"}]})
    assert_same_verdict(found, results[name])
    assert "graded against the exercises' values of ana" in found["output"]
