"""Grading by `make grade` (the command line), and by the lecture's autograder zip (`make
assignments`) run as Gradescope runs it, which must say the same, question by question:
an unanswered notebook scores 0 with a line per question.

The submissions are the student notebooks of `make student` without the lecture's own cells
(`submissions.exercises_only`), so that each costs a kernel's start and the grader's part of
the lecture. Answered notebooks score in full under `make grade`'s command, run from the
autograder zip's copy of the grader, in the Colab-like run (tests/test_colab_run.py), and
the site's answers pass every check in that copy (tests/test_exercise_checks.py); bad
answers in tests/test_grading_bad_answers.py."""
from pathlib import Path

import pytest
from submissions import assert_same_verdict, make_grade, run_autograder, submission

from booktools import grading
from booktools.book import lectures
from booktools.layout import ASSIGNMENTS

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]


@pytest.mark.parametrize("doc", lectures())
def test_the_unanswered_notebook_scores_zero_with_a_line_per_question_here_and_on_gradescope(doc, student, tmp_path):
    path = submission(tmp_path / "hand-in" / "submission.ipynb", student, doc)
    result, printed = make_grade(path, path.parent / "result.json")
    assert result["lecture"] == doc and result["total"] == 0 and result["max"] > 0
    assert [row["label"] for row in result["questions"]] == [q.label for q in grading.questions(doc)]
    assert all(row["earned"] == 0 and row["message"] for row in result["questions"])
    for row in result["questions"]:
        assert f"{row['exercise']} ({row['label']}): 0 / {row['points']:g}" in printed
    assert f"total: 0 / {result['max']:g}" in printed
    results = run_autograder(ASSIGNMENTS / f"{Path(doc).name}-autograder.zip", path, tmp_path / "gradescope")
    assert_same_verdict(results, result)
