"""A class's worth of hostile submissions, graded as an instructor would (`make grade
SUBMISSIONS=...`, booktools.gradebook, two at a time), in the sandbox.

Each submission is the numpy lecture's student notebook without the lecture's own cells
(`submissions.exercises_only`), answered as the site does (full marks, FULL), except where the
attack changes an answer. An attack on the machinery (rebinding what checks or answers
run on, reaching other processes) scores 0 with a flag naming the cell; an attack on the
machine (memory, files, network, output) fails inside the sandbox and leaves the honest
answers their points (the memory bomb stops its own cell, so that cell's `poly` is
lost). Honest alternative answers score in full. The grader finishes, nothing is left
running, nothing is written outside, no connection gets out.
The sandbox needs bubblewrap (`make test` installs it, as root); without it these fail."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from submissions import (
    TIMEOUTS,
    assert_same_verdict,
    class_answers,
    outcome,
    read,
    run_autograder,
    solutions,
    submission,
    two_at_a_time,
)

from booktools import grading
from booktools.book import ROOT
from booktools.sandbox import MAX_KERNEL_COPIES, SandboxKernel, why_not_sandboxed

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]

PLANTED = "/tmp/planted-by-a-student"      # in the grader's /tmp, not the sandbox's own
SLEEPER = "613"            # `sleep 613`: a process only the daemon attack starts

OTHER_ANSWERS = {          # right, but not the site's code
    "Exercise 1.1": "def poly(x, coef):\n    x = np.asarray(x, dtype=float)\n    out = np.zeros_like(x)\n"
                    "    for c in reversed(coef):\n        out = out * x + c\n    return out",
    "Exercise 1.2": "def ecdf(data, t):\n    s = np.sort(np.asarray(data))\n"
                    "    return np.searchsorted(s, np.asarray(t), side='right') / len(s)",
    "Exercise 1.3": "a_changes = [1, 0, 1]",
}
WRONG_POLY = "def poly(x, coef):\n    return np.zeros_like(np.asarray(x, dtype=float))"
# The assignment's points in all, and Exercise 1.1's, from the lecture (they change with it).
FULL = sum(q.points for q in grading.questions("lectures/numpy"))
POLY = next(q.points for q in grading.questions("lectures/numpy") if q.label == "numpy-ex1")


def attacks(outside, others, port):
    """{name: (code put before the answer to Exercise 1.1 or instead of it, expected
    total, what a flag or a note must say)}."""
    source = ROOT / "lectures" / "numpy.md"
    return {
        # on the machinery: the verdict is the grader's; the attempt itself costs everything
        "rebinds print": ("import builtins\nbuiltins.print = lambda *a, **k: None", 0, "builtins.print"),
        "stubs numpy's comparison": ("np.allclose = lambda *a, **k: True\n" + WRONG_POLY, 0, "np.allclose"),
        "forges the serializer": ("import json\njson.dumps = lambda *a, **k: '{\"plain\": true}'", 0, "json.dumps"),
        "hides the stub in exec": ("exec('import numpy; numpy.allclose = lambda *a, **k: True')\n" + WRONG_POLY,
                                   0, "numpy.allclose is no longer numpy's"),
        "kills the grader": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(-1, signal.SIGKILL)",
                             0, "os.kill"),
        # It waits, not spins: the grader times it out, interrupts and kills it all the same
        # (a runaway that spins: tests/test_grading_bad_answers.py), and graded three times
        # (here, on Gradescope, rootless) a spin would hold a core for 15 s each time.
        "ignores the interrupt": ("import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                  "while True:\n    time.sleep(1)", 0, "ignored the interrupt"),
        "leaves a daemon": (f"import subprocess\nsubprocess.Popen(['sleep', '{SLEEPER}'], start_new_session=True)",
                            0, "outside its own session"),
        "fork bomb": ("import os\nfor _ in range(64):\n    os.fork()", 0, "os.fork"),
        "forks a sleeper": (f"import os\nif os.fork() == 0:\n    os.execvp('sleep', ['sleep', '{SLEEPER}'])",
                            0, "os.fork"),
        "rebinds exec": ("import builtins\nbuiltins.exec = lambda *a, **k: None", 0, "builtins.exec"),
        "replaces sys.stdout": ("import io, sys\nsys.stdout = io.StringIO()", 0, "sys.stdout"),
        "corrupts its protocol": ("get_ipython().kernel.session.pack = lambda obj: b'not json'", 0, "kernel"),
        # on the machine: each fails in the sandbox; the honest answers keep their points
        # its cell stops: no poly. 20 GB at once, past the sandbox's address space: refused at
        # once, where 100 MB chunks must first fill 4 GB, seconds of page zeroing that a cell
        # graded beside the other attacks may not get within the class's 10 s cell timeout
        "memory bomb": ("hog = bytearray(20 * 10**9)", FULL - POLY, "MemoryError"),
        "reads other submissions": (f"import glob\nif glob.glob({str(others) + '/*.ipynb'!r}):\n"
                                    "    raise SystemExit('other work is readable')", FULL, ""),
        "reads the lecture's source": (f"import os\nif os.path.exists({str(source)!r}):\n"
                                       "    raise SystemExit('the lecture is readable')", FULL, ""),
        "writes outside its folder": (f"for target in [{str(outside / 'planted.txt')!r}, {PLANTED!r}]:\n"
                                      "    try:\n        open(target, 'w').write('x')\n"
                                      "    except OSError as error:\n        print(error)", FULL, ""),
        "opens a connection": (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                               "except OSError as error:\n    print(error)", FULL, ""),
        "floods the output": ("for _ in range(2_000):\n    print('x' * 10_000)", FULL, ""),
    }


def slug(name):
    return name.replace(" ", "-").replace("'", "")


HONEST = {"site-answers": FULL, "other-answers": FULL, "unanswered": 0, "wrong-poly": FULL - POLY}
SUBMISSIONS = [*HONEST, *(slug(name) for name in attacks(ROOT, ROOT, 0))]


@pytest.fixture(scope="module")
def graded_class(built_notebooks, student, tmp_path_factory, listener):
    """The class (the honest submissions, one per attack, and a file that is not a
    notebook) graded once by `booktools.gradebook`, two at a time; what the tests read."""
    assert why_not_sandboxed() is None, f"these tests need the sandbox: {why_not_sandboxed()}"
    tmp_path = tmp_path_factory.mktemp("hostile")
    port, connections = listener
    outside = tmp_path / "outside"
    outside.mkdir()
    os.chmod(outside, 0o777)                       # writable by anyone: only the sandbox stops a write
    if os.path.exists(PLANTED):
        os.remove(PLANTED)
    site = solutions(read(built_notebooks, "lectures/numpy"))
    carried = class_answers("lectures/numpy", site)    # but for site-answers: the predictions alone
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    expected = {name: (total, "") for name, total in HONEST.items()}
    books = {"site-answers": site, "other-answers": {**carried, **OTHER_ANSWERS}, "unanswered": {},
             "wrong-poly": {**carried, "Exercise 1.1": WRONG_POLY}}
    for name, (code, total, said) in attacks(outside, submissions, port).items():
        answer = code if "def poly" in code else code + "\n\n" + site["Exercise 1.1"]
        books[slug(name)] = {**carried, "Exercise 1.1": answer}
        expected[slug(name)] = (total, said)
    for name, answers in books.items():
        submission(submissions / f"{name}.ipynb", student, "lectures/numpy", answers)
    (submissions / "not-a-notebook.ipynb").write_text("print('my answers')\n")    # must not stop the batch

    out = tmp_path / "graded"
    command = [sys.executable, "-m", "booktools.gradebook", str(submissions), "--out", str(out), "--jobs", "2",
               *TIMEOUTS.as_arguments()]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    print(run.stdout.splitlines()[-1])              # the throughput line: graded N ... (M a minute)
    print(f"{len(books)} submissions, 2 at a time: {seconds:.0f} s ({len(books) / seconds * 60:.1f} a minute)")
    table = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    return {"expected": expected, "count": len(books) + 1, "run": run, "command": command, "out": out,
            "table": table, "submissions": submissions, "outside": outside, "connections": connections}


def test_every_submission_gets_a_row_and_a_file_that_is_not_a_notebook_does_not_stop_the_batch(graded_class):
    count, table = graded_class["count"], graded_class["table"]
    assert f"graded {count} of {count} submissions" in graded_class["run"].stdout
    assert sorted(table) == sorted([*SUBMISSIONS, "not-a-notebook"])
    assert "is not a Jupyter notebook" in table["not-a-notebook"]["error"] and table["not-a-notebook"]["total"] == ""


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_each_submission_is_graded_to_the_point(graded_class, name):
    """Its total; what its flags and notes say; honest work never flagged; an attack's
    questions each say why they scored 0; capped output; nothing it started outlives it."""
    total, said = graded_class["expected"][name]
    out = graded_class["out"]
    result = json.loads((out / f"{name}.json").read_text())
    told = [f["reason"] for f in result["flags"]] + result["notes"]
    assert result["sandboxed"] and result["total"] == total, (name, result)
    assert float(graded_class["table"][name]["total"]) == total
    assert said in " | ".join(told), (name, told)
    assert not any("outlived" in note for note in result["notes"]), (name, result["notes"])
    if total == FULL or name in ("unanswered", "wrong-poly"):
        assert not result["flags"], (name, result["flags"])      # honest work is never flagged
    if total == 0 and name != "unanswered":
        assert all(q["message"] for q in result["questions"])
    assert (out / f"{name}.json").stat().st_size < 200_000         # output is capped
    feedback = (out / f"{name}.feedback.txt").read_text()
    assert feedback.startswith(str(graded_class["submissions"] / f"{name}.ipynb"))


def test_a_fork_bomb_is_stopped_as_one_not_left_to_run_out_its_cells_time(graded_class):
    """Hundreds of copies of the kernel would starve it until its cell's limit, and could
    answer the grader in its place: the grader counts them and stops the kernel at once,
    with the same note every run."""
    notes = json.loads((graded_class["out"] / "fork-bomb.json").read_text())["notes"]
    assert any(f"more than {MAX_KERNEL_COPIES} copies of the kernel (a fork bomb)" in note for note in notes), notes
    assert not any("ran past" in note for note in notes), notes


def test_a_pool_of_forked_workers_is_not_taken_for_a_fork_bomb(tmp_path):
    """A multiprocessing pool forks copies of the kernel too, a few, kept from cell to cell.
    (And a copy is counted wherever it lives: an orphan's parent is the sandbox's first process.)"""
    folder = tmp_path / "work"
    folder.mkdir()
    box = SandboxKernel(folder)
    assert box.sandboxed, box.why_not
    box.start()
    assert box.kernel is not None and box.kernel.cmdline()[1:3] == ["-m", "ipykernel_launcher"]
    try:
        first = box.execute("import multiprocessing\npool = multiprocessing.get_context('fork').Pool(8)\n"
                            "print(sum(pool.map(abs, range(-4, 4))))", 60)
        copies = len(box.copies())
        orphans = box.execute("import os, time\npid = os.fork()\nif pid == 0:\n    if os.fork():\n"
                              "        os._exit(0)\n    time.sleep(600)\nelse:\n    os.waitpid(pid, 0)", 60)
        # ... a copy whose parent exited, the sandbox's first process its parent now
        orphaned = len(box.copies())
        second = box.execute("print(sum(pool.map(abs, range(-9, 0))))\npool.terminate()", 60)
    finally:
        box.stop()
        box.leftovers([])
    assert first.status == "ok" and first.outputs[0]["text"] == "16\n", first
    assert copies == 8 and orphans.status == "ok" and orphaned == 9         # counted wherever it lives
    assert second.status == "ok" and second.outputs[0]["text"] == "45\n", second


def test_grading_the_class_again_reuses_every_grade_and_applies_the_roster_and_overrides(graded_class, tmp_path):
    """Nothing changed: nothing is graded again, and the gradebook written anew carries the
    instructor's overrides (read on every run, never written by the grader) and the roster."""
    count, out = graded_class["count"], graded_class["out"]
    (out / "overrides.csv").write_text("student,question,points,reason\n"
                                       f"wrong-poly,numpy-ex1,{POLY / 2:g},graded by hand: the right loop\n")
    roster = tmp_path / "roster.csv"
    roster.write_text("student\nsite-answers\nabsent\n")
    again = subprocess.run([*graded_class["command"], "--roster", str(roster)], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and again.stdout.count("unchanged, graded before") == count, again.stdout
    assert f"graded 0 of {count}" in again.stdout
    table = {row["student"]: row for row in csv.DictReader(open(out / "gradebook.csv"))}
    assert float(table["wrong-poly"]["total"]) == FULL - POLY / 2
    assert "the right loop" in table["wrong-poly"]["overrides"]
    assert table["absent"]["error"] == "no submission" and table["site-answers"]["roster"] == "site-answers"
    assert table["other-answers"]["roster"] == "not on the roster"


# Gradescope runs the autograder zip's run_autograder, which runs this project's grader
# (booktools.gradescope): the same verdicts as `make grade` on every submission of the
# class, honest work and attacks alike, among them those that Otter's own runner scores 2 of
# 7 (a stubbed comparison) or crashes on (a forged serializer), and the file that is not a
# notebook. Each is run as Gradescope would (submissions.run_autograder).
@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    from booktools.assignments import autograder_bundle
    from booktools.notebooks import binder_requirements
    return autograder_bundle("lectures/numpy", tmp_path_factory.mktemp("zip") / "numpy-autograder.zip",
                             binder_requirements(), timeouts=TIMEOUTS)


@pytest.fixture(scope="module")
def on_gradescope(graded_class, autograder_zip, tmp_path_factory):
    """{name: Gradescope's results} for every file of the class, each run as Gradescope runs
    a submission (the zip's run_autograder in folders of its own), two at a time, as `make
    grade` grades the class: the one that waits out its time limits asleep (about 17 s)
    first, so that the others are graded beside its wait. A run that failed gives its error."""
    root = tmp_path_factory.mktemp("gradescope")
    names = sorted([*SUBMISSIONS, "not-a-notebook"], key=lambda name: name != "ignores-the-interrupt")
    return two_at_a_time(run_autograder, {name: (autograder_zip, graded_class["submissions"] / f"{name}.ipynb",
                                                 root / name) for name in names})


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_gradescope_gives_the_same_verdict_as_make_grade(graded_class, on_gradescope, name):
    results = outcome(on_gradescope, name)
    assert results["score"] == graded_class["expected"][name][0]
    assert_same_verdict(results, json.loads((graded_class["out"] / f"{name}.json").read_text()))


def test_gradescope_refuses_the_file_that_is_not_a_notebook_as_make_grade_does(graded_class, on_gradescope):
    results = outcome(on_gradescope, "not-a-notebook")
    error = graded_class["table"]["not-a-notebook"]["error"].partition("not-a-notebook.ipynb")[2]   # after its path
    assert "is not a Jupyter notebook" in error
    assert results["score"] == 0 and results["tests"] == [] and error in results["output"], (results, error)


def test_the_zip_is_still_a_valid_otter_autograder(graded_class, autograder_zip, tmp_path):
    """Otter's own local runner (`otter run`) reads the zip's tests and configuration and
    grades the site's answers in full: what Gradescope's Otter tooling expects of the zip."""
    out = tmp_path / "otter"
    out.mkdir()
    run = subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(autograder_zip), "-o", str(out),
                          str(graded_class["submissions"] / "site-answers.ipynb")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    scored = {t["name"]: t["score"] for t in results["tests"] if "score" in t}     # one test per question
    assert scored == {q.label: q.points for q in grading.questions("lectures/numpy")}, results


def test_no_submission_reached_the_network_wrote_outside_or_left_a_process(graded_class):
    """Last in this file (its tests run in order, on one worker): after `make grade` and
    every Gradescope run of the class."""
    assert graded_class["connections"] == [], "a submission reached the grader's loopback"
    outside = graded_class["outside"]
    assert list(outside.iterdir()) == [] and not os.path.exists(PLANTED), "a submission wrote outside its folder"
    sleepers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", SLEEPER]]
    for p in sleepers:
        p.send_signal(signal.SIGKILL)
    assert sleepers == [], "the daemon outlived the grading"
