"""How long a lecture's main path is: the prose a student reads, against the time it states.

The main path is the text of a rendered lecture page outside code cells and their outputs,
exercises and their solutions, and collapsed dropdowns ("Going deeper" parts), and of a
set of tabs only the first (the others say the same for another tool): what a student
reads on the way through. A lecture states its time in its "Before you start" box
("**Time:** about 45 minutes to read and run; ..."). tests/test_site.py holds every
lecture to at most WORDS_PER_MINUTE words of main path per stated minute and MAX_WORDS
in all, so that a page cannot grow past what its stated time allows.

    python -m booktools.reading [HTML_DIR]    # print each lecture's figures
"""
import re
import sys
from pathlib import Path

from booktools.book import ROOT, lectures
from booktools.layout import HTML, parse_page

WORDS_PER_MINUTE = 30     # reading, running the cells and thinking about their output
MAX_WORDS = 2_000

# What a student does not read on the main path (CSS selectors on the rendered page).
OFF_PATH = ["script", "style", "div.cell", "div.highlight", "pre", ".exercise", ".solution",
            ".dropdown", "nav", ".headerlink", "div.math", ".sd-tab-content ~ .sd-tab-content"]

_NUMBERS = {"a quarter of an hour": 15, "half an hour": 30, "an hour and a quarter": 75,
            "an hour and a half": 90, "an hour and three quarters": 105, "an hour": 60,
            "two hours": 120}


def stated_minutes(time_line):
    """Minutes of "about ... to read and run" in a lecture's **Time:** line."""
    match = re.search(r"about (.+?) to read and run", time_line)
    if match is None:
        raise ValueError(f"no 'about ... to read and run' in {time_line!r}")
    phrase = match.group(1)
    if m := re.fullmatch(r"(\d+) minutes", phrase):
        return int(m.group(1))
    if phrase in _NUMBERS:
        return _NUMBERS[phrase]
    raise ValueError(f"cannot read a time from {phrase!r}")


def main_path_text(page):
    """The main path's text of a parsed lecture page (see the module docstring)."""
    article = page.select_one("article") or page
    for node in article.select(", ".join(OFF_PATH)):
        node.decompose()
    return " ".join(article.get_text(" ").split())


def main_path_words(page):
    return len(re.findall(r"[A-Za-z0-9][\w'’.,-]*", main_path_text(page)))


def page_figures(built_html, doc, root=ROOT):
    """(main-path words, stated minutes) of lecture `doc`, e.g. 'lectures/numpy'."""
    source = (Path(root) / f"{doc}.md").read_text(encoding="utf-8")
    time_line = re.search(r"^\*\*Time:\*\*.*$", source, re.M).group(0)
    return main_path_words(parse_page(built_html, doc)), stated_minutes(time_line)


def main(argv):
    built = Path(argv[0]) if argv else HTML
    print(f"{'lecture':32s} {'words':>6s} {'minutes':>7s} {'words/min':>9s}")
    for doc in lectures():
        words, minutes = page_figures(built, doc)
        print(f"{doc:32s} {words:6,d} {minutes:7d} {words / minutes:9.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
