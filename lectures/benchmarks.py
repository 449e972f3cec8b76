"""The two benchmark problems, every implementation of them, and the hardware's floor.

Used by the scaling lecture (lectures/scaling.md) and by `make bench`
(scripts/bench.py), so both measure exactly the same code:

* max of f(x, y) = cos(x² + y²) / (1 + x² + y²) over an n × n grid: `MAX_OF_F`;
* the logistic map x_{t+1} = 4 x_t (1 - x_t) for n steps: `LOGISTIC`;
* `measure_max_of_f` / `measure_logistic`: time (first call and best warm call, via
  lecture_tools.time_call) and memory of one implementation at one size;
* `hardware_floor`: what the machine can do at best, measured here: memory
  bandwidth (a large array copy), one core's cost of cos + divide per element, and
  the latency of one logistic-map step (a chain of dependent multiplies).

JAX variants need 64-bit mode for the float64 logistic map: call
`jax.config.update("jax_enable_x64", True)` before importing this module.
"""
import os
import platform
import time
from functools import partial

import jax
import jax.numpy as jnp
import numba
import numpy as np

from lecture_tools import peak_allocation, time_call

# ---------------------------------------------------------------- max of f


def max_numpy(grid):
    x, y = np.meshgrid(grid, grid)
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


MAX_OF_F = {
    "NumPy meshgrid": max_numpy,
    "Numba serial": max_numba_serial,
    "Numba parallel": max_numba_parallel,
    "JAX jit (broadcast)": max_jax_broadcast,
    "JAX vmap (by row)": max_jax_vmap,
}


def grid_for(name, n):
    """The input each implementation takes: a float64 NumPy grid, or a JAX array."""
    grid = np.linspace(-3, 3, n)
    return jnp.asarray(grid, dtype=jnp.float32) if name.startswith("JAX") else grid


def memory_of(name, fn, grid):
    """Bytes one call needs: NumPy's allocations (tracemalloc), XLA's plan for JAX, and the
    input alone for Numba, whose loops allocate nothing."""
    if name.startswith("NumPy"):
        return grid.nbytes + peak_allocation(fn, grid)
    if name.startswith("JAX"):
        stats = fn.lower(grid).compile().memory_analysis()
        return (stats.argument_size_in_bytes + stats.output_size_in_bytes
                + stats.temp_size_in_bytes)
    return grid.nbytes


def measure_max_of_f(name, n, repeat=5):
    fn = MAX_OF_F[name]
    grid = grid_for(name, n)
    timing = time_call(fn, grid, repeat=repeat)
    return {"problem": "max_of_f", "name": name, "n": n, "points": n * n,
            "first_s": timing.first, "best_s": timing.best,
            "memory_bytes": memory_of(name, fn, grid), "result": float(fn(grid))}


# ---------------------------------------------------------------- logistic map


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


LOGISTIC = ["Numba (allocates)", "Numba (preallocated)", "JAX scan float32", "JAX scan float64"]


def measure_logistic(name, n, repeat=5):
    if name == "Numba (allocates)":
        timing, nbytes = time_call(qm_numba, 0.1, n, repeat=repeat), 8 * (n + 1)
    elif name == "Numba (preallocated)":
        out = np.empty(n + 1)
        timing, nbytes = time_call(qm_numba_into, out, 0.1, repeat=repeat), out.nbytes
    else:
        dtype = jnp.float32 if name.endswith("float32") else jnp.float64
        x0 = jnp.asarray(0.1, dtype=dtype)
        if x0.dtype != dtype:
            raise RuntimeError("float64 JAX needs jax.config.update('jax_enable_x64', True)")
        timing, nbytes = time_call(qm_jax, x0, n, repeat=repeat), (n + 1) * x0.dtype.itemsize
    return {"problem": "logistic", "name": name, "n": n, "first_s": timing.first,
            "best_s": timing.best, "per_step_s": timing.best / n, "memory_bytes": nbytes}


# ---------------------------------------------------------------- the hardware's floor


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


def hardware_floor(repeat=5):
    """What this machine can do at best, measured with simple kernels.

    bandwidth_Bps: bytes per second moved by copying a 200 MB array (read + write);
    cos_div_s: seconds per element for cos(v) / (1 + v) on one core (data in cache);
    step_latency_s: seconds per step of the logistic recurrence when nothing is stored:
        each step waits for the previous one, so this is a latency, not a throughput.
    """
    big = np.ones(25_000_000)
    dst = np.empty_like(big)
    copy = time_call(np.copyto, dst, big, repeat=repeat)
    small = np.linspace(0.0, 1.0, 100_000)
    cos_div = time_call(_cos_div, small, repeat=repeat)
    steps = 10_000_000
    chain = time_call(_logistic_chain, 0.1, steps, repeat=repeat)
    return {"bandwidth_Bps": 2 * big.nbytes / copy.best,
            "cos_div_s": cos_div.best / small.size,
            "step_latency_s": chain.best / steps,
            "numba_threads": numba.get_num_threads()}


def floor_seconds(record, floor):
    """The least time the hardware allows for `record`'s problem and size.

    max of f: every point needs one cos and one divide, spread over the cores the
    implementation can use (one for NumPy and serial Numba, all of them otherwise);
    logistic map: one dependent step after another (latency), or writing the output
    at full memory bandwidth, whichever takes longer (the two overlap).
    """
    if record["problem"] == "max_of_f":
        serial = record["name"] in ("NumPy meshgrid", "Numba serial")
        cores = 1 if serial else floor["numba_threads"]
        return record["points"] * floor["cos_div_s"] / cores
    return max(record["n"] * floor["step_latency_s"],
               record["memory_bytes"] / floor["bandwidth_Bps"])


def describe_machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    device = jax.devices()[0]
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "jax": jax.__version__, "jax_backend": jax.default_backend(),
            "jax_device": device.device_kind, "time": time.strftime("%Y-%m-%d %H:%M:%S")}


# ---------------------------------------------------------------- sweeps, tables, plots


def scan_steps_limit():
    """Longest logistic run for JAX's scan on the default device. On a GPU every
    sequential step is a trip round a device-side loop (microseconds), so 10^8 steps
    would take minutes per call there: such runs are left out, not waited for."""
    return 10**8 if jax.default_backend() == "cpu" else 10**5


def planned(max_sizes, logistic_lengths):
    """(problem, implementation, size) for every measurement a sweep makes."""
    plan = [("max_of_f", name, n) for n in max_sizes for name in MAX_OF_F]
    plan += [("logistic", name, n) for n in logistic_lengths for name in LOGISTIC
             if not (name.startswith("JAX") and n > scan_steps_limit())]
    return plan


def sweep(max_sizes, logistic_lengths, repeat=5):
    measure = {"max_of_f": measure_max_of_f, "logistic": measure_logistic}
    return [measure[problem](name, n, repeat)
            for problem, name, n in planned(max_sizes, logistic_lengths)]


def summary_table(records, floor):
    """One line per measurement: time, first call, memory, and distance from the floor."""
    from lecture_tools import fmt_bytes, fmt_seconds
    lines = [f"{'problem':9s} {'implementation':22s} {'n':>10s} {'best':>9s} {'first call':>10s}"
             f" {'memory':>9s} {'x floor':>8s}"]
    for r in records:
        lines.append(f"{r['problem']:9s} {r['name']:22s} {r['n']:>10,} {fmt_seconds(r['best_s']):>9s}"
                     f" {fmt_seconds(r['first_s']):>10s} {fmt_bytes(r['memory_bytes']):>9s}"
                     f" {r['best_s'] / floor_seconds(r, floor):8.1f}")
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


def plot_scaling(records, floor, path=None):
    """Three log-log panels: max-of-f time, max-of-f memory, logistic map time per step."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name in MAX_OF_F:
        n, t = series(records, "max_of_f", name)
        axes[0].loglog(np.square(n), t, "o-", label=name)
        n, mem = series(records, "max_of_f", name, "memory_bytes")
        axes[1].loglog(np.square(n), mem, "o-", label=name)
    n, _ = series(records, "max_of_f", "Numba serial")
    points = np.square(n)
    axes[0].loglog(points, points * floor["cos_div_s"], "k--", label="floor: one core")
    axes[0].loglog(points, points * floor["cos_div_s"] / floor["numba_threads"], "k:",
                   label=f"floor: {floor['numba_threads']} cores")
    axes[0].set(xlabel="grid points $n^2$", ylabel="best time (s)", title="max of f: time")
    axes[1].set(xlabel="grid points $n^2$", ylabel="bytes", title="max of f: memory")
    for name in LOGISTIC:
        n, per_step = series(records, "logistic", name, "per_step_s")
        axes[2].loglog(n, np.array(per_step) * 1e9, "o-", label=name)
    axes[2].axhline(floor["step_latency_s"] * 1e9, color="k", ls="--", label="floor: step latency")
    axes[2].set(xlabel="steps", ylabel="ns per step", title="logistic map: cost per step")
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
