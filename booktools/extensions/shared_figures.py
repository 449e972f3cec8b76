"""Figures one page measures and others paste: `{glue:text}`other_page.ipynb::key``.

myst-nb pastes a value glued on another page at write time, from that page's glue
cache, but does not tell Sphinx that the pasting page depends on the other one: edit
the measuring lecture and an incremental build would keep the old figure on the pages
that quote it. This extension records the dependency, so Sphinx rebuilds them too.
(tests/test_lecture_sources.py checks that a comparison two pages state comes from one
measurement.)
"""
from myst_nb.ext.glue.utils import PendingGlueReference


def note_pasted_pages(app, doctree):
    env = app.env
    for node in doctree.findall(PendingGlueReference):
        env.note_dependency(env.doc2path(node["refdoc"]))


def setup(app):
    app.connect("doctree-read", note_pasted_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
