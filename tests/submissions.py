"""Submissions as students hand them back, for the grading tests (the grader itself never
builds one): the site's answer key, a student notebook answered with it or with other
answers, with or without the lecture's own cells; and Gradescope's run of an autograder
zip on one, to hold against `make grade`'s verdict.

    submission(folder, student, doc, answers, lecture=False)   # the path of the notebook written
                                      # (lecture: False, True or "needed")
    lean(nb, doc, answers)            # answered, with only the lecture code the answers read
    class_answers(doc, answers)       # the answers a class of many submissions carries
    variant_answer(label, values)     # a right answer to an exercise for one student's values
    make_grade(notebook, out, *options)                        # `make grade`'s result and report
    run_autograder(zip, notebook, folder)                      # Gradescope's results.json
    assert_same_verdict(results, graded)                       # ... says what `make grade` said
    unpacked_grader(zip, folder)      # the grader a zip carries, and the environment it runs in
    two_at_a_time(job, calls), outcome(found, key)             # runs that wait, overlapped
"""
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from booktools import gradescope, grading, variants
from booktools.notebooks import EXERCISE_HEADING, EXERCISES_SECTION, SOLUTION_HEADING
from booktools.student import PLACEHOLDER_CODE

# The grader's limits for the numpy lecture's exercises without the lecture's own cells (the
# hostile and rootless classes, the bad answers, the autograder zip): their slowest healthy
# cell took 1.2 s and a check well under 1 s beside two busy cores, so 10 s is far above
# both, one core included, and the attacks that run to a limit (a cell that ignores its
# interrupt, a loop that never ends) wait it out.
TIMEOUTS = grading.Timeouts(cell=10, question=10)

# A note that a cell ran past the time limit and was interrupted (then ended): whether a cell
# near the limit crosses it depends on the machine's load, so two gradings may differ there.
SLOW_CELL_NOTE = re.compile(r"  note: cell \d+: the code ran past \d+ s and was interrupted")

# A right answer to each exercise with a variant, for any of its values: the template's
# {name} fields get a student's values, written into the code as literals, so that the
# answer is that student's alone (in another's notebook it answers the wrong question).
VARIANT_ANSWERS = {
    "numpy-ex1": """
def poly(x, coef):
    coef = np.asarray(coef, dtype=float)
    if {coef_order} == "highest first":
        coef = coef[::-1]
    x = np.asarray(x, dtype=float)
    return (x[..., None] ** np.arange(len(coef))) @ coef
""",
    "numpy-ex2": """
def ecdf(data, t):
    data, t = np.asarray(data), np.asarray(t)
    if {ecdf_counts} == "at or below t":
        return np.mean(data[None, :] <= t[:, None], axis=1)
    return np.mean(data[None, :] < t[:, None], axis=1)
""",
    "numpy-ex3": """
def changed(op):
    a = np.arange(10)
    b = eval(op)
    b[...] = -1
    return not np.array_equal(a, np.arange(10))

a_changes = tuple(changed(op) for op in {view_ops})
""",
    "numpy-ex5": """
float32_results = tuple((eval(e).dtype.name, eval(e).nbytes) for e in {float32_products})
""",
    "numba-ex2": """
@numba.jit(parallel=True)
def ar1_final(m, T, ρ=0.9, σ=1.0):
    out = np.empty(m)
    for i in numba.prange(m):
        y = {ar1_start}
        for t in range(T):
            y = ρ * y + σ * np.random.standard_normal()
        out[i] = y
    return out

ar1_final(10, 5)
""",
    "numba-ex3": """
factor = {factors}[0]

@numba.jit
def scale(x):
    return factor * x

scale(1.0)
factor = {factors}[1]
scale_predictions = tuple(float(scale(x)) for x in {scale_calls})
""",
    "jax_intro-ex1": """
def newton(g, x0, tol=1e-12, max_iter=50):
    dg = jax.grad(g)
    x = x0
    for _ in range(max_iter):
        if abs(g(x)) < tol:
            return x
        x = x - g(x) / dg(x)
    raise RuntimeError(f"Newton's method did not converge from {{x0}}")

cubic_root = newton(lambda x: jnp.polyval(jnp.array({cubic_coef}, dtype=float), x), 2.0)
""",
    "jax_intro-ex3": """
def p(x, coef):
    result = 0.0
    for c in coef[::-1]:
        result = result * x + c
    return result

derivative = p
for _ in range({derivative_order}):
    derivative = jax.grad(derivative)
dp = jax.jit(jax.vmap(derivative, in_axes=(0, None)))
""",
    "jax_intro-ex4": """
@jax.jit
def steps_to_exceed(x0, threshold, max_steps):
    r = {logistic_r}
    def going(state):
        x, t = state
        return (x <= threshold) & (t < max_steps)
    def step(state):
        x, t = state
        return r * x * (1 - x), t + 1
    x0 = jnp.asarray(x0, dtype=jnp.result_type(float))
    x, t = lax.while_loop(going, step, (r * x0 * (1 - x0), 1))
    return jnp.where(x > threshold, t, max_steps)
""",
    "jax_intro-ex6": """
@partial(jax.jit, static_argnames="T")
def ar1_path(key, T, ρ=0.9):
    def step(y, step_key):
        y = ρ * y + jax.random.normal(step_key)
        return y, y
    _, path = lax.scan(step, jnp.asarray({ar1_y0}, dtype=float), jax.random.split(key, T))
    return path
""",
    "jax_intro-ex7": """
h_compiles = (True, False, True, True, True, False)
first, second = {h_offsets}
h_values = (6 + first, first, 8 + second, 9 + second, 6 + second, 6 + first)
""",
    "vectorized-ex2": """
def f_b(x, y, b):
    r2 = x**2 + y**2
    return jnp.cos(b * r2) / (1 + r2) if {b_enters} == "the cosine" else jnp.cos(r2) / (1 + b * r2)

f_b_all = jax.vmap(jax.vmap(jax.vmap(f_b, in_axes=(None, 0, None)), in_axes=(0, None, None)),
                   in_axes=(None, None, 0))

@jax.jit
def min_for_each_b(grid, bs):
    return jnp.min(f_b_all(grid, grid, bs), axis=(1, 2))
""",
    "sequential-ex1": """
@partial(jax.jit, static_argnames="n")
def qm_mean(x0, n):
    def update(carry, _):
        x, total = carry
        x = {qm_alpha} * x * (1 - x)
        return (x, total + x), None
    return lax.scan(update, (x0, 0.0 * x0), length=n)[0][1] / n
""",
}


def variant_answer(label, values):
    """VARIANT_ANSWERS[label] for `values` ({name: value}, as booktools.variants draws them)."""
    return VARIANT_ANSWERS[label].format(**{name: variants.literal(v) for name, v in values.items()}).strip()


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


# Answers that record predictions and then demonstrate them: their checks read the
# predictions only. A class of many submissions (the hostile, rootless and variant classes,
# the bad answers) carries the predictions alone, since each grading would run the
# demonstration again for nothing: numpy's Exercise 1.4 times three operations on 10 million
# floats, about 1 s. The whole answer scores in full where the site's answers are graded as
# handed in: the Colab-like run, the hostile class's site-answers, the exercise-check harness.
PREDICTIONS_ONLY = {("lectures/numpy", "Exercise 1.4"): "several_cores"}


def class_answers(doc, answers):
    """`answers` ({"Exercise 1.4": code}) with each answer of PREDICTIONS_ONLY cut to the
    statements that bind its predictions."""
    kept = dict(answers)
    for (lecture, exercise), name in PREDICTIONS_ONLY.items():
        if lecture != doc or exercise not in kept:
            continue
        code = kept[exercise]
        binding = [statement for statement in ast.parse(code).body
                   if any(isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store)
                          for node in ast.walk(statement))]
        assert binding, f"{doc}, {exercise}: no statement of its answer binds {name}"
        kept[exercise] = "\n".join(ast.get_source_segment(code, statement) for statement in binding)
    return kept


def read(folder, doc):
    """The notebook of lecture `doc` in `folder` (built notebooks, or the student edition's)."""
    return nbformat.read(folder / f"{doc}.ipynb", as_version=4)


def what_answers_read(doc, answers):
    """The lecture's code that `answers` ({"Exercise 1.1": code}) read from, in one code
    cell: the cells that bind the names the answers use but do not bind (and the cells
    those read from), as the grader picks the lecture's part its checks need."""
    return nbformat.v4.new_code_cell("\n\n".join(grading.lecture_part_read(doc, answers.values())))


def lean(nb, doc, answers):
    """`nb` answered with `answers`, without the lecture's own cells but for one, before the
    exercises, holding what the answers read of it (`what_answers_read`): a notebook whose
    right answers score in full at the cost of that part, not of the whole lecture."""
    nb = exercises_only(answered(nb, answers))
    at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
              and c.source.startswith(EXERCISES_SECTION))
    nb.cells.insert(at, what_answers_read(doc, answers))
    return nb


def submission(path, student, doc, answers=None, lecture=False):
    """Write to `path` the student notebook of `doc` (from the student edition `student`)
    with `answers` ({"Exercise 1.1": code}; none: unanswered). `lecture`: False, without
    the lecture's own cells; True, with all of them; "needed", with only what the answers
    read of it, in one cell before the exercises (the site's answers then score in full at
    that part's cost). Returns `path`."""
    nb = answered(read(student / "notebooks", doc), answers or {})
    if lecture == "needed":
        nb = lean(nb, doc, answers or {})
    elif lecture is not True:
        nb = exercises_only(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def unpacked_grader(archive, folder):
    """The grader the autograder zip `archive` carries, unpacked into `folder`: (its grader/
    folder, the environment its run_autograder runs the grader with there: this one, plus the
    settings that script puts on its command line, SITE_VERSION, VARIANT_SEED and
    EXTRA_EXERCISES). Python run there with `-m` or `-c` imports that copy of booktools,
    and it reads that copy's lectures and helper modules."""
    with zipfile.ZipFile(archive) as z:
        z.extractall(folder)
    script = (Path(folder) / "run_autograder").read_text(encoding="utf-8")
    line = next(line for line in script.splitlines() if line.startswith('cd "$AUTOGRADER/source/grader" && '))
    words = shlex.split(line.partition(" && ")[2].rstrip("\\"))
    settings = dict(word.split("=", 1) for word in words if re.fullmatch(r"[A-Z_]+=.*", word))
    assert set(settings) == {"SITE_VERSION", "VARIANT_SEED", "EXTRA_EXERCISES"}, settings
    return Path(folder) / "grader", {**os.environ, **settings}


def make_grade(notebook, out, *options, **run):
    """`make grade NOTEBOOK=notebook` (its command, `python -m booktools.grading`) with
    `options` (timeouts, --lecture, --kernel, ...), its result written to `out`: (the
    result's JSON, what it printed). `run`: where and how it runs (cwd, env)."""
    ran = subprocess.run([sys.executable, "-m", "booktools.grading", str(notebook), "--out", str(out), *options],
                         capture_output=True, text=True, timeout=1800, **run)
    assert ran.returncode == 0, f"{notebook}: grading failed:\n{ran.stderr[-4000:]}"
    return json.loads(Path(out).read_text()), ran.stdout


def run_autograder(archive, notebook, root, env=None, metadata=None):
    """Gradescope's results.json for `notebook` graded by the autograder zip `archive`, run
    as Gradescope runs it (in `root`: the zip unpacked in source/, the notebook alone in
    submission/, Gradescope's `metadata` of the submission, if any, in
    submission_metadata.json, the results read from results/), with this Python as the
    grader's."""
    for name in ("source", "submission", "results"):
        (root / name).mkdir(parents=True)
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    with zipfile.ZipFile(archive) as z:
        z.extractall(root / "source")
    shutil.copy(notebook, root / "submission")
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                         timeout=1800, env={**(env or os.environ), "AUTOGRADER": str(root),
                                            "GRADER_PYTHON": sys.executable})
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def assert_same_verdict(results, graded):
    """Gradescope's `results` say what `make grade` said of the same notebook (`graded`, its
    result's JSON): the score, each question's points, maximum and message, each flag and
    note, sandboxed or not. Only the notebook's path, the seconds taken, and whether a cell
    that ends ran past the time limit and was interrupted may differ: that is the machine's
    speed and load, not the verdict (a cell that ignores the interrupt is still compared)."""
    expected = gradescope.results(grading.GradingResult.from_dict(graded))
    assert results["score"] == expected["score"], (results["output"], expected["output"])
    assert results["tests"] == expected["tests"], (results["tests"], expected["tests"])

    def said(output):
        lines = output.splitlines()
        return [lines[0].partition(": assignment of ")[2],
                *(line for line in lines[1:-1] if not SLOW_CELL_NOTE.fullmatch(line)), lines[-1].partition("(")[0]]
    assert said(results["output"]) == said(expected["output"]), (results["output"], expected["output"])


def two_at_a_time(job, calls):
    """{key: job(*args)} for `calls` ({key: args}), started in that order, two at a time (a
    job waits on processes of its own: a grader, a harness), so that one waiting out a time
    limit or a sleep leaves its core to the next; a job that failed gives its error."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = {key: pool.submit(job, *args) for key, args in calls.items()}
    return {key: run.exception() or run.result() for key, run in runs.items()}


def outcome(found, key):
    """found[key] of `two_at_a_time`, raising it if its job failed."""
    if isinstance(found[key], BaseException):
        raise found[key]
    return found[key]
