"""Bad answers (`make grade`): each costs its own question only, and the grader finishes.

The submissions are the numpy lecture's student notebook with Exercises 1.2 and 1.3
answered as the site does, and Exercise 1.1 answered badly; the lecture's own cells are
deleted, as a student may do (`submissions.exercises_only`; whole answered notebooks are graded
in the Colab-like run, tests/test_colab_run.py), so that each of these runs costs a
kernel's start, not the lecture's timings. Every submission of this file is graded in one
fixture, two at a time (`submissions.two_at_a_time`), by `make grade`'s command; each test
reads its own."""
from pathlib import Path

import pytest
from submissions import TIMEOUTS, class_answers, make_grade, outcome, read, solutions, submission, two_at_a_time

from booktools import grading

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]



# Bad answers to Exercise 1.1 (`poly`, 2 points); Exercises 1.2 and 1.3 are answered right
# (3 points). Each must cost Exercise 1.1 at most, and the grader must finish.
POLY = '''
def poly(x, coef):
    x = np.asarray(x, dtype=float)
    return sum(c * x**k for k, c in enumerate(coef))
'''
BAD = {
    "wrong": ("def poly(x, coef):\n    return np.zeros_like(np.asarray(x, dtype=float))", 0, "AssertionError"),
    "raises": ("def poly(x, coef):\n    raise ValueError('not done yet')", 0, "ValueError: not done yet"),
    # A runaway that holds the CPU the whole time: the grader still stops it on time.
    "cell never ends": ("while True:\n    pass", 0, "NameError"),
    # One that waits: the grader stops it as it stops any (the check's time limit, then an
    # interrupt); it leaves the core to the tests beside it, whom a spin would slow for 10 s.
    "function never ends": ("def poly(x, coef):\n    import time\n    while True:\n        time.sleep(1)", 0,
                            "did not finish within"),
    "prints megabytes": ("print('x' * 5_000_000)\n" + POLY, 2, ""),
    "deletes its folder's files": ("import os\nfor name in os.listdir('.'):\n    os.remove(name)\n" + POLY, 2, ""),
    "reads the tests": ("import glob\ndef poly(x, coef):\n    return open(glob.glob('**/*numpy-ex1*', "
                        "recursive=True)[0]).read()", 0, "IndexError"),
}


# The wrong method, graded by `make grade` in the sandbox: the checks reach the student's
# functions through the grader's stand-ins (booktools.remote), so the method checks must
# work there too. Each answer's values are right: it earns the value part of its question
# and loses the method part (partial credit, lecture_source.Part); the other exercises get
# full marks.
WRONG_METHOD = {
    "a Python loop for poly": ("lectures/numpy", "Exercise 1.1", '''
def poly(x, coef):
    x = np.asarray(x, dtype=float)
    return np.array([sum(c * xi**k for k, c in enumerate(coef)) for xi in x.ravel()]).reshape(x.shape)
''', "loops over the elements in Python"),
    "pi_estimate not compiled": ("lectures/numba", "Exercise 2.1", '''
def pi_estimate(n):
    u, v = np.random.uniform(size=n), np.random.uniform(size=n)
    return 4 * np.mean(u**2 + v**2 <= 1)
''', "not a Numba function"),
    "ar1_final without prange": ("lectures/numba", "Exercise 2.2", '''
@numba.jit(parallel=True)
def ar1_final(m, T, ρ=0.9, σ=1.0):
    y_final = np.empty(m)
    for i in range(m):
        y = 0.0
        for t in range(T):
            y = ρ * y + σ * np.random.standard_normal()
        y_final[i] = y
    return y_final
''', "no loop runs in parallel"),
    # Rows in a serial loop: under parallel=True, Numba still runs the final np.argmax on its
    # threads, so the compiled code calls its scheduler; the rows do not run in parallel.
    "argmax_f with serial rows": ("lectures/vectorized", "Exercise 4.1", '''
@numba.jit(parallel=True)
def argmax_f(grid):
    n = len(grid)
    row_max = np.empty(n)
    row_arg = np.empty(n, dtype=np.int64)
    for i in range(n):
        row = np.cos(grid[i]**2 + grid**2) / (1 + grid[i]**2 + grid**2)
        row_arg[i] = np.argmax(row)
        row_max[i] = row[row_arg[i]]
    i = np.argmax(row_max)
    return row_max[i], i, row_arg[i]
''', "no loop runs in parallel"),
}


# The bad answers (the one that waits out its check's limit first: the others are graded
# beside its wait), then the wrong methods, whose compiled code needs longer limits.
ORDER = ["function never ends", *(case for case in BAD if case != "function never ends"), *WRONG_METHOD]


def graded(path, timeouts):
    """(path, its result) by `make grade`'s command, the result written outside the
    submission's folder."""
    result, _ = make_grade(path, path.parent.parent / "result.json", *timeouts.as_arguments())
    return path, grading.GradingResult.from_dict(result)


@pytest.fixture(scope="module")
def grades(built_notebooks, student, tmp_path_factory):
    """{case: (its submission's path, its result)} for every case of this file, graded two at
    a time; a case whose grading failed gives its error."""
    calls = {}
    for case in ORDER:
        if case in BAD:
            doc, exercise, code, timeouts = "lectures/numpy", "Exercise 1.1", BAD[case][0], TIMEOUTS
        else:
            doc, exercise, code, _ = WRONG_METHOD[case]
            timeouts = grading.Timeouts(cell=60, question=60)
        answers = class_answers(doc, solutions(read(built_notebooks, doc)))
        answers[exercise] = code
        folder = tmp_path_factory.mktemp("bad") / "hand-in"
        path = submission(folder / "submission.ipynb", student, doc, answers)
        (folder / "other-work.txt").write_text("not the grader's")    # beside it, outside the grader's folder
        calls[case] = (path, timeouts)
    return two_at_a_time(graded, calls)


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_answer_costs_its_own_question_only(case, grades):
    code, earned, message = BAD[case]
    path, result = outcome(grades, case)
    keep = path.parent / "other-work.txt"
    rows = {q.exercise: q for q in result.questions}
    assert rows["Exercise 1.1"].earned == earned, rows["Exercise 1.1"]
    assert message in rows["Exercise 1.1"].message
    assert rows["Exercise 1.2"].earned == rows["Exercise 1.2"].points
    assert rows["Exercise 1.3"].earned == rows["Exercise 1.3"].points
    assert path.exists() and keep.read_text() == "not the grader's"
    assert not list(Path(path.parent).glob("*.grade.json"))     # nothing but its --out is written


@pytest.mark.parametrize("case", WRONG_METHOD, ids=list(WRONG_METHOD))
def test_the_wrong_method_costs_the_method_part_of_its_question_under_make_grade(case, grades):
    doc, exercise, code, message = WRONG_METHOD[case]
    _, result = outcome(grades, case)
    [method] = [part for q in grading.questions(doc) if q.exercise == exercise for part in q.parts
                if part.what.startswith("the method")]
    for q in result.questions:
        if q.exercise == exercise:
            assert q.earned == q.points - method.points > 0, q
            assert message in q.message and q.message.startswith(f"{method.what} ({method.points:g} of"), q
        else:
            assert q.earned == q.points, q
