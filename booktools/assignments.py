"""Package each lecture of the student edition as an assignment for a course platform.

    python -m booktools.assignments [STUDENT_NOTEBOOKS OUT] [--roster IDS.csv]   # `make assignments`
        [--cell-timeout S] [--question-timeout S] [--notebook-timeout S]   # the autograder's (grading.Timeouts)

For every lecture (the "Lectures" part of _toc.yml), reads the student notebook
STUDENT_NOTEBOOKS/lectures/<name>.ipynb (default _build/student/notebooks, written by `make student`: no solutions, an
empty cell after each exercise) and writes OUT/<name>.zip (default _build/assignments) holding

    <name>/<name>.ipynb   the student notebook (it installs what it needs and writes
                          the helper modules it imports, so it runs on its own)
    <name>/README.md      for the student: what to do, how to open it, what to hand in,
                          and the site version, credit and licence
    <name>/LICENSE, <name>/LICENSE-CONTENT   the licences

and, for the instructor, OUT/<name>-autograder.zip, to upload to Gradescope
(`autograder_bundle`): an Otter-Grader autograder (one test per exercise of
booktools.grading.questions, a test case per part of its check) whose run_autograder runs
the project's own grader from a copy the zip carries (booktools.gradescope), so that
Gradescope gives the same points, flags and notes as `make grade`.

With EXTRA_EXERCISES=dir (`make assignments EXTRA=dir`), the instructor's own exercises
for a lecture (dir/<name>.md, in the lectures' format: booktools.book.extra_exercises) are
added after the lecture's in its notebook (`with_extra_exercises`), and the autograder zip
carries them; they are never published on the site, its PDF or its sources. Grade with the
same EXTRA.

With a roster (`make assignments ROSTER=ids.csv`, ids as booktools.gradebook reads them),
each student also gets OUT/<name>/<id>.zip: the same zip, its notebook holding that
student's own values of the exercises' variants (booktools.variants, drawn with the
course's VARIANT_SEED), which the grader checks it against. The autograder zip carries the
seed, and on Gradescope the submitter's SID or email (its submission metadata) is the
student's id, so use those ids in the roster.

The student zips are byte-for-byte reproducible (fixed timestamps, fixed order).
"""
import argparse
import copy
import os
import re
import shlex
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from booktools import grading, lecture_source, variants
from booktools.book import ROOT, config, extra_exercises, lectures, page_url
from booktools.grading import questions
from booktools.layout import ASSIGNMENTS, STUDENT
from booktools.notebooks import EXERCISE_HEADING, EXERCISES_SECTION, binder_requirements
from booktools.release import write_zip
from booktools.requirements import python_version
from booktools.student import PLACEHOLDER_CODE

README = """# Assignment: {title}

This assignment is the lecture [{title}]({url}) as a notebook, without the solutions
to its exercises.

{overview}

## What to do

1. Open `{name}.ipynb` (see below) and run it from the top, reading as you go. The
   first cells install anything your Python lacks and set up the lecture's helper
   modules; the outputs you get are measured on your machine.
2. Do the exercises at the end of the notebook:

{exercises}

   Write each answer in the empty code cell under its exercise (it starts with
   `{placeholder}`); add cells as you need them.
3. Run the whole notebook again from a fresh kernel (Kernel, Restart and run all)
   to check that it runs from top to bottom.

## Opening the notebook

* **Colab**: at <https://colab.research.google.com> choose File, Upload notebook,
  and pick `{name}.ipynb`. Colab already has NumPy, Numba and JAX (with a GPU
  runtime, a GPU build of JAX); the first cell adds what is missing.
* **Your own Jupyter** (Python 3.11 or newer): unzip this folder, then run
  `jupyter lab {name}.ipynb` inside it. The first cell installs any missing
  package at the version the lecture was built with.

## What to hand in

The notebook with your answers and their outputs: in Jupyter, save it; in Colab,
File, Download, Download .ipynb. Hand it in as your instructor asks.

{yours}## Version, credit and licence

Built from version {version} of the lectures ({checks_note}). {author}, {copyright}.
The lecture's text and the code shown in it are licensed under CC BY-SA 4.0
(`LICENSE-CONTENT`); the helper modules the notebook writes, under the BSD 3-Clause
licence (`LICENSE`, which also credits the work the lectures adapt).
"""


def exercises(nb):
    """[(heading, first paragraph)] for each exercise in the notebook, in order."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for match in EXERCISE_HEADING.finditer(cell.source):
            body = cell.source[match.end():].strip().split("\n\n")[0]
            found.append((match.group(1), " ".join(body.split())))
    return found


def overview(nb):
    """The lecture's "Before you start" box (prerequisites, objectives, time), as markdown."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("## Before you start"):
            # Inside the box the cell may run on into the lecture's first paragraph.
            box = cell.source.strip().split("**Time:**")
            if len(box) == 2:
                return box[0] + "**Time:**" + box[1].split("\n\n")[0]
    raise ValueError("no 'Before you start' box in the notebook")


YOURS = """## Your version

This notebook is {student}'s: the cells right after some exercises hold values of your
own, which may differ from the website's and from other students'. Answer with yours:
your notebook is graded against them.

"""


def readme(nb, doc):
    name = Path(doc).name
    found = exercises(nb)
    if not found:
        raise ValueError(f"{doc}: no exercises in the student notebook")
    items = "\n".join(f"   * **{heading}.** {text}" for heading, text in found)
    settings = config()
    checks = nb.metadata.get("assignment", {}).get("checks")
    student = nb.metadata.get("assignment", {}).get("student")
    return README.format(title=nb.metadata["title"], url=page_url(doc), name=name,
                         overview=overview(nb), exercises=items, placeholder=PLACEHOLDER_CODE,
                         version=grading.site_version(), author=settings["author"], copyright=settings["copyright"],
                         checks_note=f"its checks: version {checks}" if checks else "no graded checks",
                         yours=YOURS.format(student=student) if student else "")


LICENCES = ("LICENSE", "LICENSE-CONTENT")


def with_extra_exercises(nb, doc):
    """The student notebook `nb` of lecture `doc` with the instructor's own exercises for it
    (book.extra_exercises) at the end of its Exercises section, each as the lecture's are
    there (its heading and statement, its variant cell, an empty cell to work in), and the
    version of the checks that includes theirs."""
    extra = extra_exercises(doc)
    if not extra:
        return nb
    nb = copy.deepcopy(nb)
    numbers = {q.label: q.exercise for q in questions(doc)}
    cells = []
    for exercise in lecture_source.exercises(extra):
        cells.append(nbformat.v4.new_markdown_cell(f"### {numbers[exercise.label]}\n\n{exercise.statement.strip()}"))
        if exercise.variant:
            cells.append(nbformat.v4.new_code_cell(exercise.variant.code))
        cells.append(nbformat.v4.new_code_cell(PLACEHOLDER_CODE))
    start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                 and c.source.startswith(EXERCISES_SECTION))
    end = next((i for i, c in enumerate(nb.cells) if i > start and c.cell_type == "markdown"
                and c.source.startswith("## ")), len(nb.cells))
    nb.cells[end:end] = cells
    for i, cell in enumerate(nb.cells):            # stable ids, as booktools.notebooks gives them
        cell["id"] = f"cell-{i}"
    nb.metadata["assignment"]["checks"] = grading.checks_version(doc)
    return nb


def student_zip(doc, source, path, student=None, seed=""):
    """The zip a student gets for lecture `doc`: its student notebook `source` (with
    `student`'s own values, booktools.variants, if given), a README (naming the site
    version it was built from) and the licences, byte for byte the same from the same
    notebook and version (release.write_zip)."""
    name = Path(doc).name
    nb = nbformat.read(source, as_version=4)
    data = Path(source).read_bytes()
    if extra_exercises(doc):
        nb = with_extra_exercises(nb, doc)
    if student is not None:
        nb = variants.personal_notebook(nb, doc, student, seed)
    if extra_exercises(doc) or student is not None:
        data = nbformat.writes(nb).encode("utf-8") + b"\n"
    write_zip(path, [(f"{name}/{name}.ipynb", data),
                     (f"{name}/README.md", readme(nb, doc).encode("utf-8")),
                     *[(f"{name}/{licence}", (ROOT / licence).read_bytes()) for licence in LICENCES]])
    return nb


TEST_FILE = '''"""{exercise} of {doc}: the check that follows the solution on the site, one
test case per weighted part (each runs alone, as under `make grade`)."""
from otter.test_files import test_case

OK_FORMAT = False
name = {label!r}
points = {points!r}
PARTS = {parts!r}      # the code of each part: the check's shared lines, then its own
'''

TEST_CASE = '''

@test_case(name={what!r}, points={points!r})
def test_{ident}_{k}(env):
    exec(compile(PARTS[{k}], "<check {label}>", "exec"), dict(env))
'''


def write_test_files(doc, folder):
    """One Otter test file per question of `doc` in `folder`, a test case per part of its
    check with the part's points; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for q in questions(doc):
        path = folder / f"{q.label}.py"
        ident = re.sub(r"\W", "_", q.label)
        run = [part for part in q.parts if not part.by_hand]      # Gradescope's own manual grading marks the rest
        path.write_text(TEST_FILE.format(exercise=q.exercise, doc=doc, label=q.label,
                                         points=sum(part.points for part in run), parts=[part.code for part in run])
                        + "".join(TEST_CASE.format(what=part.what or q.label, points=part.points, ident=ident, k=k,
                                                   label=q.label) for k, part in enumerate(run)))
        paths.append(path)
    return paths


# Gradescope runs the zip's run_autograder for each submission. Otter's would run the
# checks in the student's own kernel, against the student's own variables; this one runs
# the project's grader (booktools.gradescope), as `make grade` does. `otter run` (Otter's
# local runner) reads the zip's tests and configuration, not this script, so the zip stays
# a valid Otter autograder. Those tests run in the student's kernel and read everything
# there, the variants' values included: they check that the zip is Otter's, they do not
# grade (a student's kernel can answer them as it likes). It grades with the timeouts the
# zip was built with (`booktools.assignments --cell-timeout S ...`, as `make grade` takes
# them). AUTOGRADER and GRADER_PYTHON let a test run it outside Gradescope's container
# (tests/submissions.py: run_autograder).
RUN_AUTOGRADER = """#!/usr/bin/env bash
AUTOGRADER="${{AUTOGRADER:-/autograder}}"
if [ -z "${{GRADER_PYTHON:-}}" ]; then
    export PATH=/root/miniforge3/bin:$PATH
    eval "$(mamba shell hook --shell bash)"
    mamba activate otter-env
    GRADER_PYTHON=python
fi
cd "$AUTOGRADER/source/grader" && SITE_VERSION={version} VARIANT_SEED={seed} EXTRA_EXERCISES={extra} \\
    "$GRADER_PYTHON" -m booktools.gradescope \\
    "$AUTOGRADER/submission" "$AUTOGRADER/results/results.json" --lecture {doc} \\
    --metadata "$AUTOGRADER/submission_metadata.json" {timeouts}
"""

# Added to Otter's setup.sh: the sandbox's tools, and the grader's own pinned dependencies.
SETUP = """
# The project's grader (booktools.gradescope): its sandbox and its pinned dependencies.
apt-get install -y bubblewrap util-linux
/root/miniforge3/bin/mamba run -n otter-env pip install -r /autograder/source/grader/requirements.txt
"""

# What the zip's copy of the grader needs: its code, the lectures (their checks and
# reference values), the helper modules, and the configuration it reads.
GRADER_FILES = ("booktools/**/*.py", "lectures/*.md", "lectures/*.py", "_config.yml", "_toc.yml", "requirements.txt")


def autograder_bundle(doc, output, requirements, seed="", timeouts=grading.Timeouts()):
    """The autograder zip for `doc` (upload it to Gradescope as the assignment's
    autograder): Otter's, with its tests and `requirements` installed in the grading
    container, whose run_autograder runs the project's grader from the copy it carries,
    with the course's variant `seed` and the grader's `timeouts`."""
    from otter.generate import main as otter_generate
    with tempfile.TemporaryDirectory() as folder:
        write_test_files(doc, Path(folder) / "tests")
        reqs = Path(folder) / "requirements.txt"
        reqs.write_text(requirements)
        otter_generate(tests_dir=str(Path(folder) / "tests"), output_path=str(Path(folder) / "otter.zip"),
                       no_config=True, requirements=str(reqs), overwrite_requirements=True,
                       python_version=python_version(), no_environment=True)
        with zipfile.ZipFile(Path(folder) / "otter.zip") as otter:
            members = [(name, otter.read(name)) for name in sorted(otter.namelist()) if name != "run_autograder"]
    members = [(name, data + SETUP.encode() if name == "setup.sh" else data) for name, data in members]
    extra = extra_exercises(doc)
    run = RUN_AUTOGRADER.format(version=shlex.quote(grading.site_version()), doc=shlex.quote(doc),
                                seed=shlex.quote(seed), extra="extra" if extra else "''",
                                timeouts=" ".join(timeouts.as_arguments()))
    members.append(("run_autograder", run.encode()))
    grader = sorted({path for pattern in GRADER_FILES for path in ROOT.glob(pattern)
                     if "__pycache__" not in path.parts})
    members += [(f"grader/{path.relative_to(ROOT)}", path.read_bytes()) for path in grader]
    if extra:                                   # the instructor's own exercises, for the grader only
        members.append((f"grader/extra/{Path(doc).name}.md", extra.encode("utf-8")))
    write_zip(output, members, executable={"run_autograder", "setup.sh"})
    return Path(output)


def main(student_notebooks=STUDENT / "notebooks", out=ASSIGNMENTS, roster=None, seed=None,
         timeouts=grading.Timeouts()):
    from booktools.gradebook import read_roster
    student_notebooks, out = Path(student_notebooks), Path(out)
    seed = os.environ.get("VARIANT_SEED", "") if seed is None else seed
    students = read_roster(roster) if roster else []
    if students and not seed:
        print("a roster's notebooks need the course's seed: set VARIANT_SEED (any text, a new one each term; "
              "the same for make grade)", file=sys.stderr)
        return 2
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for doc in lectures():
        name = Path(doc).name
        source = student_notebooks / f"{doc}.ipynb"
        if not source.is_file():
            print(f"no student notebook {source}: run `make student` first", file=sys.stderr)
            return 1
        nb = student_zip(doc, source, out / f"{name}.zip")
        autograder_bundle(doc, out / f"{name}-autograder.zip", binder_requirements(), seed, timeouts)
        for student in students:
            student_zip(doc, source, out / name / f"{student}.zip", student, seed)
        varied = sum(q.points for q in questions(doc) if q.label in variants.variants(doc))
        print(f"{out / name}.zip: {len(exercises(nb))} exercises; {out / name}-autograder.zip: "
              f"{sum(q.points for q in questions(doc)):g} points, {varied:g} of them with a variant"
              + (f"; {len(students)} students' own in {out / name}/" if students else ""))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Package each lecture as an assignment.")
    parser.add_argument("folders", nargs="*", help="STUDENT_NOTEBOOKS OUT")
    parser.add_argument("--roster", help="a CSV of student ids: each gets a notebook with their own values")
    grading.Timeouts.add_arguments(parser)      # what the autograder zip grades with on Gradescope
    args = parser.parse_args()
    if len(args.folders) not in (0, 2):
        sys.exit(__doc__)
    sys.exit(main(*args.folders, roster=args.roster, timeouts=grading.Timeouts.from_arguments(args)))
