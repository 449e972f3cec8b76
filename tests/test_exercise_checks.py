"""Each exercise's hidden check fails on a plausible wrong answer and on the wrong method.

For every lecture, in one fresh Python of its own that both tests read (a lecture's
settings, such as JAX's 64-bit mode or its number of CPU devices, must not leak into
another's), run from the copy of the grader that the lecture's autograder zip carries (`make
assignments`), where Gradescope runs it: the lecture's trusted names are computed as the
grader computes them (`grading.trusted_namespace`), with the part of the lecture the site's
answers read beside them (as a student's notebook holds it), the site's solutions run in
order, and each check passes on them, which shows that the harness can pass, and that the
zip carries all that every check of the lecture needs. (The Colab-like run grades each
lecture's answered assignment with that copy too, through its kernel: tests/test_colab_run.py;
Gradescope's run of a whole submission says what `make grade` says of it for each lecture's
unanswered notebook, tests/test_grading_submissions.py, and for a class of numpy
submissions, tests/test_grading_hostile.py and tests/test_grading_variants.py.) Then each answer below replaces its
exercise's solution: a wrong one must fail that exercise's check, with the message given
and without the site's recorded answer in it (a failure says what is wrong, not what is
right); a right one written another way (message None) must pass it. Through the
sandboxed grader, the wrong methods cost their question too:
tests/test_grading_bad_answers.py.
"""
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from submissions import VARIANT_ANSWERS, outcome, two_at_a_time, unpacked_grader, variant_answer

from booktools import grading, variants
from booktools.book import lectures

pytestmark = pytest.mark.slow

LOOP_POLY = '''
def poly(x, coef):
    x = np.asarray(x, dtype=float)
    return np.array([sum(c * xi**k for k, c in enumerate(coef)) for xi in x.ravel()]).reshape(x.shape)
'''
PYTHON_PI = '''
def pi_estimate(n):
    inside = 0
    for _ in range(n):
        u, v = np.random.uniform(0, 1), np.random.uniform(0, 1)
        inside += u * u + v * v <= 1
    return 4 * inside / n
'''
SERIAL_AR1 = '''
@numba.jit(parallel=True)
def ar1_final(m, T, ρ=0.9, σ=1.0):
    y_final = np.empty(m)
    for i in range(m):                       # range, not prange: nothing runs in parallel
        y = 0.0
        for t in range(T):
            y = ρ * y + σ * np.random.standard_normal()
        y_final[i] = y
    return y_final
'''
STATIC_STEPS = '''
@partial(jax.jit, static_argnames="max_steps")
def steps_to_exceed(x0, threshold, max_steps):
    def going(state):
        x, t = state
        return (x <= threshold) & (t < max_steps)
    def step(state):
        x, t = state
        return 4 * x * (1 - x), t + 1
    x0 = jnp.asarray(x0, dtype=float)
    x, t = lax.while_loop(going, step, (4 * x0 * (1 - x0), 1))
    return jnp.where(x > threshold, t, max_steps)
'''
TIMER = '''
def time_first_and_best(f, *args, repeat=5):
    start = time.perf_counter()
    {call}
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        {call}
        runs.append(time.perf_counter() - start)
    return first, {best}
'''
SERIAL_ARGMAX = '''
@numba.jit
def argmax_f(grid):
    n = len(grid)
    best, bi, bj = -np.inf, 0, 0
    for i in range(n):
        for j in range(n):
            z = np.cos(grid[i]**2 + grid[j]**2) / (1 + grid[i]**2 + grid[j]**2)
            if z > best:
                best, bi, bj = z, i, j
    return best, bi, bj
'''

ONE_KEY = '''
@partial(jax.jit, static_argnames='T')
def ar1_path(key, T, ρ=0.9):
    def step(y, _):
        y = ρ * y + jax.random.normal(key)
        return y, y
    return lax.scan(step, 0.0, None, length=T)[1]
'''
NUMPY_SHOCKS = '''
@partial(jax.jit, static_argnames='T')
def ar1_path(key, T, ρ=0.9):
    def step(y, _):
        y = ρ * y + np.random.standard_normal()
        return y, y
    return lax.scan(step, 0.0, None, length=T)[1]
'''
SWAPPED = '''
def growth_exponent(records, name):
    points = sorted((r['n'], r['best_s']) for r in records if r['name'] == name)[-3:]
    n, t = np.array(points, dtype=float).T
    return np.polyfit(np.log(n), np.log(t), 1)[0]

expected_exponents = {'max of f': 1, 'logistic map': 2}
'''
EVERY_NAME = '''
def growth_exponent(records, name):
    points = sorted((r['n'], r['best_s']) for r in records)[-3:]
    n, t = np.array(points, dtype=float).T
    return np.polyfit(np.log(n), np.log(t), 1)[0]

expected_exponents = {'max of f': 2, 'logistic map': 1}
'''
NO_SIGMA = '''
@numba.jit(parallel=True)
def ar1_final(m, T, ρ=0.9, σ=1.0):
    out = np.empty(m)
    for i in numba.prange(m):
        y = 0.0
        for t in range(T):
            y = ρ * y + np.random.standard_normal()
        out[i] = y
    return out
'''

TIMER_OTHER = '''
def time_first_and_best(f, *args, repeat=5):
    def once():
        start = time.time()
        result = f(*args)
        if hasattr(result, "block_until_ready"):
            result.block_until_ready()
        return time.time() - start
    first = once()
    return first, min(once() for _ in range(repeat))
'''
ONE_SPLIT_PER_STEP = '''
@partial(jax.jit, static_argnames="T")
def ar1_path(key, T, ρ=0.9):
    def step(carry, _):
        y, key = carry
        key, draw = jax.random.split(key)
        y = ρ * y + jax.random.normal(draw)
        return (y, key), y
    return lax.scan(step, (0.0, key), None, length=T)[1]
'''

# Right in every value, but not jitted: the exercise asks for `jax.jit` with T static.
NOT_JITTED_PATH = ONE_SPLIT_PER_STEP.replace('@partial(jax.jit, static_argnames="T")\n', "")

# {lecture: {label: {case: (code, what the check's failure says, or None: it must pass)}}}
WRONG = {
    "lectures/numpy": {
        "numpy-ex1": {"a Python loop": (LOOP_POLY, "loops over the elements in Python"),
                      "coefficients reversed": ("def poly(x, coef):\n    return np.polyval(coef, x)",
                          "AssertionError")},
        "numpy-ex2": {"strict inequality": ("def ecdf(data, t):\n"
                                            "    return np.mean(np.asarray(data)[None, :] < np.asarray(t)[:, None], 1)",
                                            "AssertionError"),
                      "a Python loop over t": ("def ecdf(data, t):\n    data = np.asarray(data)\n"
                                               "    return np.array([np.mean(data <= s) for s in np.asarray(t)])",
                                               "loops over the elements in Python")},
        "numpy-ex3": {"a mask as a view": ("a_changes = (True, True, True)", "AssertionError")},
        "numpy-ex4": {"NumPy uses every core": ("several_cores = {'np.exp': True, 'np.sum': True, 'np.sort': True}",
                                                "AssertionError")},
        "numpy-ex5": {"a Python float widens": ("float32_results = (('float64', 8000), ('float64', 8000))",
            "AssertionError")},
    },
    "lectures/numba": {
        "numba-ex1": {"not compiled": (PYTHON_PI, "not a Numba function"),
                      "a wrong estimate": ("@numba.jit\ndef pi_estimate(n):\n    return 3.0", "AssertionError")},
        "numba-ex2": {"a serial loop under parallel=True": (SERIAL_AR1, "no loop runs in parallel"),
                      "σ left out": (NO_SIGMA, "AssertionError")},
        "numba-ex3": {"every version frozen": ("scale_predictions = (2.0, 2.0, 4.0)", "AssertionError")},
    },
    "lectures/jax_intro": {
        "jax_intro-ex2": {"not jitted": ("def pi_estimate(key, n):\n    u = jax.random.uniform(key, (n, 2))\n"
                                         "    return 4 * jnp.mean(jnp.sum(u**2, axis=1) <= 1)", "not jitted")},
        "jax_intro-ex4": {"a static argument": (STATIC_STEPS, "TypeError")},
        "jax_intro-ex5": {"the mean of warm calls": (TIMER.format(call="jax.block_until_ready(f(*args))",
                                                                  best="sum(runs) / len(runs)"), "AssertionError"),
                          "no blocking": (TIMER.format(call="f(*args)", best="min(runs)"),
                                          "the clock stopped before the work was done"),
                          "time.time, waiting on the result's own method (right)": (TIMER_OTHER, None),
                          "one call": ("def time_first_and_best(f, *args, repeat=5):\n    start = time.perf_counter()\n"
                                       "    jax.block_until_ready(f(*args))\n    t = time.perf_counter() - start\n"
                                       "    return t, t", "AssertionError")},
        "jax_intro-ex6": {"one key for every step": (ONE_KEY, "shocks repeat"),
                          "a split in every step (right)": (ONE_SPLIT_PER_STEP, None),
                          "NumPy's generator, frozen at tracing": (NUMPY_SHOCKS, "AssertionError"),
                          "not jitted": (NOT_JITTED_PATH, "should be jitted")},
        "jax_intro-ex7": {"values read now": ("h_compiles = (True, False, True, True, True, False)\n"
                                              "h_values = (7.0, 100.0, 108.0, 109.0, 106.0, 106.0)", "AssertionError"),
                          "new values recompile": ("h_compiles = (True, True, True, True, True, True)\n"
                                                   "h_values = (7.0, 1.0, 108.0, 109.0, 106.0, 7.0)",
                                                       "AssertionError")},
    },
    "lectures/vectorized": {
        "vectorized-ex1": {"a serial loop": (SERIAL_ARGMAX, "no loop runs in parallel")},
        "vectorized-ex3": {"racing makes it slow": ("naive_answer = 'A'", "AssertionError"),
                           "the last thread wins": ("naive_answer = 'C'", "AssertionError")},
        "vectorized-ex4": {"a row at a time saves memory": ("rows_plan_less = True", "AssertionError")},
    },
    "lectures/sequential": {
        "sequential-ex3": {"faster cores": ("gpu_prediction = ('B', 1)", "AssertionError"),
                           "the GPU always wins": ("gpu_prediction = ('C', 2)", "AssertionError")},
    },
    "lectures/scaling": {
        "scaling-ex1": {"one array short": ("per_point = {r['n']: r['memory_bytes'] / r['n']**2 for r in records "
                                            "if r['name'] == 'NumPy meshgrid'}\n"
                                            "arrays_at_largest = round(per_point[max(per_point)] / 8) - 1",
                                                "AssertionError")},
        "scaling-ex2": {"exponents swapped": (SWAPPED, "AssertionError"),
                        "every implementation's records": (EVERY_NAME, "AssertionError")},
    },
    "lectures/beyond_one_device": {
        "beyond-ex3": {"P() splits too": ("whole_on_every_device = {'xs': False, 'ys': False}", "AssertionError")},
    },
}

# Run in the lecture's own Python: prints one JSON line, {label or label/case: message or ""}.
HARNESS = r'''
import contextlib, io, json, sys
from pathlib import Path
from booktools import grading
assert Path(grading.__file__).resolve().is_relative_to(Path.cwd().resolve()), f"not the zip's: {grading.__file__}"
doc, wrong = sys.argv[1], json.loads(sys.argv[2])
students = grading.student_names(doc)
namespace, problems = grading.trusted_namespace(doc)
assert not problems, problems
checks = {q.label: q.check for q in grading.questions(doc)}
# What the site's answers read of the lecture that the checks do not (scaling's answers read
# the sweep's records; its checks measure what they need): a student's notebook holds it.
import builtins
answers, known = grading.solution_code(doc).values(), {*namespace, *dir(builtins)}
read = {"__name__": "__lecture__"}         # apart: it adds names, it changes none the checks read
for source in grading.lecture_part_read(doc, answers, known):
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, f"<{doc}: what the answers read>", "exec"), read)
namespace.update({name: read[name] for name in grading.names_answers_read(answers, known) if name in read})

def verdict(env, check):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(check, "<check>", "exec"), env)
    except BaseException as error:
        return f"{type(error).__name__}: {error}"[:300] or "failed"
    return ""

env, found, keys = dict(namespace), {}, {}
for label, code in grading.solution_code(doc).items():
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"<solution {label}>", "exec"), env)
    found[label] = verdict(dict(env), checks[label])
    # The site's recorded answers the check reads (tuples, lists, dicts: predictions), as
    # Python prints them (the static rule, tests/test_lecture_sources.py, covers the rest).
    keys[label] = [repr(env[name]) for name in students[label] if isinstance(env.get(name), (tuple, list, dict))]
found["answer keys"] = keys
for label, cases in wrong.items():
    for case, code in cases.items():
        answer = dict(env)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"<{case}>", "exec"), answer)
        found[f"{label}/{case}"] = verdict(answer, checks[label]) or "PASSED"
# Variants: {label/case: [values ({name: value}), answer]}: the answer runs, and the check
# after it, with those values in place of the site's (as the student's notebook and the
# grader have them).
from booktools.variants import python_value
for case, (values, code) in json.loads(sys.argv[3]).items():
    answer = {**env, **{name: python_value(v) for name, v in values.items()}}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, f"<{case}>", "exec"), answer)
    found[case] = verdict(answer, checks[case.split("/")[0]]) or "PASSED"
print(json.dumps(found))
'''


def alternatives(variant):
    """Every combination of a variant's values, as {name: value} (the site's first)."""
    names = list(variant.alternatives)
    return [dict(zip(names, combination)) for combination in itertools.product(*variant.alternatives.values())]


def variant_cases(doc):
    """{label/own k or label/site's k: [values, answer]}: for each exercise with a variant,
    an answer to each combination of its values, and the site's answer to the others."""
    solutions, cases = grading.solution_code(doc), {}
    for label, variant in variants.variants(doc).items():
        if label not in VARIANT_ANSWERS:
            continue                        # the variant test below fails, naming it
        for k, values in enumerate(alternatives(variant)):
            cases[f"{label}/own {k}"] = [values, variant_answer(label, values)]
            if k:
                cases[f"{label}/site's {k}"] = [values, solutions[label]]
    return cases


def harness(doc, assignments):
    """HARNESS run for lecture `doc`, with its wrong answers and its variants' cases (the
    lecture's trusted names are computed once for both tests below). It runs
    where the zip's run_autograder runs the grader, and with its settings: in the zip's
    grader/ folder, from its files (`submissions.unpacked_grader`)."""
    wrong = {label: {case: code for case, (code, _) in cases.items()} for label, cases in WRONG.get(doc, {}).items()}
    with tempfile.TemporaryDirectory() as folder:
        grader, env = unpacked_grader(assignments / f"{Path(doc).name}-autograder.zip", folder)
        run = subprocess.run([sys.executable, "-c", HARNESS, doc, json.dumps(wrong), json.dumps(variant_cases(doc))],
                             cwd=grader, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


# Run first: jax_intro's timing stand-ins sleep about 15 s in all, and numba compiles longest;
# two lectures run at a time, so that the others are checked beside them.
FIRST = ["lectures/jax_intro", "lectures/numba"]


@pytest.fixture(scope="module")
def harnesses(assignments):
    """{doc: what HARNESS found, or the error it failed with}, for every lecture the tests
    below read, two at a time, each in a Python of its own: what both tests read."""
    docs = dict.fromkeys([*FIRST, *WRONG, *(d for d in lectures() if variants.variants(d))])
    return two_at_a_time(harness, {doc: (doc, assignments) for doc in docs})


@pytest.mark.parametrize("doc", list(WRONG), ids=lambda d: d.split("/")[-1])
def test_each_check_passes_the_sites_answer_and_fails_a_wrong_one(doc, harnesses):
    found = outcome(harnesses, doc)
    for q in grading.questions(doc):
        assert found[q.label] == "", f"{q.label}: the site's own answer fails its check: {found[q.label]}"
    for label, cases in WRONG[doc].items():
        for case, (_, message) in cases.items():
            verdict = found[f"{label}/{case}"]
            if message is None:             # a right answer, written another way
                assert verdict == "PASSED", f"{label}: the check fails the right answer '{case}': {verdict}"
                continue
            assert verdict != "PASSED", f"{label}: the check passes the wrong answer '{case}'"
            assert message in verdict, f"{label} '{case}': failed, but not as expected: {verdict}"
            # A failure tells the student what is wrong, never the answer itself.
            told = [key for key in found["answer keys"][label] if key in verdict]
            assert not told, f"{label} '{case}': the failure gives the answer away: {verdict}"


@pytest.mark.parametrize("doc", [d for d in lectures() if variants.variants(d)], ids=lambda d: d.split("/")[-1])
def test_every_variant_passes_its_own_answer_and_most_fail_the_sites(doc, harnesses):
    """For each exercise with a variant, each of its values: an answer to those values
    passes the check run with them, and the site's answer (to the site's values) fails
    at least half of the other values: the published key does not answer them."""
    for label in variants.variants(doc):
        assert label in VARIANT_ANSWERS, f"{label}: tests/submissions.py needs an answer for any of its values"
    found = outcome(harnesses, doc)
    for label, variant in variants.variants(doc).items():
        combinations = alternatives(variant)
        for k, values in enumerate(combinations):
            assert found[f"{label}/own {k}"] == "PASSED", f"{label} with {values}: a right answer fails: " \
                                                          f"{found[f'{label}/own {k}']}"
        failing = sum(found[f"{label}/site's {k}"] != "PASSED" for k in range(1, len(combinations)))
        assert failing >= (len(combinations) - 1) / 2, f"{label}: the site's answer passes " \
            f"{len(combinations) - 1 - failing} of its {len(combinations) - 1} other variants"


def test_every_new_kind_of_exercise_has_wrong_answers_shown_failing():
    """The exercises that assess a method or a prediction (issue: exercises that assess the
    skills) all appear above, with at least one wrong answer each."""
    assessed = {label for cases in WRONG.values() for label in cases}
    for doc in WRONG:
        for q in grading.questions(doc):
            if "assert_numba_compiled" in q.check or "assert_vectorized" in q.check or ".lower(" in q.check:
                assert q.label in assessed, q.label
