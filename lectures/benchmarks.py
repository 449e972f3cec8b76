"""The two benchmark problems, every implementation of them, and reference kernels.

Used by the scaling lecture (lectures/scaling.md) and by `make bench`
(booktools/bench.py), so both measure exactly the same code:

* max of f(x, y) = cos(x² + y²) / (1 + x² + y²) over an n × n grid: `MAX_OF_F`;
* the logistic map x_{t+1} = 4 x_t (1 - x_t) for n steps: `LOGISTIC`;
* `measure_max_of_f` / `measure_logistic`: time (first call and best warm call, via
  lecture_tools.time_call), memory, precision and device of one implementation at one size;
* `reference_kernels`: simple kernels measured on the spot to read the sweep against:
  one core copying a large array, one core evaluating cos(v) / (1 + v) with scalar
  float64 code, and the latency of one float64 logistic step. They are references,
  not bounds: vectorized (SIMD) code beats the scalar cosine, and several cores copy
  faster than one. A measurement is set against them only when it is like for like:
  float64, on the CPU (`reference_seconds`).

Every implementation records its `dtype`. The float64 JAX variants switch 64-bit mode
on for their own measurement only (`jax.enable_x64`), so the module works whatever the
caller's setting.
"""
import os
import platform
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numba
import numpy as np

from lecture_tools import affordable_length, compiled_bytes, is_compiled, minor_faults, peak_allocation, time_call

# ---------------------------------------------------------------- max of f


def max_numpy(grid):
    x, y = np.meshgrid(grid, grid)
    return np.max(np.cos(x**2 + y**2) / (1 + x**2 + y**2))


def max_numpy_broadcast(grid):
    x, y = grid[:, None], grid[None, :]             # a column and a row: no meshes stored
    return np.max(np.cos(x**2 + y**2) / (1 + x**2 + y**2))


@numba.jit
def max_numba_serial(grid):
    m = -np.inf
    for x in grid:
        for y in grid:
            m = max(m, np.cos(x**2 + y**2) / (1 + x**2 + y**2))
    return m


@numba.jit(parallel=True)
def max_numba_parallel(grid):
    m = -np.inf
    for i in numba.prange(len(grid)):
        x = grid[i]
        for y in grid:
            m = max(m, np.cos(x**2 + y**2) / (1 + x**2 + y**2))
    return m


@jax.jit
def max_jax_broadcast(grid):
    r2 = grid[:, None] ** 2 + grid[None, :] ** 2      # broadcasting: no meshes stored
    return jnp.max(jnp.cos(r2) / (1 + r2))


@jax.jit
def max_jax_vmap(grid):
    row_max = jax.vmap(lambda x: jnp.max(jnp.cos(x**2 + grid**2) / (1 + x**2 + grid**2)))
    return jnp.max(row_max(grid))


# name: (function, precision it computes in)
MAX_OF_F = {
    "NumPy meshgrid": (max_numpy, "float64"),
    "NumPy broadcast": (max_numpy_broadcast, "float64"),
    "Numba serial": (max_numba_serial, "float64"),
    "Numba parallel": (max_numba_parallel, "float64"),
    "JAX broadcast float64": (max_jax_broadcast, "float64"),
    "JAX vmap float64": (max_jax_vmap, "float64"),
    "JAX broadcast float32": (max_jax_broadcast, "float32"),
}
# Cores each implementation can keep busy: one for NumPy's ufuncs and the serial loop.
SERIAL = {"NumPy meshgrid", "NumPy broadcast", "Numba serial"}


def device_of(name):
    """Where an implementation runs: JAX on its default backend, the others on the CPU."""
    return jax.default_backend() if name.startswith("JAX") else "cpu"


def precision(dtype):
    """A context in which JAX computes in `dtype`: 64-bit mode on for float64 only."""
    return jax.enable_x64(dtype == "float64")


def grid_for(name, n):
    """The input each implementation takes: a NumPy grid, or a JAX array of its dtype."""
    grid = np.linspace(-3, 3, n)
    if name.startswith("JAX"):
        grid = jnp.asarray(grid)                  # its dtype follows the precision in force
        if grid.dtype != MAX_OF_F[name][1]:
            raise RuntimeError(f"call grid_for({name!r}, ...) under precision({MAX_OF_F[name][1]!r})")
    return grid


def memory_of(name, fn, grid):
    """Bytes one call needs: NumPy's allocations (tracemalloc), XLA's plan for JAX, and the
    input alone for Numba, whose loops allocate nothing."""
    if name.startswith("NumPy"):
        return grid.nbytes + peak_allocation(fn, grid)
    if name.startswith("JAX"):
        return compiled_bytes(fn, grid)
    return grid.nbytes


def measure_max_of_f(name, n, repeat=5):
    fn, dtype = MAX_OF_F[name]
    with precision(dtype):
        grid = grid_for(name, n)
        timing = time_call(fn, grid, repeat=repeat)
        memory, result = memory_of(name, fn, grid), float(fn(grid))
    return {"problem": "max_of_f", "name": name, "dtype": dtype, "device": device_of(name),
            "n": n, "points": n * n, "first_s": timing.first, "best_s": timing.best,
            "compiled": timing.compiled, "warm_first": is_compiled(fn) and not timing.compiled,
            "runs": len(timing.runs), "memory_bytes": memory, "result": result}


# ---------------------------------------------------------------- logistic map


def qm_python(x0, n):
    x = np.empty(n + 1)                  # no vectorized form: each step needs the last
    x[0] = x0
    for t in range(n):
        x[t + 1] = 4.0 * x[t] * (1 - x[t])
    return x


@numba.jit
def qm_numba(x0, n):
    x = np.empty(n + 1)
    x[0] = x0
    for t in range(n):
        x[t + 1] = 4.0 * x[t] * (1 - x[t])
    return x


@numba.jit
def qm_numba_into(x, x0):
    x[0] = x0
    for t in range(len(x) - 1):
        x[t + 1] = 4.0 * x[t] * (1 - x[t])
    return x


@partial(jax.jit, static_argnames="n")
def qm_jax(x0, n):
    def update(x, _):
        return 4.0 * x * (1 - x), x
    return jax.lax.scan(update, x0, length=n + 1)[1]


# name: precision it computes in
LOGISTIC = {"Numba (allocates)": "float64", "Numba (preallocated)": "float64",
            "JAX scan float32": "float32", "JAX scan float64": "float64"}


def measure_logistic(name, n, repeat=5):
    """Time one logistic-map implementation for n steps; `x1`, the value after the first
    step of the run that was timed (0.36 from x0 = 0.1), shows it computed the map.
    `minor_faults`: pages the operating system handed one warm call for the first time
    (None where it does not count them); an output taken fresh from the system costs one
    per page, one that the allocator reuses none."""
    dtype = LOGISTIC[name]
    if name == "Numba (allocates)":
        call, args = qm_numba, (0.1, n)
    elif name == "Numba (preallocated)":
        call, args = qm_numba_into, (np.empty(n + 1), 0.1)
    else:
        call = qm_jax
    with precision(dtype):
        if call is qm_jax:
            args = (jnp.asarray(0.1), n)          # its dtype follows the precision in force
        timing = time_call(call, *args, repeat=repeat)
        faults = minor_faults(call, *args)
        x = call(*args)
    return {"problem": "logistic", "name": name, "function": call.__name__, "dtype": dtype,
            "device": device_of(name), "n": n, "first_s": timing.first, "best_s": timing.best,
            "compiled": timing.compiled, "warm_first": is_compiled(call) and not timing.compiled,
            "runs": len(timing.runs),
            "per_step_s": timing.best / n, "memory_bytes": x.size * x.dtype.itemsize,
            "minor_faults": faults, "x1": float(x[1])}


def scan_probe(sizes=(2_000, 20_000), repeat=3):
    """Best time of JAX's scan (float32, default device) at two lengths: how its cost grows."""
    x0 = jnp.float32(0.1)
    return [(n, time_call(qm_jax, x0, n, repeat=repeat).best) for n in sizes]


def scan_steps_limit(wanted, probe, budget_s=2.0):
    """Longest scan a sweep runs: `wanted` steps if the probe predicts that one call fits
    in `budget_s`, else the longest that does. On a GPU each step costs at least the launch
    of the loop body's kernels, driven from the host, and on the CPU jaxlib 0.11.1 and the
    releases after it, until jax-ml/jax#40101 is fixed, rewrite the whole output on every
    step: either way, longer runs are left out, not waited for."""
    return affordable_length(probe, wanted, budget_s)


# ---------------------------------------------------------------- reference kernels


@numba.jit
def _cos_div(a):
    s = 0.0
    for v in a:
        s += np.cos(v) / (1 + v)
    return s


@numba.jit
def _logistic_chain(x, n):
    for _ in range(n):
        x = 4.0 * x * (1 - x)
    return x


def physical_cores(cpu_dir=Path("/sys/devices/system/cpu")):
    """Cores, not hardware threads: two threads sharing a core share its arithmetic units."""
    try:
        import psutil
        return psutil.cpu_count(logical=False) or os.cpu_count()
    except ImportError:      # a bare Python without psutil: Linux's CPU topology, if readable
        cores = {path.read_text().strip() for path in
                 cpu_dir.glob("cpu[0-9]*/topology/thread_siblings_list")}
        return len(cores) or os.cpu_count()


def last_level_cache_bytes(cache_dir=Path("/sys/devices/system/cpu/cpu0/cache")):
    """Size of the largest CPU cache, from Linux's sysfs; None where it cannot be read."""
    sizes = []
    for index in cache_dir.glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes, default=None)


def reference_kernels(repeat=5):
    """Three simple kernels timed on this machine, to read the sweep against.

    copy_Bps: bytes read plus bytes written per second when ONE core copies an array
        (NumPy's copy is single-threaded) at least four times the last-level cache;
    scalar_cos_div_s: seconds per element for cos(v) / (1 + v) on one core, float64,
        one element at a time (data in cache; the loop calls the scalar `cos`, and its
        sum is not reordered without fastmath, so LLVM does not vectorize it);
    step_latency_s: seconds per float64 logistic step when nothing is stored: each step
        waits for the one before (4 x and 1 - x at once, then their product: two operations
        deep), so this is what one chain costs at best.
    """
    llc = last_level_cache_bytes()
    big = np.ones(int(min(max(200e6, 4 * (llc or 0)), 2e9)) // 8)
    dst = np.empty_like(big)
    copy = time_call(np.copyto, dst, big, repeat=repeat)
    copy_bytes = big.nbytes
    del big, dst
    small = np.linspace(0.0, 1.0, 100_000)
    cos_div = time_call(_cos_div, small, repeat=repeat)
    steps = 10_000_000
    chain = time_call(_logistic_chain, 0.1, steps, repeat=repeat)
    return {"copy_Bps": 2 * copy_bytes / copy.best, "copy_bytes": copy_bytes,
            "last_level_cache_bytes": llc,
            "scalar_cos_div_s": cos_div.best / small.size,
            "step_latency_s": chain.best / steps,
            "physical_cores": physical_cores(), "numba_threads": numba.get_num_threads(),
            "dtype": "float64", "device": "cpu"}


def cores_used(name, reference):
    if name in SERIAL:
        return 1
    if name.startswith("Numba"):
        return min(reference["numba_threads"], reference["physical_cores"])
    return reference["physical_cores"]


def reference_seconds(record, reference):
    """The reference kernels' time for `record`'s job, or None where the comparison would
    not be like for like (another precision, or JAX on an accelerator).

    max of f: one scalar cos and divide per point, spread over the physical cores the
    implementation can use; logistic map: one dependent step after another, or writing
    the output at one core's copy speed, whichever takes longer (the two overlap).
    """
    if record["dtype"] != reference["dtype"] or record["device"] != reference["device"]:
        return None
    if record["problem"] == "max_of_f":
        return record["points"] * reference["scalar_cos_div_s"] / cores_used(record["name"], reference)
    return max(record["n"] * reference["step_latency_s"],
               record["memory_bytes"] / reference["copy_Bps"])


def x_reference(record, reference):
    seconds = reference_seconds(record, reference)
    return None if seconds is None else record["best_s"] / seconds


def describe_machine(cpuinfo="/proc/cpuinfo"):
    """The machine and the library versions a measurement was made with."""
    cpu = platform.processor() or platform.machine()
    try:
        with open(cpuinfo) as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    device = jax.devices()[0]
    return {"cpu": cpu, "physical_cores": physical_cores(), "logical_cores": os.cpu_count(),
            "numba_threads": numba.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "jax": jax.__version__, "jax_backend": jax.default_backend(),
            "jax_device": device.device_kind, "time": time.strftime("%Y-%m-%d %H:%M:%S")}


# ---------------------------------------------------------------- sweeps, tables, plots


def planned(max_sizes, logistic_lengths, scan_limit):
    """(problem, implementation, size) for every measurement a sweep makes; JAX's scan
    only up to `scan_limit` steps (see `scan_steps_limit`)."""
    plan = [("max_of_f", name, n) for n in max_sizes for name in MAX_OF_F]
    plan += [("logistic", name, n) for n in logistic_lengths for name in LOGISTIC
             if not (name.startswith("JAX") and n > scan_limit)]
    return plan


def sweep(max_sizes, logistic_lengths, scan_limit, repeat=5):
    measure = {"max_of_f": measure_max_of_f, "logistic": measure_logistic}
    return [measure[problem](name, n, repeat)
            for problem, name, n in planned(max_sizes, logistic_lengths, scan_limit)]


def summary_table(records, reference):
    """One line per measurement: precision, device, time, first call ("-" where a compiled
    function compiled nothing: it was compiled at an earlier size), memory, and the ratio to
    the reference kernels where that is like for like ("-" where it is not)."""
    from lecture_tools import fmt_bytes, fmt_seconds
    lines = [f"{'problem':9s} {'implementation':22s} {'dtype':7s} {'device':6s} {'n':>11s}"
             f" {'best':>9s} {'first call':>10s} {'memory':>9s} {'x ref':>6s}"]
    for r in records:
        ratio = x_reference(r, reference)
        lines.append(f"{r['problem']:9s} {r['name']:22s} {r['dtype']:7s} {r['device']:6s}"
                     f" {r['n']:>11,} {fmt_seconds(r['best_s']):>9s}"
                     f" {'-' if r['warm_first'] else fmt_seconds(r['first_s']):>10s}"
                     f" {fmt_bytes(r['memory_bytes']):>9s}"
                     f" {'-' if ratio is None else format(ratio, '.1f'):>6s}")
    return "\n".join(lines)


def series(records, problem, name, key="best_s"):
    rows = sorted((r["n"], r[key]) for r in records if r["problem"] == problem and r["name"] == name)
    return [n for n, _ in rows], [v for _, v in rows]


def crossover(records, faster, slower):
    """Smallest n from which `faster` beats `slower` at every measured larger size, or None."""
    n_fast, t_fast = series(records, "max_of_f", faster)
    n_slow, t_slow = series(records, "max_of_f", slower)
    wins = [tf < ts for tf, ts in zip(t_fast, t_slow)]
    for i, n in enumerate(n_fast):
        if all(wins[i:]):
            return n
    return None


def calls_to_repay_compile(records, name, baseline, n):
    """How many calls at size n before `name` (compile included) beats `baseline` in total."""
    r = next(r for r in records if r["name"] == name and r["n"] == n)
    b = next(r for r in records if r["name"] == baseline and r["n"] == n)
    saving = b["best_s"] - r["best_s"]
    if saving <= 0:
        return None
    return max(1, int(np.ceil((r["first_s"] - r["best_s"]) / saving)))


def label(name, records):
    """Legend text: the implementation, with its device where that is not the CPU."""
    device = next(r["device"] for r in records if r["name"] == name)
    return name if device == "cpu" else f"{name} ({device.upper()})"


def plot_scaling(records, reference, path=None):
    """Three log-log panels: max-of-f time, max-of-f memory, logistic map time per step.
    Reference lines are CPU, float64 kernels, and labelled so."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))  # pragma: no mutate (appearance only)
    for name in MAX_OF_F:
        n, t = series(records, "max_of_f", name)
        axes[0].loglog(np.square(n), t, "o-", label=label(name, records))
        n, mem = series(records, "max_of_f", name, "memory_bytes")
        axes[1].loglog(np.square(n), mem, "o-", label=label(name, records))
    n, _ = series(records, "max_of_f", "Numba serial")
    points = np.square(n)
    cores = reference["physical_cores"]
    axes[0].loglog(points, points * reference["scalar_cos_div_s"], "k--",
                   label="scalar float64 cos, 1 CPU core")
    axes[0].loglog(points, points * reference["scalar_cos_div_s"] / cores, "k:",
                   label=f"scalar float64 cos, {cores} CPU cores")
    axes[0].set(xlabel="grid points $n^2$", ylabel="best time (s)", title="max of f: time")
    axes[1].set(xlabel="grid points $n^2$", ylabel="bytes", title="max of f: memory")
    for name in LOGISTIC:
        n, per_step = series(records, "logistic", name, "per_step_s")
        axes[2].loglog(n, np.array(per_step) * 1e9, "o-", label=label(name, records))
    axes[2].axhline(reference["step_latency_s"] * 1e9, color="k", ls="--",
                    label="float64 step latency, CPU")
    axes[2].set(xlabel="steps", ylabel="ns per step", title="logistic map: cost per step")
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)  # pragma: no mutate (appearance only)
        ax.legend(fontsize=8)  # pragma: no mutate (appearance only)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)  # pragma: no mutate (appearance only)
    return fig
