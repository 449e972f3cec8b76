"""`make bench`: how each implementation's cost grows, read against reference kernels.

    cd lectures && python -m booktools.bench [--quick] [--out DIR]    # `make bench`

Runs every implementation in lectures/benchmarks.py over a range of sizes (max of f:
10 to 4000 points per side; logistic map: 10^4 to 10^8 steps; JAX's scan only as far
as a probe says one call fits in a few seconds), best of 7 warm calls, and writes
DIR/bench.json (machine, reference kernels, every measurement with its dtype and
device) and DIR/scaling.png, then prints a summary table and the crossover points,
each between implementations of the same precision. --quick: small sizes, for tests.

It runs from lectures/, where `python -m` finds the lecture helpers it imports
(benchmarks, lecture_tools), as a notebook beside them does.
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import benchmarks as bm  # noqa: E402  (a lecture helper: run from lectures/)
from booktools.layout import BUILD  # noqa: E402
from lecture_tools import probe_exponent  # noqa: E402

FULL = {"max_sizes": [10, 30, 100, 300, 1000, 2000, 4000],
        "logistic_lengths": [10**4, 10**5, 10**6, 10**7, 10**8], "repeat": 7}
QUICK = {"max_sizes": [10, 100, 300], "logistic_lengths": [10**4, 10**5], "repeat": 3}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (for tests)")
    parser.add_argument("--out", default=str(BUILD / "bench"))
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    machine = bm.describe_machine()
    reference = bm.reference_kernels()
    probe = bm.scan_probe()
    plan["scan_probe"] = probe
    plan["scan_limit"] = bm.scan_steps_limit(max(plan["logistic_lengths"]), probe)
    records = bm.sweep(plan["max_sizes"], plan["logistic_lengths"], plan["scan_limit"],
                       plan["repeat"])
    for r in records:
        r["reference_s"] = bm.reference_seconds(r, reference)
        r["x_reference"] = bm.x_reference(r, reference)
    # Float64 JAX against float64 NumPy: crossovers compare like with like.
    results = {"machine": machine, "reference": reference, "plan": plan, "records": records,
               "crossovers": {
                   "parallel_beats_serial_numba_from_n": bm.crossover(records, "Numba parallel", "Numba serial"),
                   "jax_float64_beats_numpy_from_n": bm.crossover(records, "JAX broadcast float64", "NumPy meshgrid"),
                   "jax_float64_calls_to_repay_compile_vs_numpy": bm.calls_to_repay_compile(
                       records, "JAX broadcast float64", "NumPy meshgrid", max(plan["max_sizes"])),
               }}
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    bm.plot_scaling(records, reference, out / "scaling.png")

    print(f"machine: {machine['cpu']}, {machine['physical_cores']} physical cores "
          f"({machine['logical_cores']} hardware threads), Numba {machine['numba']} "
          f"({machine['numba_threads']} threads), JAX {machine['jax']} on {machine['jax_backend']} "
          f"({machine['jax_device']}), NumPy {machine['numpy']}")
    print(f"reference kernels (CPU, float64): one core copies {reference['copy_Bps'] / 1e9:.1f} GB/s, "
          f"scalar cos+div {reference['scalar_cos_div_s'] * 1e9:.2f} ns/element/core, "
          f"logistic step latency {reference['step_latency_s'] * 1e9:.2f} ns")
    print(f"JAX scan probe {probe}: growth exponent {probe_exponent(probe)}, "
          f"scan run up to {plan['scan_limit']:,} steps")
    print(bm.summary_table(records, reference))
    for key, value in results["crossovers"].items():
        print(f"{key}: {value}")
    print(f"wrote {out / 'bench.json'} and {out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
