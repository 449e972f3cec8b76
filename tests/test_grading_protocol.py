"""The grader's parts, without a kernel or a build: what the syntax scan flags
(booktools.tampering), what may cross between the student's kernel and the grader
(booktools.remote), and how a class's submissions are collected and recorded
(booktools.gradebook). The whole grader against hostile submissions, sandboxed, is
tests/test_grading_hostile.py."""
import csv
import io
import json
import zipfile

import nbformat
import numpy as np
import pytest
from submissions import submission

from booktools import gradebook, grading, tampering
from booktools.book import ROOT, lectures
from booktools.remote import KERNEL_HELPER, KernelLink, Remote, RemoteError, decode, encode, lambda_sources
from booktools.sandbox import sandbox_mode

TAMPERING = {
    "import builtins\nbuiltins.print = lambda *a, **k: None": "builtins.print",
    "import numpy as np\nnp.allclose = lambda *a, **k: True": "np.allclose",
    "import numpy as np\nsetattr(np, 'isclose', lambda *a, **k: True)": "setattr",
    "import json\njson.dumps = str": "json.dumps",
    "import sys\nsys.stdout = open('/dev/null', 'w')": "sys.stdout",
    "import sys\nsys.modules['numpy'] = None": "sys.modules",
    "__builtins__['open'] = None": "__builtins__",
    "def print(*args):\n    pass": "builtin `print`",
    "import os\nos.kill(os.getppid(), 9)": "os.kill",
    "import os, signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)": "signal.signal",
    "import os\nwhile True:\n    os.fork()": "os.fork",
    "import subprocess\nsubprocess.Popen(['sleep', '9'], start_new_session=True)": "outside its own session",
    "import ctypes": "ctypes",
}


@pytest.mark.parametrize("code", TAMPERING, ids=list(TAMPERING.values()))
def test_the_scan_flags_code_that_changes_what_answers_run_on(code):
    found = tampering.scan([code])
    assert found and found[0][0] == 0 and TAMPERING[code] in found[0][1], found


def test_a_documented_setting_is_configuration_not_tampering():
    """Numba documents choosing its threading layer by assigning numba.config.THREADING_LAYER:
    by any name numba or its config is imported as. Other attributes of numba.config, and
    the setting rebound by `del` or `+=`, are still flagged."""
    for code in ("import numba\nnumba.config.THREADING_LAYER = 'omp'",
                 "import numba as nb\nnb.config.THREADING_LAYER = 'workqueue'",
                 "from numba import config as c\nc.THREADING_LAYER_PRIORITY = ['omp', 'tbb']"):
        assert tampering.scan([code]) == [], code
    for code in ("import numba\nnumba.config.DISABLE_JIT = True", "import numba\nnumba.njit = lambda f: f",
                 "import numba\ndel numba.config.THREADING_LAYER",
                 "import numpy as config\nconfig.THREADING_LAYER = 1"):
        assert len(tampering.scan([code])) == 1, code


def test_the_scan_names_the_cell_and_reads_imports_from_every_cell():
    found = tampering.scan(["import numpy as np", "x = 1", "np.max = min"])
    assert [index for index, _ in found] == [2]
    assert tampering.scan(["np.max = min"]) == []                  # np is not known to be imported
    assert len(tampering.scan(["np.max = min"], context=["import numpy as np"])) == 1


@pytest.mark.parametrize("doc", lectures())
def test_the_scan_flags_none_of_the_sites_own_answers(doc):
    """Every solution of every lecture, and the lecture's own cells: no false alarm."""
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    import jupytext
    cells = [c.source for c in jupytext.reads(text, "md:myst").cells if c.cell_type == "code"]
    assert tampering.scan(cells) == []


def test_plain_data_crosses_both_ways_and_the_rest_stays_in_the_kernel():
    link = in_process_link({"poly": lambda x, coef: np.polyval(coef[::-1], x), "data": {"a": [1, 2.5, "s"]},
                            "rng": np.random.default_rng(0)})
    poly = link.lookup("poly")
    assert isinstance(poly, Remote)
    assert np.allclose(poly(np.array([0.0, 2.0]), [1.0, 1.0]), [1.0, 3.0])
    assert link.lookup("data") == {"a": [1, 2.5, "s"]}
    rng = link.lookup("rng")
    assert isinstance(rng, Remote) and "Generator" in repr(rng)
    assert np.shape(rng.uniform(size=3)) == (3,)
    with pytest.raises(NameError, match="not defined by the submission"):
        link.lookup("missing")


def test_a_check_may_send_the_students_function_a_lambda_written_in_it():
    link = in_process_link({"apply": lambda f, x: f(x)})
    check = "result = apply(lambda v: v * 2, 21)"
    link.lambdas = lambda_sources(check, "<check t>")
    env = {"apply": link.lookup("apply")}
    exec(compile(check, "<check t>", "exec"), env)
    assert env["result"] == 42
    def elsewhere(v):               # not the check's own: its source is not sent
        return v
    with pytest.raises(TypeError, match="only lambdas written in it"):
        env["apply"](elsewhere, 1)
    with pytest.raises(TypeError, match="cannot send a builtin"):
        env["apply"](abs, 1)


def test_each_part_of_a_check_sends_the_student_its_own_lambdas():
    """A part runs as its own code (shared lines, then its own), so its lambdas are found by
    its own line numbers, not the whole check's."""
    link = in_process_link({"apply": lambda f, x: f(x)})
    check = ("x = 1\n# Part (1 point): a\nassert apply(lambda t: t, 1) == 1\n"
             "# Part (1 point): b\nassert apply(lambda t: 2 * t, 1) == 2, 'wrong lambda'\n")
    q = grading.Question("toy-ex1", "Exercise 1.1", 2.0, check)
    assert grading._check(q, ["apply"], {}, link, None, grading._Clock(), 5) == (2.0, "")


def test_a_students_function_is_read_for_python_loops_in_its_own_kernel():
    import lecture_tools as lt
    link = in_process_link({"loop": lambda x: [v * 2 for v in x], "whole": lambda x: x * 2})
    loop, whole = link.lookup("loop"), link.lookup("whole")
    assert lt.count_line_events(loop, np.ones(500)) >= 500
    assert lt.count_line_events(whole, np.ones(10)) == lt.count_line_events(whole, np.ones(10_000))
    lt.assert_vectorized(whole, lambda n: (np.ones(n),))
    with pytest.raises(AssertionError, match="loops over the elements"):
        lt.assert_vectorized(loop, lambda n: (np.ones(n),))


def test_the_sandbox_holds_thread_pools_to_the_same_count_on_every_machine(monkeypatch, tmp_path):
    from booktools import sandbox
    for cores in (1, 2, 128):
        monkeypatch.setattr(sandbox.os, "cpu_count", lambda: cores)
        limits = sandbox.Limits()
        assert limits.memory_bytes == 4_000_000_000 + 64_000_000 * cores      # a stack per XLA thread
        assert limits.cpu_seconds == 900 * max(cores, 2)                       # every core's seconds count
        assert limits.processes == 256 + 16 * cores                             # a fork bomb's copies
        args = sandbox.sandbox_prefix(tmp_path, tmp_path, sandbox.sys.executable, limits, 12345)
        settings = {args[i + 1]: args[i + 2] for i, arg in enumerate(args) if arg == "--setenv"}
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                     "MALLOC_ARENA_MAX"):
            assert settings[name] == str(sandbox.GRADING_THREADS), name
    assert sandbox.Limits(memory_bytes=1, cpu_seconds=2).memory_bytes == 1      # asked for: kept


def test_without_root_the_limits_are_set_inside_the_sandboxs_own_user_namespace(tmp_path):
    """As root the kernel gets a user id of its own (setpriv) under limits set outside; as
    anyone else, a user namespace of its own, in which the process limit counts only the
    sandbox's processes, so prlimit must run inside it, after bwrap."""
    from booktools import sandbox
    limits = sandbox.Limits()
    root = sandbox.sandbox_prefix(tmp_path, tmp_path, sandbox.sys.executable, limits, 12345, "root")
    assert root[0] == "prlimit" and root.index("bwrap") < root.index("setpriv") and "--unshare-user" not in root
    user = sandbox.sandbox_prefix(tmp_path, tmp_path, sandbox.sys.executable, limits, 12345, "user namespace")
    assert user[0] == "bwrap" and "setpriv" not in user and "--reuid=12345" not in user
    assert user.index("--unshare-user") < user.index("prlimit") and f"--nproc={limits.processes}" in user
    assert user[-1] == "--" and user[user.index("--uid") + 1] == str(sandbox.NAMESPACE_UID)


def test_an_answer_that_is_not_plain_data_is_refused():
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    import base64
    for data in ({"array": base64.b64encode(pickled.getvalue()).decode()},   # a pickle inside an array
                 {"plain": [1, 2]}, {"code": "import os"}, {"plain": 1, "array": ""}, [1], {"handle": "abc"},
                 {"object": ["../x", "t"]}):
        with pytest.raises((RemoteError, ValueError)):
            decode(data, None)
    assert decode(encode((1, [2.0, None], {"k": np.arange(3)})), None)[2]["k"].tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="cannot send a"):
        encode(object())


def in_process_link(names, folder=None):
    """A KernelLink whose "kernel" is a namespace here, running the same helper code."""
    import tempfile
    folder = folder or tempfile.mkdtemp()
    namespace = dict(names)
    exec(KERNEL_HELPER, namespace)
    return KernelLink(folder, lambda code, limit: exec(code, namespace), 10)


@pytest.mark.parametrize("kind", ["link", "pipe"])
def test_an_answer_the_kernel_leaves_as_a_link_or_a_pipe_is_refused_unread(kind, tmp_path):
    """The kernel writes its answers into its own folder: one left there as a link to a file
    it could not read (the grader's), or as a pipe that never ends, is refused, not read."""
    import os
    import re
    secret = tmp_path / "grader-only.json"
    secret.write_text(json.dumps(encode("the grader's secret")))

    def kernel(code, limit):                    # answers every request the hostile way
        answer = re.search(r"'([^']*answer\.json)'", code).group(1)
        os.symlink(secret, answer) if kind == "link" else os.mkfifo(answer)

    folder = tmp_path / "kernel"
    folder.mkdir()
    with pytest.raises(RemoteError, match="not a plain file"):
        KernelLink(folder, kernel, 10).lookup("poly")


def test_a_zip_of_submissions_yields_its_notebooks_and_nothing_outside(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("alice/hw.ipynb", "bob.ipynb", "../escape.ipynb", "/abs.ipynb", "__MACOSX/alice/hw.ipynb",
                     ".hidden/x.ipynb", "notes.txt"):
            z.writestr(name, "{}")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    found = gradebook.collect(archive, scratch)
    assert [name for name, _ in found] == ["alice_hw", "bob"]
    assert not (tmp_path / "escape.ipynb").exists()
    assert all(scratch in path.parents for _, path in found)


def test_the_gradebook_has_a_row_per_submission_and_a_column_per_question(tmp_path):
    graded = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, 2.0, ""),
        grading.QuestionResult("numpy-ex2", "Exercise 1.2", 3.0, 1.0, "partly")], 9, True, [], ["cell 4: NameError"])
    rows = [{**graded.to_dict(), "student": "a"},
            gradebook.error_row("b", tmp_path / "b.ipynb", "is not a Jupyter notebook")]
    gradebook.write_gradebook(rows, tmp_path / "gradebook.csv")
    table = list(csv.DictReader(open(tmp_path / "gradebook.csv")))
    assert [r["student"] for r in table] == ["a", "b"]
    assert table[0]["Exercise 1.1 (numpy-ex1)"] == "2.0" and table[0]["total"] == "3.0" and table[0]["max"] == "5.0"
    assert table[0]["notes"] == "cell 4: NameError" and table[1]["error"] == "is not a Jupyter notebook"


def graded_row(student, earned=(2.0, 1.0)):
    result = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, earned[0], ""),
        grading.QuestionResult("numpy-ex2", "Exercise 1.2", 3.0, earned[1], "partly")], 9, True)
    return {**result.to_dict(), "student": student}


def test_a_roster_gives_every_student_a_row_and_marks_strangers(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name\nalice,Alice A\nbob,Bob B\ncarol,Carol C\n")
    ids = gradebook.read_roster(roster)
    rows = [graded_row("alice_numpy"), graded_row("mallory")]
    gradebook.write_gradebook(rows, tmp_path / "gradebook.csv", ids)
    table = {r["student"]: r for r in csv.DictReader(open(tmp_path / "gradebook.csv"))}
    assert table["alice_numpy"]["roster"] == "alice" and table["mallory"]["roster"] == "not on the roster"
    # The longest id that names a submission wins; ids are written as submissions are named.
    roster.write_text("student\nal\nal_b\njane@uni.edu\n")
    ids = gradebook.read_roster(roster)
    assert ids == ["al", "al_b", "jane_uni.edu"]
    assert [gradebook._on_roster(n, ids) for n in ("al_b", "al_b_numpy", "al_numpy", "jane_uni.edu_numpy")] == [
        "al_b", "al_b", "al", "jane_uni.edu"]
    assert table["bob"]["error"] == "no submission" and table["bob"]["total"] == "0"
    assert table["carol"]["error"] == "no submission" and "alice" not in table
    roster.write_text("student\nalice\nalice\n")
    with pytest.raises(gradebook.GradebookError, match="listed twice"):
        gradebook.read_roster(roster)


def test_an_override_changes_a_questions_points_and_says_why(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text('student,question,points,reason\na,numpy-ex2,3,"graded by hand: right idea, typo in the test"\n')
    changes = gradebook.read_overrides(path)
    gradebook.write_gradebook([graded_row("a"), graded_row("b")], tmp_path / "gradebook.csv", None, changes)
    table = {r["student"]: r for r in csv.DictReader(open(tmp_path / "gradebook.csv"))}
    assert table["a"]["Exercise 1.2 (numpy-ex2)"] == "3.0" and table["a"]["total"] == "5.0"
    assert table["a"]["overrides"] == "numpy-ex2: 3 (graded by hand: right idea, typo in the test)"
    assert table["b"]["total"] == "3.0" and table["b"]["overrides"] == ""
    # For a notebook that was not graded (refused), the override is listed, not applied.
    refused = gradebook.error_row("a", tmp_path / "a.ipynb", "is not a Jupyter notebook")
    gradebook.write_gradebook([refused], tmp_path / "gradebook.csv", None, changes)
    [row] = csv.DictReader(open(tmp_path / "gradebook.csv"))
    assert "NOT APPLIED" in row["overrides"] and row["error"] == "is not a Jupyter notebook"
    for bad, said in (("a,numpy-ex2,three,typo\n", "is not a number"), ("a,numpy-ex2,3,\n", "needs a reason")):
        path.write_text("student,question,points,reason\n" + bad)
        with pytest.raises(gradebook.GradebookError, match=said):
            gradebook.read_overrides(path)
    path.write_text("student,points\na,3\n")
    with pytest.raises(gradebook.GradebookError, match="missing: question, reason"):
        gradebook.read_overrides(path)


def test_an_edit_to_any_module_grading_imports_invalidates_saved_grades(tmp_path):
    """student.py (the solutions stripped) and notebooks.py (the setup cells) among them:
    the list is read from the imports, not kept by hand."""
    import shutil
    names = {path.name for path in gradebook.grader_files()}
    assert {"grading.py", "remote.py", "sandbox.py", "tampering.py", "student.py", "notebooks.py", "book.py",
            "lecture_tools.py", "benchmarks.py"} <= names, names
    shutil.copytree(ROOT / "booktools", tmp_path / "booktools")
    shutil.copytree(ROOT / "lectures", tmp_path / "lectures")
    before = gradebook.grader_version("lectures/numpy", tmp_path)
    assert before == gradebook.grader_version("lectures/numpy")
    for name in ("student.py", "notebooks.py"):
        path = tmp_path / "booktools" / name
        path.write_text(path.read_text() + "\n# an edit\n")
        assert gradebook.grader_version("lectures/numpy", tmp_path) != before, name
        before = gradebook.grader_version("lectures/numpy", tmp_path)


def test_a_result_is_reused_only_for_the_same_bytes_and_the_same_grader(tmp_path, monkeypatch):
    nb = tmp_path / "a.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), nb)
    doc = "lectures/numpy"
    saved = {"lecture": doc, "sha256": gradebook.sha256(nb), "grader": gradebook.grader_version(doc), "total": 1,
             "seed": gradebook._seed(), "variant": "site"}
    (tmp_path / "a.json").write_text(json.dumps(saved))
    assert gradebook._cached("a", nb, tmp_path) == saved
    assert gradebook._cached("a", nb, tmp_path, student="ana") == saved     # no personal values: the site's
    monkeypatch.setenv("VARIANT_SEED", "a term")
    assert gradebook._cached("a", nb, tmp_path) is None                     # drawn with another seed
    (tmp_path / "a.json").write_text(json.dumps({**saved, "seed": gradebook._seed()}))
    assert gradebook._cached("a", nb, tmp_path, student="ana") is None      # now graded against ana's values
    monkeypatch.delenv("VARIANT_SEED")
    (tmp_path / "a.json").write_text(json.dumps({**saved, "grader": "older"}))
    assert gradebook._cached("a", nb, tmp_path) is None
    (tmp_path / "a.json").write_text(json.dumps(saved))
    nb.write_text(nb.read_text() + " ")
    assert gradebook._cached("a", nb, tmp_path) is None


def test_the_students_names_are_the_answers_a_check_reads():
    names = grading.student_names("lectures/numpy")
    assert names == {"numpy-ex1": ["poly"], "numpy-ex2": ["ecdf"], "numpy-ex3": ["a_changes"],
                     "numpy-ex4": ["several_cores"], "numpy-ex5": ["float32_results"]}


def lecture_runs_and_kernel_starts(monkeypatch):
    """What happens, in order, as grade() runs: ("lecture", doc) each time the grader runs
    a lecture's part, ("kernel",) each time a kernel starts (the per-process cache emptied)."""
    from booktools import sandbox
    events, run_lecture, start = [], grading.trusted_namespace, sandbox.SandboxKernel.start
    monkeypatch.setattr(grading, "_TRUSTED", {})
    monkeypatch.setattr(grading, "trusted_namespace", lambda doc: events.append(("lecture", doc)) or run_lecture(doc))
    monkeypatch.setattr(sandbox.SandboxKernel, "start",
                        lambda box, *a, **k: events.append(("kernel",)) or start(box, *a, **k))
    return events


def test_a_notebook_no_check_can_read_is_graded_without_running_the_lecture(monkeypatch, student, tmp_path):
    """The lecture's part the checks read runs only if some check can look up its student's
    names: unanswered, every question loses its points with its line, and the lecture
    never runs."""
    assert sandbox_mode()[1] is None, "this test needs the sandbox"
    events = lecture_runs_and_kernel_starts(monkeypatch)
    result = grading.grade(submission(tmp_path / "numpy.ipynb", student, "lectures/numpy"))
    assert result.sandboxed and events == [("kernel",)], events
    assert result.total == 0 and all("is not defined by the submission" in q.message for q in result.questions)


@pytest.mark.parametrize("answer, reaches", [
    (None, False),                                                   # unanswered
    ("a_changes = [1, 0, 1]", True),
    ("try:\n    a_changes = [1, 0, 1]\nexcept Exception:\n    pass", True),   # bound in a block
    ("def helper():\n    global a_changes\n    a_changes = [1]\nhelper()", True),
    ("globals()['a_changes'] = [1, 0, 1]", True),                     # bound where the syntax does not show
    ("exec('a_changes = [1, 0, 1]')", True),
    ("import sys\nsys.modules['__main__'].a_changes = [1]", True),
    ("from numpy import *", True),
    ("%time x = 1", True),                                           # IPython's machinery
    ("a_changes = [1, 0,", False),                                   # does not parse: runs nothing
    ("b_changes = [1, 0, 1]", False),
])
def test_whether_a_check_can_reach_the_lecture_is_read_from_the_notebooks_syntax(answer, reaches, student, tmp_path):
    answers = {} if answer is None else {"Exercise 1.3": answer}
    path = submission(tmp_path / "numpy.ipynb", student, "lectures/numpy", answers)
    assert grading.reaches_the_lecture(grading.examine(path)) is reaches


def test_without_bubblewrap_grading_says_it_ran_unsandboxed(monkeypatch, student, tmp_path):
    """grade() itself finds bwrap missing, notes why and how to install it, and the report's
    first line says the grade was given without a sandbox. The lecture's part the checks
    read (one exercise is answered) ran before the submission could touch the grader's files."""
    import shutil

    from booktools import sandbox
    real = shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda tool: None if tool == "bwrap" else real(tool))
    events = lecture_runs_and_kernel_starts(monkeypatch)
    answered = {"Exercise 1.3": "a_changes = (True, False, True)"}
    result = grading.grade(submission(tmp_path / "numpy.ipynb", student, "lectures/numpy", answered))
    assert events == [("lecture", "lectures/numpy"), ("kernel",)], events
    assert result.sandboxed is False
    [note] = [n for n in result.notes if n.startswith("ran unsandboxed:")]
    assert "bwrap not found" in note and "apt-get install bubblewrap" in note, note
    text = grading.report(result)
    assert "(graded WITHOUT a sandbox)" in text.splitlines()[0] and note in text


def test_a_failing_check_fails_its_question_but_ctrl_c_stops_the_grading():
    link = in_process_link({})
    def check(code):
        q = grading.Question("toy-ex1", "Exercise 1.1", 1.0, code)
        return grading._check(q, [], {}, link, None, grading._Clock(), 5)
    assert check("assert 1 == 2, 'wrong'") == (False, "AssertionError: wrong")
    assert check("raise SystemExit(3)") == (False, "SystemExit: 3")
    assert check("x = 1") == (True, "")
    with pytest.raises(KeyboardInterrupt):
        check("raise KeyboardInterrupt")
