"""`make release` (booktools/release.py): the files a GitHub release attaches, from the tree
`make test` built: everything a course needs, under names that carry the tag."""
import zipfile
from pathlib import Path

import pytest

from booktools import release
from booktools.book import lectures, toc_files
from booktools.layout import ASSIGNMENTS, PDF

pytestmark = pytest.mark.needs_build


def test_release_holds_site_pdfs_both_editions_notebooks_and_every_assignment(tmp_path, built_html, student):
    assert release.main("v9.8.7", tmp_path) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    pages = [Path(doc).name for doc in toc_files()[1:]]
    expected = (["lectures-v9.8.7-site.zip", "lectures-v9.8.7-book.pdf", "lectures-v9.8.7-notebooks.zip",
                 "lectures-v9.8.7-student-notebooks.zip"]
                + [f"lectures-v9.8.7-{page}.pdf" for page in pages]
                + [f"assignment-v9.8.7-{Path(doc).name}.zip" for doc in lectures()]
                + [f"autograder-v9.8.7-{Path(doc).name}.zip" for doc in lectures()])
    assert names == sorted(expected)
    assert (tmp_path / "lectures-v9.8.7-book.pdf").read_bytes() == PDF.read_bytes()
    with zipfile.ZipFile(tmp_path / "lectures-v9.8.7-site.zip") as site:
        assert {"index.html", "book.pdf", "lectures/numpy.html", "pdf/numpy.pdf"} <= set(site.namelist())
    with zipfile.ZipFile(tmp_path / "lectures-v9.8.7-student-notebooks.zip") as notebooks:
        assert {f"{doc}.ipynb" for doc in lectures()} <= set(notebooks.namelist())
    for doc in lectures():
        name = Path(doc).name
        assert (tmp_path / f"assignment-v9.8.7-{name}.zip").read_bytes() == (ASSIGNMENTS / f"{name}.zip").read_bytes()


def test_release_refuses_to_package_what_was_not_built(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(release, "ASSIGNMENTS", tmp_path / "no-assignments")
    assert release.main("v9.8.7", tmp_path / "out") == 1
    assert "run `make test` first" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
