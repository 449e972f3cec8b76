"""What a toy lecture for a test starts with: the front matter jupytext and myst-nb read
(lectures/*.md carry the same), so that a test's lecture is read as the site's are."""


def front_matter(extra=""):
    """The front matter, with `extra` YAML lines (such as myst-nb's options) at its end."""
    return ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
            "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n" + extra + "---\n")


def toy_lecture(body):
    """A lecture's text: the front matter, then `body` (MyST markdown)."""
    return front_matter() + "\n" + body
