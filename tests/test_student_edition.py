"""The student edition (`make student`): every exercise, and nothing of any solution.

A solution's "fingerprints" are the lines of its code, text and output that appear
nowhere else in its lecture. The tests look for them in every file of the student
site and notebooks (pages, page sources, search index, .ipynb), and check that the
same fingerprints are found in the full edition, so that a check which finds nothing
cannot pass by looking for the wrong thing.
"""
import re
import sys

import jupytext
import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import HTML, ROOT, lectures, parse_page

sys.path.insert(0, str(ROOT / "scripts"))
from make_student import PLACEHOLDER, PLACEHOLDER_CODE, SolutionFormatError, strip_solutions  # noqa: E402

STUDENT = ROOT / "_build" / "student"
LECTURES = lectures()
SOLUTION = re.compile(r"^```\{solution-start\} (\S+)\n.*?^```\{solution-end\}\n```\n", re.S | re.M)


@pytest.fixture(scope="module")
def student():
    if not (STUDENT / "html" / "index.html").exists() or not (STUDENT / "notebooks").is_dir():
        pytest.fail(f"no student edition in {STUDENT}: run `make student` first (`make test` does)")
    return STUDENT


def source(doc):
    return (ROOT / f"{doc}.md").read_text(encoding="utf-8")


def solutions(doc):
    """The solution blocks of a lecture's source, solution-start to solution-end."""
    return [m.group(0) for m in SOLUTION.finditer(source(doc))]


def flat(text):
    return " ".join(text.split())


def readable(path):
    """A file's text as a reader or a search would see it, whitespace normalized."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":      # the cells' text and outputs, not JSON-escaped strings
        nb = nbformat.reads(text, as_version=4)
        text = "\n".join(c.source for c in nb.cells) + "\n".join(
            str(o) for c in nb.cells for o in c.get("outputs", []))
    elif path.suffix == ".html":     # highlighted code is split into spans: join them
        text = BeautifulSoup(text, "html.parser").get_text("")
    return flat(text)


def fingerprints(doc):
    """Lines of the lecture's solutions (code, prose, printed output) found nowhere else in it."""
    page = parse_page(HTML, doc)
    lines = [line for block in solutions(doc) for line in block.splitlines()]
    lines += [line for box in page.select("div.solution") for out in box.select("div.cell_output")
              for line in out.get_text("\n").splitlines()]
    for box in page.select("div.solution"):
        box.decompose()
    outside = flat(SOLUTION.sub("", source(doc))) + flat(page.get_text(""))
    outside += "".join(flat(p.read_text()) for p in (ROOT / "lectures").glob("*.py"))  # embedded helpers
    return sorted({flat(line) for line in lines
                   if len(line.strip()) >= 12 and not line.strip().startswith(("```", ":class:", "#"))
                   and flat(line) not in outside})


def edition_files(root, notebooks, doc):
    """The files of an edition that carry the lecture: page, page source, notebooks."""
    return [root / f"{doc}.html", root / "_sources" / f"{doc}.md",
            root / "_notebooks" / f"{doc}.ipynb", notebooks / f"{doc}.ipynb"]


@pytest.mark.parametrize("doc", LECTURES)
def test_student_edition_holds_no_line_of_any_solution(student, doc):
    prints = fingerprints(doc)
    assert len(prints) >= 2 * len(solutions(doc)), f"{doc}: too few fingerprints to test with"
    for path in edition_files(student / "html", student / "notebooks", doc):
        text = readable(path)
        leaked = [p for p in prints if p in text]
        assert not leaked, f"{path.relative_to(ROOT)} holds solution content: {leaked[:3]}"
    index = (student / "html" / "searchindex.js").read_text(encoding="utf-8").lower()
    assert "solution to" not in index


@pytest.mark.parametrize("doc", LECTURES)
def test_the_same_fingerprints_are_found_in_the_full_edition(built_html, built_notebooks, doc):
    """The control: the check above, run on the full edition, finds every fingerprint."""
    prints = fingerprints(doc)
    full = [readable(p) for p in edition_files(built_html, built_notebooks, doc)]
    missing = [p for p in prints if not any(p in text for text in full)]
    assert not missing, f"{doc}: fingerprints not found in the full edition: {missing[:3]}"
    page, source_md, notebook = full[0], full[1], full[3]
    code = [p for p in prints if p in flat(source(doc))]
    assert any(p in page for p in code) and any(p in notebook for p in code) and all(p in source_md for p in code)


@pytest.mark.parametrize("doc", LECTURES)
def test_student_page_keeps_every_exercise_with_a_cell_to_answer_in(student, doc):
    full, mine = parse_page(HTML, doc), parse_page(student / "html", doc)
    full_exercises = [e.get_text(" ", strip=True) for e in full.select("div.exercise")]
    assert len(full_exercises) >= 2
    assert [e.get_text(" ", strip=True) for e in mine.select("div.exercise")] == full_exercises
    assert not mine.select("div.solution") and "Solution to" not in mine.get_text()
    nb = nbformat.read(student / "notebooks" / f"{doc}.ipynb", as_version=4)
    placeholders = [c for c in nb.cells if c.cell_type == "code" and c.source == PLACEHOLDER_CODE]
    assert len(placeholders) == len(full_exercises)
    headings = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("### Exercise")]
    assert len(headings) == len(full_exercises)
    assert not any("Solution" in c.source for c in nb.cells if c.cell_type == "markdown")


def test_student_edition_says_what_it_is_and_launches_student_notebooks(student):
    page = parse_page(student / "html", LECTURES[0])
    assert "student edition" in page.title.get_text()
    colab = page.select_one("a.btn-launch-colab-button")["href"]
    assert "/blob/student-notebooks/" in colab


def test_strip_solutions_refuses_a_solution_without_its_check():
    text = ("```{solution-start} ex\n:class: dropdown\n```\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
            "```{solution-end}\n```\n")
    with pytest.raises(SolutionFormatError, match="not followed by a hidden check"):
        strip_solutions(text + "\nMore text.\n")
    with pytest.raises(SolutionFormatError, match="no closed solution-end"):
        strip_solutions(text.replace("```{solution-end}\n```\n", ""))
    stripped, labels = strip_solutions(
        "Before.\n" + text + "\n```{code-cell} ipython3\n:tags: [remove-cell]\nassert x == 1\n```\nAfter.\n")
    assert labels == ["ex"]
    assert stripped == "Before.\n" + PLACEHOLDER + "After.\n"


@pytest.mark.parametrize("doc", LECTURES)
def test_student_lecture_source_parses_as_a_notebook_with_no_solution_directive_left(student, doc):
    """The student .md the site offers for download: a notebook with a cell per exercise to fill."""
    text = (student / "html" / "_sources" / f"{doc}.md").read_text(encoding="utf-8")
    assert "solution-start" not in text and "solution-end" not in text
    nb = jupytext.reads(text, fmt="md:myst")
    assert sum(c.source == PLACEHOLDER_CODE for c in nb.cells) == len(solutions(doc))
