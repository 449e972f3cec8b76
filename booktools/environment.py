"""Write the lists derived from requirements.txt, the one pinned list.

* environment.yml: the same pins as a conda environment (conda users, Binder);
* requirements-gpu.txt: the CUDA overlay, installed on top of requirements.txt by
  `make test-gpu` and the GPU workflow: the CUDA 12 build of the pinned JAX.

    python -m booktools.environment          # rewrite both (`make environment.yml`)
    python -m booktools.environment --check  # exit 1 if either is out of date
"""
import sys

from booktools.requirements import REQUIREMENTS, python_version, read_pins

ROOT = REQUIREMENTS.parent
ENVIRONMENT = ROOT / "environment.yml"
GPU_OVERLAY = ROOT / "requirements-gpu.txt"
CUDA = "cuda12"   # JAX's CUDA 12 wheels run with NVIDIA drivers >= 525


def render_environment(pins, python):
    lines = [
        "# GENERATED from requirements.txt by `python -m booktools.environment`: do not edit.",
        "# Used by Binder and by conda users: conda env create -f environment.yml",
        "name: numpy-numba-jax",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"    - {pin}" for pin in pins]
    return "\n".join(lines) + "\n"


def render_gpu_overlay(pins):
    jax = dict(pin.split("==") for pin in pins)["jax"]
    return "\n".join([
        "# GENERATED from requirements.txt by `python -m booktools.environment`: do not edit.",
        "# CUDA overlay for `make test-gpu` and .github/workflows/gpu.yml, installed on top",
        f"# of requirements.txt: the {CUDA} build of the pinned JAX (NVIDIA driver >= 525).",
        f"jax[{CUDA}]=={jax}",
        f"jax-{CUDA}-plugin[with-cuda]=={jax}",
        f"jax-{CUDA}-pjrt=={jax}",
    ]) + "\n"


def main(argv):
    pins = read_pins()
    wanted = {ENVIRONMENT: render_environment(pins, python_version()), GPU_OVERLAY: render_gpu_overlay(pins)}
    if "--check" in argv:
        stale = [p.name for p, text in wanted.items() if not p.exists() or p.read_text() != text]
        if stale:
            print(f"{', '.join(stale)} out of date: run `make environment.yml`", file=sys.stderr)
            return 1
        return 0
    for path, text in wanted.items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
