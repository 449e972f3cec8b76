"""Grade a class: every notebook in a folder, or in a zip as a course platform exports it.

    python -m booktools.gradebook SUBMISSIONS --out DIR [--jobs 2] [--lecture NAME]
        [--cell-timeout S] [--question-timeout S] [--notebook-timeout S] [--kernel NAME]   # grading.Timeouts
        [--roster IDS.csv] [--overrides FILE.csv] [--marks FILE.csv] [--other-checks]
    make grade SUBMISSIONS=folder/ [JOBS=2] [OUT=DIR] [ROSTER=...] [OVERRIDES=...] [OTHER_CHECKS=1]

Each notebook is graded by booktools.grading (its sandbox and trusted checks), `--jobs` at
a time, in worker processes that each compute a lecture's reference values once for all
the submissions of that lecture. In DIR it writes, per submission (named after the file),
`NAME.json` (the whole result) and `NAME.feedback.txt` (the report a student can read),
and for the class `gradebook.csv`: one row per submission, with the points of each
question, the total, the flags and the seconds it took. A submission already graded,
unchanged (the same bytes) and by the same grader (the same lecture and grading code), is
not graded again. One submission that cannot be graded, or that brings a worker down,
gets a row saying why; the others go on.

People stay in the loop: with a roster (`read_roster`) every student on it has a row, a
missing one saying "no submission"; the instructor's overrides (`read_overrides`, by
default DIR/overrides.csv) change a question's points with a reason, and since the grader
only reads that file, they survive every regrade. A question with a part marked by hand
(a written explanation, a figure: lecture_source.PART) is exported for marking: DIR/to-mark.csv
lists each such part not yet marked (student, question, points left empty, comment, and
the file under DIR/to-mark/ that shows the student's cells on that exercise, outputs and
figures included); fill in the points and add those rows to DIR/marks.csv (`read_marks`),
which, like the overrides, is read on every run and never written; a mark names the
submission it marks, so a resubmission is listed to mark again. Each row names the
version of the checks and of the site it was graded with. With a roster, each notebook is graded against
its student's own values of the exercises' variants (booktools.variants: drawn from the id
and VARIANT_SEED), and one carrying another student's values is flagged; without one,
against the values its metadata names.
"""
import argparse
import concurrent.futures
import csv
import hashlib
import html
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from booktools import grading, variants
from booktools.book import HELPERS, ROOT, extra_exercises, lectures
from booktools.sandbox import kernel_python, why_not_sandboxed

MAX_ZIP_BYTES = 2_000_000_000


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grader_files(root=ROOT):
    """The files a grade depends on besides the lecture and the submission: booktools.grading
    and every booktools module it imports, at any depth and inside functions too (read from
    their syntax, so that no list kept by hand can leave one out), and the lecture helpers
    the checks import."""
    import ast
    package = Path(root) / "booktools"
    found, waiting = set(), ["grading"]
    while waiting:
        name = waiting.pop()
        path = package / f"{name}.py"
        if name in found or not path.is_file():
            continue
        found.add(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "booktools":
                waiting += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("booktools."):
                waiting.append(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                waiting += [a.name.split(".")[1] for a in node.names if a.name.startswith("booktools.")]
    return sorted(package / f"{name}.py" for name in found) + [Path(root) / "lectures" / f"{h}.py" for h in HELPERS]


def grader_version(doc=None, root=ROOT):
    """What a result depends on besides the submission: the lecture and the grader's code
    (for a submission refused before its lecture was known, every lecture)."""
    docs = [doc] if doc else lectures()
    digest = hashlib.sha256(b"".join((Path(root) / f"{d}.md").read_bytes() + extra_exercises(d).encode("utf-8")
                                     for d in docs))
    for path in grader_files(root):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _safe_name(text):
    return re.sub(r"[^\w.-]+", "_", text)


def collect(source, scratch):
    """[(name, path)] of the notebooks in a folder or a zip (extracted under `scratch`)."""
    source = Path(source)
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            if sum(info.file_size for info in archive.infolist()) > MAX_ZIP_BYTES:
                raise ValueError(f"{source}: the zip unpacks to more than {MAX_ZIP_BYTES:,} bytes")
            for info in archive.infolist():
                parts = Path(info.filename).parts
                if info.is_dir() or not info.filename.endswith(".ipynb") or info.filename.startswith("/") \
                        or ".." in parts or any(p.startswith((".", "__MACOSX")) for p in parts):
                    continue
                archive.extract(info, scratch)
        root = Path(scratch)
    elif source.is_dir():
        root = source
    else:
        raise ValueError(f"{source}: not a folder or a zip of notebooks")
    found = sorted(p for p in root.rglob("*.ipynb") if not any(part.startswith(".") for part in p.parts))
    names, seen = [], set()
    for path in found:
        name = _safe_name(str(path.relative_to(root).with_suffix("")))
        while name in seen:
            name += "_"
        seen.add(name)
        names.append((name, path))
    return names


# A row of the class, as saved in NAME.json: a graded submission's is its
# grading.GradingResult.to_dict() with "student", "sha256" and "grader" added; one that was
# not graded has the shape of `error_row`.

def _seed():
    return variants.fingerprint(os.environ.get("VARIANT_SEED", ""))


def error_row(name, path, error, other_checks=False, student=None):
    """The row of a submission that was not graded, and why: one shape for every cause
    (not a notebook, another lecture's, handed out with other checks, a grader that failed
    or whose worker died)."""
    return {"student": name, "notebook": str(path), "error": str(error)[:500],
            "sha256": sha256(path) if Path(path).is_file() else "", "grader": grader_version(),
            "other_checks": other_checks, "graded_as": student or "", "seed": _seed()}


def _grade_one(name, path, options, student=None):
    """In a worker: grade one notebook (as `student`, the roster's id, if known) and write
    its files (the notebook as it ran too, in RAN, for marking by hand); returns
    its gradebook row."""
    out = Path(options["out"])
    try:
        graded = grading.grade(path, options["lecture"], options["timeouts"], options["kernel"],
                               executed=_ran(out, name), other_checks=options["other_checks"],
                               student=student)
        row = {**graded.to_dict(), "student": name, "sha256": sha256(path), "grader": grader_version(graded.lecture),
               "other_checks": options["other_checks"], "graded_as": student or "", "seed": _seed()}
        feedback = grading.report(graded)
    except grading.SubmissionError as error:
        row = error_row(name, path, error, options["other_checks"], student)
        feedback = f"cannot grade: {row['error']}"
    (out / f"{name}.json").write_text(json.dumps(row, indent=2))
    (out / f"{name}.feedback.txt").write_text(feedback + "\n")
    return row


def _lecture_of(path, lecture):
    try:
        return grading.identify(grading.read_submission(path), path, lecture)
    except grading.SubmissionError:
        return None


RAN = ".ran"        # OUT/.ran/NAME.ipynb: each notebook as it ran (a dot-folder: never collected)


def _ran(out, name):
    (Path(out) / RAN).mkdir(exist_ok=True)
    return Path(out) / RAN / f"{name}.ipynb"


def _cached(name, path, out, other_checks=False, student=None):
    """The result already in `out` for this very submission, grader and options (the
    student it is graded as, the variant seed), or None."""
    saved = out / f"{name}.json"
    if not saved.is_file():
        return None
    try:
        result = json.loads(saved.read_text())
    except ValueError:
        return None
    if result.get("sha256") != sha256(path) or result.get("other_checks", False) != other_checks \
            or result.get("seed") != _seed() or result.get("grader") != grader_version(result.get("lecture")):
        return None
    if "error" in result:
        return result if result.get("graded_as", "") == (student or "") else None
    try:                # graded against the values it would be graded against now (a roster may change them)
        whose = grading.whose_values(result["lecture"], grading.read_submission(path), path, student)[1]
    except grading.SubmissionError:
        return None
    return result if result.get("variant", "") == whose else None


def grade_class(source, out, jobs=2, lecture=None, timeouts=grading.Timeouts(), kernel="python3", progress=print,
                other_checks=False, roster=None, overrides=None, marks=None):
    """Grade every notebook of `source` into `out` and write its gradebook (with `roster`,
    `overrides` and `marks`, files: see `write_gradebook`) and what is left to mark by
    hand (`export_for_marking`); returns the rows, in order."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = Path(overrides) if overrides else out / "overrides.csv"
    marks = Path(marks) if marks else out / "marks.csv"
    people = read_roster(roster) if roster else None           # bad files stop before any grading
    changes = read_overrides(overrides) if overrides.is_file() else []
    marked = read_marks(marks) if marks.is_file() else []
    options = {"out": str(out), "lecture": lecture, "timeouts": timeouts, "kernel": kernel,
               "other_checks": other_checks}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gradebook-") as scratch:
        submissions = collect(source, scratch)
        known = {q.label for doc in lectures() for q in grading.questions(doc)}
        for change in changes:
            if change.student not in dict(submissions) or change.question not in known:
                raise GradebookError(f"{overrides}: an override names {change.student!r} and {change.question!r}, "
                                     "and there is no such submission or question")
        by_hand = {q.label: sum(part.points for part in q.parts if part.by_hand)
                   for doc in lectures() for q in grading.questions(doc)}
        for mark in marked:
            if mark.student not in dict(submissions) or not by_hand.get(mark.question):
                raise GradebookError(f"{marks}: a mark names {mark.student!r} and {mark.question!r}, and there is "
                                     "no such submission, or no part of that question is marked by hand")
            if not 0 <= mark.points <= by_hand[mark.question]:
                raise GradebookError(f"{marks}: {mark.student}'s {mark.question} is marked {mark.points:g}, and its "
                                     f"part marked by hand is worth {by_hand[mark.question]:g} points")
        results, todo = {}, {}
        graded_as = {name: _on_roster(name, people) if people else None for name, _ in submissions}
        for name, path in submissions:
            cached = _cached(name, path, out, other_checks, graded_as[name])
            if cached is not None:
                results[name] = cached
                progress(f"[{len(results)}/{len(submissions)}] {name}: unchanged, graded before")
            else:
                todo.setdefault(_lecture_of(path, lecture), []).append((name, path))
        done = len(results)
        if todo and why_not_sandboxed() is None:     # once, before workers install at once
            note = grading.prepare_environment(kernel_python(kernel))
            if note:
                progress(note)
        context = multiprocessing.get_context("spawn")
        for doc, group in todo.items():
            pending = list(group)
            for _ in range(2):                      # a second pool for what a broken one left
                if not pending:
                    break
                with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
                    futures = {pool.submit(_grade_one, name, str(path), options, graded_as[name]): (name, path)
                               for name, path in pending}
                    pending = []
                    for future in concurrent.futures.as_completed(futures):
                        name, path = futures[future]
                        try:
                            results[name] = future.result()
                        except concurrent.futures.process.BrokenProcessPool:
                            pending.append((name, path))
                            continue
                        except Exception as error:
                            results[name] = error_row(name, path, f"the grader failed ({type(error).__name__}: "
                                                      f"{error})", other_checks, graded_as[name])
                        done += 1
                        row = results[name]
                        if "error" in row:
                            progress(f"[{done}/{len(submissions)}] {name}: not graded: {row['error']}")
                        else:
                            r = grading.GradingResult.from_dict(row)
                            progress(f"[{done}/{len(submissions)}] {name}: {r.total:g} / {r.possible:g} "
                                     f"in {r.seconds:g} s")
            for name, path in pending:
                results[name] = error_row(name, path, "the grader's worker stopped while grading it, twice",
                                          other_checks, graded_as[name])
        ordered = [results[name] for name, _ in submissions]
    write_gradebook(ordered, out / "gradebook.csv", people, changes, marked)
    left = export_for_marking(ordered, out, marked)
    if left:
        progress(f"{left} parts to mark by hand: {out / 'to-mark.csv'}")
    seconds = time.perf_counter() - start
    graded = sum(len(group) for group in todo.values())
    progress(f"graded {graded} of {len(submissions)} submissions in {seconds:.0f} s"
             + (f" ({graded / seconds * 60:.1f} a minute)" if graded else "") + f"; {out / 'gradebook.csv'}")
    return ordered


class GradebookError(ValueError):
    """A roster or an overrides file that cannot be applied (the message says where)."""


def read_roster(path):
    """The student ids of a roster: a CSV with a header row, whose first column holds one
    id per row, as the submissions are named (written as `collect` names them: any run of
    characters other than letters, digits, ".", "-" becomes "_", so jane@uni.edu is
    jane_uni.edu)."""
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row and row[0].strip()]
    ids = [_safe_name(row[0].strip()) for row in rows[1:]]
    if len(set(ids)) != len(ids):
        raise GradebookError(f"{path}: a student is listed twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    return ids


@dataclass(frozen=True)
class Override:
    student: str
    question: str       # a question's label, e.g. numpy-ex1
    points: float
    reason: str


def _read_points(path, text, required_text, skip_blank=False, optional=()):
    """(student, question, points, the `text` column, then each `optional` column's or "")
    of each row of an instructor's CSV: the columns student, question (its label), points
    and `text` (needed on every row if `required_text`); a row without points is skipped if
    `skip_blank`, else refused."""
    columns = ["student", "question", "points", text]
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = set(columns) - set(reader.fieldnames or [])
        if missing:
            raise GradebookError(f"{path}: the columns {', '.join(columns)} are needed "
                                 f"(missing: {', '.join(sorted(missing))})")
        found = []
        for line, row in enumerate(reader, 2):
            if skip_blank and not (row["points"] or "").strip():
                continue
            try:
                points = float(row["points"])
            except (TypeError, ValueError):
                raise GradebookError(f"{path}, line {line}: points {row['points']!r} is not a number") from None
            if required_text and not (row[text] or "").strip():
                raise GradebookError(f"{path}, line {line}: an override needs a reason")
            found.append((row["student"].strip(), row["question"].strip(), points, (row[text] or "").strip(),
                          *((row.get(column) or "").strip() for column in optional)))
    return found


def read_overrides(path):
    """The instructor's changes to points, kept in a file the grader never writes (so they
    survive regrading): CSV with the columns student, question (its label), points, reason."""
    return [Override(*row) for row in _read_points(path, "reason", required_text=True)]


@dataclass(frozen=True)
class Mark:
    student: str
    question: str       # the label of a question with a part marked by hand
    points: float       # what that part earned
    comment: str
    sha256: str = ""    # the submission marked (to-mark.csv names it): a resubmission is marked again

    def applies(self, row):
        return self.student == row["student"] and (not self.sha256 or self.sha256 == row.get("sha256"))


def read_marks(path):
    """The instructor's marks of the parts marked by hand, kept in a file the grader never
    writes: CSV with the columns student, question, points, comment, and optionally sha256
    (the rows of to-mark.csv, filled in: rows still without points are skipped, other
    columns ignored). A mark with a sha256 marks that submission only."""
    return [Mark(*row) for row in _read_points(path, "comment", required_text=False, skip_blank=True,
                                               optional=("sha256",))]


def _exercise_cells(nb, exercise):
    """The cells of the executed notebook `nb` under the heading of `exercise` ("Exercise 1.2"),
    the statement's included, up to the next heading."""
    from booktools.notebooks import EXERCISE_HEADING
    found, inside = [], False
    for cell in nb.cells:
        text = cell.source.lstrip() if isinstance(cell.get("source"), str) else ""
        if cell.cell_type == "markdown" and (EXERCISE_HEADING.match(text) or re.match(r"##?\s", text)):
            match = EXERCISE_HEADING.match(text)          # a student's own ### heading stays inside
            inside = bool(match) and match.group(1) == exercise
        if inside:
            found.append(cell)
    return found


BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")


def _text(value):
    """An output's text, as a notebook may hold it (a string or a list of strings), else None."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return value if isinstance(value, str) else None


def answer_page(nb, student, q):
    """A page showing the student's cells on question `q` (a QuestionResult) for marking:
    text as written, code, and its outputs, figures included."""
    parts = [f"<h1>{html.escape(student)}: {html.escape(q.exercise)} ({html.escape(q.label)})</h1>",
             f"<p>To mark by hand: {q.by_hand:g} of its {q.points:g} points. The grader gave the rest "
             f"{q.earned:g}{': ' + html.escape(q.message) if q.message else ''}.</p>"]
    for cell in _exercise_cells(nb, q.exercise):
        tag = "pre" if cell.cell_type == "code" else "pre class='text'"
        parts.append(f"<{tag}>{html.escape(_text(cell.get('source')) or '')}</pre>")
        for output in cell.get("outputs", []):          # whatever the student's kernel wrote: checked
            data = output.get("data", {}) if isinstance(output.get("data"), dict) else {}
            image, text = _text(data.get("image/png")), _text(output.get("text")) or _text(data.get("text/plain"))
            if image is not None and BASE64.match(image):
                parts.append(f"<img src=\"data:image/png;base64,{''.join(image.split())}\">")
            elif text is not None:
                parts.append(f"<pre class='output'>{html.escape(text)}</pre>")
            elif output.get("output_type") == "error":
                error = f"{output.get('ename')}: {output.get('evalue')}"
                parts.append(f"<pre class='output'>{html.escape(error)}</pre>")
    return "<!DOCTYPE html><meta charset='utf-8'>\n" + "\n".join(parts) + "\n"


def _tampers(result):
    return any(f.kind == "tampering" for f in result.flags)


def export_for_marking(rows, out, marks=()):
    """DIR/to-mark.csv: a row per graded submission and question with a part marked by hand
    that `marks` do not mark yet (points left empty), each naming the submission (sha256)
    and the page under DIR/to-mark/ that shows the student's cells on it. A submission
    flagged for tampering scores 0 and is not exported. Rewritten on every run; returns
    its number of rows."""
    import nbformat
    out = Path(out)
    folder = out / "to-mark"
    left = []
    for row in rows:
        if "error" in row:
            continue
        result = grading.GradingResult.from_dict(row)
        if _tampers(result):
            continue
        for q in result.questions:
            if not q.by_hand or any(m.question == q.label and m.applies(row) for m in marks):
                continue
            page = folder / f"{row['student']}.{q.label}.html"
            folder.mkdir(exist_ok=True)
            try:
                nb = nbformat.read(out / RAN / f"{row['student']}.ipynb", as_version=4)
                text = answer_page(nb, row["student"], q)
            except Exception as error:      # a notebook the page cannot show: say so, and go on
                text = f"<p>This submission's cells could not be shown ({html.escape(type(error).__name__)}): " \
                       f"open {html.escape(str(row['notebook']))} itself.</p>"
            page.write_text(text, encoding="utf-8")
            left.append([row["student"], q.label, "", "", row.get("sha256", ""), str(page.relative_to(out))])
    with open(out / "to-mark.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "question", "points", "comment", "sha256", "answer"])
        writer.writerows(left)
    return len(left)


def _on_roster(name, ids):
    """The roster id a submission's name belongs to: the id itself, else the longest id
    that, with "_", starts it (a folder per student, or the id before the file's name)."""
    if name in ids:
        return name
    return max((i for i in ids if name.startswith(i + "_")), key=len, default=None)


def write_gradebook(rows, path, roster=None, overrides=(), marks=()):
    """gradebook.csv: a row per submission (graded or not) and, with a roster (its ids),
    a row for each student on it who handed nothing in; a column per question, with the
    instructor's `marks` of the parts marked by hand added to the grader's points, and the
    `overrides` applied (and listed) on top; the parts still to mark are listed."""
    graded = {id(row): grading.GradingResult.from_dict(row) for row in rows if "error" not in row}
    exercises = list(dict.fromkeys((q.exercise, q.label) for r in graded.values() for q in r.questions))
    names = [row["student"] for row in rows]
    questions = {row["student"]: {q.label for q in r.questions} for row in rows if (r := graded.get(id(row)))}
    # An override for a question the student's graded notebook does not have (a notebook
    # refused, or another lecture's question) is listed in the row as not applied.
    unapplied = {c for c in overrides if c.question not in questions.get(c.student, ())}
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "roster", "lecture", *[f"{e} ({label})" for e, label in exercises], "total", "max",
                         "overrides", "to mark", "flags", "notes", "seconds", "sandboxed", "checks", "site version",
                         "variant", "error"])
        for row in rows:
            member = "" if roster is None else (_on_roster(row["student"], roster) or "not on the roster")
            r = graded.get(id(row))
            mine = [c for c in overrides if c.student == row["student"]]
            said = "; ".join(f"{c.question}: {c.points:g} ({c.reason})" + (" NOT APPLIED: no such graded question"
                                                                          if c in unapplied else "") for c in mine)
            if r is None:
                writer.writerow([row["student"], member, "", *[""] * len(exercises), "", "", said, "", "", "", "", "",
                                 "", "", "", row["error"]])
                continue
            points = {q.label: q.earned for q in r.questions}
            hand = {} if _tampers(r) else {m.question: m for m in marks if m.applies(row)}
            for label in points:
                if label in hand:
                    points[label] += hand[label].points
            unmarked = [] if _tampers(r) else [q.label for q in r.questions if q.by_hand and q.label not in hand]
            for change in mine:
                if change not in unapplied:
                    points[change.question] = change.points
            total = sum(points.values())
            writer.writerow([row["student"], member, r.lecture, *[points.get(label, "") for _, label in exercises],
                             total, r.possible, said, "; ".join(unmarked),
                             "; ".join(f.reason for f in r.flags), "; ".join(r.notes), r.seconds, r.sandboxed,
                             r.checks, r.site, r.variant, ""])
        for student in roster or []:
            if not any(_on_roster(name, [student]) for name in names):
                writer.writerow([student, student, "", *[""] * len(exercises), 0, "", "", "", "", "", "", "", "",
                                 "", "", "no submission"])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade every notebook in a folder or a zip.")
    parser.add_argument("submissions")
    parser.add_argument("--out", help="where to write the gradebook and the results (default: SUBMISSIONS-graded)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--lecture")
    grading.Timeouts.add_arguments(parser)
    parser.add_argument("--kernel", default="python3")
    parser.add_argument("--other-checks", action="store_true",
                        help="grade notebooks handed out with other checks than the lectures have now")
    parser.add_argument("--roster", help="a CSV of the class's student ids: who handed nothing in gets a row")
    parser.add_argument("--overrides", help="a CSV of the instructor's points (student, question, points, reason); "
                                            "default: OUT/overrides.csv if it exists")
    parser.add_argument("--marks", help="a CSV of the marks of the parts marked by hand (student, question, points, "
                                        "comment: to-mark.csv filled in); default: OUT/marks.csv if it exists")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(str(Path(args.submissions)).rstrip("/").removesuffix(".zip") + "-graded")
    try:
        grade_class(args.submissions, out, args.jobs, args.lecture, grading.Timeouts.from_arguments(args),
                    args.kernel, progress=lambda line: print(line, flush=True), other_checks=args.other_checks,
                    roster=args.roster, overrides=args.overrides, marks=args.marks)
    except (ValueError, OSError) as error:
        print(f"cannot grade: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
