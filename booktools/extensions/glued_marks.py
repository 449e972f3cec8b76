"""Mark every phrase a notebook glued into the prose ({glue:md}), as {glue:text} already is.

myst-nb pastes a {glue:md} phrase as bare inline nodes, so nothing on the rendered page
tells a measured phrase ("1.6 times faster than") from the prose around it. This wraps
each in `<span class="pasted-md">`, so a reader of the page can: booktools.reading counts
a glued phrase as a fixed number of words, and a lecture's stated time is then the same
on every machine, whatever its measurements said.
"""
from docutils import nodes
from myst_nb.ext.glue.roles import PasteMarkdownRole

GLUED_MD = "pasted-md"


class MarkedPasteMarkdownRole(PasteMarkdownRole):
    def run(self):
        pasted, messages = super().run()
        # Marked even when empty: a lecture may glue "" where the measurement calls for no
        # sentence, and the count of glued phrases must not depend on what was measured.
        return [nodes.inline("", "", *pasted, classes=[GLUED_MD])], messages


def setup(app):
    app.setup_extension("myst_nb")
    app.add_role_to_domain("glue", "md", MarkedPasteMarkdownRole(), override=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
