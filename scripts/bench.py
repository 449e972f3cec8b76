"""`make bench`: how each implementation's cost grows, against the hardware's floor.

    python scripts/bench.py [--quick] [--out DIR]

Runs every implementation in lectures/benchmarks.py over a range of sizes (max of f:
10 to 4000 points per side; logistic map: 10^4 to 10^8 steps), best of 7 warm calls,
and writes DIR/bench.json (machine, floor, every measurement) and DIR/scaling.png,
then prints a summary table and the crossover points. --quick: small sizes, for tests.
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lectures"))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)   # the float64 logistic map; other inputs set dtypes

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import benchmarks as bm  # noqa: E402

FULL = {"max_sizes": [10, 30, 100, 300, 1000, 2000, 4000],
        "logistic_lengths": [10**4, 10**5, 10**6, 10**7, 10**8], "repeat": 7}
QUICK = {"max_sizes": [10, 100, 300], "logistic_lengths": [10**4, 10**5], "repeat": 3}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (for tests)")
    parser.add_argument("--out", default=str(ROOT / "_build" / "bench"))
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    machine = bm.describe_machine()
    floor = bm.hardware_floor()
    records = bm.sweep(plan["max_sizes"], plan["logistic_lengths"], plan["repeat"])
    for r in records:
        r["floor_s"] = bm.floor_seconds(r, floor)
        r["x_floor"] = r["best_s"] / r["floor_s"]
    results = {"machine": machine, "floor": floor, "plan": plan, "records": records,
               "crossovers": {
                   "parallel_beats_serial_numba_from_n": bm.crossover(records, "Numba parallel", "Numba serial"),
                   "jax_beats_numpy_from_n": bm.crossover(records, "JAX jit (broadcast)", "NumPy meshgrid"),
                   "jax_calls_to_repay_compile_vs_numpy": bm.calls_to_repay_compile(
                       records, "JAX jit (broadcast)", "NumPy meshgrid", max(plan["max_sizes"])),
               }}
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    bm.plot_scaling(records, floor, out / "scaling.png")

    print(f"machine: {machine['cpu']}, {machine['logical_cores']} logical cores, "
          f"Numba {machine['numba']} ({machine['numba_threads']} threads), JAX {machine['jax']} "
          f"on {machine['jax_backend']} ({machine['jax_device']}), NumPy {machine['numpy']}")
    print(f"floor: memory bandwidth {floor['bandwidth_Bps'] / 1e9:.1f} GB/s, cos+div "
          f"{floor['cos_div_s'] * 1e9:.2f} ns/element/core, logistic step latency "
          f"{floor['step_latency_s'] * 1e9:.2f} ns")
    print(bm.summary_table(records, floor))
    for key, value in results["crossovers"].items():
        print(f"{key}: {value}")
    print(f"wrote {out / 'bench.json'} and {out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
