"""The student edition (`make student`): every exercise, nothing of any solution, and the
outputs of the full edition's run (the student build executes nothing).

A solution's "fingerprints" are the lines of its code, text and output that appear
nowhere else in its lecture. The tests look for them in every file of the student
site and notebooks (pages, page sources, search index, .ipynb), and check that the
same fingerprints are found in the full edition, so that a check which finds nothing
cannot pass by looking for the wrong thing.
"""

import jupytext
import nbformat
import pytest
from bs4 import BeautifulSoup
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from myst_nb.core.read import read_myst_markdown_notebook

from booktools import lecture_source
from booktools import student as edition
from booktools.book import ROOT, lectures, notebook_pages
from booktools.layout import HTML, STUDENT_BOOK, parse_page
from booktools.student import PLACEHOLDER, PLACEHOLDER_CODE, SolutionFormatError, strip_solutions

LECTURES = lectures()


def source(doc):
    return (ROOT / f"{doc}.md").read_text(encoding="utf-8")


def solutions(doc, checks=True):
    """The solution blocks of a lecture's source, solution-start to the end of its check
    (without the check, unless `checks`)."""
    lines = source(doc).splitlines()
    return ["\n".join(lines[i] for i in solution.lines if checks or i not in solution.check_lines)
            for solution in lecture_source.solutions(source(doc))]


def without_solutions(doc):
    """The lecture's source with its solution blocks (and their checks) left out."""
    lines, inside = source(doc).splitlines(), set()
    for solution in lecture_source.solutions(source(doc)):
        inside.update(solution.lines)
    return "\n".join(line for i, line in enumerate(lines) if i not in inside)


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


def fingerprints(doc, checks=True):
    """Lines of the lecture's solutions (code, prose, printed output; their checks too,
    unless not `checks`) found nowhere else in it."""
    page = parse_page(HTML, doc)
    lines = [line for block in solutions(doc, checks) for line in block.splitlines()]
    lines += [line for box in page.select("div.solution") for out in box.select("div.cell_output")
              for line in out.get_text("\n").splitlines()]
    for box in page.select("div.solution"):
        box.decompose()
    outside = flat(without_solutions(doc)) + flat(page.get_text(""))
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
    """The control: the check above, run on the full edition, finds every fingerprint but
    the checks' (no file of the site holds those: the page hides them, the notebooks leave
    them out, and the served source drops them)."""
    prints = fingerprints(doc, checks=False)
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


def outputs_outside_solutions(page):
    for box in page.select("div.solution"):
        box.decompose()
    return [" ".join(o.get_text(" ").split()) for o in page.select("div.cell_output")]


@pytest.mark.parametrize("doc", notebook_pages())
def test_student_pages_show_the_outputs_of_the_full_editions_run(student, doc):
    """Timings differ on every run: the same figures on both editions mean one run, reused."""
    full = outputs_outside_solutions(parse_page(HTML, doc))
    assert outputs_outside_solutions(parse_page(student / "html", doc)) == full
    if doc in LECTURES:
        assert len(full) >= 3


def test_student_build_executed_no_page(student):
    assert edition.executed_pages(STUDENT_BOOK) == []
    records = get_cache(str(STUDENT_BOOK / edition.CACHE)).list_cache_records()
    assert len(records) == len(notebook_pages())


FULL = """---
kernelspec: {name: python3, display_name: Python 3, language: python}
---
# Page

```{code-cell} ipython3
x = 2
```

```{solution-start} ex
:class: dropdown
```

```{code-cell} ipython3
y = x * 21
```

```{solution-end}
```

```{code-cell} ipython3
:tags: [remove-cell]
assert y == 42
```

```{code-cell} ipython3
print(x + 1)
```
"""


def cache_with_run(path, text, outputs):
    """A Jupyter Cache at `path` holding `text` as if executed, with the given outputs per code cell."""
    nb = read_myst_markdown_notebook(text)
    for cell, out in zip([c for c in nb.cells if c.cell_type == "code"], outputs):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out)] if out else []
    cache = get_cache(str(path))
    cache.cache_notebook_bundle(CacheBundleIn(nb, "full.md"), check_validity=False)
    return cache


def test_student_notebook_takes_each_kept_cells_output_from_the_full_run(tmp_path):
    cache = cache_with_run(tmp_path / "full", FULL, ["", "", "", "3\n"])
    text, _ = strip_solutions(FULL)
    nb = edition.with_full_outputs(text, FULL, cache)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == ["x = 2", PLACEHOLDER_CODE, "print(x + 1)"]
    assert [[o.text for o in c.outputs] for c in code] == [[], [], ["3\n"]]


def test_student_outputs_refuse_a_page_the_full_run_does_not_account_for(tmp_path):
    cache = cache_with_run(tmp_path / "full", FULL, ["", "", "", "3\n"])
    text, _ = strip_solutions(FULL)
    with pytest.raises(edition.MissingOutputsError, match="run `make html` first"):
        edition.with_full_outputs(text, FULL.replace("x = 2", "x = 3"), cache, "page")
    with pytest.raises(edition.MissingOutputsError, match="no cell of the full page"):
        edition.with_full_outputs(text.replace("print(x + 1)", "print(x + 2)"), FULL, cache, "page")


def test_verify_fails_when_the_student_build_executed_a_page(tmp_path, capsys):
    cache = get_cache(str(tmp_path / edition.CACHE))
    assert edition.verify(tmp_path) == 0
    page = tmp_path / "page.ipynb"
    nbformat.write(read_myst_markdown_notebook(FULL), page)
    cache.add_nb_to_project(str(page))          # what myst-nb records when it executes a page
    assert edition.verify(tmp_path) == 1
    assert "page.ipynb" in capsys.readouterr().err


@pytest.mark.parametrize("doc", [d for d in notebook_pages() if "_includes/implementations.md" in source(d)])
def test_student_pages_keep_the_side_by_side_tabs(student, doc):
    def tabs(page):
        return [[label.get_text(strip=True) for label in s.select("label")] for s in page.select("div.sd-tab-set")]
    assert tabs(parse_page(student / "html", doc)) == tabs(parse_page(HTML, doc)) == [["NumPy", "Numba", "JAX"]] * 2
