"""Figures one page measures and others paste: `{glue:text}`other.md::key:s`` inline, or a
printed table with ```` ```{glue} key ```` and `:doc: other.md`.

Two things myst-nb leaves undone here:

* it pastes a value glued on another page at write time, from that page's glue cache, but
  does not tell Sphinx that the pasting page depends on the other one: edit the measuring
  lecture and an incremental build would keep the old figure on the pages that quote it.
  This extension records the dependency, so Sphinx rebuilds them too;
* a pasted block of plain text (a table, as a notebook printed it) becomes a literal block
  without a language, which the notebook builder turns into a code cell that a reader
  would run. Marked as text, it stays a block of text everywhere.

(tests/test_lecture_sources.py checks that a comparison two pages state comes from one
measurement.)
"""
from docutils import nodes
from myst_nb.ext.glue.utils import PendingGlueReference
from sphinx.transforms.post_transforms import SphinxPostTransform

PASTED = "pasted-figure"


def note_pasted_pages(app, doctree):
    env = app.env
    for node in doctree.findall(PendingGlueReference):
        env.note_dependency(env.doc2path(node["refdoc"]))


class WrapPastedBlocks(SphinxPostTransform):
    """Before myst-nb replaces a pending block paste (its priority is 5), put it in a
    container that says it was pasted."""
    default_priority = 4

    def run(self, **kwargs):
        for node in list(self.document.findall(PendingGlueReference)):
            if not node.get("inline"):
                box = nodes.container(classes=[PASTED])
                node.replace_self(box)
                box += node


class PastedTextIsText(SphinxPostTransform):
    default_priority = 6

    def run(self, **kwargs):
        for box in self.document.findall(nodes.container):
            if PASTED in box["classes"]:
                for block in box.findall(nodes.literal_block):
                    block["language"] = "text"


def setup(app):
    app.connect("doctree-read", note_pasted_pages)
    app.add_post_transform(WrapPastedBlocks)
    app.add_post_transform(PastedTextIsText)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
