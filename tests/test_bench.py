"""`make bench` (booktools/bench.py), run at small sizes: it measures every implementation,
agrees with itself, compares only like with like, writes its JSON and plot, and prints
the table and crossovers."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

import benchmarks as bm
import lecture_tools
from booktools.book import ROOT


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory):
    """`make bench --quick`, run in this process (so that `make mutation` reaches it)."""
    import contextlib
    import io

    from booktools import bench
    out = tmp_path_factory.mktemp("bench")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert bench.main(["--quick", "--out", str(out)]) == 0
    return out, printed.getvalue(), json.loads((out / "bench.json").read_text())


def test_make_bench_runs_as_a_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "booktools.bench", "--help"], cwd=ROOT / "lectures",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--quick" in result.stdout


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
        assert math.isfinite(r["best_s"]) and math.isfinite(r["first_s"]) and r["memory_bytes"] > 0
        assert r["dtype"] in ("float32", "float64") and r["device"] in ("cpu", "gpu", "tpu")


def test_derived_fields_follow_from_the_raw_measurements(quick_bench):
    _, _, data = quick_bench
    ref, records = data["reference"], data["records"]
    cores = {"NumPy meshgrid": 1, "NumPy broadcast": 1, "Numba serial": 1,
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
    ([5, 1, 2], None),        # a tie at 30 is not a win
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
    assert bm.calls_to_repay_compile(records[::-1], "jit", "numpy", 100) == 4   # in any order
    records[1]["best_s"] = 0.1                                    # saves nothing: never repaid
    assert bm.calls_to_repay_compile(records, "jit", "numpy", 100) is None
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
             "points": 10**6, "best_s": 0.02, "first_s": 0.5, "warm_first": False, "memory_bytes": 10**6}
            for name, dtype, device in [("Numba serial", "float64", "cpu"),
                                        ("JAX broadcast float32", "float32", "cpu"),
                                        ("JAX broadcast float64", "float64", "gpu")]]
    lines = bm.summary_table(rows, reference).splitlines()
    assert lines[0].split() == ["problem", "implementation", "dtype", "device", "n", "best", "first",
                                "call", "memory", "x", "ref"]
    assert lines[1].split()[-1] == "2.0"            # 0.02 s against 10^6 * 10 ns on one core
    rows[0]["best_s"] = 0.02456
    assert bm.summary_table(rows, reference).splitlines()[1].split()[-1] == "2.5"
    assert lines[2].split()[-1] == "-" and lines[3].split()[-1] == "-"
    assert " 500 ms " in lines[1]                       # the first call, which compiled
    rows[0]["warm_first"] = True                       # compiled at an earlier size: no first call
    assert " 500 ms " not in bm.summary_table(rows, reference).splitlines()[1]


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
        assert r["x_reference"] is None or math.isfinite(r["x_reference"])
    float32_rows = [line for line in stdout.splitlines() if " float32 " in line]
    assert float32_rows and all(line.split()[-1] == "-" for line in float32_rows)
    # Both precisions of JAX are measured, so a reader can compare each with its own kind.
    assert {r["dtype"] for r in data["records"] if r["name"].startswith("JAX")} == {"float32", "float64"}


def test_reference_seconds_refuse_another_precision_or_device():
    reference = {"dtype": "float64", "device": "cpu", "scalar_cos_div_s": 1e-8, "physical_cores": 4,
                 "numba_threads": 8, "step_latency_s": 1e-9, "copy_Bps": 1e10}
    # Numba's threads are capped by its setting, JAX's by the cores.
    few_threads = {**reference, "numba_threads": 2}
    assert bm.cores_used("Numba parallel", few_threads) == 2
    assert bm.cores_used("JAX broadcast float64", few_threads) == 4
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
    assert data["machine"]["physical_cores"] == bm.physical_cores()
    reference = data["reference"]
    assert all(math.isfinite(reference[key]) for key in ("copy_Bps", "scalar_cos_div_s", "step_latency_s"))
    assert (reference["dtype"], reference["device"]) == ("float64", "cpu")
    # The copy is out of cache: at least 4 times the last-level cache, where that is known.
    assert reference["copy_bytes"] >= 4 * (reference["last_level_cache_bytes"] or 0)


def test_bench_writes_a_plot_and_prints_a_summary(quick_bench):
    out, stdout, data = quick_bench
    assert (out / "scaling.png").stat().st_size > 20_000
    assert "x ref" in stdout and "parallel_beats_serial_numba_from_n" in stdout
    assert set(data["crossovers"]) == {"parallel_beats_serial_numba_from_n",
                                       "jax_float64_beats_numpy_from_n",
                                       "jax_float64_calls_to_repay_compile_vs_numpy"}


def test_last_level_cache_is_the_largest_size_sysfs_reports(tmp_path):
    for index, size in [("index0", "48K"), ("index2", "1M"), ("index3", "32768K"), ("index4", "2G")]:
        (tmp_path / index).mkdir()
        (tmp_path / index / "size").write_text(size + "\n")
    (tmp_path / "index1").mkdir()                          # no size file: skipped
    assert bm.last_level_cache_bytes(tmp_path) == 2 * 1024**3
    (tmp_path / "index4" / "size").unlink()
    assert bm.last_level_cache_bytes(tmp_path) == 32 * 1024**2
    (tmp_path / "index3" / "size").write_text("36M\n")
    assert bm.last_level_cache_bytes(tmp_path) == 36 * 1024**2
    (tmp_path / "index9").mkdir()
    (tmp_path / "index9" / "size").write_text("40000000")  # plain bytes, the largest
    assert bm.last_level_cache_bytes(tmp_path) == 40_000_000
    assert bm.last_level_cache_bytes(tmp_path / "missing") is None


def test_physical_cores_counts_cores_not_hardware_threads(tmp_path, monkeypatch):
    import psutil
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: {True: 8, False: 4}[logical])
    assert bm.physical_cores() == 4                                   # fake measurement
    # Without psutil: Linux's topology, two threads per core listed as siblings.
    monkeypatch.setitem(sys.modules, "psutil", None)
    for cpu, siblings in enumerate(["0,3", "1,4", "2,5", "0,3", "1,4", "2,5"]):
        (tmp_path / f"cpu{cpu}" / "topology").mkdir(parents=True)
        (tmp_path / f"cpu{cpu}" / "topology" / "thread_siblings_list").write_text(siblings + "\n")
    assert bm.physical_cores(tmp_path) == 3                           # fake measurement
    monkeypatch.setattr(bm.os, "cpu_count", lambda: 6)
    assert bm.physical_cores(tmp_path / "unreadable") == 6            # fake measurement


def test_the_machine_description_names_cores_threads_versions_and_device(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: Made Up\nmodel name\t: Fake: CPU 9000 \nflags\t: a\n")
    assert bm.describe_machine(cpuinfo)["cpu"] == "Fake: CPU 9000"
    assert bm.describe_machine(tmp_path / "none")["cpu"] == (bm.platform.processor() or bm.platform.machine())
    proc = bm.Path("/proc/cpuinfo")
    if proc.exists() and "model name" in proc.read_text():
        assert bm.describe_machine()["cpu"] == bm.describe_machine(proc)["cpu"] != bm.platform.machine()
    machine = bm.describe_machine()
    assert set(machine) == {"cpu", "physical_cores", "logical_cores", "numba_threads", "python", "numpy",
                            "numba", "jax", "jax_backend", "jax_device", "time"}
    assert machine["python"] == bm.platform.python_version()
    import re
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", machine["time"])
    assert machine["physical_cores"] == bm.physical_cores() and machine["logical_cores"] == bm.os.cpu_count()
    assert machine["numba_threads"] == bm.numba.get_num_threads()
    assert (machine["numpy"], machine["numba"], machine["jax"]) == (
        bm.np.__version__, bm.numba.__version__, bm.jax.__version__)
    assert machine["jax_backend"] == bm.jax.default_backend() and machine["cpu"]
    assert machine["jax_device"] == bm.jax.devices()[0].device_kind


def test_each_implementation_runs_where_and_in_the_precision_it_says():
    assert bm.device_of("NumPy meshgrid") == "cpu" and bm.device_of("Numba serial") == "cpu"
    assert bm.device_of("JAX vmap float64") == bm.jax.default_backend()
    for name, (fn, dtype) in bm.MAX_OF_F.items():
        with bm.precision(dtype):
            grid = bm.grid_for(name, 7)
        assert grid.dtype == dtype and grid.shape == (7,) and float(grid[0]) == -3.0
        assert float(grid[-1]) == 3.0
    with bm.precision("float32"), pytest.raises(RuntimeError, match=r"^call grid_for\('JAX vmap float64'"):
        bm.grid_for("JAX vmap float64", 5)
    with bm.precision("float64"):
        assert bm.jnp.zeros(1).dtype == "float64"
    with bm.precision("float32"):
        assert bm.jnp.zeros(1).dtype == "float32"


def test_one_measurement_records_what_it_measured():
    record = bm.measure_max_of_f("NumPy meshgrid", 50, repeat=2)
    assert (record["problem"], record["name"], record["dtype"], record["device"]) == (
        "max_of_f", "NumPy meshgrid", "float64", "cpu")
    assert record["n"] == 50 and record["points"] == 2500 and math.isfinite(record["first_s"])
    assert record["result"] == bm.max_numpy(bm.np.linspace(-3, 3, 50))
    assert record["memory_bytes"] >= 2 * 2500 * 8           # at least the two meshes
    numba_record = bm.measure_max_of_f("Numba serial", 50, repeat=2)
    assert numba_record["memory_bytes"] == 50 * 8             # the grid alone
    jax_record = bm.measure_max_of_f("JAX broadcast float64", 50, repeat=2)
    with bm.precision("float64"):
        grid = bm.grid_for("JAX broadcast float64", 50)
        assert jax_record["memory_bytes"] == bm.compiled_bytes(bm.max_jax_broadcast, grid) > 50 * 8
    assert record["runs"] == 2 and bm.measure_max_of_f("Numba serial", 20)["runs"] == 5
    for name, itemsize, function in [("Numba (allocates)", 8, "qm_numba"),
                                     ("Numba (preallocated)", 8, "qm_numba_into"),
                                     ("JAX scan float32", 4, "qm_jax"), ("JAX scan float64", 8, "qm_jax")]:
        r = bm.measure_logistic(name, 1000, repeat=2)
        assert r["function"] == function
        assert (r["name"], r["n"], r["dtype"], r["runs"]) == (name, 1000, bm.LOGISTIC[name], 2)
        assert r["memory_bytes"] == 1001 * itemsize
        assert r["x1"] == pytest.approx(0.36, rel=1e-6)          # 4 * 0.1 * (1 - 0.1)
        assert r["per_step_s"] == r["best_s"] / 1000
    assert bm.measure_logistic("Numba (allocates)", 1000)["runs"] == 5


def test_broadcasting_stores_no_meshes_but_its_n_by_n_intermediates():
    mesh = bm.measure_max_of_f("NumPy meshgrid", 200, repeat=1)["memory_bytes"]
    broadcast = bm.measure_max_of_f("NumPy broadcast", 200, repeat=1)["memory_bytes"]
    n_by_n = 200 * 200 * 8
    assert 1.5 * n_by_n <= broadcast <= mesh - 1.5 * n_by_n     # no meshes, n x n temporaries


def test_a_logistic_record_counts_the_fresh_pages_its_output_took():
    # 80 MB: glibc's malloc takes it from the system on every call (one fault per 4 kB page,
    # or per 2 MB with huge pages); written into an array passed in, no page is new.
    allocating = bm.measure_logistic("Numba (allocates)", 10_000_000, repeat=1)
    preallocated = bm.measure_logistic("Numba (preallocated)", 10_000_000, repeat=1)
    assert allocating["minor_faults"] >= 80e6 / 2**21
    assert preallocated["minor_faults"] < 10


@pytest.mark.parametrize("n, exact", [
    (51, 1.0),                                     # an odd grid holds the origin: f(0, 0) = 1
    (50, np.cos(2 * (3 / 49) ** 2) / (1 + 2 * (3 / 49) ** 2)),   # nearest points: +-3/49
])
def test_every_max_of_f_implementation_finds_the_exact_maximum(n, exact):
    for name, (fn, dtype) in bm.MAX_OF_F.items():
        with bm.precision(dtype):
            result = float(fn(bm.grid_for(name, n)))
        assert result == pytest.approx(exact, abs=1e-6 if dtype == "float32" else 1e-12), name


def test_jax_implementations_report_the_device_jax_runs_on(monkeypatch):
    monkeypatch.setattr(bm.jax, "default_backend", lambda: "gpu")
    assert [bm.device_of(name) for name in ("JAX vmap float64", "JAX scan float32")] == ["gpu", "gpu"]
    assert [bm.device_of(name) for name in ("NumPy meshgrid", "Numba parallel")] == ["cpu", "cpu"]


def test_a_sweep_measures_with_the_repeats_it_is_given():
    records = bm.sweep([5], [10], scan_limit=10, repeat=2)
    assert len(records) == len(bm.MAX_OF_F) + len(bm.LOGISTIC)
    assert all(r["runs"] == 2 for r in records)
    assert all(r["runs"] == 5 for r in bm.sweep([5], [], scan_limit=0))


def test_reference_kernels_time_the_kernels_they_describe(monkeypatch):
    calls = []

    def fake_time_call(fn, *args, repeat=5):
        calls.append((fn, args, repeat))
        return lecture_tools.Timing(first=1.0, best=0.5, runs=[0.5] * repeat)
    monkeypatch.setattr(bm, "time_call", fake_time_call)
    monkeypatch.setattr(bm, "last_level_cache_bytes", lambda: None)
    reference = bm.reference_kernels()
    (copy, copy_args, r1), (cos_div, (small,), r2), (chain, chain_args, r3) = calls
    assert (r1, r2, r3) == (5, 5, 5)
    assert copy is bm.np.copyto and copy_args[1].nbytes == 200 * 10**6 == reference["copy_bytes"]
    assert reference["copy_Bps"] == 2 * 200 * 10**6 / 0.5              # read + written, per second; fake measurement
    assert cos_div is bm._cos_div and bm.np.array_equal(small, bm.np.linspace(0.0, 1.0, 100_000))
    assert reference["scalar_cos_div_s"] == 0.5 / 100_000               # fake measurement
    assert chain is bm._logistic_chain and chain_args == (0.1, 10_000_000)
    assert reference["step_latency_s"] == 0.5 / 10_000_000              # fake measurement
    bm.reference_kernels(repeat=2)
    assert [repeat for _, _, repeat in calls[3:]] == [2, 2, 2]
    probe = bm.scan_probe(sizes=(10, 20))
    assert [(fn, args[0].dtype, float(args[0]), args[1], repeat) for fn, args, repeat in calls[6:]] == [
        (bm.qm_jax, "float32", pytest.approx(0.1), 10, 3), (bm.qm_jax, "float32", pytest.approx(0.1), 20, 3)]
    assert probe == [(10, 0.5), (20, 0.5)]


def test_reference_kernels_copy_four_times_the_cache_and_report_like_for_like(monkeypatch):
    monkeypatch.setattr(bm, "last_level_cache_bytes", lambda: 60 * 10**6)
    reference = bm.reference_kernels(repeat=1)
    assert set(reference) == {"copy_Bps", "copy_bytes", "last_level_cache_bytes", "scalar_cos_div_s",
                              "step_latency_s", "physical_cores", "numba_threads", "dtype", "device"}
    assert reference["copy_bytes"] == 240 * 10**6 and reference["last_level_cache_bytes"] == 60 * 10**6
    assert (reference["dtype"], reference["device"]) == ("float64", "cpu")
    assert all(math.isfinite(reference[key]) for key in ("copy_Bps", "scalar_cos_div_s", "step_latency_s"))
    assert reference["physical_cores"] == bm.physical_cores()
    monkeypatch.setattr(bm, "last_level_cache_bytes", lambda: None)       # unknown: 200 MB
    assert bm.reference_kernels(repeat=1)["copy_bytes"] == 200 * 10**6


def test_the_scan_probe_times_two_lengths_and_the_limit_follows_it():
    probe = bm.scan_probe(sizes=(100, 1000), repeat=2)
    assert [n for n, _ in probe] == [100, 1000] and all(t > 0 for _, t in probe)
    assert bm.scan_steps_limit(5_000, probe) == 5_000       # microseconds: fits in 2 s
    assert bm.scan_steps_limit(10**8, [(100, 1.0), (1000, 10.0)]) == 200   # 10 ms a step
    assert bm.scan_steps_limit(10**8, [(1000, 5e-4), (10_000, 5e-3)]) == 2 * 10**6   # 2 s budget


def test_the_plot_has_three_panels_labelled_with_devices_and_cpu_references(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    reference = {"scalar_cos_div_s": 1e-8, "physical_cores": 3, "step_latency_s": 2e-9}
    records = []
    for k, n in enumerate((10, 100)):
        for j, name in enumerate(bm.MAX_OF_F):
            records.append({"problem": "max_of_f", "name": name, "n": n, "best_s": (j + 1) * 1e-6 * n,
                            "memory_bytes": (j + 1) * 8 * n * n,
                            "device": "gpu" if "JAX" in name else "cpu"})
        for j, name in enumerate(bm.LOGISTIC):
            records.append({"problem": "logistic", "name": name, "n": 1000 * n,
                            "per_step_s": (j + 1 + k) * 1e-9, "device": "cpu"})
    fig = bm.plot_scaling(records, reference, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000

    def drawn(ax):
        return [(line.get_label(), list(line.get_xdata()), pytest.approx(list(line.get_ydata())),
                 line.get_marker(), line.get_linestyle()) for line in ax.get_lines()]

    def shown(name):
        return name + (" (GPU)" if "JAX" in name else "")
    time_ax, memory_ax, step_ax = fig.axes
    points = [100, 10_000]
    assert drawn(time_ax) == [
        (shown(name), points, [(j + 1) * 1e-5, (j + 1) * 1e-4], "o", "-")
        for j, name in enumerate(bm.MAX_OF_F)] + [
        ("scalar float64 cos, 1 CPU core", points, [1e-6, 1e-4], "None", "--"),
        ("scalar float64 cos, 3 CPU cores", points, [1e-6 / 3, 1e-4 / 3], "None", ":")]
    assert drawn(memory_ax) == [(shown(name), points, [(j + 1) * 800, (j + 1) * 80_000], "o", "-")
                                for j, name in enumerate(bm.MAX_OF_F)]
    assert drawn(step_ax) == [(name, [10_000, 100_000], [j + 1, j + 2], "o", "-")
                              for j, name in enumerate(bm.LOGISTIC)] + [
        ("float64 step latency, CPU", [0, 1], [2.0, 2.0], "None", "--")]
    # Seconds become nanoseconds exactly (not within the default tolerance above).
    assert step_ax.get_lines()[0].get_ydata()[0] == pytest.approx(1.0, rel=1e-12)
    assert step_ax.get_lines()[-1].get_ydata()[0] == pytest.approx(2.0, rel=1e-12)
    assert step_ax.get_lines()[-1].get_color() == time_ax.get_lines()[-1].get_color() == "k"
    assert [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [
        ("max of f: time", "grid points $n^2$", "best time (s)"),
        ("max of f: memory", "grid points $n^2$", "bytes"),
        ("logistic map: cost per step", "steps", "ns per step")]
    assert all(ax.get_xscale() == ax.get_yscale() == "log" for ax in fig.axes)
    assert all(ax.get_legend() is not None for ax in fig.axes)


def test_the_python_loop_shown_beside_the_compiled_ones_computes_the_same_series():
    assert bm.qm_python(0.1, 3) == pytest.approx([0.1, 0.36, 0.9216, 0.28901376], abs=1e-15)
    assert np.array_equal(bm.qm_python(0.3, 40), bm.qm_numba(0.3, 40))
