"""The `{lecture-list}` directive: the numbered list of lectures, read from _toc.yml.

The intro page lists the lectures with a line on each. Typed by hand, that list fell
behind the table of contents (a new lecture was missing from it). The directive takes
the lectures and their order from _toc.yml (booktools.book.lectures) and each line from
its lecture's front matter (`summary:`), so the list follows the book; a lecture
without a summary fails the build.
"""
from pathlib import Path

import yaml
from sphinx.errors import ExtensionError
from sphinx.util.docutils import SphinxDirective

from booktools.book import lectures


def summary(path):
    """The `summary:` of a lecture's front matter."""
    text = Path(path).read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("\n---", 1)[0].removeprefix("---\n")) if text.startswith("---\n") else {}
    line = (front or {}).get("summary")
    if not line:
        raise ExtensionError(f"{path}: the front matter has no `summary:` for the lecture list on the intro page")
    return " ".join(str(line).split())


class LectureList(SphinxDirective):
    has_content = False

    def run(self):
        srcdir = Path(self.env.srcdir)
        lines = []
        for number, doc in enumerate(lectures(srcdir), 1):
            path = srcdir / f"{doc}.md"
            self.env.note_dependency(str(path))
            lines.append(f"{number}. {{doc}}`/{doc}`: {summary(path)}")
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app):
    app.add_directive("lecture-list", LectureList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
