"""Small helpers shared by the lectures and the test suite.

Lectures import this module for three jobs they would otherwise each repeat:

* honest timing: `time_call` reports the first call (which includes JIT
  compilation) separately from the best of several warm calls, and waits for
  JAX's asynchronous results before stopping the clock;
* readable numbers: `fmt_seconds`, `fmt_bytes`, `compare_speed`;
* glue: `glue` / `glue_md` hand computed values to the page's prose through
  myst-nb, and do nothing harmful where myst-nb is not installed (Colab).
"""
import sys
import time
from dataclasses import dataclass, field

import quantecon as qe


def block(result):
    """Return `result` once it has really been computed.

    JAX dispatches work asynchronously: a jitted call returns before the device
    has finished. NumPy and Numba results are already complete.
    """
    jax = sys.modules.get("jax")  # only touch JAX if the lecture imported it
    if jax is not None:
        return jax.block_until_ready(result)
    return result


@dataclass
class Timing:
    """Wall-clock times of one function, in seconds."""

    first: float                     # first call: includes compilation, if any
    best: float                      # fastest of the warm calls
    runs: list = field(repr=False)   # every warm call

    @property
    def compile_estimate(self):
        """First call minus a warm call: roughly what compilation cost."""
        return max(self.first - self.best, 0.0)

    def __str__(self):
        return (f"first call {fmt_seconds(self.first)} (includes any compilation); "
                f"best of {len(self.runs)} warm calls {fmt_seconds(self.best)}")


def time_call(fn, *args, repeat=5, **kwargs):
    """Time `fn(*args, **kwargs)`: one first call, then the best of `repeat` more.

    Every call is blocked on (see `block`), so JAX's timings cover the work and
    not just its dispatch.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    start = time.perf_counter()
    block(fn(*args, **kwargs))
    first = time.perf_counter() - start
    stats = qe.timeit(lambda: block(fn(*args, **kwargs)),
                      runs=repeat, verbose=False, results=True)
    return Timing(first=first, best=stats["minimum"], runs=list(stats["elapsed"]))


def fmt_seconds(seconds):
    """Format a duration with a unit that suits its size: '812 µs', '9.4 ms', '2.31 s'."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            value = seconds / scale
            return f"{value:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(nbytes):
    """Format a size in bytes with decimal units: '8 kB', '16 MB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} bytes"


def compare_speed(new, old, tolerance=0.1):
    """Describe time `new` relative to time `old` in words that hold for the numbers given.

    >>> compare_speed(1.0, 3.0)
    '3.0 times faster than'
    >>> compare_speed(2.0, 1.0)
    '2.0 times slower than'
    >>> compare_speed(1.05, 1.0)
    'about as fast as'
    """
    if new <= 0 or old <= 0:
        raise ValueError(f"times must be positive, got {new} and {old}")
    ratio = old / new
    if abs(ratio - 1) <= tolerance:
        return "about as fast as"
    if ratio > 1:
        return f"{ratio:.1f} times faster than"
    return f"{1 / ratio:.1f} times slower than"


def glue(name, value):
    """Store `value` for `{glue}` roles in the page's prose; show nothing in the cell."""
    try:
        from myst_nb import glue as nb_glue
    except ImportError:  # running as a plain notebook (Colab, Binder): nothing to glue into
        return value
    nb_glue(name, value, display=False)
    return value


def glue_md(name, text):
    """Like `glue`, for a phrase pasted into prose as Markdown with `{glue:md}`."""
    from IPython.display import Markdown
    glue(name, Markdown(text))
    return text


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
