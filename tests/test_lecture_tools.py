"""The helpers every lecture uses to time, format and compare measurements."""
import sys
import time

import numpy as np
import pytest

import lecture_tools as lt


def test_time_call_reports_the_first_call_separately_from_the_best_warm_call():
    calls = []

    def slow_first_time():
        time.sleep(0.5 if not calls else 0.1)    # like a JIT compile on the first call
        calls.append(1)
        return 42

    timing = lt.time_call(slow_first_time, repeat=3)
    assert len(calls) == 4 and len(timing.runs) == 3
    lt.assert_took(timing.first, 0.5)
    lt.assert_took(timing.best, 0.1)             # the slow first call is not in the best
    assert timing.best == min(timing.runs)
    assert timing.compile_estimate == pytest.approx(timing.first - timing.best)


def test_time_call_waits_for_jax_results(monkeypatch):
    import jax  # noqa: F401  (time_call waits through jax.block_until_ready)

    class Pending:                     # like a JAX array: returned at once, ready 0.3 s later
        def block_until_ready(self):
            time.sleep(0.3)
            return self

    # time_call waits on the results that hold JAX arrays; let it take Pending for one.
    monkeypatch.setattr(lt, "jax_arrays_in", lambda result: [result] if isinstance(result, Pending) else [])
    timing = lt.time_call(Pending, repeat=2)
    lt.assert_took(timing.first, 0.3)
    lt.assert_took(timing.best, 0.3)


def test_time_call_waits_only_on_results_that_hold_jax_arrays(monkeypatch):
    import jax
    import jax.numpy as jnp

    waited = []
    real = jax.block_until_ready
    monkeypatch.setattr(jax, "block_until_ready", lambda x: waited.append(x) or real(x))
    floats = [0.5] * 100_000          # waiting on each of these would cost more than the call
    lt.time_call(lambda: floats, repeat=3)
    lt.time_call(lambda: np.ones(3), repeat=3)
    assert waited == []
    pair = (jnp.ones(3), 2.0)
    lt.time_call(lambda: pair, repeat=3)
    assert len(waited) == 3 and all(w is pair for w in waited)
    assert lt.jax_arrays_in(pair)[0] is pair[0] and lt.jax_arrays_in(floats) == []


def test_time_call_charges_every_call_for_freeing_its_result():
    class SlowToFree:                  # like a large array: freeing it takes time
        def __del__(self):
            time.sleep(0.1)

    timing = lt.time_call(SlowToFree, repeat=3)
    lt.assert_took(timing.first, 0.1)
    lt.assert_took(timing.best, 0.1)
    assert not timing.compiled


def test_time_call_rejects_zero_repeats_and_runs_one():
    with pytest.raises(ValueError, match="repeat"):
        lt.time_call(lambda: None, repeat=0)
    calls = []
    timing = lt.time_call(calls.append, 7, repeat=1)
    assert calls == [7, 7] and len(timing.runs) == 1
    assert len(lt.time_call(lambda: None).runs) == 5                   # the default
    calls.clear()
    lt.time_call(lambda x, y=0: calls.append(x + y), 1, y=2, repeat=2)
    assert calls == [3, 3, 3]                                            # keywords every time


def test_time_call_passes_keywords_to_a_jax_function_and_prints_nothing(capsys):
    import jax.numpy as jnp
    calls = []

    def scaled(x, factor=1.0):
        calls.append(factor)
        return jnp.asarray(x) * factor
    lt.time_call(scaled, 2.0, factor=3.0, repeat=2)
    assert calls == [3.0, 3.0, 3.0]
    assert capsys.readouterr().out == ""


def test_a_timing_computes_what_it_timed_once_more_with_the_same_arguments():
    calls = []

    def scaled(x, factor=1.0):
        calls.append((x, factor))
        return x * factor
    timing = lt.time_call(scaled, 2.0, factor=3.0, repeat=1)
    assert timing.result() == 6.0
    assert calls == [(2.0, 3.0)] * 3                                     # first, warm, and once more


def test_compiled_bytes_adds_arguments_output_and_temporaries():
    import jax
    import jax.numpy as jnp
    x = jnp.ones(1000, dtype=jnp.float32)                       # 4,000 bytes
    # Arguments and output are known exactly; temporaries, if any, are a few bytes here.
    one_in = lt.compiled_bytes(jax.jit(lambda x: x + 1), x)
    two_in = lt.compiled_bytes(jax.jit(lambda x, y: x + y), x, x)
    assert 8_000 <= one_in < 8_512 and 12_000 <= two_in < 12_512
    assert 4_004 <= lt.compiled_bytes(jax.jit(jnp.sum), x) < 4_512           # in + a scalar


def test_peak_allocation_leaves_a_running_trace_running():
    import tracemalloc
    tracemalloc.start()
    try:
        held = np.ones(1_000_000)                       # 8 MB traced before the call
        peak = lt.peak_allocation(lambda n=0: np.ones(100_000 + n), n=25_000)
        assert 1_000_000 <= peak < 1_500_000 and held.size      # only the call's 1 MB
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()
    lt.peak_allocation(lambda: None)
    assert not tracemalloc.is_tracing()


@pytest.mark.parametrize("seconds, text", [(2.3456, "2.35 s"), (0.0094, "9.4 ms"),
                                           (8.12e-4, "812 µs"), (6.5e-9, "6.5 ns"),
                                           (1.0, "1 s"), (1e-3, "1 ms"), (1e-6, "1 µs"),
                                           (1e-9, "1 ns"), (4e-10, "0.4 ns")])
def test_fmt_seconds_picks_a_readable_unit(seconds, text):
    assert lt.fmt_seconds(seconds) == text


@pytest.mark.parametrize("nbytes, text", [(16_000_000, "16 MB"), (4000, "4 kB"),
                                          (2.5e9, "2.5 GB"), (12, "12 bytes"), (1e9, "1 GB"),
                                          (1e6, "1 MB"), (1000, "1 kB"), (999, "999 bytes")])
def test_fmt_bytes_uses_decimal_units(nbytes, text):
    assert lt.fmt_bytes(nbytes) == text


@pytest.mark.parametrize("compare, what, alike, smaller, larger", [
    (lt.compare_speed, "times", "about as fast as", "faster than", "slower than"),
    (lt.compare_size, "sizes", "the same as", "less than", "more than"),
])
def test_comparison_words_follow_the_numbers(compare, what, alike, smaller, larger):
    assert compare(1.0, 3.0) == f"3.0 times {smaller}"
    assert compare(2.0, 1.0) == f"2.0 times {larger}"
    assert compare(1.05, 1.0) == alike
    assert compare(1.2, 1.0, tolerance=0.3) == alike
    # The default tolerance is 10%; its edge counts as alike.
    assert compare(1.0, 1.15) == f"1.1 times {smaller}"
    assert compare(1.0, 0.85) == f"1.2 times {larger}"
    assert compare(2.0, 3.0, tolerance=0.5) == alike
    assert compare(2.0, 3.0, tolerance=0.49) == f"1.5 times {smaller}"
    assert compare(1.0, 1.0, tolerance=0) == alike                       # no tolerance at all
    assert compare(1.0, 1.01, tolerance=0) == f"1.0 times {smaller}"
    # From ten times on, a whole number: "490.3 times" claims a precision no timing has.
    assert compare(1.0, 9.94) == f"9.9 times {smaller}"
    assert compare(1.0, 490.3) == f"about 490 times {smaller}"
    assert compare(1234.0, 1.0) == f"about 1,234 times {larger}"
    for new, old in [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0), (1.0, -1.0)]:
        with pytest.raises(ValueError, match=f"^{what} must be positive"):
            compare(new, old)
    with pytest.raises(ValueError, match="tolerance"):
        compare(1.0, 2.0, tolerance=-0.1)


def test_peak_allocation_sees_numpy_temporaries():
    x = np.ones(1_000_000)                      # 8 MB
    peak = lt.peak_allocation(lambda: (x + 1) * 2)
    assert 8_000_000 <= peak < 40_000_000
    assert lt.peak_allocation(lambda: None) < 100_000


def test_glue_hands_the_value_to_myst_nb_without_displaying_it(monkeypatch):
    import myst_nb
    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.append((name, value, display)))
    assert lt.glue("name", 3.5) == 3.5
    assert lt.glue_md("phrase", "2.0 times faster than") == "2.0 times faster than"
    assert glued[0] == ("name", 3.5, False)
    name, markdown, display = glued[1]
    assert (name, markdown.data, display) == ("phrase", "2.0 times faster than", False)
    assert type(markdown).__name__ == "Markdown"


def test_glue_without_myst_nb_returns_the_value_without_failing(monkeypatch):
    monkeypatch.setitem(sys.modules, "myst_nb", None)       # as in Colab: not installed
    assert lt.glue("name", 3.5) == 3.5
    assert lt.glue_md("phrase", "2.0 times faster than") == "2.0 times faster than"


def test_timing_prints_first_call_and_best_warm_call():
    timing = lt.Timing(first=0.5, best=0.0021, runs=[0.003, 0.0021, 0.0025], compiled=True)
    assert str(timing) == ("first call 500 ms (includes compilation); "
                           "best of 3 warm calls 2.1 ms")
    assert lt.Timing(first=0.001, best=0.002, runs=[0.002]).compile_estimate == 0.0


def test_a_timing_is_printed_with_what_it_timed_read_from_the_record():
    """A named function by its name; a lambda by its own expression, also where several
    lambdas share a line or one spans two lines: a timing printed beside another's words
    shows whose it is."""
    a = np.arange(5)

    def doubled(x):
        return 2 * x

    pairs = [("first", lambda: np.cos(a)), ("second", lambda: a @ a)]
    timings = [lt.time_call(doubled, a, repeat=1)] + [lt.time_call(fn, repeat=1) for _, fn in pairs]
    timings.append(lt.time_call(lambda: [x * 2.0 + 1.0
                                         for x in a], repeat=1))
    assert [t.label for t in timings] == ["doubled", "np.cos(a)", "a @ a", "[x * 2.0 + 1.0 for x in a]"]
    assert str(timings[1]).startswith("np.cos(a): first call ") and "best of 1 warm calls" in str(timings[1])
    assert lt.Timing(first=1, best=1, runs=[1]).label is None


def test_the_blas_thread_count_is_the_largest_blas_pool_and_none_without_one(monkeypatch):
    import threadpoolctl

    pools = [{"user_api": "blas", "num_threads": 2}, {"user_api": "openmp", "num_threads": 16},
             {"user_api": "blas", "num_threads": 8}, {"user_api": "blas", "num_threads": 4}]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: pools)
    assert lt.blas_thread_count() == 8            # fake measurement: the pools above
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: pools[1:2])
    assert lt.blas_thread_count() is None


def test_only_a_first_call_that_compiles_is_said_to_include_compilation():
    import jax
    import numba

    def plain(x):
        return x + 1
    for fn, compiles in ((plain, False), (lambda x: x, False), (numba.jit(plain), True),
                         (jax.jit(plain), True)):
        assert lt.is_compiled(fn) is compiles
        timing = lt.time_call(fn, 1.0, repeat=1)
        assert timing.compiled is compiles and ("compilation" in str(timing)) is compiles
        again = lt.time_call(fn, 1.0, repeat=1)             # compiled already, for a float
        assert not again.compiled and "compilation" not in str(again)
    fresh = numba.jit(plain)
    assert lt.time_call(fresh, 1, repeat=1).compiled and lt.time_call(fresh, 1.0, repeat=1).compiled


def test_minor_faults_is_what_the_process_count_grew_by_during_the_call(monkeypatch):
    import resource
    import types
    counts = iter([100, 142])          # the process's count before and after the call
    monkeypatch.setattr(resource, "getrusage", lambda who: types.SimpleNamespace(ru_minflt=next(counts)))
    calls = []
    assert lt.minor_faults(calls.append, 7) == 42                       # fake measurement: a made-up count
    assert calls == [7]


def test_minor_faults_is_none_where_the_system_does_not_count_them(monkeypatch):
    monkeypatch.setitem(sys.modules, "resource", None)                  # as on Windows
    assert lt.minor_faults(lambda: None) is None


def test_probe_exponent_reads_the_slope_between_the_two_largest_sizes():
    assert lt.probe_exponent([(10, 5.0), (1_000, 1e-3), (100, 1e-5)]) == 2.0
    assert lt.probe_exponent([(2_000, 3e-5), (20_000, 3e-4)]) == 1.0
    for bad in ([(10, 1.0), (10, 2.0)], [(10, 0.0), (100, 1.0)], [(10, 1.0), (100, 0.0)]):
        with pytest.raises(ValueError, match="two sizes"):
            lt.probe_exponent(bad)
    assert lt.probe_exponent([(10, 1.0), (100, 31.0)]) == 1.49         # log10(31) = 1.4914


def test_affordable_length_runs_everything_when_the_cost_is_linear():
    # jaxlib 0.10 on a CPU: a scan step costs about 10 ns whatever the length.
    probe = [(2_000, 2e-5), (20_000, 2e-4)]
    assert lt.affordable_length(probe, 10_000_000, budget_s=1.0) == 10_000_000
    # A probe flattened by fixed costs (slope below 1) is not extrapolated below linear.
    flat = [(2_000, 1e-4), (20_000, 1.2e-4)]
    assert lt.affordable_length(flat, 10**9, budget_s=1.0) == 100_000_000


def test_affordable_length_shortens_a_run_whose_cost_grows_quadratically():
    # jaxlib >= 0.11.1 on a CPU (jax-ml/jax#40101): each step rewrites the whole output.
    probe = [(2_000, 4e-3), (20_000, 0.4)]
    n = lt.affordable_length(probe, 10_000_000, budget_s=1.0)
    assert n == 20_000                                   # 0.4 s * (n / 20,000)**2 <= 1 s
    assert lt.affordable_length(probe, 10_000_000, budget_s=0.01) == 2_000
    assert lt.affordable_length(probe, 10_000_000, budget_s=1e-9) == 1
    assert lt.affordable_length(probe, 10_000_000, budget_s=1e-12) == 1  # nothing fits: one step


@pytest.mark.parametrize("wanted, budget_s, n", [(1000, 5e-6, 5), (1000, 2.5e-5, 20), (1000, 6e-4, 500),
                                                 (1000, 1.0, 1000), (1000, 1.5e-7, 1), (600, 5.5e-4, 500)])
def test_affordable_length_tries_one_two_and_five_times_each_power_of_ten(wanted, budget_s, n):
    probe = [(1_000, 1e-3), (10_000, 1e-2)]                               # 1 microsecond a step
    assert lt.affordable_length(probe, wanted, budget_s) == n             # never a fraction of a step


def test_the_examples_in_the_helpers_docstrings_hold():
    import doctest
    result = doctest.testmod(lt)
    assert result.attempted >= 8 and result.failed == 0


def test_fmt_power_of_ten_writes_tex_that_renders_as_math():
    assert lt.fmt_power_of_ten(1.49e-9) == "$1.5 \\times 10^{-9}$"
    assert lt.fmt_power_of_ten(6.0e23, digits=0) == "$6 \\times 10^{23}$"


LOOP_HLO = """\
%body.3 (arg: (s64[], f64[], f64[11])) -> (s64[], f64[], f64[11]) {
  %arg = (s64[], f64[], f64[11]{0}) parameter(0)
  %one = s64[] constant(1)
  %x = f64[] get-tuple-element(%arg), index=1
  %copy.1 = f64[] copy(%x)
  %step_fusion = f64[] fusion(%copy.1), kind=kLoop, calls=%fused
  %b = f64[1]{0} bitcast(%step_fusion)
  ROOT %tuple.5 = (s64[], f64[], f64[11]{0}) tuple(%one, %step_fusion, %arg)
}

%cond.4 (arg.2: (s64[], f64[], f64[11])) -> pred[] {
  %arg.2 = (s64[], f64[], f64[11]{0}) parameter(0)
  ROOT %wrapped_compare = pred[] fusion(%arg.2), kind=kLoop, calls=%cmp
}

ENTRY %main (x: f64[]) -> f64[11] {
  %w = (s64[], f64[], f64[11]{0}) while(%t), condition=%cond.4, body=%body.3, backend_config={}
}
"""


def test_loop_operations_lists_the_work_of_each_step_without_bookkeeping():
    assert lt.loop_operations(LOOP_HLO) == {"body": ["copy.1", "step_fusion"], "condition": ["wrapped_compare"]}
    with pytest.raises(ValueError, match="no while loop"):
        lt.loop_operations(LOOP_HLO.replace(" while(", " call("))
    with pytest.raises(ValueError, match="no computation"):
        lt.loop_operations(LOOP_HLO.replace("%body.3 (", "%other (", 1))


def test_loop_operations_reads_a_real_scan():
    import jax
    from jax import lax
    scan = jax.jit(lambda x0: lax.scan(lambda x, _: (4 * x * (1 - x), x), x0, length=100)[1])
    ops = lt.loop_operations(scan.lower(0.1).compile().as_text())
    assert ops["body"] and ops["condition"] and any("fusion" in op for op in ops["body"])


def test_assert_took_accepts_a_stand_ins_delay_and_rejects_a_clock_stopped_early_or_late():
    lt.assert_took(0.1, 0.1)
    lt.assert_took(0.49, 0.1)
    with pytest.raises(AssertionError, match="before the work was done"):
        lt.assert_took(0.05, 0.1)
    with pytest.raises(AssertionError, match="more than one call"):
        lt.assert_took(0.5, 0.1)


def test_assert_took_refuses_delays_a_machine_could_blur():
    with pytest.raises(ValueError, match="at least 0.1"):
        lt.assert_took(0.01, 0.01)


def test_count_line_events_counts_python_lines_not_compiled_work():
    def loop(x):
        total = 0.0
        for value in x:
            total += value
        return total

    def whole(x):
        return np.sum(x)

    assert lt.count_line_events(loop, list(range(100))) >= 200
    assert lt.count_line_events(whole, np.ones(10)) == lt.count_line_events(whole, np.ones(100_000))
    before = sys.gettrace()
    lt.count_line_events(whole, np.ones(3))
    assert sys.gettrace() is before                  # a debugger's or coverage's tracer is kept


def test_assert_vectorized_fails_a_loop_over_the_elements_and_passes_whole_array_code():
    lt.assert_vectorized(lambda x: np.cumsum(x ** 2), lambda n: (np.ones(n),))
    lt.assert_vectorized(lambda x, c: sum(ci * x ** k for k, ci in enumerate(c)),   # a loop over c only
                         lambda n: (np.ones(n), [1.0, 2.0, 3.0]))
    with pytest.raises(AssertionError, match="loops over the elements in Python"):
        lt.assert_vectorized(lambda x: [v * 2 for v in x], lambda n: (np.ones(n),))
    with pytest.raises(AssertionError, match="loops over the elements in Python"):
        lt.assert_vectorized(np.vectorize(lambda v: v * 2), lambda n: (np.ones(n),), sizes=(100, 3_000))


def test_a_parallel_loop_is_a_prange_the_function_wrote_not_a_numpy_call_numba_parallelized():
    numba = pytest.importorskip("numba")

    def per_row(loop):                         # one maximum per row, then the maximum of those
        def rows(grid):
            n = len(grid)
            row_max = np.empty(n)
            for i in loop(n):
                m = -np.inf
                for j in range(n):
                    m = max(m, np.cos(grid[i] ** 2 + grid[j] ** 2))
                row_max[i] = m
            return row_max.max()               # under parallel=True, itself on Numba's threads
        return rows

    grid = np.linspace(-1.0, 1.0, 11)
    by_threads = numba.jit(parallel=True)(per_row(numba.prange))
    serial_rows = numba.jit(parallel=True)(per_row(range))
    not_parallel = numba.jit(per_row(numba.prange))
    for fn in (by_threads, serial_rows, not_parallel):
        assert fn(grid) == 1.0
    assert "do_scheduling" in serial_rows.inspect_llvm(serial_rows.signatures[0])   # what the IR alone saw
    lt.assert_numba_compiled(by_threads, parallel=True)
    assert lt.runs_prange_loop(by_threads)
    for fn in (serial_rows, not_parallel):
        assert not lt.runs_prange_loop(fn)
        with pytest.raises(AssertionError, match="no loop runs in parallel"):
            lt.assert_numba_compiled(fn, parallel=True)
        lt.assert_numba_compiled(fn)                                 # compiled, all the same
    assert lt.threads_used(lt.time_call(serial_rows, grid, repeat=1)) == 1
    assert lt.threads_used(lt.time_call(by_threads, grid, repeat=1)) == numba.config.NUMBA_NUM_THREADS
    with pytest.raises(AssertionError, match="not a Numba function"):
        lt.assert_numba_compiled(per_row(range), parallel=True)


def test_machine_summary_names_the_cpu_and_only_the_libraries_the_lecture_imported(monkeypatch):
    import os
    import platform

    import jax
    import numba
    cpu = f"CPU: {platform.machine()}, {os.cpu_count()} logical cores"
    jax_line = (f"JAX {jax.__version__}: default backend {jax.default_backend()!r}, "
                f"device {jax.devices()[0].device_kind}")
    assert lt.machine_summary() == f"{cpu}; Numba uses {numba.get_num_threads()} threads\n{jax_line}"
    monkeypatch.delitem(sys.modules, "numba")                # jax_intro imports no Numba
    assert lt.machine_summary() == f"{cpu}\n{jax_line}"
    monkeypatch.delitem(sys.modules, "jax")
    assert lt.machine_summary() == cpu


def test_a_comparison_records_how_far_it_was_from_other_words_when_asked(tmp_path, monkeypatch):
    import json
    lt.compare_speed(1.0, 2.0)                                          # not asked: nothing written
    margins = tmp_path / "margins.jsonl"
    monkeypatch.setenv("LECTURE_MARGINS", str(margins))
    words = lt.compare_speed(1.0, 2.0)
    lt.compare_size(1.05e6, 1e6)
    first, second = [json.loads(line) for line in margins.read_text().splitlines()]
    assert first["words"] == words == "2.0 times faster than" and first["line"] == "words = lt.compare_speed(1.0, 2.0)"
    assert first["margin"] == pytest.approx(2.0 / 1.1)
    assert second["words"] == "the same as" and second["margin"] == pytest.approx(1e6 / 1.05e6 / 0.9)


def test_a_timing_carries_what_was_timed_read_from_the_call():
    import jax.numpy as jnp

    def halve(x):
        return x / 2

    timing = lt.time_call(halve, np.ones(3, dtype=np.float32), repeat=1)
    assert (timing.name, timing.precision, timing.device) == ("halve", "float32", "cpu")
    timing = lt.time_call(halve, jnp.ones(3), repeat=1)
    assert (timing.precision, timing.device) == ("float32", jnp.ones(1).devices().pop().platform)
    assert lt.time_call(lambda: [0.5, 1.5], repeat=1).precision == "float64"      # Python floats
    assert lt.time_call(lambda: None, repeat=1).precision is None


def test_compare_timed_refuses_a_run_in_another_precision_than_the_text_says():
    def f64():
        return np.zeros(3)

    def f32():
        return np.zeros(3, dtype=np.float32)

    a, b = lt.time_call(f64, repeat=1), lt.time_call(f32, repeat=1)
    assert lt.compare_timed(a, a, "float64") == "about as fast as"
    assert lt.compare_timed(b, a, ("float32", "float64")) == lt.compare_speed(b.best, a.best)
    with pytest.raises(ValueError, match="f32 computed in float32, where the text says float64"):
        lt.compare_timed(b, a, "float64")
