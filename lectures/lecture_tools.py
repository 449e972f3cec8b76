"""Small helpers shared by the lectures and the test suite.

Lectures import this module for jobs they would otherwise each repeat:

* honest timing: `time_call` reports the first call (which includes JIT
  compilation) separately from the best of several warm calls, and waits for
  JAX's asynchronous results before stopping the clock;
* what a compiled program does: `loop_operations` lists what XLA runs at each step of a
  loop, read from the compiled program's text;
* memory: `peak_allocation` (NumPy, via tracemalloc), `compiled_bytes` (XLA's plan),
  `minor_faults` (pages the operating system handed a call for the first time);
* the machine: `machine_summary`, the lines each lecture prints first;
* readable numbers: `fmt_seconds`, `fmt_bytes`, `fmt_power_of_ten`, `compare_speed`,
  `compare_timed` (two Timings, their precision checked against the text's), `compare_size`;
* sizing a run to the machine: `probe_exponent` and `affordable_length` turn a short
  probe at two sizes into the largest run that fits a time budget, so a library
  release whose cost grows faster than expected cannot make a lecture hang;
* glue: `glue` / `glue_md` / `glue_text_block` hand computed values to the page's prose
  through myst-nb, and do nothing harmful where myst-nb is not installed (Colab);
* how an exercise's answer works, for the hidden checks: `assert_numba_compiled` (a Numba
  function that compiled; with `parallel`, a loop Numba really runs on its threads),
  `assert_vectorized` (the Python lines a call runs do not grow with its input), and
  `assert_took`, the one way a check may compare a duration: timing code run on a
  stand-in whose delay is known.

No check here decides anything by a stopwatch: how fast a machine runs is not what a
lecture teaches, and every machine runs at its own speed (CONTRIBUTING.md, "No verdict on
a stopwatch").
"""
import ast
import linecache
import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field

import numpy as np


def jax_arrays_in(result):
    """The JAX arrays in `result` (an array, or a tuple, list or dict of them).

    Empty when the lecture has not imported JAX, or when `result` holds no JAX
    array, e.g. a NumPy array or a list of Python floats.
    """
    jax = sys.modules.get("jax")  # only touch JAX if the lecture imported it
    if jax is None:
        return []
    return [leaf for leaf in jax.tree_util.tree_leaves(result) if isinstance(leaf, jax.Array)]


def is_compiled(fn):
    """Whether `fn` is a function that JAX (`jax.jit`) or Numba (`numba.jit`) compiles on
    its first call with new argument types: a jitted function has `.lower`, a Numba
    dispatcher `.py_func`. A plain Python function (or a lambda around anything) is not."""
    return callable(getattr(fn, "lower", None)) or callable(getattr(fn, "py_func", None))


_JAX_COMPILES = []            # one entry per XLA compilation, once `_compiles` listens


def _on_jax_event(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        _JAX_COMPILES.append(duration)


def _compiles(call):
    """Run `call()`; return its result and whether JAX or Numba compiled anything during it
    (their own compilation events: jax.monitoring, numba.core.event)."""
    jax, numba = sys.modules.get("jax"), sys.modules.get("numba")
    if jax is not None and not getattr(_on_jax_event, "listening", False):
        jax.monitoring.register_event_duration_secs_listener(_on_jax_event)
        _on_jax_event.listening = True
    before = len(_JAX_COMPILES)
    if numba is None:
        return call(), len(_JAX_COMPILES) > before
    from numba.core import event
    with event.install_recorder("numba:compile") as record:
        result = call()
    return result, len(_JAX_COMPILES) > before or bool(record.buffer)


@dataclass
class Timing:
    """Wall-clock times of one function, in seconds."""

    first: float                     # first call: includes compilation, if it compiled
    best: float                      # fastest of the warm calls
    runs: list = field(repr=False)   # every warm call
    compiled: bool = False           # JAX or Numba compiled something during the first call
    call: object = field(default=None, repr=False, compare=False)   # what was timed
    fn: object = field(default=None, repr=False, compare=False)     # ... the function
    args: tuple = field(default=(), repr=False, compare=False)      # ... and its arguments
    kwargs: dict = field(default_factory=dict, repr=False, compare=False)
    precision: str = None            # the dtype of what the call returned ("float64"), read from it
    device: str = None               # where it computed: "cpu", or the JAX arrays' platform ("gpu")

    @property
    def name(self):
        """The timed function's own name (`compute_max_numba`): a label that cannot name
        another function than the one timed."""
        return getattr(self.fn, "__name__", type(self.fn).__name__)

    @property
    def label(self):
        """What was timed, read from the record: the function's name (`qm_numba`), or a
        lambda's own expression (`a * 2.0 + 1.0`). Printed with the times, so that a timing
        printed beside another's words shows whose it is."""
        if self.fn is None:
            return None
        return (_lambda_source(self.fn) or "<lambda>") if self.name == "<lambda>" else self.name

    def result(self):
        """What the timed call returns, computed once more: a hidden check's way to check
        the very code that was timed (a lambda's body, say), not a copy of it."""
        return self.call()

    @property
    def compile_estimate(self):
        """First call minus a warm call: roughly what compilation cost."""
        return max(self.first - self.best, 0.0)

    def __str__(self):
        first = f"first call {fmt_seconds(self.first)}" + (" (includes compilation)" if self.compiled else "")
        times = f"{first}; best of {len(self.runs)} warm calls {fmt_seconds(self.best)}"
        return f"{self.label}: {times}" if self.fn is not None else times


def _lambda_source(fn):
    """The expression a lambda computes, as written (`a * 2.0 + 1.0`), or None where its
    source cannot be read: read from the whole file or notebook cell that holds it (its
    lines alone may not parse). Of several lambdas there, the one whose body holds the
    first place its compiled code points at."""
    try:
        text = "".join(linecache.getlines(fn.__code__.co_filename))
        tree = ast.parse(text)
    except (AttributeError, SyntaxError, ValueError):
        return None
    spots = [(line, col) for line, _, col, end in fn.__code__.co_positions()
             if line is not None and col is not None and (col, end) != (0, 0)]
    holding = [node.body for node in ast.walk(tree) if isinstance(node, ast.Lambda) and spots
               and (node.body.lineno, node.body.col_offset) <= min(spots)
               <= (node.body.end_lineno, node.body.end_col_offset)]
    if not holding:
        return None
    body = max(holding, key=lambda body: (body.lineno, body.col_offset))
    return " ".join(ast.get_source_segment(text, body).split())


def time_call(fn, *args, repeat=5, **kwargs):
    """Time `fn(*args, **kwargs)`: one first call, then the best of `repeat` more.

    JAX dispatches work asynchronously: a jitted call returns before the device has
    finished. So when the first call returns JAX arrays, every timed call waits for
    them (`jax.block_until_ready`), and JAX's timings cover the work, not just its
    dispatch. Which results need waiting for is found once, outside the clock: a
    result with no JAX array (a NumPy array, a list of floats) is not searched for
    one in every timed call, which for a long list would cost more than the work.

    The first call is said to include compilation only when JAX or Numba compiled
    during it: a function already compiled for these argument types is not.

    Every timed call, the first included, also pays for freeing its result (a warm
    call's result is dropped before its clock stops), so that the first call minus the
    best warm one estimates compilation, not compilation minus a free. The clock is
    `time.perf_counter`, the finest the system offers.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    start = time.perf_counter()
    result, compiled = _compiles(lambda: fn(*args, **kwargs))
    dispatched = time.perf_counter() - start
    arrays = jax_arrays_in(result)                    # outside the clock
    precision, device = _precision_of(result), _device_of(arrays)
    start = time.perf_counter()
    for array in arrays:
        array.block_until_ready()
    must_wait = bool(arrays)
    del result, arrays                                # freed inside the clock, like warm calls
    first = dispatched + time.perf_counter() - start
    if must_wait:
        jax = sys.modules["jax"]
        def call():
            return jax.block_until_ready(fn(*args, **kwargs))
    else:
        def call():
            return fn(*args, **kwargs)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()                                        # its result is freed before the clock stops
        runs.append(time.perf_counter() - start)
    return Timing(first=first, best=min(runs), runs=runs, compiled=compiled,
                  call=lambda: fn(*args, **kwargs), fn=fn, args=args, kwargs=kwargs,
                  precision=precision, device=device)


def _precision_of(result):
    """The dtype name of the first number or array in `result` (a Python float is a
    float64), or None when it holds none."""
    leaves = result if isinstance(result, (list, tuple)) else [result]
    for leaf in leaves:
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None:
            return str(dtype)
        if isinstance(leaf, float):
            return "float64"
        if isinstance(leaf, (list, tuple)) and leaf:
            return _precision_of(leaf)
    return None


def _device_of(arrays):
    """Where JAX `arrays` live ("gpu", "cpu"), or "cpu" for a result with none (NumPy,
    Numba and Python compute on the host)."""
    platforms = sorted({device.platform for array in arrays if hasattr(array, "devices")
                        for device in array.devices()})
    return "+".join(platforms) if platforms else "cpu"


def machine_summary():
    """The machine this code runs on, as the lines a lecture prints first: the CPU's
    architecture and logical cores, with the threads Numba runs a parallel loop on where
    Numba is imported, and JAX's version, default backend and first device where JAX is.
    Each lecture prints the same lines, so one sanitizing rule covers them all."""
    numba, jax = sys.modules.get("numba"), sys.modules.get("jax")
    cpu = f"CPU: {platform.machine()}, {os.cpu_count()} logical cores"
    lines = [cpu + (f"; Numba uses {numba.get_num_threads()} threads" if numba else "")]
    if jax:
        lines.append(f"JAX {jax.__version__}: default backend {jax.default_backend()!r}, "
                     f"device {jax.devices()[0].device_kind}")
    return "\n".join(lines)


def fmt_seconds(seconds):
    """Format a duration with a unit that suits its size: '812 µs', '9.4 ms', '2.31 s'."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def blas_thread_count():
    """How many threads the BLAS library may use, as threadpoolctl sees it now: the largest
    of its BLAS thread pools, or None where it sees none (it cannot see Apple's Accelerate).
    Inside `threadpool_limits(...)`, the limit in force."""
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"), default=None)


def fmt_bytes(nbytes):
    """Format a size in bytes with decimal units: '8 kB', '16 MB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} bytes"


def fmt_power_of_ten(value, digits=1):
    r"""A number in scientific notation as inline TeX, for prose: '$1.5 \times 10^{-9}$'.

    >>> fmt_power_of_ten(1.49e-9)
    '$1.5 \\times 10^{-9}$'
    >>> fmt_power_of_ten(2.98e-8, digits=0)
    '$3 \\times 10^{-8}$'
    """
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"${mantissa} \\times 10^{{{int(exponent)}}}$"


def compare_speed(new, old, tolerance=0.1):
    """Describe time `new` relative to time `old` in words that hold for the numbers given.

    >>> compare_speed(1.0, 3.0)
    '3.0 times faster than'
    >>> compare_speed(2.0, 1.0)
    '2.0 times slower than'
    >>> compare_speed(1.05, 1.0)
    'about as fast as'
    >>> compare_speed(1.0, 490.3)
    'about 490 times faster than'
    """
    return _compare(new, old, tolerance, "times", "about as fast as", "faster than", "slower than")


def compare_timed(new, old, precision=None, tolerance=0.1):
    """`compare_speed` of two Timings' best calls, the words around it in the prose checked
    against what was timed: with `precision` ("float64", or a pair for new and old), each
    timing must have computed in it, so that a sentence about float64 work cannot be built
    from a float32 run (ValueError, naming both)."""
    wanted = (precision, precision) if isinstance(precision, str) or precision is None else tuple(precision)
    for timing, expected in zip((new, old), wanted):
        if expected is not None and timing.precision != expected:
            raise ValueError(f"{timing.name} computed in {timing.precision}, where the text says {expected}")
    return compare_speed(new.best, old.best, tolerance)


def compare_size(new, old, tolerance=0.1):
    """Describe size `new` relative to size `old` ("the same as" when within `tolerance`).

    >>> compare_size(8e6, 20e6)
    '2.5 times less than'
    >>> compare_size(8.05e6, 8e6)
    'the same as'
    """
    return _compare(new, old, tolerance, "sizes", "the same as", "less than", "more than")


def _compare(new, old, tolerance, what, alike, smaller, larger):
    """The words for `new` against `old`: `alike` within `tolerance` of each other (as a
    ratio), else "R times `smaller`" or "R times `larger`"."""
    if new <= 0 or old <= 0:
        raise ValueError(f"{what} must be positive, got {new} and {old}")
    if tolerance < 0:
        raise ValueError(f"tolerance must not be negative, got {tolerance}")
    ratio = old / new
    if abs(ratio - 1) <= tolerance:
        words = alike
    else:
        factor = ratio if ratio > 1 else 1 / ratio
        words = f"{factor:.1f} times {smaller if ratio > 1 else larger}"
        if factor >= 10:
            words = f"about {factor:,.0f} times {smaller if ratio > 1 else larger}"
    _record_margin(ratio, tolerance, words)
    return words


def word_margin(ratio, tolerance):
    """How far `ratio` is from changing the words `_compare` chooses for it, as a factor: the
    ratio would have to grow or shrink this many times over to cross the nearest boundary of
    "about as fast as" (|ratio - 1| <= tolerance).

    >>> round(word_margin(2.0, 0.1), 2)       # "2.0 times faster": 1.82 times away from "about as fast"
    1.82
    >>> round(word_margin(1.05, 0.1), 2)      # "about as fast": 1.05 times away from "faster"
    1.05
    """
    high, low = 1 + tolerance, 1 - tolerance
    if ratio > high:
        return ratio / high
    if low > 0 and ratio < low:
        return low / ratio
    return min(high / ratio, ratio / low) if low > 0 else high / ratio


def _record_margin(ratio, tolerance, words):
    """Where `LECTURE_MARGINS` names a file (`make portability` sets it), add one JSON line for
    this comparison: the line of code that asked for it, the ratio, the words and their margin.
    A figure to watch as machines change, never a verdict."""
    path = os.environ.get("LECTURE_MARGINS")
    if not path:
        return
    import json
    import linecache
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename == __file__:   # the lecture's line
        frame = frame.f_back
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"line": line, "ratio": ratio, "tolerance": tolerance, "words": words,
                              "margin": word_margin(ratio, tolerance)}) + "\n")


def probe_exponent(probe):
    """Exponent b in time ~ n**b, from the two largest of `probe`'s (n, seconds) pairs.

    >>> probe_exponent([(1_000, 0.001), (10_000, 0.01)])
    1.0
    """
    (n1, t1), (n2, t2) = sorted(probe)[-2:]
    if n1 == n2 or t1 <= 0 or t2 <= 0:
        raise ValueError(f"need two sizes with positive times, got {probe}")
    return round(float(np.log(t2 / t1) / np.log(n2 / n1)), 2)


def affordable_length(probe, wanted, budget_s):
    """The longest run, at most `wanted`, that a probe predicts will fit in `budget_s`.

    `probe` holds (n, best seconds) at two or more sizes. The time at size n is
    extrapolated from the largest probe as t * (n / n_probe) ** b, with b from
    `probe_exponent` (never taken below 1: fixed costs at small sizes flatten the
    slope, and work does not shrink per step). Candidates are `wanted` and the
    values 1, 2 and 5 times a power of ten below it; the largest that fits wins. A
    cost that grows like n (b = 1) gets the whole run; one that grows like n**2 gets
    a shorter one.

    >>> affordable_length([(1_000, 1e-5), (10_000, 1e-4)], 10_000_000, budget_s=1.0)
    10000000
    >>> affordable_length([(1_000, 1e-4), (10_000, 1e-2)], 10_000_000, budget_s=1.0)
    100000
    """
    n_probe, t_probe = max(probe)
    b = max(probe_exponent(probe), 1.0)
    def predicted(n):
        return t_probe * (n / n_probe) ** b
    candidates = [wanted] + [m * 10**k for k in range(int(np.log10(wanted)), -1, -1)
                             for m in (5, 2, 1) if m * 10**k < wanted]
    return max((n for n in candidates if predicted(n) <= budget_s), default=1)


def glue(name, value):
    """Store `value` for `{glue}` roles in the page's prose; show nothing in the cell."""
    try:
        from myst_nb import glue as nb_glue
    except ImportError:  # running as a plain notebook (Colab, Binder): nothing to glue into
        return value
    nb_glue(name, value, display=False)
    return value


class TextBlock:
    """Text whose plain-text display is the text itself, as a printed table reads."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def glue_text_block(name, text):
    """Glue `text` (a printed table, say) so that another page can paste it, as it reads,
    with myst-nb's `{glue}` directive and its `:doc:` option."""
    glue(name, TextBlock(text))
    return text


def glue_md(name, text):
    """Like `glue`, for a phrase pasted into prose as Markdown with `{glue:md}`."""
    from IPython.display import Markdown
    glue(name, Markdown(text))
    return text


def compiled_bytes(jitted, *args):
    """Memory XLA plans for one call of a jitted function: arguments + output + temporaries.

    Read from the compiled executable's `memory_analysis()`, so it is the plan for the
    device the arguments live on; nothing is run.
    """
    stats = jitted.lower(*args).compile().memory_analysis()
    return stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes


def minor_faults(fn, *args, **kwargs):
    """Minor page faults during one call of `fn(*args, **kwargs)`, or None where the
    operating system does not count them (`resource` is Unix-only).

    A minor fault is the operating system handing the process a page of memory the
    first time it is touched. An array the allocator takes fresh from the system (glibc
    does so for large ones) costs one per page (4 kB, or 2 MB where Linux uses huge pages)
    on every call; one whose memory the allocator reuses costs none.
    """
    try:
        import resource
    except ImportError:
        return None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn(*args, **kwargs)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def peak_allocation(fn, *args, **kwargs):
    """Peak bytes allocated while `fn(*args, **kwargs)` runs, as seen by `tracemalloc`.

    NumPy reports its array buffers to tracemalloc, so this measures the
    temporary arrays a NumPy expression creates. Memory that compiled code
    (Numba, XLA) allocates by itself is not seen.
    """
    import tracemalloc
    already_tracing = tracemalloc.is_tracing()
    if not already_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start, _ = tracemalloc.get_traced_memory()
        fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not already_tracing:
            tracemalloc.stop()
    return peak - start


def xla_partitions(compiled_text):
    """Parts each fused operation of a compiled XLA:CPU program is split into, to run on as
    many threads (1: one thread), for the operations whose plan says; [1] when none does."""
    found = re.findall(r'"outer_dimension_partitions":\[([^\]]*)\]', compiled_text)
    return [int(parts.strip('"')) if parts else 1 for parts in found] or [1]


def threads_used(timing):
    """How many CPU threads the code `timing` timed splits its work over, read from the code,
    not from a clock: for a Numba function, Numba's thread count if its compiled code runs a
    `prange` loop on Numba's threads (`runs_prange_loop`), else 1; for a jitted JAX function
    on the CPU, the most parts XLA's compiled program splits a fused operation into
    (`xla_partitions`); None for JAX on an accelerator, whose cores are not the CPU's; 1 for
    anything else (NumPy's element-wise work and reductions run on one thread)."""
    fn, args, kwargs = timing.fn, timing.args, timing.kwargs
    if callable(getattr(fn, "py_func", None)) and callable(getattr(fn, "inspect_llvm", None)):
        return sys.modules["numba"].get_num_threads() if runs_prange_loop(fn) else 1
    if callable(getattr(fn, "lower", None)):
        jax = sys.modules["jax"]
        arrays = jax_arrays_in((args, kwargs))
        platforms = {d.platform for a in arrays for d in a.devices()} or {jax.default_backend()}
        if platforms != {"cpu"}:
            return None
        wide = any(str(getattr(a, "dtype", "")) in ("float64", "int64", "complex128")
                   for a in [*args, *kwargs.values()])
        with jax.enable_x64(wide):                  # lowered in the precision it was timed in
            text = fn.lower(*args, **kwargs).compile().as_text()
        return max(xla_partitions(text))
    return 1


# HLO instructions that move no data: they name, pack or unpack buffers, or are constants.
_BOOKKEEPING = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def loop_operations(compiled_text):
    """What XLA's compiled program runs at every step of its first `while` loop.

    `compiled_text` is `jitted.lower(...).compile().as_text()`, the optimized HLO. A
    `lax.scan` or `fori_loop` compiles to a `while` instruction naming a condition and a
    body computation; this returns {"body": [...], "condition": [...]}, the names of the
    instructions in each that do work (fusions, copies, ...), in program order, leaving out
    the bookkeeping that moves no data (`_BOOKKEEPING`).
    """
    loop = re.search(r" while\(.*?\), condition=%?([\w.\-]+), body=%?([\w.\-]+)", compiled_text)
    if loop is None:
        raise ValueError("the compiled program has no while loop")

    def work(name):
        block = re.search(rf"^%?{re.escape(name)} \(.*?\{{\n(.*?)^\}}", compiled_text, re.M | re.S)
        if block is None:
            raise ValueError(f"no computation {name!r} in the compiled program")
        instructions = re.findall(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*? ([a-z][\w\-]*)\(", block.group(1), re.M)
        return [label for label, opcode in instructions if opcode not in _BOOKKEEPING]

    condition, body = loop.groups()
    return {"body": work(body), "condition": work(condition)}


# ------------------------------------------------------------------ method checks
# The hidden checks call these with the student's functions. Under `make grade` those are
# stand-ins that forward each use to the student's kernel (booktools.remote): so these
# helpers use only what such a stand-in offers (calls, attributes, len), and read only
# documented parts of Numba.

def assert_numba_compiled(fn, parallel=False):
    """Fail (AssertionError, saying why) unless `fn` is a Numba function that has compiled:
    a dispatcher from `numba.jit`, with its documented `py_func` and at least one compiled
    signature (`signatures`). With `parallel`, the compiled code must also run one of the
    function's own loops on Numba's threads (`runs_prange_loop`)."""
    try:
        fn.py_func
        signatures = list(fn.signatures)
    except AttributeError:
        raise AssertionError("not a Numba function: decorate it with @numba.jit") from None
    assert signatures, "a Numba function that never compiled: call it first"
    if parallel:
        assert runs_prange_loop(fn), (
            "no loop runs in parallel: use @numba.jit(parallel=True) with numba.prange over "
            "the independent iterations")


def runs_prange_loop(fn):
    """Whether a compiled signature of the Numba function `fn` runs one of its own
    `numba.prange` loops on Numba's threads. Two records must agree: the LLVM IR
    (`inspect_llvm`) calls Numba's parallel scheduler (`do_scheduling_*`), and the
    compilation's parallel loops ("parfors", in `get_metadata(signature)`'s
    "parfor_diagnostics") include one made from a `prange` the code wrote, pattern
    ("prange", "user"). The IR alone cannot tell: under `parallel=True` Numba also runs
    NumPy calls such as `row_max.max()` on its threads, so a serial `range` loop over the
    rows followed by `row_max.max()` calls the scheduler too."""
    for signature in fn.signatures:
        if "do_scheduling" not in fn.inspect_llvm(signature):
            continue
        parfors = fn.get_metadata(signature)["parfor_diagnostics"].initial_parfors
        if any(isinstance(p, tuple) and tuple(p[:2]) == ("prange", "user")
               for parfor in parfors for p in parfor.patterns):
            return True
    return False


def count_line_events(fn, *args):
    """How many lines of Python run during one call of `fn(*args)`, counted with
    `sys.settrace` after one call that is not counted (a first call may trace, as JAX
    does, or compile, as Numba does). Whole-array code runs the same few lines whatever
    the size of its input; a Python loop over the elements runs its body once per element.

    A student's function under `make grade` is counted where it runs, in the student's
    kernel (`_remote_line_events`, booktools.remote)."""
    remote = getattr(fn, "_remote_line_events", None)
    if remote is not None:
        return remote(args)
    fn(*args)
    count = 0

    def trace(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        fn(*args)
    finally:
        sys.settrace(previous)
    return count


def assert_vectorized(fn, args_for, sizes=(1_000, 100_000)):
    """Fail (AssertionError, saying why) when `fn` loops over its input in Python: the lines
    of Python one call runs (`count_line_events`) grow with the input's size. `args_for(n)`
    gives the arguments for an input of n elements; the count may grow by at most one line
    per hundred more elements (a loop over the elements adds at least one per element). It
    reads what the code does, not how fast a machine runs it."""
    small, big = sizes
    lines = [count_line_events(fn, *args_for(n)) for n in (small, big)]
    grown = lines[1] - lines[0]
    assert grown <= (big - small) // 100, (
        f"{getattr(fn, '__name__', 'the function')} ran {lines[0]:,} lines of Python for "
        f"{small:,} elements and {lines[1]:,} for {big:,}: it loops over the elements in Python. "
        "Use whole-array operations (broadcasting, ufuncs, reductions) instead")


MIN_STAND_IN_DELAY = 0.1      # seconds: far above any clock's resolution or a call's overhead
STAND_IN_SLACK = 5.0          # a measurement may exceed a stand-in's delay this many times over


def assert_took(seconds, delay, what="the measurement"):
    """Fail unless `seconds` measured a stand-in whose delay is known: at least `delay` (a
    sleep never ends early), and less than `STAND_IN_SLACK` times it.

    This is the only way a check on this site compares a duration with a number, and only
    to test timing code itself (does it wait for the result? keep the best call?) on
    stand-ins that sleep: `delay` is at least `MIN_STAND_IN_DELAY`, so no machine, however
    slow or loaded, adds enough to a sleep to fail it, and delays a factor of five apart
    cannot be mistaken for each other."""
    if delay < MIN_STAND_IN_DELAY:
        raise ValueError(f"a stand-in's delay must be at least {MIN_STAND_IN_DELAY} s, got {delay}")
    low = delay * 0.99            # sleep and perf_counter may use clocks a tick apart
    assert low <= seconds < delay * STAND_IN_SLACK, (
        f"{what} gave {fmt_seconds(seconds)}, where the stand-in it timed takes "
        f"{fmt_seconds(delay)}" + (": the clock stopped before the work was done" if seconds < low
                                   else f", {STAND_IN_SLACK:g} times that or more: more than one call was timed"))
