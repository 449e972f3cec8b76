"""Shared paths and fixtures for the site's tests."""
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"


def toc_files():
    """Every document listed in _toc.yml, root first (paths without suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    pending = list(toc.get("chapters", [])) + list(toc.get("parts", []))
    while pending:
        entry = pending.pop(0)
        if "file" in entry:
            files.append(entry["file"])
        pending.extend(entry.get("chapters", []) + entry.get("sections", []))
    return files


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
