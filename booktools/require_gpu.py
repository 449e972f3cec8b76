"""REQUIRE_GPU=1, the GPU job's promise: fail at once, before anything is built or run,
unless JAX computes on a GPU, and say what JAX sees instead.

    REQUIRE_GPU=1 python -m booktools.require_gpu      # exit 1 with the reason, or 0

`make test` runs it before its first build (so `REQUIRE_GPU=1 make test` on a CPU machine
stops within seconds, not after the suite), and tests/conftest.py before the first test.
"""
import os
import sys


def problem():
    """Why the REQUIRE_GPU=1 promise is broken here, or None (also when it is not asked)."""
    if os.environ.get("REQUIRE_GPU") != "1":
        return None
    import jax
    backend = jax.default_backend()
    if backend == "gpu":
        return None
    return (f"REQUIRE_GPU=1 but JAX's default backend is {backend!r} (devices: {jax.devices()}). "
            "Run on a machine with an NVIDIA GPU and driver, with the CUDA overlay installed "
            "(`make test-gpu` installs requirements-gpu.txt).")


def main():
    reason = problem()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
