"""Mutation testing of the lectures' code cells (booktools/lecture_mutation.py): the operators
plant the bugs they say, only visible cells are mutated, a mutant runs only the cells it can
affect, a hidden check kills, the report fails on unexplained survivors, and a second run
resumes the first. The last tests run the two broadcasting mutants of the vectorized lecture
that once survived."""
import ast
import json
import re
import textwrap

import jupytext
import pytest
from toy_lectures import toy_lecture

from booktools import lecture_mutation as lm

CELL = textwrap.dedent("""\
    def compute(grid):
        return np.max(f(grid[:, None], grid[None, :]))
    f_vec = jax.vmap(g, in_axes=(None, 0))
    for i in prange(n):
        total += x[i] ** 2
    y = jnp.sin(x).block_until_ready()
    if a < b and c == 1:
        z = -a
    print(a + 1, f"{b - 1}")
    t = time_call(compute, grid, repeat=3)
    ax.plot(x, y + 1)
    """)


def changes(code):
    return {(before, after) for _, before, after, _ in lm.cell_sites(code)}


def test_the_operators_plant_the_bugs_the_issue_lists():
    found = changes(CELL)
    for expected in [
        ("grid[:, None]", "grid[None, :]"), ("grid[None, :]", "grid[:, None]"),          # index order
        ("f(grid[:, None], grid[None, :])", "f(grid[None, :], grid[:, None])"),          # arguments
        ("np.max(f(grid[:, None], grid[None, :]))", "np.min(f(grid[:, None], grid[None, :]))"),
        ("jax.vmap(g, in_axes=(None, 0))", "jax.vmap(g, in_axes=(0, None))"),            # in_axes
        ("prange(n)", "prange(n - 1)"),                                                  # loop bound
        ("total += x[i] ** 2", "total -= x[i] ** 2"), ("x[i] ** 2", "x[i] * 2"),        # arithmetic
        ("jnp.sin(x).block_until_ready()", "jnp.sin(x)"),                               # no waiting
        ("a < b", "a <= b"), ("c == 1", "c != 1"), ("a < b and c == 1", "a < b or c == 1"),
        ("1", "2"), ("-a", "a"),
    ]:
        assert expected in found, expected


def test_what_is_printed_is_mutated_but_not_a_figures_drawing_or_a_timings_repeats():
    """A printed value states a result (a solution's output is checked like any other), so
    print's arguments and f-strings are mutated; a figure's drawing is read by the built pages'
    tests, and only its labels are mutated; one more repeat of a timing runs the same code."""
    found = changes(CELL)
    assert {("a + 1", "a - 1"), ("b - 1", "b + 1")} <= found
    assert not {("3", "4"), ("y + 1", "y - 1")} & found


NEW_KINDS = textwrap.dedent("""\
    @numba.jit(parallel=True)
    def total(x):
        s = 0.0
        for i in numba.prange(len(x)):
            s += x[i]
        return s
    key, subkey = jax.random.split(key)
    draws = jax.random.normal(subkey, (3,))
    t_jax = time_call(total, grid)
    t_jax64 = time_call(total, grid64)
    words = compare_speed(t_jax64.best, t_numpy.best)
    z = np.ones(3, dtype=np.float32).astype("float64")
    m = jnp.max(a, axis=1)
    f_vec = jax.vmap(f, in_axes=(None, 0))
    d = x - y
    if n < 10:
        n = 2.5
    for k, label in enumerate(["Numba", "JAX"]):
        ax.plot(x, y, label="Numba curve")
        ax.plot(y, x, label="JAX curve")
    """)


@pytest.mark.parametrize("kind, before, after", [
    ("name swapped", "subkey", "key"),
    ("name swapped", "t_jax64", "t_jax"),
    ("statement deleted", "s += x[i]", "pass"),
    ("statement deleted", "key, subkey = jax.random.split(key)", "pass"),
    ("decorator dropped", "@numba.jit(parallel=True)", None),
    ("prange to range", "numba.prange(len(x))", "range(len(x))"),
    ("dtype", "np.ones(3, dtype=np.float32)", "np.ones(3, dtype=np.float64)"),
    ("dtype", "np.ones(3, dtype=np.float32).astype('float64')", "np.ones(3, dtype=np.float32).astype('float32')"),
    ("axis", "jnp.max(a, axis=1)", "jnp.max(a, axis=0)"),
    ("in_axes", "jax.vmap(f, in_axes=(None, 0))", "jax.vmap(f, in_axes=(0, 0))"),
    ("operands swapped", "x - y", "y - x"),
    ("argument dropped", "jnp.max(a, axis=1)", "jnp.max(a)"),
    ("argument dropped", "time_call(total, grid)", "time_call(total)"),
    ("timing attribute", "t_jax64.best", "t_jax64.first"),
    ("comparison direction", "n < 10", "n > 10"),
    ("number scaled", "10", "100"),
    ("number zeroed", "2.5", "0.0"),
    ("number negated", "2.5", "-2.5"),
    ("strings reversed", "['Numba', 'JAX']", "['JAX', 'Numba']"),
    ("label swapped", "ax.plot(x, y, label='Numba curve')", "ax.plot(x, y, label='JAX curve')"),
])
def test_each_kind_of_bug_the_issue_lists_is_planted(kind, before, after):
    known = {"key", "grid", "grid64", "t_numpy", "a", "f", "x", "y", "n", "ax", "time_call", "compare_speed"}
    sites = lm.cell_sites(NEW_KINDS, known=known, modules={"np", "jnp", "jax", "numba"})
    planted = [(b, a) for _, b, a, operator in sites if operator == kind]
    assert planted, kind
    if after is None:                               # a decorator's removal rewrites the whole def
        assert any(before in b and before not in a for b, a in planted), planted
    else:
        assert (before, after) in planted, planted


def test_a_name_is_swapped_only_for_a_name_of_its_kind_and_never_for_a_module():
    sites = lm.cell_sites("y = np.sum(grid) + offset", known={"grid_jax", "offset", "np", "total"},
                          modules={"np"})
    swaps = {(b, a) for _, b, a, operator in sites if operator == "name swapped"}
    assert swaps == {("grid", "grid_jax")}


def test_a_name_is_swapped_only_for_one_a_visible_cell_bound_not_a_hidden_checks_stand_in():
    from nbformat.v4 import new_code_cell
    cells = list(enumerate([
        new_code_cell("import numpy as np\ntotal = np.sum"),
        new_code_cell("real_total, total_of = total, []", metadata={"tags": ["remove-cell"]}),
        new_code_cell("y = total(np.ones(3))"),
    ]))
    known, modules = lm.scopes(cells)[2]
    assert "total" in known and not {"real_total", "total_of"} & known and "np" in modules
    sites = lm.cell_sites("y = total(np.ones(3))", known=known, modules=modules)
    assert not [a for _, b, a, operator in sites if operator == "name swapped" and a in {"real_total", "total_of"}]


def test_each_mutant_changes_its_one_place_and_still_parses():
    original = ast.dump(ast.parse(CELL))
    sites = lm.cell_sites(CELL)
    codes = set()
    for index, (_, before, after, _) in enumerate(sites):
        code, applied = lm.mutate_cell(CELL, index)
        assert applied[1:3] == (before, after)
        assert ast.dump(ast.parse(code)) != original
        assert after in code
        codes.add(code)
    assert len(codes) == len(sites)                # no two mutants are the same program
    with pytest.raises(IndexError):
        lm.mutate_cell(CELL, len(sites))


def test_a_change_spreads_only_to_the_cells_that_read_what_it_touched():
    codes = ["import numpy as np\nx = np.ones(3)",     # 0: before the change: always run
             "y = x + 1",                              # 1: the changed cell
             "z = np.zeros(2)\nprint(z)",              # 2: reads nothing it touched
             "def total():\n    return y.sum()",      # 3: a function reading y
             "assert total() == 6",                    # 4: reads that function
             "y = np.arange(3)\nprint(y)",             # 5: binds y afresh before reading it
             "print(y.sum())"]                         # 6: so this y is not the changed one
    assert lm.affected_cells(codes, 1) == {0, 1, 3, 4}
    # A magic's code is a string nobody here reads: it is kept, and so is all it could read.
    codes = [lm.python_source(code) for code in ["x = 1", "y = x + 1", "z = 2", "%timeit z + 1"]]
    assert lm.affected_cells(codes, 1) == {0, 1, 2, 3}
    # What a kept cell reads, a left-out cell may bind: that cell is kept too.
    codes = ["x = 1", "y = x + 1", "answer = 42", "assert y == 2 and answer == 42"]
    assert lm.affected_cells(codes, 1) == {0, 1, 2, 3}
    # ... and so is a cell that imports what a kept cell uses.
    codes = ["x = 1", "y = x + 1", "from math import sqrt", "assert sqrt(y) ** 2 == 2"]
    assert lm.affected_cells(codes, 1) == {0, 1, 2, 3}
    # A statement that calls an imported module (configuration) spreads to its readers.
    assert 2 in lm.affected_cells(["import numpy as np", "np.random.seed(1)", "z = np.zeros(2)"], 1)


def test_a_slice_runs_of_the_earlier_cells_only_those_the_kept_cells_need():
    codes = ["import numpy as np",                     # 0: imports: kept
             "x = np.ones(3)",                         # 1: binds x, which the changed cell reads
             "t = slow_timing()",                      # 2: binds only what nobody kept reads
             "np.random.seed(1)",                      # 3: configures a module: kept
             "x[0] = 5",                               # 4: changes x in place: kept
             "w = 2",                                  # 5: read by the later check only
             "shown = np.zeros(2)",                    # 6: an example nobody reads again
             "y = x + 1",                              # 7: the changed cell
             "assert (y * w).sum() == 12 * 2"]         # 8: reads y and w
    codes = [lm.python_source(code) for code in codes]
    assert lm.affected_cells(codes, 7, sliced=True) == {0, 1, 3, 4, 5, 7, 8}
    assert lm.affected_cells(codes, 7) == set(range(9))
    # A magic's code is a string: it is kept, and may read anything before it.
    codes[6] = lm.python_source("%timeit x + 1")
    assert lm.affected_cells(codes, 7, sliced=True) == set(range(9))


# Three mutants (one killed, two survivors): the run below starts a kernel for each, twice.
LECTURE = toy_lecture(textwrap.dedent("""\
    # A toy lecture

    ```{code-cell} ipython3
    def double(x):
        return x + x
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]
    assert double(3) == 6
    ```

    ```{code-cell} ipython3
    shown = len('ab') + len('cd')
    ```
    """))


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "toy.md").write_text(LECTURE, encoding="utf-8")
    return tmp_path


def test_only_visible_cells_are_mutated_and_each_mutant_names_its_line(toy):
    mutants = lm.lecture_mutants("toy", toy)
    lines = (toy / "lectures" / "toy.md").read_text(encoding="utf-8").splitlines()
    assert {m.cell for m in mutants} == {0, 2}                 # not the hidden check, cell 1
    for m in mutants:
        assert m.before in lines[m.line - 1], m
        assert lm.MUTANT_ID.fullmatch(m.id)
    assert len({m.id for m in mutants}) == len(mutants)
    assert ("x + x", "x - x") in {(m.before, m.after) for m in mutants}


@pytest.mark.slow
def test_a_hidden_check_kills_a_survivor_is_reported_and_a_second_run_resumes(toy, tmp_path):
    results = lm.Results(tmp_path / "out" / "lectures.jsonl", root=toy)
    everything = lm.run(["toy"], results, jobs=2, log=lambda line: None, root=toy)
    status = {(m.before, m.after): results.records[m.key]["status"] for m in everything["toy"]}
    assert status[("x + x", "x - x")] == "killed"             # the hidden check fails on it
    assert status[("len('ab') + len('cd')", "len('ab') - len('cd')")] == "survived"   # nothing checks `shown`
    lines, ok = lm.report(everything, results, {}, root=toy)
    text = "\n".join(lines)
    assert not ok and "NOT EXPLAINED" in text and "lectures/toy.md:25 (Cell 2)" in text
    survivors = [m.id for m in everything["toy"] if results.records[m.key]["status"] == "survived"]
    lines, ok = lm.report(everything, results, {i: "equivalent" for i in survivors}, root=toy)
    assert ok, lines
    # Run again: nothing is run (the file of results does not grow), the verdicts are kept.
    size = len((tmp_path / "out" / "lectures.jsonl").read_text().splitlines())
    lm.run(["toy"], lm.Results(tmp_path / "out" / "lectures.jsonl", root=toy), log=lambda line: None, root=toy)
    assert len((tmp_path / "out" / "lectures.jsonl").read_text().splitlines()) == size
    # A changed check re-runs the survivors only, and reads them afresh.
    text = (toy / "lectures" / "toy.md").read_text(encoding="utf-8")
    check = "```{code-cell} ipython3\n:tags: [remove-cell]\nassert shown == 4\n```\n"
    (toy / "lectures" / "toy.md").write_text(text + "\n" + check, encoding="utf-8")
    results = lm.Results(tmp_path / "out" / "lectures.jsonl", root=toy)
    everything = lm.run(["toy"], results, log=lambda line: None, root=toy)
    rerun = [json.loads(line) for line in (tmp_path / "out" / "lectures.jsonl").read_text().splitlines()[size:]]
    assert {r.get("id") for r in rerun if "id" in r} == set(survivors)
    assert lm.report(everything, results, {}, root=toy)[1]       # the new check killed them all
    # Compacted: one line per mutant, the unmutated run of the lecture as it is now, and of
    # the slices run for it (cell 2's: only its survivors ran again).
    results.compact(everything)
    lines = (tmp_path / "out" / "lectures.jsonl").read_text().splitlines()
    assert len(lines) == len(everything["toy"]) + 1 + 1
    assert sum('"toy-slice-2-' in line for line in lines) == 1


IN_PLACE = toy_lecture(textwrap.dedent("""\
    # A function that changes its argument in place

    ```{code-cell} ipython3
    def fill(a):
        a[0] = 1
    data = [0, 0]
    ```

    ```{code-cell} ipython3
    fill(data)
    ```

    ```{code-cell} ipython3
    :tags: [remove-cell]
    assert data == [1, 0]
    ```
    """))


@pytest.mark.slow
def test_a_mutant_that_survives_its_slice_is_run_in_the_whole_lecture(tmp_path):
    """No name says that `fill(data)` changes `data`, so the check is not in the deleted
    call's slice, where the mutant passes; the whole lecture, run next, kills it."""
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "toy.md").write_text(IN_PLACE, encoding="utf-8")
    deleted = next(m for m in lm.lecture_mutants("toy", tmp_path) if m.cell == 1)
    assert deleted.after == "pass" and 2 not in lm.kept_cells(deleted, tmp_path, sliced=True)
    results = lm.Results(tmp_path / "out" / "lectures.jsonl", root=tmp_path)
    lm.run(["toy"], results, only={deleted.id}, log=lambda line: None, root=tmp_path)
    assert results.records[deleted.key]["status"] == "killed"
    assert results.records[deleted.key]["detail"].startswith("Cell 2")


def test_a_mutant_in_a_slice_waits_out_three_times_its_slices_time_not_the_whole_lectures(tmp_path,
                                                                                          monkeypatch):
    """A mutant that hangs is stopped at three times its slice's unmutated run and a minute;
    one run whole (after surviving its slice) gets the whole lecture's limit."""
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "toy.md").write_text(IN_PLACE, encoding="utf-8")
    limits = []
    seconds = iter([100.0, 5.0, 7.0, 9.0])    # the lecture, unmutated; the slice; the mutant in it; whole

    def fake_run(notebook, name, timeout, **kwargs):
        limits.append(timeout)
        return "passed", "", next(seconds)

    monkeypatch.setattr(lm, "run_notebook", fake_run)
    results = lm.Results(tmp_path / "out" / "lectures.jsonl", root=tmp_path)
    first = next(m for m in lm.lecture_mutants("toy", tmp_path) if m.cell == 0)
    lm.run(["toy"], results, jobs=1, only={first.id}, log=lambda line: None, root=tmp_path)
    # 360 s a mutant (3 x 100 + 60); in its slice of 5 s, 75 s; the survivor run whole, 360 s.
    assert limits == [1800, 360, 75, 360], limits
    assert results.records[first.key]["status"] == "survived"


def test_a_kill_by_a_librarys_own_timeout_is_run_again_and_the_second_run_decides(tmp_path, monkeypatch):
    """Dask's cluster, started on a loaded machine, raises a TimeoutError that no mutant
    caused: the mutant runs once more."""
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "toy.md").write_text(IN_PLACE, encoding="utf-8")
    runs = iter([("passed", "", 100.0), ("passed", "", 5.0), ("killed", "Cell 3: TimeoutError: ", 9.0),
                 ("passed", "", 5.0), ("passed", "", 9.0)])     # unmutated; slice; mutant twice; whole

    monkeypatch.setattr(lm, "run_notebook", lambda notebook, name, timeout, **kwargs: next(runs))
    results = lm.Results(tmp_path / "out" / "lectures.jsonl", root=tmp_path)
    first = next(m for m in lm.lecture_mutants("toy", tmp_path) if m.cell == 0)
    lm.run(["toy"], results, jobs=1, only={first.id}, log=lambda line: None, root=tmp_path)
    assert results.records[first.key]["status"] == "survived" and next(runs, None) is None


def test_explanations_name_mutants_one_or_several_to_a_line(tmp_path):
    path = tmp_path / "survivors.md"
    path.write_text("- `numpy-0123456789`: one\n- `numpy-aaaaaaaaaa`, `vectorized-bbbbbbbbbb-2`: two\n"
                    "- `lectures.lecture_tools.x_f__mutmut_3`: mutmut's\n", encoding="utf-8")
    assert lm.explained(path) == {"numpy-0123456789": "one", "numpy-aaaaaaaaaa": "two",
                                  "vectorized-bbbbbbbbbb-2": "two"}


def test_every_explained_lecture_mutant_is_a_mutant_of_the_lectures_now():
    """A stale line (its mutant gone, or its ID mistyped) would explain nothing; every line of
    the lectures' part names mutants and gives a reason of its kind."""
    reasons = lm.explained()
    ids = {m.id for name in {i.split("-")[0] for i in reasons} for m in lm.lecture_mutants(name)}
    assert reasons and set(reasons) <= ids, sorted(set(reasons) - ids)
    text = lm.EXPLAINED.read_text(encoding="utf-8").split("## The lectures' code cells")[1]
    lines = [line for line in text.splitlines() if line.startswith("- `")]
    listed = [i for line in lines for i in re.findall(r"`([^`]+)`", line.split("`: ", 1)[0] + "`")]
    assert len(listed) == len(set(listed)) == len(reasons)          # each once, each an ID
    for line in lines:
        reason = line.split("`: ", 1)[1]
        assert reason.startswith(("equivalent", "its own example", "only a timing could tell",
                                  "only shown")), line


def test_every_kind_of_bug_planted_in_the_lectures_has_been_killed_by_their_checks():
    """Each kind of bug the mutator plants in the real lectures (the issue's list among them:
    in_axes, labels, dtypes, decorators, prange, timing attributes, ...) has at least one
    mutant that a check killed, in the recorded run (RESULTS) on the lectures' code as it is
    now: a killed mutant's key is its cell's text, so an edited cell's results do not count."""
    planted = {doc.split("/")[-1]: lm.lecture_mutants(doc.split("/")[-1]) for doc in lm.lectures()}
    kinds = {m.operator for mutants in planted.values() for m in mutants}
    keys = {m.key: m.operator for mutants in planted.values() for m in mutants}
    records = lm.Results().records.values()
    killed = {keys[r["key"]] for r in records if r.get("status") in lm.KILLED and r.get("key") in keys}
    assert {"in_axes", "label swapped", "dtype", "decorator dropped", "prange to range", "timing attribute",
            "name swapped", "statement deleted", "axis", "operands swapped", "argument dropped",
            "comparison direction", "number scaled", "number zeroed", "number negated"} <= kinds
    assert kinds <= killed, sorted(kinds - killed)


@pytest.mark.slow
@pytest.mark.parametrize("code", ["np.max(f(grid[:, None], grid[None, :]))",
                                  "jnp.max(f_jax(grid[:, None], grid[None, :]))"])
def test_broadcasting_on_the_diagonal_only_is_caught(code, tmp_path):
    """The mutant that once survived: `grid[:, None]` twice evaluates f on the diagonal, where
    this f has its maximum, so the result alone cannot tell; the hidden checks can. It runs
    the real lecture, up to the first cell that fails (nbval's `-x`), since what it proves
    is that the lecture's own checks kill a bug in the lecture's own line; its slice
    (`sliced=True`) would be the same cells, every later one reading `f`."""
    [mutant] = [m for m in lm.lecture_mutants("vectorized") if m.after == "grid[:, None]"
                and lectures_line(m).strip() == f"return {code}"]
    status, detail, _ = lm.run_notebook(lm.mutated_notebook(mutant), "vectorized", timeout=600)
    assert status == "killed", (status, detail)


def lectures_line(mutant):
    return (lm.ROOT / "lectures" / f"{mutant.lecture}.md").read_text(encoding="utf-8").splitlines()[mutant.line - 1]


def test_the_lectures_parse_and_every_lecture_with_code_has_mutants():
    for doc in lm.lectures():
        notebook = jupytext.read(lm.ROOT / f"{doc}.md")
        visible = [c for _, c in lm.code_cells(notebook) if not lm.is_hidden_check(c)]
        mutants = lm.lecture_mutants(doc.split("/")[-1])
        assert bool(visible) == bool(mutants), doc
        assert len({m.id for m in mutants}) == len(mutants), doc      # the same line in two cells
