"""The page sources the site serves (`_sources/`, which the download menu offers) carry no
exercise's check: the hidden cell after each solution, which grades it
(booktools.lecture_source.without_checks). The page itself never showed them; a student
handed the assignment should not find its tests one click away.
"""
from pathlib import Path

from booktools.lecture_source import without_checks


def strip_checks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for path in sources.rglob("*.md") if sources.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        stripped = without_checks(text)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")


def setup(app):
    app.connect("build-finished", strip_checks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
