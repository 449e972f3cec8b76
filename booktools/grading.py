"""Grade a submitted assignment notebook, question by question.

    python -m booktools.grading NOTEBOOK [--lecture NAME] [--out RESULT.json]   # `make grade`
        [--cell-timeout 120] [--question-timeout 60] [--notebook-timeout 900]   # seconds
        [--kernel NAME]          # the Jupyter kernel to run it in (default: python3, this Python)
        [--executed RAN.ipynb]   # also write the notebook as it ran, with its outputs

The questions come from the lecture's source, not from the submission: each exercise
(its label, its number as on the site, the points its statement gives as
`**Points:** N`) and the hidden check after its solution, which uses only the names the
exercise asks for (tests/test_lecture_sources.py enforces it). Those checks are also
written as Otter-Grader test files for the autograder bundle (`autograder_bundle`,
called by `make assignments`): the same tests, locally and on a course platform.

Local grading runs student code, so it is done like this:

* the notebook is copied alone into a new temporary folder and executed there by a fresh
  Jupyter kernel (nbclient), with a time limit per cell (interrupting the kernel, then
  going on) and for the whole notebook; a cell's error is recorded, not fatal;
* only then are the tests sent to that kernel, one question at a time, each with its own
  time limit, on a copy of the notebook's variables: they are never on disk where the
  student's code could read them, and one question's test cannot change another's;
* a question scores its points if its test passes, else 0 with the test's message; a
  kernel that dies scores 0 on every question not yet graded.

What this does not give: the kernel is an ordinary process of the grading user, so code
that writes outside the temporary folder by absolute path, or patches the interpreter
itself, is not stopped. For untrusted submissions grade in a container: the Otter bundle
on Gradescope runs each submission in its own throwaway container.
"""
import argparse
import json
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from booktools.book import ROOT, lectures
from booktools.requirements import python_version
from booktools.student import PLACEHOLDER_CODE

SOLUTION_AND_CHECK = re.compile(
    r"^```\{solution-start\} (\S+)\n.*?^```\{solution-end\}\n```\n\n```\{code-cell\} ipython3\n"
    r":tags: \[remove-cell\]\n(.*?)^```$", re.M | re.S)
EXERCISE = re.compile(r"^```\{exercise\}\n:label: (\S+)\n(.*?)^```$", re.M | re.S)
POINTS = re.compile(r"^\*\*Points:\*\* (\d+(?:\.\d+)?)\s*$", re.M)
HEADING = re.compile(r"^### (Exercise (\d+)\.(\d+))", re.M)
OUTPUT_LIMIT = 100_000      # characters of one output kept in the graded notebook


class SubmissionError(ValueError):
    """The file cannot be graded as this assignment (the message says why)."""


@dataclass
class Question:
    label: str          # the exercise's label, e.g. "numpy-ex1"
    exercise: str       # its number as on the site, e.g. "Exercise 1.1"
    points: float
    check: str          # the hidden check cell's code


def questions(doc):
    """The graded questions of lecture `doc` ('lectures/numpy'), in order."""
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    checks = dict(SOLUTION_AND_CHECK.findall(text))
    chapter = lectures().index(doc) + 1
    found = []
    for number, (label, statement) in enumerate(EXERCISE.findall(text), 1):
        points = POINTS.search(statement)
        if points is None or label not in checks:
            raise ValueError(f"{doc}: exercise {label} needs a '**Points:** N' line and a check")
        found.append(Question(label, f"Exercise {chapter}.{number}", float(points.group(1)),
                              checks[label]))
    return found


def title(doc):
    """The lecture's title (its first heading), as the notebooks carry it in their metadata."""
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    if text.startswith("---\n"):                        # the front matter (its comments start with #)
        text = text[text.index("\n---", 3) + 4:]
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


def read_submission(path):
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:       # any reason it is not a notebook
        raise SubmissionError(f"{path} is not a Jupyter notebook ({type(error).__name__}: "
                              f"{str(error)[:200]})") from None
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise SubmissionError(f"{path} is an empty notebook: it has no code to grade")
    return nb


def identify(nb, path, lecture=None):
    """The lecture `nb` is the assignment of: the one whose title its metadata names and
    whose exercise headings it has. With `lecture` given, refuse any other."""
    headings = {h[0] for h in HEADING.findall("\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))}
    matches = [doc for doc in lectures()
               if nb.metadata.get("title") == title(doc)
               or headings == {q.exercise for q in questions(doc)}]
    if len(matches) != 1:
        raise SubmissionError(f"{path}: cannot tell which lecture's assignment this is (its title "
                              f"{nb.metadata.get('title')!r}, exercises {sorted(headings)}); "
                              "grade the notebook from the assignment zip")
    doc = matches[0]
    if lecture is not None and Path(doc).name != Path(lecture).name:
        raise SubmissionError(f"{path} is the assignment of {doc}, not of {lecture}")
    return doc


TEST_CELL = """\
import json as _grading_json
_grading_env = dict(globals())
try:
    exec(compile({check!r}, "<check {label}>", "exec"), _grading_env)
    print({marker!r} + _grading_json.dumps({{"passed": True}}))
except BaseException as _grading_error:
    print({marker!r} + _grading_json.dumps({{"passed": False, "message":
          (type(_grading_error).__name__ + ": " + str(_grading_error))[:500]}}))
"""


def _trim(cell):
    for output in cell.get("outputs", []):
        if "text" in output and len(output["text"]) > OUTPUT_LIMIT:
            output["text"] = output["text"][:OUTPUT_LIMIT] + "\n[... output cut by the grader ...]\n"


def _verdict(cell, marker, timed_out, limit):
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    lines = [line for line in text.splitlines() if line.startswith(marker)]
    if not lines:
        return False, "the test produced no result (did the kernel stop?)"
    result = json.loads(lines[-1][len(marker):])
    if result["passed"]:
        return True, ""
    if timed_out or result["message"].startswith("KeyboardInterrupt"):
        return False, f"the test did not finish within {limit:g} s"
    return False, result["message"]


def grade(path, lecture=None, cell_timeout=120, question_timeout=60, notebook_timeout=900,
          kernel="python3", executed=None):
    """Grade one submitted notebook; returns the result as a dict (see the module docstring).
    `kernel` names the Jupyter kernel that runs it; with `executed`, the notebook as it ran
    (the submission's cells and their outputs, no tests) is written to that path."""
    nb = read_submission(path)
    doc = identify(nb, path, lecture)
    graded = questions(doc)
    start = time.perf_counter()
    marker = f"@@grade-{secrets.token_hex(8)}@@"
    notes = []
    results = {q.label: (False, "not graded") for q in graded}
    with tempfile.TemporaryDirectory(prefix="grade-") as folder:
        name = Path(path).name
        shutil.copy(path, Path(folder) / name)
        client = NotebookClient(nb, timeout=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                                kernel_name=kernel, resources={"metadata": {"path": folder}})
        try:
            with client.setup_kernel():
                for index, cell in enumerate(list(nb.cells)):
                    if cell.cell_type != "code":
                        continue
                    if time.perf_counter() - start > notebook_timeout:
                        notes.append(f"stopped running the notebook after {notebook_timeout:g} s")
                        break
                    client.execute_cell(cell, index)
                    _trim(cell)
                if executed is not None:
                    nbformat.write(nb, executed)
                for q in graded:
                    test = nbformat.v4.new_code_cell(TEST_CELL.format(check=q.check, label=q.label, marker=marker))
                    client.timeout = question_timeout
                    began = time.perf_counter()
                    nb.cells.append(test)
                    client.execute_cell(test, len(nb.cells) - 1)
                    timed_out = time.perf_counter() - began >= question_timeout
                    results[q.label] = _verdict(test, marker, timed_out, question_timeout)
        except DeadKernelError:
            notes.append("the kernel died while grading; questions not yet graded score 0")
            results = {label: (passed, message if passed or message != "not graded" else "the kernel died")
                       for label, (passed, message) in results.items()}
    rows = [{"label": q.label, "exercise": q.exercise, "points": q.points,
             "earned": q.points if results[q.label][0] else 0.0, "message": results[q.label][1]}
            for q in graded]
    return {"notebook": str(path), "lecture": doc, "questions": rows,
            "total": sum(r["earned"] for r in rows), "max": sum(r["points"] for r in rows),
            "seconds": round(time.perf_counter() - start, 1), "notes": notes}


def report(result):
    lines = [f"{result['notebook']}: assignment of {result['lecture']}"]
    for row in result["questions"]:
        lines.append(f"  {row['exercise']} ({row['label']}): {row['earned']:g} / {row['points']:g}"
                     + (f"  {row['message']}" if row["message"] else ""))
    lines += [f"  note: {note}" for note in result["notes"]]
    lines.append(f"total: {result['total']:g} / {result['max']:g}  ({result['seconds']:g} s)")
    return "\n".join(lines)


# ------------------------------------------------------------------ submissions

def solutions(full):
    """{"Exercise 1.2": code of its solution cells, joined} from a full-edition notebook: the
    answer key, as `answered` takes it."""
    found, current = {}, None
    for cell in full.cells:
        if cell.cell_type == "markdown":
            match = re.match(r"### Solution to (Exercise [\d.]+)", cell.source)
            current = match.group(1) if match else None
            if match:
                found[current] = []
        elif current:
            found[current].append(cell.source)
    return {exercise: "\n\n".join(code) for exercise, code in found.items()}


def exercises_only(nb):
    """`nb` without the lecture, as a student may hand it back: its opening cells (title,
    setup, helper module, imports: up to the first section after them) and its exercises.
    The site's solutions need the lecture's cells; an unanswered or a badly answered
    notebook does not."""
    heads = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## ")]
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    lecture = next(i for i in heads if i > first_code)
    exercises = next(i for i in heads if nb.cells[i].source.startswith("## Exercises"))
    nb.cells = nb.cells[:lecture] + nb.cells[exercises:]
    return nb


def answered(student_nb, answers):
    """The student notebook with the empty cell under each exercise replaced by its answer."""
    nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))      # a deep copy
    exercise = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.match(r"### (Exercise [\d.]+)", cell.source)
            exercise = match.group(1) if match else exercise
        elif cell.source == PLACEHOLDER_CODE and exercise in answers:
            cell.source = answers[exercise]
    return nb



# ------------------------------------------------------------------ autograder bundles

TEST_FILE = '''"""{exercise} of {doc}: the check that follows the solution on the site."""
from otter.test_files import test_case

OK_FORMAT = False
name = {label!r}
points = {points!r}
CHECK = {check!r}


@test_case(points={points!r})
def test_{ident}(env):
    exec(compile(CHECK, "<check {label}>", "exec"), dict(env))
'''


def write_test_files(doc, folder):
    """One Otter test file per question of `doc` in `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for q in questions(doc):
        path = folder / f"{q.label}.py"
        path.write_text(TEST_FILE.format(exercise=q.exercise, doc=doc, label=q.label, points=q.points,
                                         check=q.check, ident=re.sub(r"\W", "_", q.label)))
        paths.append(path)
    return paths


def autograder_bundle(doc, output, requirements):
    """Otter's autograder zip for `doc` (upload it to Gradescope as the assignment's
    autograder): its tests, and `requirements` installed in the grading container."""
    from otter.generate import main as otter_generate
    with tempfile.TemporaryDirectory() as folder:
        write_test_files(doc, Path(folder) / "tests")
        reqs = Path(folder) / "requirements.txt"
        reqs.write_text(requirements)
        otter_generate(tests_dir=str(Path(folder) / "tests"), output_path=str(output), no_config=True,
                       requirements=str(reqs), overwrite_requirements=True, python_version=python_version(),
                       no_environment=True)
    return Path(output)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade a submitted assignment notebook.")
    parser.add_argument("notebook")
    parser.add_argument("--lecture", help="refuse the notebook unless it is this lecture's assignment")
    parser.add_argument("--out", help="write the result as JSON here")
    parser.add_argument("--cell-timeout", type=float, default=120)
    parser.add_argument("--question-timeout", type=float, default=60)
    parser.add_argument("--notebook-timeout", type=float, default=900)
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel to run the notebook in")
    parser.add_argument("--executed", help="also write the notebook as it ran, with its outputs, here")
    args = parser.parse_args(argv)
    try:
        result = grade(args.notebook, args.lecture, args.cell_timeout, args.question_timeout,
                       args.notebook_timeout, args.kernel, args.executed)
    except SubmissionError as error:
        print(f"cannot grade: {error}", file=sys.stderr)
        return 2
    print(report(result))
    out = Path(args.out) if args.out else Path(args.notebook).with_suffix(".grade.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
