"""Write environment.yml (conda / Binder) from requirements.txt, the one pinned list.

    python scripts/sync_environment.py          # rewrite environment.yml
    python scripts/sync_environment.py --check  # exit 1 if it is out of date
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
ENVIRONMENT = ROOT / "environment.yml"
PYTHON = "3.11"


def read_pins(path=REQUIREMENTS):
    """Return the requirement lines of `path`, without comments or blank lines."""
    pins = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line)
    return pins


def render_environment(pins):
    lines = [
        "# GENERATED from requirements.txt by scripts/sync_environment.py: do not edit.",
        "# Used by Binder and by conda users: conda env create -f environment.yml",
        "name: numpy-numba-jax",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        f"  - python={PYTHON}",
        "  - pip",
        "  - pip:",
    ]
    lines += [f"    - {pin}" for pin in pins]
    return "\n".join(lines) + "\n"


def main(argv):
    wanted = render_environment(read_pins())
    if "--check" in argv:
        if not ENVIRONMENT.exists() or ENVIRONMENT.read_text() != wanted:
            print("environment.yml is out of date: run `make environment.yml`", file=sys.stderr)
            return 1
        return 0
    ENVIRONMENT.write_text(wanted)
    print(f"wrote {ENVIRONMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
