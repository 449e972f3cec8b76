"""Grade a submitted assignment notebook, question by question.

    python -m booktools.grading NOTEBOOK [--lecture NAME] [--out RESULT.json]   # `make grade`
        [--cell-timeout S] [--question-timeout S] [--notebook-timeout S]   # seconds (defaults: Timeouts)
        [--kernel NAME]          # the Jupyter kernel to run it in (default: python3, this Python)
        [--executed RAN.ipynb]   # also write the notebook as it ran, with its outputs
        [--other-checks]         # grade it though it was handed out with other checks
        [--student ID]           # grade it against this student's values (booktools.variants)

The questions come from the lecture's source, not from the submission: each exercise
(its label, its number as on the site, the points its statement gives as
`**Points:** N`) and the hidden check after its solution, which uses only the names the
exercise asks for (tests/test_lecture_sources.py enforces it). Those checks are also
written as Otter-Grader test files for the autograder bundle (booktools.assignments,
`make assignments`): the same tests, locally and on a course platform.

Local grading runs code nobody has read, so it is done like this:

* the notebook is copied alone into a new temporary folder and executed there, cell by
  cell, by a fresh Jupyter kernel in a sandbox (booktools.sandbox: bubblewrap, its own
  user, no network, no view of the lecture sources or of other submissions, limits on
  memory, processes and output), with a time limit per cell (interrupting the kernel, then
  killing it if it ignores that) and for the whole notebook; a cell's error is noted in
  the result, not fatal;
* the checks never run in that kernel. The lecture's own values a check reads (its
  reference functions and inputs) are computed here, from the lecture's source, by the
  grader; the names the exercise asks for (`poly`) are `Remote`s (booktools.remote):
  calling one runs the student's function in the kernel and brings back plain data only.
  So rebinding `print`, `json` or `numpy.allclose` in the kernel cannot forge a verdict;
* code that tries (booktools.tampering: in the syntax of the student's cells, and a probe
  of the kernel afterwards) is flagged, cell by cell, and scores 0 on every question;
* an exercise with a variant (booktools.variants) is graded against the values of the
  student the notebook is (`student`, from the roster) or says it is (its metadata), drawn
  again here with the course's seed (VARIANT_SEED); the checks read them from here. A
  notebook carrying values of another student is flagged, and graded against its own;
* each question has its own time limit; one that runs out is interrupted and costs that
  question only. A kernel that dies scores 0 on every question not yet graded.

Without root the sandbox is a user namespace of its own (booktools.sandbox), and every
result says so. Without bubblewrap (not Linux), or where it cannot start (no root and no
unprivileged user namespaces), the kernel runs as an ordinary process, and every result
says "graded WITHOUT a sandbox": grade untrusted work where it runs
(`make sandbox`), or on Gradescope, whose autograder zip (booktools.assignments) runs this
grader on each submission in its own throwaway container. A class at a time:
booktools.gradebook (`make grade SUBMISSIONS=`).
"""
import argparse
import ast
import builtins
import contextlib
import functools
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from booktools import lecture_source, tampering, variants
from booktools.book import ROOT, extra_exercises, graded_source, lectures
from booktools.notebooks import EXERCISE_HEADING, EXERCISES_SECTION
from booktools.remote import KERNEL_HELPER, KernelLink, RemoteError, lambda_sources
from booktools.sandbox import SandboxKernel, kernel_python
from booktools.student import PLACEHOLDER_CODE, strip_solutions


@dataclass(frozen=True)
class Timeouts:
    """How long grading waits, in seconds: far above what a healthy submission needs on a
    slow machine (one core included), so that only a runaway meets them. Declared once:
    the command lines of grading and gradebook take their options and defaults from here."""
    cell: float = 120        # one cell of the submission
    question: float = 60     # one question's check
    notebook: float = 900    # the whole submission

    HELP = {"cell": "seconds one cell of the submission may run", "question": "seconds one check may run",
            "notebook": "seconds the whole submission may run"}

    @classmethod
    def add_arguments(cls, parser):
        for name, default in vars(cls()).items():
            parser.add_argument(f"--{name}-timeout", type=float, default=default,
                                help=f"{cls.HELP[name]} (default {default:g})")

    def as_arguments(self):
        """These timeouts as the command line options `add_arguments` reads, exactly."""
        return [option for name, limit in vars(self).items() for option in (f"--{name}-timeout", repr(float(limit)))]

    @classmethod
    def from_arguments(cls, args):
        return cls(**{name: getattr(args, f"{name}_timeout") for name in vars(cls())})


class SubmissionError(ValueError):
    """The file cannot be graded as this assignment (the message says why)."""


@dataclass
class Question:
    label: str          # the exercise's label, e.g. "numpy-ex1"
    exercise: str       # its number as on the site, e.g. "Exercise 1.1"
    points: float
    check: str          # the hidden check cell's code
    parts: list = None  # its weighted parts (lecture_source.Part); None: the whole check

    def __post_init__(self):
        if self.parts is None:
            self.parts = lecture_source.check_parts(self.check, self.points, self.label)


def questions(doc):
    """The graded questions of lecture `doc` ('lectures/numpy'), in order (read by
    booktools.lecture_source, the one reader of the lecture format)."""
    text = graded_source(doc)
    chapter = lectures().index(doc) + 1
    found = []
    for number, exercise in enumerate(lecture_source.exercises(text), 1):
        if not lecture_source.POINTS.search(exercise.statement) or exercise.check is None:
            raise ValueError(f"{doc}: exercise {exercise.label} needs a '**Points:** N' line and a check")
        found.append(Question(exercise.label, f"Exercise {chapter}.{number}", exercise.points, exercise.check,
                              exercise.parts))
    names = [name for v in variants.variants(doc).values() for name in v.alternatives]
    if len({q.label for q in found}) < len(found) or len(set(names)) < len(names):
        raise ValueError(f"{doc}: two exercises share a label, or two variants a name (the instructor's own "
                         "exercises, EXTRA_EXERCISES, must use labels and names of their own)")
    return found


def title(doc):
    """The lecture's title (its first heading), as the notebooks carry it in their metadata."""
    text = graded_source(doc)
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
    """The lecture `nb` is the assignment of: the one its metadata names (the assignment
    notebooks carry it, booktools.notebooks), else the one whose title it has or whose
    exercise headings it has. With `lecture` given, refuse any other; a notebook whose
    metadata names one lecture and whose title and exercises are another's is refused."""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    headings = {h[0] for h in EXERCISE_HEADING.findall(markdown)}
    matches = [doc for doc in lectures()
               if nb.metadata.get("title") == title(doc)
               or headings == {q.exercise for q in questions(doc)}]
    stamped = stamp(nb).get("lecture")
    if stamped in lectures():
        if matches and stamped not in matches:
            raise SubmissionError(f"{path}: its metadata says it is the assignment of {stamped}, but its title "
                                  f"and exercises are those of {', '.join(matches)}")
        matches = [stamped]
    if len(matches) != 1:
        raise SubmissionError(f"{path}: cannot tell which lecture's assignment this is (its title "
                              f"{nb.metadata.get('title')!r}, exercises {sorted(headings)}); "
                              "grade the notebook from the assignment zip")
    doc = matches[0]
    if lecture is not None and Path(doc).name != Path(lecture).name:
        raise SubmissionError(f"{path} is the assignment of {doc}, not of {lecture}")
    return doc


def stamp(nb):
    """{"lecture": ..., "checks": ...}: what the notebook says it was handed out as ({} if nothing)."""
    found = nb.metadata.get("assignment")
    return found if isinstance(found, dict) else {}


def checks_version(doc):
    """The version of `doc`'s checks (lecture_source.checks_version), as the assignment
    notebooks carry it."""
    return lecture_source.checks_version(graded_source(doc))


@functools.cache
def site_version():
    """The grader's version of the site (its release tag, or what git describes), read once."""
    from booktools.extensions.site_version import site_version as described
    return described(ROOT)


# ------------------------------------------------------------------ the lecture, trusted


def free_names(source):
    """Names a check reads that it never binds itself (so they come from elsewhere)."""
    defs, uses = lecture_source.cell_names(source, arguments=False)
    params = {node.arg for node in ast.walk(ast.parse(source)) if isinstance(node, ast.arg)}
    return uses - defs - params


def _student_edition_code(doc):
    """The code cells of `doc` as the student edition has them (solutions and checks removed),
    each as (source, tags)."""
    text, _ = strip_solutions(graded_source(doc), doc)
    return lecture_source.code_cells(text)


def own_code(doc):
    """The code cells the assignment notebook comes with (the lecture's, its setup cells),
    stripped: a submission's cell that is one of them is not the student's code."""
    from booktools.notebooks import HELPERS, setup_cells
    known = {source.strip() for source, _ in _student_edition_code(doc)}
    return known | {c.source.strip() for c in setup_cells(HELPERS)}


def lecture_cells(doc):
    """The code the lecture itself runs, without its solutions, their checks and the cells
    that raise on purpose; IPython's magics (`%timeit`) left out."""
    cells = []
    for source, tags in _student_edition_code(doc):
        if source.strip() == PLACEHOLDER_CODE or "raises-exception" in tags:
            continue
        cells.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return cells


def _import(statement):
    return isinstance(statement, (ast.Import, ast.ImportFrom))


def _setting(statement, modules):
    """A setting: a method of an imported module called as a statement, reading nothing else
    (`jax.config.update("jax_enable_x64", True)`, `np.random.seed(1)`)."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)):
        return False
    _, reads, _ = lecture_source.statement_names(statement)
    return (reads <= modules | set(dir(builtins))
            and lecture_source.called_root(statement.value) in modules - OBSERVING_CALLS)   # not `plt.show()`


def _a_check(statement):
    """The lecture's own check (`assert ...`, `assert_numba_compiled(f)`): it binds nothing a
    question's check could read, and the grader runs its own."""
    return isinstance(statement, ast.Assert) or (
        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
        and (lecture_source.called_root(statement.value) or "").startswith("assert_"))


# Calls that only show or measure: what a check never reads, unless it reads what they bind.
OBSERVING_CALLS = {"print", "display", "glue", "glue_md", "glue_text_block", "plt", "time_call",
                   "time_first_and_best", "peak_allocation", "minor_faults", "cpu_per_wall",
                   "speedup_over_loop", "machine_summary"}


def _observation(statement):
    """A statement that shows or measures (`print(...)`, `t = time_call(f, x)`, a loop of
    prints), or the lecture's own check."""
    if _a_check(statement):
        return True
    if isinstance(statement, (ast.Expr, ast.Assign, ast.AnnAssign)) and isinstance(statement.value, ast.Call):
        return lecture_source.called_root(statement.value) in OBSERVING_CALLS
    if isinstance(statement, (ast.For, ast.With, ast.If)):
        return all(map(_observation, statement.body + getattr(statement, "orelse", [])))
    return False


def _loop_names(statement):
    """The names a top-level `for` or `with` binds for its own body (`r` in `for r in records`)."""
    if isinstance(statement, ast.For):
        targets = [statement.target]
    elif isinstance(statement, ast.With):
        targets = [item.optional_vars for item in statement.items if item.optional_vars]
    else:
        targets = []
    return {node.id for target in targets for node in ast.walk(target) if isinstance(node, ast.Name)}


def needed_cells(cells, names):
    """The part of the lecture the checks need, read statement by statement from the last: a
    top-level statement is kept when it binds or changes a name needed (one of `names`, or
    one a kept statement reads), and so is every setting (`_setting`): an import, like any
    statement, only where it binds a name needed (a grader need not import Matplotlib). A cell
    that keeps such a statement also keeps its statements that bind nothing but only act
    (`b[0] = 1` on an alias `b` of a needed array, `bump()`, `for r in records: r["sq"] =
    ...`), unless they show or measure (`_observation`: prints, glue, plots, timings, the
    lecture's own asserts) or compute from a measurement: the checks never wait for a
    timing they do not read. Not seen: a change through an alias bound in another cell, or
    made by a function called in a statement that binds a name (`warm = draw(rng)`), or the
    signatures a timing compiled. Returns the kept code of each cell that keeps any, in
    order; a cell that does not parse is read whole (`lecture_source.cell_names`)."""
    trees = []
    for source in cells:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            trees.append(None)
    modules = set().union(*(lecture_source.imported_names(tree) for tree in trees if tree is not None))
    # What only shows or measures, and what is computed from a measurement (a speed-up, a table
    # of timings): statements a cell keeps only where a needed name asks for them.
    measured, observing = set(), set()
    for number, tree in enumerate(trees):
        for i, statement in enumerate(tree.body if tree is not None else []):
            binds, reads, _ = lecture_source.statement_names(statement)
            if _observation(statement) or reads & measured:
                observing.add((number, i))
                measured |= binds
            else:
                measured -= binds
    needed, kept = set(names), {}
    for number in reversed(range(len(cells))):
        tree = trees[number]
        if tree is None:
            defs, uses = lecture_source.cell_names(cells[number], arguments=False)
            if defs & needed:
                kept[number] = True
                needed |= uses
            continue
        mine = kept.setdefault(number, set())
        settled = False
        while not settled:
            settled = True
            whole = any(not (_setting(tree.body[i], modules) or _import(tree.body[i])) for i in mine)
            for i in reversed(range(len(tree.body))):
                statement = tree.body[i]
                if i in mine or _a_check(statement):
                    continue
                binds, reads, changes = lecture_source.statement_names(statement)
                if (_setting(statement, modules) or (binds | (changes - modules)) & needed
                        or whole and (number, i) not in observing and binds - changes <= _loop_names(statement)):
                    mine.add(i)
                    needed |= reads
                    settled = False
    return ["\n".join(ast.unparse(trees[n].body[i]) for i in sorted(kept[n])) if trees[n] is not None
            else cells[n] for n in range(len(cells)) if kept.get(n)]


def _lecture_helpers(cells):
    """Import the lecture's helper modules from lectures/ (as the lectures do, from there)."""
    wanted = ["lecture_tools"] + (["benchmarks"] if any(re.search(r"\bbenchmarks\b", c) for c in cells) else [])
    for name in wanted:                                     # benchmarks imports lecture_tools
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, ROOT / "lectures" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def solution_code(doc):
    """{label: the code of its solution's cells, joined}, in the order of lecture `doc`."""
    text = graded_source(doc)
    return {exercise.label: exercise.solution for exercise in lecture_source.exercises(text)}


def names_answers_read(answers, known=()):
    """The names `answers` (sources) read that they neither bind themselves nor find in `known`."""
    answers = list(answers)
    return (set().union(*map(free_names, answers)) - set().union(*map(lecture_source.top_level_names, answers))
            - set(known))


def lecture_part_read(doc, answers, known=()):
    """The lecture's code that binds what `answers` read (`names_answers_read`), as
    `needed_cells` keeps it: what a student's notebook runs before its answers."""
    reads = names_answers_read(answers, known)
    return needed_cells(lecture_cells(doc), reads) if reads else []


def student_names(doc):
    """{label: names} the check of each question reads that the exercise's answer defines:
    these come from the student's kernel, everything else from the trusted lecture."""
    found = {label: lecture_source.top_level_names(code) for label, code in solution_code(doc).items()}
    return {q.label: sorted(found.get(q.label, set()) & free_names(q.check)) for q in questions(doc)}


def trusted_namespace(doc):
    """The lecture's names the checks read, computed here by the lecture's own code (the
    part `needed_cells` picks), never by the submission. Returns (namespace, problems)."""
    graded = questions(doc)
    remote = student_names(doc)
    needed = set()
    for q in graded:
        needed |= free_names(q.check) - set(remote.get(q.label, []))
    namespace, problems = {"__name__": "__lecture__"}, []
    cells = needed_cells(lecture_cells(doc), needed)
    _lecture_helpers(cells)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for source in cells:
            try:
                exec(compile(source, f"<{doc}>", "exec"), namespace)
            except Exception as error:
                problems.append(f"a cell of the lecture failed in the grader ({type(error).__name__}: "
                                f"{str(error)[:200]}): checks that need it fail")
    return namespace, problems


_TRUSTED = {}


def _trusted(doc):
    key = (doc, extra_exercises(doc))          # the instructor's own exercises may need more of the lecture
    if key not in _TRUSTED:
        _TRUSTED[key] = trusted_namespace(doc)
    return _TRUSTED[key]


# ------------------------------------------------------------------ grading

class _QuestionTimeout(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise _QuestionTimeout in this (the main) thread after `seconds`."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    def expire(signum, frame):
        raise _QuestionTimeout()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _exercise_of_cells(nb):
    """{index of a code cell: "Exercise N.M"} for the code cells under each exercise heading."""
    owner, current, in_exercises = {}, None, False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            if cell.source.startswith("## "):
                in_exercises = cell.source.startswith(EXERCISES_SECTION)
                current = None
            match = EXERCISE_HEADING.match(cell.source)
            if match and in_exercises:
                current = match.group(1)
        elif current:
            owner[index] = current
    return owner


@dataclass(frozen=True)
class Flag:
    """Tampering found: in the syntax of a code cell (its index in the notebook, and the
    exercise it sits under), or reported by the grader's probe of the kernel (cell None);
    or (kind "variant") a notebook carrying another student's values, for the instructor
    to look at: that one costs no points by itself."""
    cell: int | None
    exercise: str | None
    reason: str
    kind: str = "tampering"


@dataclass(frozen=True)
class QuestionResult:
    label: str
    exercise: str
    points: float
    earned: float
    message: str            # why it earned no points ("" when it earned them)
    by_hand: float = 0.0    # of its points, those a person marks (booktools.gradebook adds them)


@dataclass
class GradingResult:
    """One graded notebook. `to_dict` is the JSON a result is saved as (booktools.gradebook
    adds the student, the submission's hash and the grader's version, and reads it back
    with `from_dict`); `possible` is saved as "max"."""
    notebook: str
    lecture: str
    questions: list[QuestionResult]
    seconds: float
    sandboxed: bool
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: str = ""            # the version of the checks it was graded with (checks_version)
    site: str = ""              # the grader's version of the site (site_version)
    variant: str = ""           # whose values it was graded against: a student's id, "site", or ""

    @property
    def total(self):
        return sum(q.earned for q in self.questions)

    @property
    def possible(self):
        return sum(q.points for q in self.questions)

    def to_dict(self):
        return {"notebook": self.notebook, "lecture": self.lecture, "questions": [asdict(q) for q in self.questions],
                "total": self.total, "max": self.possible, "seconds": self.seconds, "sandboxed": self.sandboxed,
                "flags": [asdict(f) for f in self.flags], "notes": list(self.notes), "checks": self.checks,
                "site": self.site, "variant": self.variant}

    @classmethod
    def from_dict(cls, data):
        return cls(data["notebook"], data["lecture"], [QuestionResult(**q) for q in data["questions"]],
                   data["seconds"], data["sandboxed"], [Flag(**f) for f in data["flags"]], list(data["notes"]),
                   data.get("checks", ""), data.get("site", ""), data.get("variant", ""))


@dataclass
class Submission:
    """A notebook read and judged before any kernel runs: its lecture, its questions, which
    of its code cells are the student's own, and what its syntax gives away."""
    path: Path
    nb: nbformat.NotebookNode
    lecture: str
    questions: list[Question]
    student_names: dict          # {label: the names its check takes from the student's kernel}
    code_cells: list             # [(index in the notebook, cell)]
    own: set                     # indices of the code cells that are not the assignment's own
    flags: list[Flag]
    checks: str                  # the version of the checks it is graded with
    notes: list[str]
    values: dict = field(default_factory=dict)   # {label: {name: value}}: the variant graded against
    variant: str = ""            # whose values those are (a student's id, "site"; "" without variants)


@dataclass
class KernelRun:
    """What running the submission and its checks in the kernel gave."""
    verdicts: dict               # {label: (points earned, message)}
    flags: list[Flag]            # from the grader's probe of the kernel
    notes: list[str]
    sandboxed: bool


def grade(path, lecture=None, timeouts=Timeouts(), kernel="python3", executed=None, sandbox=True, limits=None,
          other_checks=False, student=None, seed=None):
    """Grade one submitted notebook (see the module docstring), in three stages: what can be
    judged before any kernel runs (`examine`: the file, its lecture, its syntax), the kernel
    (`run_in_kernel`: the notebook, then each check), and the verdict. `kernel` names the
    Jupyter kernel that runs it; with `executed`, the notebook as it ran (the submission's
    cells and their outputs, no tests) is written to that path. `other_checks`: grade it
    even if it was handed out with other checks than these (see `examine`). `student`: the
    id the notebook is graded as (from a roster), and `seed` the course's variant seed
    (default: VARIANT_SEED), for the exercises' variants (`whose_values`)."""
    start = time.perf_counter()
    submission = examine(path, lecture, other_checks, student, seed)
    run = run_in_kernel(submission, timeouts, kernel, executed, sandbox, limits)
    return verdict(submission, run, round(time.perf_counter() - start, 1))


def examine(path, lecture=None, other_checks=False, student=None, seed=None):
    """The stage before any kernel: the notebook read, its lecture identified (or
    SubmissionError), and the student's own cells scanned for tampering. A notebook handed
    out with other checks than the lecture has now (a `git pull` since) is refused, unless
    `other_checks`: then it is graded with these, and the result says so."""
    nb = read_submission(path)
    doc = identify(nb, path, lecture)
    checks, notes = checks_version(doc), []
    handed_out = stamp(nb).get("checks")
    if handed_out and handed_out != checks:
        if not other_checks:
            raise SubmissionError(f"{path} was handed out with version {handed_out} of {doc}'s checks, and "
                                  f"these are version {checks} (the lecture changed since): grade it from the "
                                  "site version its assignment zip names, or allow other checks "
                                  "(--other-checks, OTHER_CHECKS=1)")
        notes.append(f"handed out with version {handed_out} of the checks, graded with version {checks}")
    values, whose, variant_flags, said = whose_values(doc, nb, path, student, seed)
    notes += said
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    owner = _exercise_of_cells(nb)
    recorded = stamp(nb).get("variants")
    known = own_code(doc) | variants.cell_sources(doc, values)
    if _well_formed(recorded, values):       # else values no variant could have: its cells are the student's
        known |= variants.cell_sources(doc, recorded)
    theirs = [(i, c) for i, c in code_cells if c.source.strip() not in known]
    flags = [Flag(theirs[position][0], owner.get(theirs[position][0]), reason)
             for position, reason in tampering.scan([c.source for _, c in theirs], [c.source for _, c in code_cells])]
    return Submission(Path(path), nb, doc, questions(doc), student_names(doc), code_cells,
                      {i for i, _ in theirs}, flags + variant_flags, checks, notes, values, whose)


def _well_formed(recorded, values):
    """Whether a notebook's recorded values have the shape of `values` (a value each, one a
    variant can have)."""
    return isinstance(recorded, dict) and all(
        isinstance(recorded.get(label), dict) and set(recorded[label]) == set(by_name)
        and all(variants.is_value(v) for v in recorded[label].values())
        for label, by_name in values.items())


def whose_values(doc, nb, path, student=None, seed=None):
    """(values, whose, flags, notes): the values of `doc`'s variants to grade `nb` against,
    {label: {name: value}}, and whose they are ("site", or a student's id).

    A notebook made a student's (its metadata names the student and their values) is
    graded against the values of `student` (the id it is graded as, from a roster), else
    of the student it names, drawn again with the course's `seed` (default VARIANT_SEED);
    one whose recorded values are not those (another's notebook, or edited) is flagged.
    The site's notebook (no values recorded) is graded against the site's values, unless
    the course hands out personal notebooks (a seed is set) and the student is known: then
    against theirs, and a note says so. A notebook written with another seed is refused:
    the grader would draw other values than its student was given."""
    if not variants.variants(doc):
        return {}, "", [], []
    seed = os.environ.get("VARIANT_SEED", "") if seed is None else seed
    recorded = stamp(nb)
    if "seed" in recorded and recorded["seed"] != variants.fingerprint(seed):
        raise SubmissionError(f"{path}: its values were drawn with another course seed than this grader's "
                              "(VARIANT_SEED): grade it with the seed its assignments were written with")
    named = recorded.get("student") if isinstance(recorded.get("student"), str) else None
    if "variants" not in recorded:                     # the site's notebook
        if not seed:
            return variants.site_values(doc), "site", [], []
        if not student:
            return variants.site_values(doc), "site", [Flag(None, None, "the site's notebook, not a student's own, "
                                                                        "and no student id to grade it as: graded "
                                                                        "against the site's values", "variant")], []
        return variants.draw(doc, student, seed), student, [], [
            f"the notebook has the site's values, not {student}'s own: graded against {student}'s"]
    owner = student or named
    if not owner:
        return variants.site_values(doc), "site", [Flag(None, None, "the notebook's values name no student: graded "
                                                                    "against the site's", "variant")], []
    values = variants.draw(doc, owner, seed)
    if named != owner or recorded.get("variants") != values:
        return values, owner, [Flag(None, None, f"the notebook carries the exercises' values of "
                                                f"{named or 'no student'}, not {owner}'s: graded against "
                                                f"{owner}'s", "variant")], []
    return values, owner, [], []


# Names through which a cell can bind a name its syntax does not show (exec, globals(), the
# main module, IPython's machinery): a student's cell that reads one may define anything.
DYNAMIC_BINDING = {"exec", "eval", "compile", "globals", "locals", "vars", "setattr", "__import__",
                   "__builtins__", "builtins", "sys", "importlib", "runpy", "__main__", "get_ipython"}


def reaches_the_lecture(submission):
    """Whether some question's check can get past looking up its student's names, as far as
    the notebook's syntax tells (`lecture_source.cell_names`, which over-approximates): each
    is bound by some code cell, or it has none to look up. Always, when a student's own cell
    could bind names its syntax does not show (DYNAMIC_BINDING, a star import)."""
    bound = set()
    for index, cell in submission.code_cells:
        names, read = lecture_source.cell_names(cell.source)
        if index in submission.own and (read & DYNAMIC_BINDING or "*" in names):
            return True
        bound |= names
    return any(set(submission.student_names.get(q.label, [])) <= bound for q in submission.questions)


def run_in_kernel(submission, timeouts, kernel="python3", executed=None, sandbox=True, limits=None):
    """The notebook's cells in a fresh kernel (sandboxed), then the grader's helper and
    probe, then each question's check here, its student's names read from the kernel."""
    notes, flags = [], []
    verdicts = {q.label: (0.0, "not graded") for q in submission.questions}
    # Everything the verdict needs from the grader's files is read before the submission
    # runs: unsandboxed, its code could rewrite them (the lecture's helpers, say); and the
    # lecture's part runs with no process of the submission's beside it. It runs only if a
    # check can get past looking up the student's names: an unanswered notebook never needs it.
    namespace, problems = _trusted(submission.lecture) if reaches_the_lecture(submission) else ({}, [])
    namespace = {**namespace, **variants.namespace_values(submission.values)}     # the student's own values
    site_version()
    with tempfile.TemporaryDirectory(prefix="grade-") as folder:
        shutil.copy(submission.path, Path(folder) / submission.path.name)
        box = SandboxKernel(folder, kernel_python(kernel), limits, sandbox=sandbox)
        if not box.sandboxed:
            notes.append(f"ran unsandboxed: {box.why_not}")
        elif box.mode != "root":
            notes.append(f"sandboxed without root, in a {box.mode} of its own")
        if box.sandboxed and (prepared := prepare_environment(box.python)) is not None:
            notes.append(prepared)
        try:
            box.start()
            alive, said = _run_notebook(box, submission, timeouts)
            notes += said
            if executed is not None:
                nbformat.write(submission.nb, executed)
            if alive:
                alive = _install_helper(box, timeouts.question, notes)
            notes += problems
            clock = _Clock()
            link = KernelLink(box.private, lambda code, limit: _rpc(box, clock, code, limit), timeouts.question)
            if alive:
                clock.start(timeouts.question)
                try:         # rebinding hidden from the syntax; the kernel could lie here
                    reasons = link.lookup("__grader_probe__")()
                    flags += [Flag(None, None, f"the kernel reports that {r}")
                              for r in reasons if isinstance(r, str)][:20]
                except Exception as error:
                    notes.append(f"the kernel did not answer the grader's probe ({type(error).__name__})")
            for q in submission.questions:
                verdicts[q.label] = _check(q, submission.student_names.get(q.label, []), namespace, link, box,
                                           clock, timeouts.question) \
                    if alive and box.alive() else (0.0, "the kernel had stopped: " + (notes[-1] if notes else ""))
        finally:
            pids = box.processes()
            box.stop()
            left = box.leftovers(pids)
            if left:
                notes.append(f"{len(left)} of the submission's processes outlived the grading "
                             f"({', '.join(sorted(set(_names(left))))})")
    return KernelRun(verdicts, flags, notes, box.sandboxed)


def _names(pids):
    """What processes are (their command names and states), for a note."""
    import psutil
    for pid in pids:
        try:
            process = psutil.Process(pid)
            yield (" ".join(process.cmdline()[:3])[:60] or process.name()) + f", {process.status()}"
        except psutil.Error:
            yield "gone"


def verdict(submission, run, seconds):
    """Each question's points: what its check said, unless the submission tampers with
    what the answers run on (a flag from its syntax or from the kernel): then none."""
    flags = submission.flags + run.flags
    rows = []
    for q in submission.questions:
        earned, message = run.verdicts[q.label]
        if any(f.kind == "tampering" for f in flags):   # what it changed, every answer after it ran on
            earned, message = 0.0, "no points: the submission tampers with what the answers run on (see flags)"
        rows.append(QuestionResult(q.label, q.exercise, q.points, earned, message,
                                   sum(part.points for part in q.parts if part.by_hand)))
    return GradingResult(str(submission.path), submission.lecture, rows, seconds, run.sandboxed, flags,
                         submission.notes + run.notes, submission.checks, site_version(), submission.variant)


def prepare_environment(python, timeout=900):
    """Install what the lectures need into the kernel's Python, before the sandbox starts:
    inside it there is no network and the environment is read-only, so the notebook's
    install cell could not. This runs the site's own install cell (booktools.notebooks),
    never the submission's; it installs only what is missing. Returns a note, or None."""
    from booktools.notebooks import HELPERS, setup_cells
    source = setup_cells(HELPERS)[0].source
    with tempfile.TemporaryDirectory() as folder:
        run = subprocess.run([python, "-c", source], cwd=folder, capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        return f"the kernel's Python lacks packages the lecture needs, and installing them failed " \
               f"({run.stderr.strip()[-300:]})"
    return f"before grading, into the kernel's Python: {run.stdout.strip()}" if run.stdout.strip() else None


def _run_notebook(box, submission, timeouts):
    """Execute the submission's cells in order, keeping their outputs in its notebook.
    Returns (whether the kernel still runs, notes): a timeout, or an error in one of the
    student's own cells, is noted."""
    notes, start = [], time.perf_counter()
    for index, cell in submission.code_cells:
        left = timeouts.notebook - (time.perf_counter() - start)
        if left <= 0:
            notes.append(f"stopped running the notebook after {timeouts.notebook:g} s")
            return True, notes
        run = box.execute(cell.source, min(timeouts.cell, left), history=True)
        cell.outputs = [nbformat.from_dict(o) for o in run.outputs]
        cell.execution_count = run.execution_count
        if run.status in ("killed", "broken"):
            notes.append(f"cell {index}: {run.error}")
            return False, notes
        if run.status == "timeout" or (run.status == "error" and index in submission.own):
            notes.append(f"cell {index}: {run.error}")
    return True, notes


def _install_helper(box, timeout, notes):
    run = box.execute(KERNEL_HELPER + tampering.KERNEL_PROBE, timeout)
    if run.status != "ok":
        notes.append(f"the grader's helper could not run in the kernel ({run.error or run.status})")
        return run.status not in ("killed", "broken")
    return True


class _RemoteTimeout(RemoteError):
    pass


class _Clock:
    """When the current question's time ends: its check's requests to the kernel share it."""
    def __init__(self):
        self.deadline = float("inf")

    def start(self, seconds):
        self.deadline = time.monotonic() + seconds

    def left(self):
        return self.deadline - time.monotonic()


def _rpc(box, clock, code, limit):
    """Run a request in the kernel, within what is left of the question's time."""
    left = min(limit, clock.left())
    if left <= 0:
        raise _RemoteTimeout("no time left")
    run = box.execute(code, left)
    if run.status == "timeout":             # interrupted: the kernel serves the next question
        raise _RemoteTimeout(run.error)
    if run.status in ("killed", "broken"):
        raise RemoteError(run.error)


def _check(q, names, namespace, link, box, clock, limit):
    """Run one question's check here, with the student's names as Remotes: (points earned,
    message). Each part of the check runs alone and earns its points; the student's code
    has `limit` seconds in all, the grader's own part of the check a little more."""
    clock.start(limit)
    late = f"the test did not finish within {limit:g} s"
    earned, failed = 0.0, []
    try:
        with _time_limit(limit + 10):
            for part in q.parts:
                if part.by_hand:
                    continue                # a person marks it (booktools.gradebook exports it)
                if (why := _run_part(part, q, names, namespace, link)) is None:
                    earned += part.points
                else:
                    failed.append((part, why))
    except _QuestionTimeout:               # stopped while waiting on the kernel, perhaps
        if not box.settle():
            return earned, late + " (the kernel did not stop and was killed)"
        return earned, late
    except _RemoteTimeout:
        return earned, late + " (the submission's code ran past it and was interrupted)"
    if len(q.parts) == 1:
        return earned, failed[0][1] if failed else ""
    return earned, "; ".join(f"{part.what} ({part.points:g} of {q.points:g} points): {why}" for part, why in failed)


def _run_part(part, q, names, namespace, link):
    """None if the part's check passes, else why it failed (timeouts and Ctrl-C go up)."""
    env = dict(namespace)
    link.lambdas = lambda_sources(part.code, f"<check {q.label}>")    # by the part's own lines
    try:
        for name in names:
            env[name] = link.lookup(name)
        exec(compile(part.code, f"<check {q.label}>", "exec"), env)
    except (_QuestionTimeout, _RemoteTimeout, KeyboardInterrupt):
        raise                               # the grader's own Ctrl-C stops the grading
    except BaseException as error:          # any other failure of the check fails the part
        return (type(error).__name__ + ": " + str(error))[:500]
    return None


def report(result):
    """What a student reads: each question's points and why it lost them, the flags, the notes."""
    lines = [f"{result.notebook}: assignment of {result.lecture}"
             + ("" if result.sandboxed else " (graded WITHOUT a sandbox)")]
    for q in result.questions:
        lines.append(f"  {q.exercise} ({q.label}): {q.earned:g} / {q.points:g}"
                     + (f"  {q.message}" if q.message else "")
                     + (f"  ({q.by_hand:g} of its points are marked by hand, later)" if q.by_hand else ""))
    lines += [("  flag: " + ("the values" if f.kind == "variant" else "the kernel") if f.cell is None
               else f"  flag: cell {f.cell}") + (f" ({f.exercise})" if f.exercise else "") + f": {f.reason}"
              for f in result.flags]
    if result.variant and result.variant != "site":
        lines.append(f"  graded against the exercises' values of {result.variant}")
    lines += [f"  note: {note}" for note in result.notes]
    lines.append(f"total: {result.total:g} / {result.possible:g}  ({result.seconds:g} s)")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade a submitted assignment notebook.")
    parser.add_argument("notebook")
    parser.add_argument("--lecture", help="refuse the notebook unless it is this lecture's assignment")
    parser.add_argument("--out", help="write the result as JSON here")
    Timeouts.add_arguments(parser)
    parser.add_argument("--kernel", default="python3", help="the Jupyter kernel to run the notebook in")
    parser.add_argument("--executed", help="also write the notebook as it ran, with its outputs, here")
    parser.add_argument("--other-checks", action="store_true",
                        help="grade a notebook handed out with other checks than the lecture has now")
    parser.add_argument("--student", help="grade it against this student's values of the exercises' variants "
                                          "(default: the student its metadata names)")
    args = parser.parse_args(argv)
    try:
        result = grade(args.notebook, args.lecture, Timeouts.from_arguments(args), args.kernel, args.executed,
                       other_checks=args.other_checks, student=args.student)
    except SubmissionError as error:
        print(f"cannot grade: {error}", file=sys.stderr)
        return 2
    print(report(result))
    out = Path(args.out) if args.out else Path(args.notebook).with_suffix(".grade.json")
    out.write_text(json.dumps(result.to_dict(), indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
