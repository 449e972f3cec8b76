"""The one reader of requirements.txt, the site's one pinned list: the pins and the Python
version they are for (its `# Python: X.Y` line); and which of them the lectures need.

    python -m booktools.requirements --newest   # what the canary workflow installs, unpinned
"""
import re
import sys
from pathlib import Path

# Standard library only: the canary workflow runs this module before anything is installed,
# so it cannot take the repository root from booktools.book (which needs PyYAML).
REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"
# What the lectures import, by import name -> distribution name in requirements.txt: the
# notebooks' setup cell installs these (pinned) where missing.
LECTURE_RUNTIME = {
    "numpy": "numpy", "numba": "numba", "llvmlite": "llvmlite", "jax": "jax", "jaxlib": "jaxlib",
    "matplotlib": "matplotlib", "quantecon": "quantecon", "threadpoolctl": "threadpoolctl",
    "psutil": "psutil", "dask": "dask", "distributed": "distributed", "bokeh": "bokeh",
}
# What runs the lectures under pytest, cell by cell (pytest.ini, booktools.pytest_lectures).
LECTURE_RUNNER = ["pytest", "pytest-xdist", "nbval", "jupytext", "ipykernel"]


def read_pins(path=REQUIREMENTS):
    """The requirement lines of `path`, without comments or blank lines."""
    pins = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pins.append(line)
    return pins


def pinned_versions(path=REQUIREMENTS):
    """{distribution name: pinned version}."""
    return dict(pin.split("==") for pin in read_pins(path))


def python_version(path=REQUIREMENTS):
    """The Python version the pins are for ('3.11'), from the file's `# Python: X.Y` line."""
    match = re.search(r"^# Python: (\d+\.\d+)\s*$", Path(path).read_text(), re.M)
    if not match:
        raise ValueError(f"{path} has no '# Python: X.Y' line")
    return match.group(1)


def newest():
    """The lectures' packages and their runner, unpinned: the canary installs the newest."""
    names = sorted(set(LECTURE_RUNTIME.values())) + LECTURE_RUNNER
    missing = [n for n in names if n not in pinned_versions()]
    if missing:
        raise ValueError(f"not in requirements.txt: {missing}")
    return names


if __name__ == "__main__":
    if sys.argv[1:] != ["--newest"]:
        sys.exit(__doc__)
    print("\n".join(newest()))
