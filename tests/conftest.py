"""Shared paths and fixtures for the site's tests."""
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "scripts"))

if ROOT.name == "mutants":
    # Under `make mutation`, mutmut runs the tests on a copy of the site in mutants/ and knows
    # the lecture helpers by their paths (lectures.lecture_tools, lectures.benchmarks); the
    # tests and the lectures import them by their plain names. Give the plain names those
    # very modules, so that the mutated code is what the tests call.
    import importlib
    for name in ("lecture_tools", "benchmarks"):          # benchmarks imports lecture_tools
        sys.modules[name] = importlib.import_module(f"lectures.{name}")
from book import lectures, notebook_pages, toc_files  # noqa: E402,F401  (pages, lectures)


def tool(name):
    """A command-line tool installed with the test environment (.venv/bin), else on PATH."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name)


def parse_page(built_html, doc):
    """The built page for document `doc` (e.g. 'lectures/numpy'), parsed."""
    return BeautifulSoup((built_html / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="session")
def built_html():
    """The built site. `make test` builds it first; running pytest alone needs `make html`."""
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built site at {HTML}: run `make html` first (`make test` does)")
    return HTML

NOTEBOOKS = ROOT / "_build" / "notebooks"


def site_config():
    """(org, repo, notebooks branch, site URL) as _config.yml sets them, read independently
    of the extension that builds the URLs, so a test can catch the extension getting them wrong."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    org, repo = config["repository"]["url"].removeprefix("https://github.com/").split("/")
    branch = config["sphinx"]["config"]["notebooks_branch"]
    return org, repo, branch, f"https://{org.lower()}.github.io/{repo}/"


@pytest.fixture(scope="session")
def built_notebooks():
    """The notebooks `make notebooks` wrote (`make html`, and so `make test`, runs it)."""
    if not list((NOTEBOOKS / "lectures").glob("*.ipynb")):
        pytest.fail(f"no generated notebooks in {NOTEBOOKS}: run `make notebooks` first")
    return NOTEBOOKS
