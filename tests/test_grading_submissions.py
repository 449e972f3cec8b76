"""Grading a half-answered notebook (`make grade`, the command line): its answered questions
in full, each unanswered one 0 with a message, a line per question; and the lecture's
autograder zip (`make assignments`), run as Gradescope runs it, says the same of it,
question by question, right answers and missing ones alike.

The submissions are the student notebooks of `make student` without the lecture's own cells
(`submissions.exercises_only`) but for the part the answers read (`lecture="needed"`), so
that each costs a kernel's start and that part, not the lecture's timings: the whole
answered notebooks are graded once, in the Colab-like run (tests/test_colab_run.py); bad
answers in tests/test_grading_bad_answers.py."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from submissions import assert_same_verdict, read, run_autograder, solutions, submission

from booktools import grading
from booktools.book import lectures
from booktools.layout import ASSIGNMENTS

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]


@pytest.mark.parametrize("doc", lectures())
def test_answered_questions_score_in_full_and_unanswered_ones_zero_here_and_on_gradescope(
        doc, built_notebooks, student, tmp_path):
    graded = grading.questions(doc)
    key = solutions(read(built_notebooks, doc))
    # The first half answered with the site's solutions (a later answer may read an earlier one's).
    answered = {q.exercise: key[q.exercise] for q in graded[:(len(graded) + 1) // 2]}
    assert len(answered) < len(graded), f"{doc}: one question or none; nothing is left unanswered"
    path = submission(tmp_path / "hand-in" / "submission.ipynb", student, doc, answered, lecture="needed")
    out = tmp_path / "result.json"
    run = subprocess.run([sys.executable, "-m", "booktools.grading", str(path), "--out", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["lecture"] == doc and result["max"] > 0 and not result["flags"], result
    assert [row["label"] for row in result["questions"]] == [q.label for q in graded]
    for row in result["questions"]:
        if row["exercise"] in answered:     # in full, but for the parts a person marks
            assert row["earned"] == row["points"] - row["by_hand"], row
        else:
            assert row["earned"] == 0 and row["message"], row
        assert f"{row['exercise']} ({row['label']}): {row['earned']:g} / {row['points']:g}" in run.stdout
    assert f"total: {result['total']:g} / {result['max']:g}" in run.stdout
    results = run_autograder(ASSIGNMENTS / f"{Path(doc).name}-autograder.zip", path, tmp_path / "gradescope")
    assert_same_verdict(results, result)
