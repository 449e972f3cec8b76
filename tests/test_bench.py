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
    expected = set(bm.planned(plan["max_sizes"], plan["logistic_lengths"], plan["scan_limit"]))
    assert {name for _, name, _ in expected} == set(bm.MAX_OF_F) | set(bm.LOGISTIC)
    assert {(r["problem"], r["name"], r["n"]) for r in records} == expected
    for r in records:
        assert 0 < r["best_s"] <= r["first_s"] * 50 and r["memory_bytes"] > 0
        assert r["dtype"] in ("float32", "float64") and r["device"] in ("cpu", "gpu", "tpu")


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
        results = {r["name"]: r["result"] for r in data["records"] if r["n"] == n and "result" in r}
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
