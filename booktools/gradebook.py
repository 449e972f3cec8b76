"""Grade a class: every notebook in a folder, or in a zip as a course platform exports it.

    python -m booktools.gradebook SUBMISSIONS --out DIR [--jobs 2] [--lecture NAME]
        [--cell-timeout S] [--question-timeout S] [--notebook-timeout S] [--kernel NAME]   # grading.Timeouts
    make grade SUBMISSIONS=folder/ [JOBS=2] [OUT=DIR]

Each notebook is graded by booktools.grading (its sandbox and trusted checks), `--jobs` at
a time, in worker processes that each compute a lecture's reference values once for all
the submissions of that lecture. In DIR it writes, per submission (named after the file),
`NAME.json` (the whole result) and `NAME.feedback.txt` (the report a student can read),
and for the class `gradebook.csv`: one row per submission, with the points of each
question, the total, the flags and the seconds it took. A submission already graded,
unchanged (the same bytes) and by the same grader (the same lecture and grading code), is
not graded again. One submission that cannot be graded, or that brings a worker down,
gets a row saying why; the others go on.
"""
import argparse
import concurrent.futures
import csv
import hashlib
import json
import multiprocessing
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from booktools import grading
from booktools.book import HELPERS, ROOT
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


def grader_version(doc, root=ROOT):
    """What a result depends on besides the submission: the lecture and the grader's code."""
    digest = hashlib.sha256((Path(root) / f"{doc}.md").read_bytes())
    for path in grader_files(root):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


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
        name = re.sub(r"[^\w.-]+", "_", str(path.relative_to(root).with_suffix("")))
        while name in seen:
            name += "_"
        seen.add(name)
        names.append((name, path))
    return names


# A row of the class, as saved in NAME.json: a graded submission's is its
# grading.GradingResult.to_dict() with "student", "sha256" and "grader" added; one that was
# not graded has the shape of `error_row`.

def error_row(name, path, error):
    """The row of a submission that was not graded, and why: one shape for every cause
    (not a notebook, another lecture's, a grader that failed or whose worker died)."""
    return {"student": name, "notebook": str(path), "error": str(error)[:500],
            "sha256": sha256(path) if Path(path).is_file() else ""}


def _grade_one(name, path, options):
    """In a worker: grade one notebook and write its files; returns its gradebook row."""
    out = Path(options["out"])
    try:
        graded = grading.grade(path, options["lecture"], options["timeouts"], options["kernel"])
        row = {**graded.to_dict(), "student": name, "sha256": sha256(path), "grader": grader_version(graded.lecture)}
        feedback = grading.report(graded)
    except grading.SubmissionError as error:
        row = error_row(name, path, error)
        feedback = f"cannot grade: {row['error']}"
    (out / f"{name}.json").write_text(json.dumps(row, indent=2))
    (out / f"{name}.feedback.txt").write_text(feedback + "\n")
    return row


def _lecture_of(path, lecture):
    try:
        return grading.identify(grading.read_submission(path), path, lecture)
    except grading.SubmissionError:
        return None


def _cached(name, path, out):
    """The result already in `out` for this very submission and grader, or None."""
    saved = out / f"{name}.json"
    if not saved.is_file():
        return None
    try:
        result = json.loads(saved.read_text())
    except ValueError:
        return None
    if result.get("sha256") != sha256(path):
        return None
    if "error" in result:
        return result
    return result if result.get("grader") == grader_version(result["lecture"]) else None


def grade_class(source, out, jobs=2, lecture=None, timeouts=grading.Timeouts(), kernel="python3", progress=print):
    """Grade every notebook of `source` into `out`; returns the results, in order."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"out": str(out), "lecture": lecture, "timeouts": timeouts, "kernel": kernel}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gradebook-") as scratch:
        submissions = collect(source, scratch)
        results, todo = {}, {}
        for name, path in submissions:
            cached = _cached(name, path, out)
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
                    futures = {pool.submit(_grade_one, name, str(path), options): (name, path)
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
                            results[name] = error_row(name, path,
                                                      f"the grader failed ({type(error).__name__}: {error})")
                        done += 1
                        row = results[name]
                        if "error" in row:
                            progress(f"[{done}/{len(submissions)}] {name}: not graded: {row['error']}")
                        else:
                            r = grading.GradingResult.from_dict(row)
                            progress(f"[{done}/{len(submissions)}] {name}: {r.total:g} / {r.possible:g} "
                                     f"in {r.seconds:g} s")
            for name, path in pending:
                results[name] = error_row(name, path, "the grader's worker stopped while grading it, twice")
        ordered = [results[name] for name, _ in submissions]
    write_gradebook(ordered, out / "gradebook.csv")
    seconds = time.perf_counter() - start
    graded = sum(len(group) for group in todo.values())
    progress(f"graded {graded} of {len(submissions)} submissions in {seconds:.0f} s"
             + (f" ({graded / seconds * 60:.1f} a minute)" if graded else "") + f"; {out / 'gradebook.csv'}")
    return ordered


def write_gradebook(rows, path):
    """gradebook.csv: a row per submission (graded or not), a column per question."""
    graded = {id(row): grading.GradingResult.from_dict(row) for row in rows if "error" not in row}
    exercises = list(dict.fromkeys(f"{q.exercise} ({q.label})" for r in graded.values() for q in r.questions))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lecture", *exercises, "total", "max", "flags", "notes", "seconds",
                         "sandboxed", "error"])
        for row in rows:
            r = graded.get(id(row))
            if r is None:
                writer.writerow([row["student"], "", *[""] * len(exercises), "", "", "", "", "", "", row["error"]])
                continue
            points = {f"{q.exercise} ({q.label})": q.earned for q in r.questions}
            writer.writerow([row["student"], r.lecture, *[points.get(e, "") for e in exercises], r.total, r.possible,
                             "; ".join(f.reason for f in r.flags), "; ".join(r.notes), r.seconds, r.sandboxed, ""])


def main(argv=None):
    parser = argparse.ArgumentParser(description="Grade every notebook in a folder or a zip.")
    parser.add_argument("submissions")
    parser.add_argument("--out", help="where to write the gradebook and the results (default: SUBMISSIONS-graded)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--lecture")
    grading.Timeouts.add_arguments(parser)
    parser.add_argument("--kernel", default="python3")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(str(Path(args.submissions)).rstrip("/").removesuffix(".zip") + "-graded")
    try:
        grade_class(args.submissions, out, args.jobs, args.lecture, grading.Timeouts.from_arguments(args),
                    args.kernel, progress=lambda line: print(line, flush=True))
    except ValueError as error:
        print(f"cannot grade: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
