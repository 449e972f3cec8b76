"""Submissions as students hand them back, for the grading tests (the grader itself never
builds one): the site's answer key, a student notebook answered with it or with other
answers, with or without the lecture's own cells.

    submission(folder, student, doc, answers, lecture=False)   # the path of the notebook written
"""
import json

import nbformat

from booktools.notebooks import EXERCISE_HEADING, EXERCISES_SECTION, SOLUTION_HEADING
from booktools.student import PLACEHOLDER_CODE


def solutions(full):
    """{"Exercise 1.2": code of its solution cells, joined} from a full-edition notebook: the
    answer key, as `answered` takes it."""
    found, current = {}, None
    for cell in full.cells:
        if cell.cell_type == "markdown":
            match = SOLUTION_HEADING.match(cell.source)
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
    exercises = next(i for i in heads if nb.cells[i].source.startswith(EXERCISES_SECTION))
    nb.cells = nb.cells[:lecture] + nb.cells[exercises:]
    return nb


def answered(student_nb, answers):
    """The student notebook with the empty cell under each exercise replaced by its answer."""
    nb = nbformat.from_dict(json.loads(json.dumps(student_nb)))      # a deep copy
    exercise = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = EXERCISE_HEADING.match(cell.source)
            exercise = match.group(1) if match else exercise
        elif cell.source == PLACEHOLDER_CODE and exercise in answers:
            cell.source = answers[exercise]
    return nb


def read(folder, doc):
    """The notebook of lecture `doc` in `folder` (built notebooks, or the student edition's)."""
    return nbformat.read(folder / f"{doc}.ipynb", as_version=4)


def submission(path, student, doc, answers=None, lecture=False):
    """Write to `path` the student notebook of `doc` (from the student edition `student`)
    with `answers` ({"Exercise 1.1": code}; none: unanswered), without the lecture's own
    cells unless `lecture`. Returns `path`."""
    nb = answered(read(student / "notebooks", doc), answers or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb if lecture else exercises_only(nb), path)
    return path
