"""The GPU job's guard: under REQUIRE_GPU=1 the suite fails unless JAX computes on a GPU.

`make test-gpu` and .github/workflows/gpu.yml set REQUIRE_GPU=1, so a GPU job that
silently fell back to the CPU (a missing CUDA plugin, a driver mismatch) fails instead
of passing with CPU numbers.
"""
import os
import subprocess
import sys

import jax

from booktools.layout import ROOT


def gpu_requirement_problem():
    """Why the REQUIRE_GPU=1 promise is broken here, or None."""
    if os.environ.get("REQUIRE_GPU") != "1":
        return None
    backend = jax.default_backend()
    if backend == "gpu":
        return None
    return (f"REQUIRE_GPU=1 but JAX's default backend is {backend!r} (devices: {jax.devices()}). "
            "Run on a machine with an NVIDIA GPU and driver, with the CUDA overlay installed "
            "(`make test-gpu` installs requirements-gpu.txt).")


def test_jax_uses_a_gpu_when_the_gpu_job_requires_one():
    problem = gpu_requirement_problem()
    assert problem is None, problem


def test_requiring_a_gpu_fails_exactly_when_there_is_none():
    test = f"{__file__}::test_jax_uses_a_gpu_when_the_gpu_job_requires_one"
    result = subprocess.run([sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"],
                            cwd=ROOT, env={**os.environ, "REQUIRE_GPU": "1"},
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    if jax.default_backend() == "gpu":
        assert result.returncode == 0, output
    else:
        assert result.returncode == 1, output
        assert f"REQUIRE_GPU=1 but JAX's default backend is '{jax.default_backend()}'" in output
