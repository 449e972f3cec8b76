"""Fixtures for the site's tests. Helpers live in the booktools package, not here."""
import importlib
import os
import resource
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from booktools.layout import ASSIGNMENTS, HTML, NOTEBOOKS, STUDENT

if Path(__file__).resolve().parent.parent.name == "mutants":
    # Under `make mutation`, mutmut runs the tests on a copy of the site in mutants/ and knows
    # the lecture helpers by their paths (lectures.lecture_tools, lectures.benchmarks); the
    # tests and the lectures import them by their plain names. Give the plain names those
    # very modules, so that the mutated code is what the tests call.
    from booktools.book import HELPERS
    for name in HELPERS:                                  # benchmarks imports lecture_tools
        sys.modules[name] = importlib.import_module(f"lectures.{name}")

# Fixtures that read what `make test` builds before the suite runs: a test using one is
# marked `needs_build`, and `make check` (no builds) leaves it out.
BUILT = {"built_html", "built_notebooks", "student", "edition", "pdf", "colab", "assignments"}


_STARTED = []


def pytest_sessionstart(session):
    """REQUIRE_GPU=1 (the GPU job): stop before the first test unless JAX computes on a GPU."""
    _STARTED.append(time.perf_counter())
    _MACHINE_BUSY.append(_machine_busy_seconds())
    from booktools.require_gpu import problem
    reason = problem()
    if reason:
        pytest.exit(reason, returncode=1)


@pytest.hookimpl(tryfirst=True)   # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if BUILT & set(getattr(item, "fixturenames", ())) or not hasattr(item, "fixturenames"):
            item.add_marker(pytest.mark.needs_build)


@pytest.fixture(scope="session")
def built_html():
    """The built site. `make test` builds it first; running pytest alone needs `make html`."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built site at {HTML}: run `make html` first (`make test` does)")
    return HTML


@pytest.fixture(scope="session")
def built_notebooks():
    """The notebooks `make notebooks` wrote (`make html`, and so `make test`, runs it)."""
    if not list((NOTEBOOKS / "lectures").glob("*.ipynb")):
        pytest.fail(f"no generated notebooks in {NOTEBOOKS}: run `make notebooks` first")
    return NOTEBOOKS


@pytest.fixture(scope="session")
def student():
    """The student edition `make student` built: its site (html/) and notebooks (notebooks/)."""
    if not (STUDENT / "html" / "index.html").exists() or not (STUDENT / "notebooks").is_dir():
        pytest.fail(f"no student edition in {STUDENT}: run `make student` first (`make test` does)")
    return STUDENT


@pytest.fixture(scope="session")
def assignments():
    """The assignment zips `make assignments` wrote (`make test` runs it), the autograders' included."""
    if not list(ASSIGNMENTS.glob("*-autograder.zip")):
        pytest.fail(f"no autograder zips in {ASSIGNMENTS}: run `make assignments` first (`make test` does)")
    return ASSIGNMENTS


@pytest.fixture(scope="module")
def listener():
    """A loopback server that counts the connections it is offered: (its port, the
    connections). The graders' attack suites (tests/test_grading_hostile.py, _rootless.py)
    check that no submission reaches it."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    seen, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                seen.append(server.accept()[0])
            except OSError:
                pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


# What the suite costs against what executing the lectures costs, in the same run: a figure
# to watch as the site grows (no test fails on it). Every test's time goes to
# _build/test-durations.txt, with the CPU it used: its worker's, and that of the processes
# the worker waited for (graders, sandboxes), counted as each one ends; not a process it does
# not wait for (the kernels nbval keeps), which the closing line's machine-wide figure counts.
# A test whose CPU is far below its time waits (a timeout, a sleep, a browser) or runs in
# such a process.
_TIMES, _CPU, _CPU_MARK, _MACHINE_BUSY = {}, {}, [0.0], []
_GETRUSAGE = resource.getrusage             # as it is here: a test may stand in for it


def _cpu_seconds():
    own, waited = _GETRUSAGE(resource.RUSAGE_SELF), _GETRUSAGE(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def _machine_busy_seconds():
    """The CPU time every core of the machine has spent busy since it started (psutil): the
    suite's whole use of the machine, processes nobody waits for included (a kernel nbval
    keeps, a sandbox's), as a CI runner's machine has nothing else to run."""
    import psutil
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def pytest_runtest_logstart(nodeid, location):
    _CPU_MARK[0] = _cpu_seconds()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    now = _cpu_seconds()
    outcome.get_result().cpu_seconds = now - _CPU_MARK[0]     # a report's own field: xdist sends it on
    _CPU_MARK[0] = now


def pytest_runtest_logreport(report):
    _TIMES[report.nodeid] = _TIMES.get(report.nodeid, 0.0) + report.duration
    _CPU[report.nodeid] = _CPU.get(report.nodeid, 0.0) + getattr(report, "cpu_seconds", 0.0)


def pytest_terminal_summary(terminalreporter):
    if not _TIMES or hasattr(terminalreporter.config, "workerinput"):
        return
    wall = time.perf_counter() - _STARTED[0] if _STARTED else sum(_TIMES.values())
    lectures = sum(t for nodeid, t in _TIMES.items() if nodeid.startswith("lectures/"))
    from booktools.layout import BUILD
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "test-durations.txt").write_text(
        f"{'time':>9s}    {'CPU':>9s}    test\n" +
        "".join(f"{t:9.2f} s  {_CPU.get(nodeid, 0.0):9.2f} s  {nodeid}\n"
                for nodeid, t in sorted(_TIMES.items(), key=lambda item: -item[1])))
    workers = getattr(terminalreporter.config.option, "numprocesses", None) or 1
    busy = _machine_busy_seconds() - _MACHINE_BUSY[0] if _MACHINE_BUSY else 0.0
    line = (f"suite {wall:.0f} s of wall time, {sum(_TIMES.values()):.0f} s of test time on {workers} worker(s); "
            f"the machine's {os.cpu_count()} cores busy {busy:.0f} s ({busy / (wall * (os.cpu_count() or 1)):.0%}); "
            f"the lectures' cells {lectures:.0f} s")
    if lectures:
        line += f"; the suite took {wall / lectures:.1f} times the lectures' own execution"
    terminalreporter.write_line(line + " (every test's time: _build/test-durations.txt)")
