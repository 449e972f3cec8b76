"""`make bench` (scripts/bench.py), run at small sizes: it measures every implementation,
agrees with itself, writes its JSON and plot, and prints the table and crossovers."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT


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
    sys.path.insert(0, str(ROOT / "lectures"))
    import benchmarks as bm
    expected = set(bm.planned(plan["max_sizes"], plan["logistic_lengths"]))
    assert {name for _, name, _ in expected} == set(bm.MAX_OF_F) | set(bm.LOGISTIC)
    assert {(r["problem"], r["name"], r["n"]) for r in records} == expected
    for r in records:
        assert 0 < r["best_s"] <= r["first_s"] * 50 and r["memory_bytes"] > 0 and r["x_floor"] > 0


def test_every_max_of_f_implementation_agrees_with_numpy(quick_bench):
    _, _, data = quick_bench
    for n in data["plan"]["max_sizes"]:
        results = {r["name"]: r["result"] for r in data["records"] if r["n"] == n and "result" in r}
        assert max(results.values()) - min(results.values()) < 1e-6, (n, results)


def test_bench_describes_the_machine_and_its_floor(quick_bench):
    _, _, data = quick_bench
    assert {"cpu", "logical_cores", "numpy", "numba", "jax", "jax_backend"} <= set(data["machine"])
    floor = data["floor"]
    assert floor["bandwidth_Bps"] > 1e8 and floor["cos_div_s"] > 0 and floor["step_latency_s"] > 0


def test_bench_writes_a_plot_and_prints_a_summary(quick_bench):
    out, stdout, data = quick_bench
    assert (out / "scaling.png").stat().st_size > 20_000
    assert "x floor" in stdout and "parallel_beats_serial_numba_from_n" in stdout
    assert set(data["crossovers"]) == {"parallel_beats_serial_numba_from_n", "jax_beats_numpy_from_n",
                                       "jax_calls_to_repay_compile_vs_numpy"}
