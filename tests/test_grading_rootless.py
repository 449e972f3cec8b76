"""The grader's sandbox without root (booktools.sandbox, mode "user namespace"): the hostile
class, graded by `booktools.gradebook` run as an ordinary user (nobody), scores as it does
under root; nothing it starts outlives it, writes outside or reaches the network.

Run as root (as `make test` is), the grader is started as nobody in a mount namespace
where the root-only folders it needs to read (a Python installed under /root, say) are
shown read-only; run as anyone else, it is started as is. The attacks are all those of
tests/test_grading_hostile.py: on the machine and on other processes, which the sandbox
stops, and on the grader's machinery (rebinding print, json, numpy), which score 0 as
they do under root, each question saying why. The submissions and results live in a
world-writable folder of their own."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
from submissions import TIMEOUTS, class_answers, read, solutions, submission
from test_grading_hostile import FULL, PLANTED, SLEEPER, attacks, slug

from booktools.book import ROOT
from booktools.sandbox import sandbox_mode

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]

ATTACKS = list(attacks(ROOT, ROOT, 0))
NOBODY = 65534


def as_nobody(command, home):
    """`command` run as an ordinary user: as is if this is not root, else as nobody, with
    the folders nobody could not pass through shown read-only to it (and nothing else of them)."""
    if os.geteuid() != 0:
        return command
    hidden = {}                 # {a folder nobody cannot pass through: what of it to show}
    for path in (Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), ROOT.resolve()):
        closed = [parent for parent in reversed(path.parents) if not os.stat(parent).st_mode & 0o001]
        if closed:
            hidden.setdefault(closed[0], set()).add(closed[0] / path.relative_to(closed[0]).parts[0])
    wrapper = ["bwrap", "--dev-bind", "/", "/"]
    for parent, shown in hidden.items():
        wrapper += ["--tmpfs", str(parent)]
        for path in sorted(shown):
            wrapper += ["--ro-bind", str(path), str(path)]
    return wrapper + ["--", "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                      "env", f"HOME={home}", *command]


@pytest.fixture(scope="module")
def rootless_class(built_notebooks, student, listener):
    mode, why = sandbox_mode()
    assert why is None, f"these tests need the sandbox: {why}"
    work = Path(tempfile.mkdtemp(prefix="rootless-"))
    try:
        for name in ("submissions", "outside", "graded", "home"):
            (work / name).mkdir()
        site = class_answers("lectures/numpy", solutions(read(built_notebooks, "lectures/numpy")))
        books = {"site-answers": site, "unanswered": {}}
        expected = {"site-answers": (FULL, ""), "unanswered": (0, "")}
        port, connections = listener
        for name, (code, total, said) in attacks(work / "outside", work / "submissions", port).items():
            answer = code if "def poly" in code else code + "\n\n" + site["Exercise 1.1"]
            books[slug(name)] = {**site, "Exercise 1.1": answer}
            expected[slug(name)] = (total, said)
        for name, answers in books.items():
            submission(work / "submissions" / f"{name}.ipynb", student, "lectures/numpy", answers)
        for path in [work, *work.rglob("*")]:
            os.chmod(path, 0o777 if path.is_dir() else 0o666)
        command = as_nobody([sys.executable, "-m", "booktools.gradebook", str(work / "submissions"), "--out",
                             str(work / "graded"), "--jobs", "2", *TIMEOUTS.as_arguments()],
                            work / "home")
        run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        yield {"run": run, "out": work / "graded", "outside": work / "outside", "expected": expected,
               "connections": connections}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_without_root_the_grader_sandboxes_in_a_user_namespace(rootless_class):
    table = list(csv.DictReader(open(rootless_class["out"] / "gradebook.csv")))
    assert len(table) == len(rootless_class["expected"]) and all(row["sandboxed"] == "True" for row in table)
    for row in table:
        result = json.loads((rootless_class["out"] / f"{row['student']}.json").read_text())
        assert "sandboxed without root, in a user namespace of its own" in result["notes"], result["notes"]


@pytest.mark.parametrize("name", ["site-answers", "unanswered", *(slug(a) for a in ATTACKS)])
def test_each_submission_scores_as_it_does_under_root(rootless_class, name):
    total, said = rootless_class["expected"][name]
    result = json.loads((rootless_class["out"] / f"{name}.json").read_text())
    told = " | ".join([f["reason"] for f in result["flags"]] + result["notes"])
    assert result["total"] == total and said in told, (name, result)
    assert not any("outlived" in note for note in result["notes"]), result["notes"]
    if name in ("site-answers", "unanswered", "memory-bomb") or total == FULL:
        assert not result["flags"], result["flags"]
    if total == 0 and name != "unanswered":         # as under root: each question says why it scored 0
        assert all(q["message"] for q in result["questions"]), (name, result)


def test_nothing_it_started_outlives_it_wrote_outside_or_reached_the_network(rootless_class):
    assert rootless_class["connections"] == [], "a submission reached the grader's loopback"
    assert list(rootless_class["outside"].iterdir()) == [] and not os.path.exists(PLANTED)
    sleepers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", SLEEPER]]
    for p in sleepers:
        p.send_signal(signal.SIGKILL)
    assert sleepers == []
