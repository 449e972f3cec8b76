"""requirements.txt is the one pinned list; environment.yml is derived from it."""
import re
import subprocess
import sys

import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import sync_environment  # noqa: E402


def test_every_requirement_is_pinned_exactly():
    pins = sync_environment.read_pins()
    assert pins
    for pin in pins:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][\w.]*", pin), f"not an exact pin: {pin}"


def test_environment_yml_lists_exactly_the_pinned_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip_section) == sorted(sync_environment.read_pins())
    assert f"python={sync_environment.PYTHON}" in env["dependencies"]


def test_environment_yml_is_what_the_generator_writes():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_environment.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_pinned_jupyter_book_is_the_sphinx_based_one():
    pins = sync_environment.pinned_versions()
    assert int(pins["jupyter-book"].split(".")[0]) < 2


def test_gpu_overlay_is_the_cuda_build_of_the_pinned_jax():
    jax = sync_environment.pinned_versions()["jax"]
    overlay = [line for line in (ROOT / "requirements-gpu.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert overlay and all(line.endswith(f"=={jax}") for line in overlay)
    assert f"jax[cuda12]=={jax}" in overlay
