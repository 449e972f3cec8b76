"""Gradescope's side of an assignment's autograder zip: grade the submission with the
project's own grader, the one `make grade` runs, and write Gradescope's results.

    python -m booktools.gradescope SUBMISSION_FOLDER RESULTS.json --lecture lectures/numpy
        [--metadata submission_metadata.json] [--cell-timeout S] [--question-timeout S] [--notebook-timeout S]

The zip's `run_autograder` (booktools.assignments) runs this in Gradescope's container for
each submission, from the copy of the grader the zip carries: the checks run in the
grader's Python against the student's kernel through plain data (booktools.remote), the
tamper scan and probe flag what they flag, and the kernel is sandboxed where the container
allows it (the result says which). So a submission gets the same points, flags and notes
on Gradescope as under `make grade`. A folder without exactly one notebook, or a notebook
that cannot be graded as this assignment, gets a score of 0 and a message saying why.

Who handed it in comes from Gradescope's submission metadata, not from the notebook: the
first submitter's SID (or, where the notebook names their email as its student, the
email), written as roster ids are (booktools.gradebook), so a notebook of the exercises'
values (booktools.variants) is graded against its submitter's and flagged if it carries
another's. Use the students' Gradescope SIDs or emails as the ids of `make assignments
ROSTER=`. The points of a part marked by hand are left to Gradescope's manual grading:
each question's maximum here is what the grader marks.
"""
import argparse
import json
import sys
from pathlib import Path

from booktools import grading
from booktools.gradebook import _safe_name


def results(result):
    """Gradescope's results.json for a graded notebook: a test per question, with its
    points and why it lost them; the whole report (flags, notes) as the output."""
    return {"score": result.total, "output": grading.report(result), "visibility": "visible",
            "tests": [{"name": f"{q.exercise} ({q.label})", "score": q.earned, "max_score": q.points - q.by_hand,
                       "output": q.message + (f" ({q.by_hand:g} more points are marked by hand)" if q.by_hand else ""),
                       "visibility": "visible"} for q in result.questions]}


def submitter(metadata, nb_path):
    """The roster id of who handed the notebook in, from Gradescope's submission metadata
    (None without it): the first submitter's SID, or their email where the notebook names
    that as its student."""
    try:
        user = json.loads(Path(metadata).read_text())["users"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    ids = [_safe_name(str(user.get(key) or "").strip()) for key in ("sid", "email")]
    ids = [i for i in ids if i]
    try:
        named = grading.stamp(grading.read_submission(nb_path)).get("student")
    except grading.SubmissionError:
        named = None
    return named if named in ids else (ids[0] if ids else None)


def refused(why):
    return {"score": 0.0, "output": f"cannot grade: {why}", "visibility": "visible", "tests": []}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade a Gradescope submission with the project's grader.")
    parser.add_argument("submission", help="the folder Gradescope puts the submission in")
    parser.add_argument("results", help="where Gradescope reads the results (results.json)")
    parser.add_argument("--lecture", required=True)
    parser.add_argument("--metadata", help="Gradescope's submission_metadata.json: who handed it in")
    grading.Timeouts.add_arguments(parser)      # the zip's run_autograder passes those it was built with
    args = parser.parse_args(argv)
    notebooks = sorted(p for p in Path(args.submission).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if len(notebooks) != 1:
        found = refused(f"the submission should hold one notebook, and it holds {len(notebooks)}")
    else:
        try:
            student = submitter(args.metadata, notebooks[0]) if args.metadata else None
            found = results(grading.grade(notebooks[0], args.lecture, grading.Timeouts.from_arguments(args),
                                          student=student))
        except grading.SubmissionError as error:
            found = refused(error)
        except Exception as error:          # the grader failed: Gradescope still gets a result
            found = refused(f"the grader failed ({type(error).__name__}: {str(error)[:300]}); "
                            "ask your instructor to grade it by hand")
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(found, indent=2))
    print(found["output"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
