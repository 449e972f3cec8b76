"""Rules every lecture source (lectures/*.md) must follow."""
import re

import jupytext
import pytest

from conftest import ROOT

LECTURES = sorted((ROOT / "lectures").glob("*.md"))

# A number with a unit of time or memory, or "N times faster", typed into prose.
TYPED_MEASUREMENT = re.compile(
    r"\d[\d.,]* ?(x|×|times) (faster|slower|less|more)|\d[\d.,]* ?(ns|µs|ms|seconds|kB|MB|GB)\b")


def code_cells(path):
    return [c for c in jupytext.read(path).cells if c.cell_type == "code"]


def prose_lines(path):
    in_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            yield number, line


def test_there_are_lectures():
    assert {p.stem for p in LECTURES} >= {"intro", "numpy", "numba", "jax_intro",
                                           "numpy_vs_numba_vs_jax"}


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_is_a_jupytext_myst_notebook(path):
    nb = jupytext.read(path)
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_no_cell_installs_packages(path):
    for cell in code_cells(path):
        assert not re.search(r"^\s*[!%]\s*(pip|conda)\b", cell.source, re.M), (
            f"{path.name}: install cell {cell.source[:60]!r}; packages come from requirements.txt")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_prose_types_no_measured_numbers(path):
    typed = [f"{path.name}:{n}: {line.strip()}" for n, line in prose_lines(path)
             if TYPED_MEASUREMENT.search(line)]
    assert not typed, "measured numbers belong in glue, not prose:\n" + "\n".join(typed)


LECTURES_WITH_CODE = [p for p in LECTURES if any("def " in c.source for c in code_cells(p))]


def test_every_tool_lecture_implements_code():
    assert {p.stem for p in LECTURES_WITH_CODE} >= {"numpy", "numba", "jax_intro",
                                                     "numpy_vs_numba_vs_jax"}


@pytest.mark.parametrize("path", LECTURES_WITH_CODE, ids=lambda p: p.name)
def test_lectures_with_code_check_their_results_in_hidden_cells(path):
    cells = code_cells(path)
    hidden_checks = [c for c in cells
                     if "remove-cell" in c.metadata.get("tags", []) and "assert" in c.source]
    assert hidden_checks, f"{path.name} implements code but never checks a result"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_cell_timeout_is_set_per_lecture_and_at_most_600_seconds(path):
    cells = code_cells(path)
    if not cells:
        return
    timeout = jupytext.read(path).metadata.get("mystnb", {}).get("execution_timeout")
    assert timeout is not None, f"{path.name}: set mystnb.execution_timeout in the front matter"
    assert 0 < timeout <= 600
