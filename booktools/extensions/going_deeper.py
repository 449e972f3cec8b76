"""Collapsed "Going deeper" parts of a lecture, which may hold code cells.

A lecture's main path is what a student reads in its stated time; what an expert wants
and a student may skip goes between two directives:

    ```{deeper-start} Why not fastmath=True
    ```
    ... prose, code cells, hidden checks ...
    ```{deeper-end}
    ```

MyST-NB makes each code cell a node of its own beside the prose, so no single directive
can hold cells; as with sphinx-exercise's gated solutions, the two markers are merged
after parsing: everything between them goes into one admonition titled "Going deeper:
...", with the class `dropdown` that sphinx-togglebutton collapses on the site (the PDF
and the notebooks show it open). The cells inside run and are checked like any other.
The markers must be siblings: no section heading between them.
"""
from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective

TITLE = "Going deeper: "


class deeper_start(nodes.Element):
    pass


class deeper_end(nodes.Element):
    pass


class DeeperStart(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True

    def run(self):
        node = deeper_start(title=self.arguments[0])
        self.set_source_info(node)
        return [node]


class DeeperEnd(SphinxDirective):
    def run(self):
        node = deeper_end()
        self.set_source_info(node)
        return [node]


class MergeGoingDeeper(SphinxTransform):
    default_priority = 10

    def apply(self):
        for start in list(self.document.findall(deeper_start)):
            parent = start.parent
            first = parent.index(start)
            end = next((i for i, child in enumerate(parent.children[first + 1:], first + 1)
                        if isinstance(child, (deeper_start, deeper_end))), None)
            if end is None or not isinstance(parent[end], deeper_end):
                raise ExtensionError(f"{self.env.docname}: a deeper-start ({start['title']!r}) without its "
                                     "deeper-end after it in the same section (no heading between them)")
            box = nodes.admonition(classes=["dropdown", "going-deeper"])
            box += nodes.title(text=TITLE + start["title"])
            for child in parent.children[first + 1:end]:
                box += child.deepcopy()
            box.source, box.line = start.source, start.line
            parent[first:end + 1] = [box]
        stray = next(iter(self.document.findall(deeper_end)), None)
        if stray is not None:
            raise ExtensionError(f"{self.env.docname}: a deeper-end without its deeper-start")


def setup(app):
    app.add_node(deeper_start)
    app.add_node(deeper_end)
    app.add_directive("deeper-start", DeeperStart)
    app.add_directive("deeper-end", DeeperEnd)
    app.add_transform(MergeGoingDeeper)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
