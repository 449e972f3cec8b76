"""`make bench` (scripts/bench.py), run at small sizes: it measures every implementation,
agrees with itself, compares only like with like, writes its JSON and plot, and prints
the table and crossovers."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "lectures"))
import benchmarks as bm  # noqa: E402


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick",
                             "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout, json.loads((out / "bench.json").read_text())


def test_bench_measures_every_implementation_at_every_size(quick_bench):
    _, _, data = quick_bench
    plan, records = data["plan"], data["records"]
    # The plan written out by hand, not by the code that made the records.
    expected = {("max_of_f", name, n) for name in bm.MAX_OF_F for n in plan["max_sizes"]}
    expected |= {("logistic", name, n) for name in ("Numba (allocates)", "Numba (preallocated)")
                 for n in plan["logistic_lengths"]}
    expected |= {("logistic", f"JAX scan {dtype}", n) for dtype in ("float32", "float64")
                 for n in plan["logistic_lengths"] if n <= plan["scan_limit"]}
    assert sorted((r["problem"], r["name"], r["n"]) for r in records) == sorted(expected)
    assert plan["scan_limit"] == bm.scan_steps_limit(max(plan["logistic_lengths"]), plan["scan_probe"])
    for r in records:
        assert 0 < r["best_s"] <= r["first_s"] * 50 and r["memory_bytes"] > 0
        assert r["dtype"] in ("float32", "float64") and r["device"] in ("cpu", "gpu", "tpu")


def test_derived_fields_follow_from_the_raw_measurements(quick_bench):
    _, _, data = quick_bench
    ref, records = data["reference"], data["records"]
    cores = {"NumPy meshgrid": 1, "Numba serial": 1,
             "Numba parallel": min(ref["numba_threads"], ref["physical_cores"])}
    for r in records:
        if r["dtype"] != "float64" or r["device"] != "cpu":
            assert r["reference_s"] is None and r["x_reference"] is None
            continue
        if r["problem"] == "max_of_f":
            expected = r["points"] * ref["scalar_cos_div_s"] / cores.get(r["name"], ref["physical_cores"])
        else:
            expected = max(r["n"] * ref["step_latency_s"], r["memory_bytes"] / ref["copy_Bps"])
            assert r["per_step_s"] == pytest.approx(r["best_s"] / r["n"])
        assert r["reference_s"] == pytest.approx(expected)
        assert r["x_reference"] == pytest.approx(r["best_s"] / expected)
    # Crossovers, recomputed from the records by a second reading.
    def best(name, n):
        return next(r["best_s"] for r in records if r["name"] == name and r["n"] == n)
    sizes = sorted(data["plan"]["max_sizes"])
    def first_n_winning_from_there_on(fast, slow):
        return next((n for i, n in enumerate(sizes)
                     if all(best(fast, m) < best(slow, m) for m in sizes[i:])), None)
    crossovers = data["crossovers"]
    assert crossovers["parallel_beats_serial_numba_from_n"] == first_n_winning_from_there_on(
        "Numba parallel", "Numba serial")
    assert crossovers["jax_float64_beats_numpy_from_n"] == first_n_winning_from_there_on(
        "JAX broadcast float64", "NumPy meshgrid")


def test_every_max_of_f_record_carries_its_result(quick_bench):
    _, _, data = quick_bench
    assert all(isinstance(r.get("result"), float) for r in data["records"] if r["problem"] == "max_of_f")


def made_up(name, times, problem="max_of_f", first=None):
    return [{"problem": problem, "name": name, "n": n, "best_s": t,
             "first_s": t if first is None else first} for n, t in times]


@pytest.mark.parametrize("fast_times, answer", [
    ([5, 1, 1], 20),          # loses at 10, wins from 20 on
    ([1, 5, 1], 30),          # wins at 10, loses at 20: only "from 30 on" holds
    ([1, 1, 1], 10),
    ([5, 5, 5], None),
    ([1, 1, 5], None),        # loses at the largest size: no crossover
])
def test_crossover_is_the_first_size_from_which_the_faster_one_always_wins(fast_times, answer):
    # fast_times are at sizes 10, 20, 30; the records come in another order.
    records = made_up("fast", [(30, fast_times[2]), (10, fast_times[0]), (20, fast_times[1])])
    records += made_up("slow", [(20, 2), (10, 2), (30, 2)])
    assert bm.crossover(records, "fast", "slow") == answer


def test_calls_to_repay_compile_counts_whole_calls():
    records = (made_up("jit", [(100, 0.1)], first=1.0)          # 0.9 s of compilation
               + made_up("numpy", [(100, 0.4)]))                # each call saves 0.3 s
    assert bm.calls_to_repay_compile(records, "jit", "numpy", 100) == 3
    records[1]["best_s"] = 0.35                                   # saves 0.25 s: 3.6 -> 4 calls
    assert bm.calls_to_repay_compile(records, "jit", "numpy", 100) == 4
    assert bm.calls_to_repay_compile(records, "numpy", "jit", 100) is None     # never faster
    no_compile = made_up("jit", [(100, 0.1)]) + made_up("numpy", [(100, 0.4)])
    assert bm.calls_to_repay_compile(no_compile, "jit", "numpy", 100) == 1


def test_logistic_reference_is_the_chain_or_the_write_whichever_is_longer():
    reference = {"dtype": "float64", "device": "cpu", "step_latency_s": 2e-9, "copy_Bps": 1e10,
                 "scalar_cos_div_s": 1e-8, "physical_cores": 4, "numba_threads": 4}
    record = {"problem": "logistic", "name": "Numba (preallocated)", "dtype": "float64",
              "device": "cpu", "n": 10**6, "memory_bytes": 8 * 10**6, "best_s": 4e-3}
    assert bm.reference_seconds(record, reference) == pytest.approx(2e-3)      # latency
    assert bm.x_reference(record, reference) == pytest.approx(2.0)
    reference["copy_Bps"] = 1e9                                                 # slow memory
    assert bm.reference_seconds(record, reference) == pytest.approx(8e-3)


def test_summary_table_shows_a_ratio_only_where_it_is_like_for_like():
    reference = {"dtype": "float64", "device": "cpu", "scalar_cos_div_s": 1e-8, "physical_cores": 2,
                 "numba_threads": 2, "step_latency_s": 1e-9, "copy_Bps": 1e10}
    rows = [{"problem": "max_of_f", "name": name, "dtype": dtype, "device": device, "n": 1000,
             "points": 10**6, "best_s": 0.02, "first_s": 0.5, "memory_bytes": 10**6}
            for name, dtype, device in [("Numba serial", "float64", "cpu"),
                                        ("JAX broadcast float32", "float32", "cpu"),
                                        ("JAX broadcast float64", "float64", "gpu")]]
    lines = bm.summary_table(rows, reference).splitlines()
    assert lines[1].split()[-1] == "2.0"            # 0.02 s against 10^6 * 10 ns on one core
    assert lines[2].split()[-1] == "-" and lines[3].split()[-1] == "-"


def test_planned_leaves_out_only_scans_longer_than_the_limit():
    plan = bm.planned([10, 20], [100, 1000], scan_limit=500)
    assert len([p for p in plan if p[0] == "max_of_f"]) == 2 * len(bm.MAX_OF_F)
    assert [(name, n) for _, name, n in plan if _ == "logistic"] == [
        ("Numba (allocates)", 100), ("Numba (preallocated)", 100), ("JAX scan float32", 100),
        ("JAX scan float64", 100), ("Numba (allocates)", 1000), ("Numba (preallocated)", 1000)]


def test_only_float64_cpu_measurements_are_set_against_the_float64_cpu_reference(quick_bench):
    _, stdout, data = quick_bench
    for r in data["records"]:
        like_for_like = r["dtype"] == "float64" and r["device"] == "cpu"
        assert (r["x_reference"] is not None) == like_for_like, r
        assert r["x_reference"] is None or r["x_reference"] > 0
    float32_rows = [line for line in stdout.splitlines() if " float32 " in line]
    assert float32_rows and all(line.split()[-1] == "-" for line in float32_rows)
    # Both precisions of JAX are measured, so a reader can compare each with its own kind.
    assert {r["dtype"] for r in data["records"] if r["name"].startswith("JAX")} == {"float32", "float64"}


def test_reference_seconds_refuse_another_precision_or_device():
    reference = {"dtype": "float64", "device": "cpu", "scalar_cos_div_s": 1e-8, "physical_cores": 4,
                 "numba_threads": 8, "step_latency_s": 1e-9, "copy_Bps": 1e10}
    record = {"problem": "max_of_f", "name": "Numba parallel", "dtype": "float64", "device": "cpu",
              "points": 10**6, "best_s": 0.01}
    # 10^6 points at 10 ns each, spread over 4 physical cores (not 8 hardware threads).
    assert bm.reference_seconds(record, reference) == pytest.approx(10**6 * 1e-8 / 4)
    assert bm.reference_seconds({**record, "name": "Numba serial"}, reference) == pytest.approx(1e-2)
    assert bm.reference_seconds({**record, "dtype": "float32"}, reference) is None
    assert bm.reference_seconds({**record, "device": "gpu"}, reference) is None
    assert bm.x_reference({**record, "device": "gpu"}, reference) is None


def test_scan_limit_follows_the_probe_on_an_affected_and_an_unaffected_jax():
    linear = [(2_000, 2e-5), (20_000, 2e-4)]              # jaxlib 0.10: about 10 ns a step
    quadratic = [(2_000, 4e-3), (20_000, 0.4)]            # jaxlib >= 0.11.1 on CPU (jax#40101)
    assert bm.scan_steps_limit(10**8, linear) == 10**8
    limit = bm.scan_steps_limit(10**8, quadratic)
    assert 20_000 <= limit <= 50_000                      # 0.4 s * (n / 20,000)**2 <= 2 s
    plan = bm.planned([10], [10**4, 10**5, 10**8], limit)
    assert [n for _, name, n in plan if name.startswith("JAX scan")] == [10**4, 10**4]


def test_every_max_of_f_implementation_agrees_with_numpy(quick_bench):
    _, _, data = quick_bench
    for n in data["plan"]["max_sizes"]:
        results = {r["name"]: r["result"] for r in data["records"]
                   if r["n"] == n and r["problem"] == "max_of_f"}
        assert set(results) == set(bm.MAX_OF_F)
        assert max(results.values()) - min(results.values()) < 1e-6, (n, results)


def test_bench_describes_the_machine_and_its_reference_kernels(quick_bench):
    _, _, data = quick_bench
    assert {"cpu", "physical_cores", "logical_cores", "numpy", "numba", "jax",
            "jax_backend"} <= set(data["machine"])
    assert 1 <= data["machine"]["physical_cores"] <= data["machine"]["logical_cores"]
    reference = data["reference"]
    assert reference["copy_Bps"] > 1e8 and reference["scalar_cos_div_s"] > 0
    assert reference["step_latency_s"] > 0 and (reference["dtype"], reference["device"]) == ("float64", "cpu")
    # The copy is out of cache: at least 4 times the last-level cache, where that is known.
    assert reference["copy_bytes"] >= 4 * (reference["last_level_cache_bytes"] or 0)


def test_bench_writes_a_plot_and_prints_a_summary(quick_bench):
    out, stdout, data = quick_bench
    assert (out / "scaling.png").stat().st_size > 20_000
    assert "x ref" in stdout and "parallel_beats_serial_numba_from_n" in stdout
    assert set(data["crossovers"]) == {"parallel_beats_serial_numba_from_n",
                                       "jax_float64_beats_numpy_from_n",
                                       "jax_float64_calls_to_repay_compile_vs_numpy"}
