"""Where the builds put things (all under _build/), and how the tests read a built page.

The Makefile names the same folders (its variables say which); tests/test_config.py
checks that the two agree.
"""
import shutil
import sys
from pathlib import Path

from booktools.book import ROOT

BUILD = ROOT / "_build"
HTML = BUILD / "html"                         # make html
NOTEBOOKS = BUILD / "notebooks"               # make notebooks: what the notebooks branch holds
EXECUTED = "jupyter_execute"                  # myst-nb's executed notebooks, under a book's _build
STUDENT_BOOK = BUILD / "student-book"         # make student: the student edition's sources
STUDENT = BUILD / "student"                   # ... and its site (html/) and notebooks (notebooks/)
ASSIGNMENTS = BUILD / "assignments"           # make assignments: one zip per lecture
PDF = BUILD / "latex" / "book.pdf"            # make pdf: the book, and beside it one PDF per page
SITE_PDFS = "pdf"                             # ... which `make pdf` copies into the site: pdf/<page>.pdf


def parse_page(built_html, doc):
    """The built page for document `doc` (e.g. 'lectures/numpy'), parsed."""
    from bs4 import BeautifulSoup  # here: the grader imports this module, and parses no page
    return BeautifulSoup((Path(built_html) / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")


def tool(name):
    """A command-line tool installed beside this Python (.venv/bin), else on PATH."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name)
