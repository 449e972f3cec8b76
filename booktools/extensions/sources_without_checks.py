"""The page sources the site serves (`_sources/`, which the download menu offers) carry no
exercise's check: the hidden cell after each solution, which grades it
(booktools.lecture_source.without_checks). The page itself never showed them; a student
handed the assignment should not find its tests one click away.

Each served copy is written from the page's own source, never from the copy already
served: Sphinx copies a source only when the page changed, and stripping a stripped copy
again would drop the next hidden cell too (a second `make html` did).
"""
from pathlib import Path

from booktools.lecture_source import without_checks


def strip_checks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for path in sources.rglob("*.md") if sources.is_dir() else []:
        source = Path(app.srcdir) / path.relative_to(sources)
        if not source.is_file():
            continue
        stripped = without_checks(source.read_text(encoding="utf-8"))
        if stripped != path.read_text(encoding="utf-8"):
            path.write_text(stripped, encoding="utf-8")


def setup(app):
    app.connect("build-finished", strip_checks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
