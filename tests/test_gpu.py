"""The GPU job's guard: under REQUIRE_GPU=1 the suite fails unless JAX computes on a GPU.

`make test-gpu` and .github/workflows/gpu.yml set REQUIRE_GPU=1, so a GPU job that
silently fell back to the CPU (a missing CUDA plugin, a driver mismatch) fails instead
of passing with CPU numbers.
"""
import os
import re
import subprocess
import sys

import jax

from booktools import require_gpu
from booktools.layout import ROOT


def test_jax_uses_a_gpu_when_the_gpu_job_requires_one():
    problem = require_gpu.problem()
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


def test_requiring_a_gpu_stops_make_test_before_any_build_and_pytest_before_any_test():
    """The check runs first: as `make test`'s first step (a prerequisite of the first build)
    and when pytest starts, so a GPU job whose CUDA install broke fails in seconds."""
    result = subprocess.run([sys.executable, "-m", "booktools.require_gpu"], cwd=ROOT,
                            env={**os.environ, "REQUIRE_GPU": "1"}, capture_output=True, text=True, timeout=300)
    assert result.returncode == (0 if jax.default_backend() == "gpu" else 1), result.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^notebooks: .*\brequire-gpu\b", makefile, re.M)
    assert "python -m booktools.require_gpu" in makefile
    if jax.default_backend() != "gpu":
        command = [sys.executable, "-m", "pytest", "tests/test_config.py", "-q", "-p", "no:cacheprovider"]
        started = subprocess.run(command, cwd=ROOT, env={**os.environ, "REQUIRE_GPU": "1"},
                                 capture_output=True, text=True, timeout=300)
        assert started.returncode != 0 and "REQUIRE_GPU=1 but JAX" in started.stdout + started.stderr
        assert " passed" not in started.stdout                          # not one test ran
