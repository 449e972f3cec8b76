"""No check decides by a stopwatch (CONTRIBUTING.md, "No verdict on a stopwatch"): no assert
in a lecture, a lecture helper or a test compares a duration, a speed or CPU-time ratio, a
page-fault count or a core count with a threshold (booktools.stopwatch reads them). Such a
check passes on the machine it was written on and fails on the next: a CPU without SIMD
`pow`, one core, a loaded runner, a GPU."""
import pytest

from booktools.book import ROOT, notebook_pages
from booktools.stopwatch import lecture_verdicts, verdicts

PYTHON_FILES = sorted([*ROOT.glob("lectures/*.py"), *ROOT.glob("tests/*.py")])


@pytest.mark.parametrize("doc", notebook_pages(), ids=lambda d: d.split("/")[-1])
def test_no_check_in_a_lecture_decides_by_a_stopwatch(doc):
    found = lecture_verdicts(ROOT / f"{doc}.md")
    assert not found, "\n".join(f"{doc}.md:{line}: {text}" for line, text in found)


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda p: p.name)
def test_no_check_in_a_helper_or_a_test_decides_by_a_stopwatch(path):
    found = verdicts(path.read_text(encoding="utf-8"), str(path), fakes=path.parent.name == "tests")
    assert not found, "\n".join(f"{path.name}:{line}: {text}" for line, text in found)


# The kinds of check the issue found in the lectures, each written as it was.
PLANTED = {
    "a speed-up over a loop": "speedup = speedup_over_loop(poly, args, loop)\nassert speedup > 2",
    "dispatch against the blocked call": ("start = time.perf_counter()\nr = f(m)\n"
                                          "t_dispatch = time.perf_counter() - start\n"
                                          "t_blocked = t_dispatch + 1\nassert 0 < t_dispatch < 0.5 * t_blocked"),
    "a window on a hand timing": "first_t, best_t = time_first_and_best(f)\nassert 0.05 <= best_t < 0.066",
    "a timing record's field": "t = time_call(f)\nassert t.best < 0.1",
    "two timings ordered": "a, b = time_call(f), time_call(g)\nassert a.best < b.best",
    "CPU per wall in a prediction's truth": ("def cpu_per_wall(run):\n"
                                             "    wall, cpu = time.perf_counter(), time.process_time()\n"
                                             "    run()\n"
                                             "    return (time.process_time() - cpu) / (time.perf_counter() - wall)\n"
                                             "measured = {name: cpu_per_wall(op) > 1.5 for name, op in ops}\n"
                                             "assert predicted == measured"),
    "a page-fault count": "faults = minor_faults(f, out)\nassert faults is None or faults < 10",
    "a core count": "assert len(grid) >= numba.get_num_threads()",
    "an if that raises": "elapsed = time.time() - start\nif elapsed > 2.0:\n    raise AssertionError('slow')",
    "wins by comparisons of times": ("wins = [timings[m][1].best < timings[m][0].best for m in sizes]\n"
                                     "assert all(wins)"),
    "a record's seconds": "record = measure(name, 50)\nassert record['best_s'] <= record['first_s'] * 50",
    "inside a test function": "def test_fast():\n    timing = lt.time_call(work)\n    assert timing.first > 0.2 * 3",
}
# Checks of values, compile counts and stand-ins: each must stay allowed.
ALLOWED = {
    "what the timed call returned": "t = time_call(f, x)\nassert np.array_equal(t.result(), f(x))",
    "how many calls were timed": "t = time_call(f)\nassert len(t.runs) == 5 and not t.compiled",
    "a figure derived from another": "t = time_call(f)\nassert t.best == min(t.runs)",
    "the sizing rule's answer": ("probe = scan_probe()\nn_scan = affordable_length(probe, n, 1.0)\n"
                                 "assert n_scan == affordable_length(probe, n, 1.0)"),
    "a stand-in's known delay": "first_t, best_t = time_first_and_best(f)\nassert_took(first_t, 0.5)",
    "a count that may be missing": "faults = minor_faults(f)\nassert faults is None or isinstance(faults, int)",
    "a table's ratio from its timings": ("rows = [('a', t_a), ('b', t_b)]\nt_a, t_b = time_call(f), time_call(g)\n"
                                         "for name, timing in rows:\n    line = f'{name} {timing.best}'\n"
                                         "    assert line.endswith(f'{timing.best}') and name in line"),
    "a made-up figure in a test": "t = fake_time_call(f)\nassert t.best == 0.5   # fake measurement",
}


@pytest.mark.parametrize("case", PLANTED)
def test_a_planted_timing_verdict_is_found(case):
    assert verdicts(PLANTED[case], fakes=True), case


@pytest.mark.parametrize("case", ALLOWED)
def test_a_check_of_values_is_not_mistaken_for_one(case):
    assert verdicts(ALLOWED[case], fakes=True) == [], case


def test_a_timing_assert_planted_in_a_lectures_hidden_cell_is_found_on_its_line(tmp_path):
    text = (ROOT / "lectures" / "numpy.md").read_text(encoding="utf-8")
    planted = "```{code-cell} ipython3\n:tags: [remove-cell]\nassert t_matmul.best < t_matmul_1.best\n```\n\n"
    (tmp_path / "numpy.md").write_text(text.replace("## Exercises", planted + "## Exercises", 1), encoding="utf-8")
    [(line, check)] = lecture_verdicts(tmp_path / "numpy.md")
    assert check == "assert t_matmul.best < t_matmul_1.best"
    assert (tmp_path / "numpy.md").read_text(encoding="utf-8").splitlines()[line - 1] == check


def test_a_fake_measurement_is_allowed_in_tests_only():
    code = "t = time_call(f)\nassert t.best == 0.5   # fake measurement"
    assert verdicts(code, fakes=True) == [] and verdicts(code, fakes=False)
