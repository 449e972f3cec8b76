"""Grading real submissions (`make grade`): the student notebooks of `make student`, filled in
with the site's solutions and one answer written differently. Bad answers are in
tests/test_grading_bad_answers.py; the unanswered notebook is graded (0 points) in the
Colab-like run, tests/test_colab_run.py."""
import nbformat
import pytest

from booktools import grading
from booktools.book import lectures

pytestmark = [pytest.mark.needs_build, pytest.mark.slow]
LECTURES = lectures()

# One answer per lecture written differently from the site's solution (and correct).
ALTERNATIVES = {
    "lectures/numpy": ("Exercise 1.2", '''
def ecdf(data, t):
    ordered = np.sort(np.asarray(data, dtype=float))
    return np.searchsorted(ordered, np.asarray(t, dtype=float), side="right") / ordered.size
'''),
    "lectures/numba": ("Exercise 2.1", '''
@numba.jit
def pi_estimate(n):
    u = np.random.random(n)
    v = np.random.random(n)
    return 4.0 * np.count_nonzero(u * u + v * v <= 1.0) / n
'''),
    "lectures/jax_intro": ("Exercise 3.4", '''
@jax.jit
def steps_to_exceed(x0, threshold, max_steps):
    x1 = 4.0 * jnp.asarray(x0, dtype=float) * (1.0 - x0)
    state = lax.while_loop(lambda s: (s["x"] <= threshold) & (s["t"] < max_steps),
                           lambda s: {"t": s["t"] + 1, "x": 4.0 * s["x"] * (1.0 - s["x"])},
                           {"t": 1, "x": x1})
    return jnp.where(state["x"] > threshold, state["t"], max_steps)
'''),
    "lectures/numpy_vs_numba_vs_jax": ("Exercise 4.1", '''
@numba.jit(parallel=True)
def argmax_f(grid):
    n = len(grid)
    best, where = np.empty(n), np.empty(n, dtype=np.int64)
    for i in numba.prange(n):
        row = np.cos(grid[i]**2 + grid**2) / (1 + grid[i]**2 + grid**2)
        where[i] = np.argmax(row)
        best[i] = row[where[i]]
    i = np.argmax(best)
    return best[i], i, where[i]
'''),
    "lectures/beyond_one_device": ("Exercise 6.2", '''
@numba.vectorize(["float64(float64, int64)"])
def final_value(x0, T):
    x = x0
    for _ in range(T):
        x = 4.0 * x * (1 - x)
    return x

def paths_mean(x0s, T, chunk):
    blocks = da.from_array(np.asarray(x0s, dtype=float), chunks=chunk)
    return blocks.map_blocks(lambda b: final_value(b, T), dtype=float).mean().compute()
'''),
    "lectures/scaling": ("Exercise 5.2", '''
def growth_exponent(records, name):
    largest = sorted((r["n"], r["best_s"]) for r in records if r["name"] == name)[-3:]
    x = np.log([n for n, _ in largest])
    y = np.log([t for _, t in largest])
    return float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
'''),
}


def submit(tmp_path, nb, name="submission.ipynb"):
    path = tmp_path / "hand-in" / name
    path.parent.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    return path


def read(folder, doc):
    return nbformat.read(folder / f"{doc}.ipynb", as_version=4)


@pytest.mark.parametrize("doc", LECTURES)
def test_full_answers_one_written_differently_score_full_marks(doc, built_notebooks, student, tmp_path):
    answers = {exercise: "\n\n".join(code) for exercise, code in grading.solutions(read(built_notebooks, doc)).items()}
    exercise, alternative = ALTERNATIVES[doc]
    assert exercise in answers
    answers[exercise] = alternative
    result = grading.grade(submit(tmp_path, grading.answered(read(student / "notebooks", doc), answers)))
    lost = [row for row in result["questions"] if row["earned"] != row["points"]]
    assert not lost and result["total"] == result["max"] > 0, lost
    print(f"{doc}: {result['total']:g} / {result['max']:g} in {result['seconds']:g} s")
