"""requirements.txt is the one pinned list; environment.yml is derived from it."""
import re
import subprocess
import sys

import yaml

from booktools.book import ROOT
from booktools.requirements import pinned_versions, python_version, read_pins


def test_every_requirement_is_pinned_exactly():
    pins = read_pins()
    assert pins
    for pin in pins:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][\w.]*", pin), f"not an exact pin: {pin}"


def test_environment_yml_lists_exactly_the_pinned_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip_section) == sorted(read_pins())
    assert f"python={python_version()}" in env["dependencies"]


def test_environment_yml_is_what_the_generator_writes():
    result = subprocess.run([sys.executable, "-m", "booktools.environment", "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_pinned_jupyter_book_is_the_sphinx_based_one():
    pins = pinned_versions()
    assert int(pins["jupyter-book"].split(".")[0]) < 2


def test_gpu_overlay_is_the_cuda_build_of_the_pinned_jax():
    jax = pinned_versions()["jax"]
    overlay = [line for line in (ROOT / "requirements-gpu.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert overlay and all(line.endswith(f"=={jax}") for line in overlay)
    assert f"jax[cuda12]=={jax}" in overlay
