"""How long a lecture takes: the rule its stated times follow, and its main path in words.

The main path is the text of a rendered lecture page outside code cells and their outputs,
exercises and their solutions, and collapsed dropdowns ("Going deeper" parts), and of a
set of tabs only the first (the others say the same for another tool): what a student
reads on the way through.

A lecture states its times in its "Before you start" box ("**Time:** about 45 minutes to
read and run; the exercises take about an hour and a half, and the optional ones about
45 minutes more."), and they follow one rule (`study_time`, documented in
CONTRIBUTING.md, "Stated times"):

* reading and running: the main path's words at READ_WORDS_PER_MINUTE, plus
  MINUTES_PER_CELL for each code cell on it (read it, run it, read what it printed);
  a phrase the notebook glued in (a measurement in words, marked on the page by
  booktools.extensions.glued_marks) counts as GLUED_WORDS whatever it says, so the
  figure is the same on every machine;
* exercises: for each, MINUTES_PER_EXERCISE to read and plan, MINUTES_PER_POINT for each
  point it is worth, and MINUTES_PER_LINE for each line of the site's own solution;
  those marked optional (their statement starts "*Optional, beyond the stated time.*")
  are stated apart;
* each figure rounded to the nearest quarter of an hour, and a lecture's reading plus its
  (not optional) exercises at most MAX_LECTURE_MINUTES.

tests/test_site.py holds every lecture's stated times to the rule, and to MAX_WORDS of main
path; tests/test_lecture_sources.py the instructors' table and plans to the lectures.

    python -m booktools.reading [HTML_DIR]    # print each lecture's figures
"""
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from booktools.book import ROOT, lectures
from booktools.layout import HTML, parse_page

MAX_WORDS = 2_000
GLUED_WORDS = 8              # a glued phrase, as words (their mean on the lectures was 7.5)
GLUED = ".pasted-md, .pasted-text"
# The rule for stated times (see the module docstring).
READ_WORDS_PER_MINUTE = 60   # technical prose with code and math, read with care
MINUTES_PER_CELL = 1.5       # a main-path code cell: read it, run it, read its output
MINUTES_PER_EXERCISE = 10    # read the statement and plan
MINUTES_PER_POINT = 10       # for each point the exercise is worth
MINUTES_PER_LINE = 1         # for each line of the site's solution (not blank, not a comment)
QUARTER = 15
MAX_LECTURE_MINUTES = 150    # reading plus the exercises in the stated time

# What a student does not read on the main path (CSS selectors on the rendered page).
OFF_PATH = ["script", "style", "div.cell", "div.highlight", "pre", ".exercise", ".solution",
            ".dropdown", "nav", ".headerlink", "div.math", ".sd-tab-content ~ .sd-tab-content"]

_HOURS = ["", "an hour", "two hours", "three hours", "four hours", "five hours", "six hours"]
_QUARTERS = ["", " and a quarter", " and a half", " and three quarters"]


def phrase(minutes):
    """A whole number of quarter hours in words: '45 minutes', 'an hour and a half'.

    >>> [phrase(m) for m in (15, 30, 45, 60, 90, 150)]
    ['a quarter of an hour', 'half an hour', '45 minutes', 'an hour', 'an hour and a half', 'two hours and a half']
    """
    if minutes % QUARTER or not 0 < minutes < QUARTER * 4 * len(_HOURS):
        raise ValueError(f"not a whole number of quarter hours: {minutes}")
    hours, quarters = divmod(minutes // QUARTER, 4)
    if hours == 0:
        return ["", "a quarter of an hour", "half an hour", "45 minutes"][quarters]
    return _HOURS[hours] + _QUARTERS[quarters]


_MINUTES = {phrase(m): m for m in range(QUARTER, QUARTER * 4 * len(_HOURS), QUARTER)}


def minutes_of(words):
    """The minutes a phrase of `phrase` says."""
    if words not in _MINUTES:
        raise ValueError(f"cannot read a time from {words!r}")
    return _MINUTES[words]


@dataclass
class StudyTime:
    reading: int        # minutes to read the main path and run its cells
    exercises: int      # minutes for the exercises in the stated time
    optional: int = 0   # minutes for the optional exercises, stated apart

    def line(self):
        """The "Before you start" box's line that states these times."""
        text = (f"**Time:** about {phrase(self.reading)} to read and run; the exercises take about "
                f"{phrase(self.exercises)}")
        return text + (f", and the optional ones about {phrase(self.optional)} more." if self.optional else ".")


def _quarter(minutes):
    return max(QUARTER, int(round(minutes / QUARTER)) * QUARTER)


def study_time(words, source):
    """The rule's times for a lecture whose main path has `words` words and whose MyST
    source is `source` (its main-path cells and its exercises are read from it)."""
    from booktools.lecture_source import exercises, main_path_cells, solution_lines
    reading = _quarter(words / READ_WORDS_PER_MINUTE + MINUTES_PER_CELL * len(main_path_cells(source)))
    minutes = {True: 0.0, False: 0.0}
    for exercise in exercises(source):
        minutes[exercise.optional] += (MINUTES_PER_EXERCISE + MINUTES_PER_POINT * exercise.points
                                       + MINUTES_PER_LINE * solution_lines(exercise.solution))
    return StudyTime(reading, _quarter(minutes[False]), _quarter(minutes[True]) if minutes[True] else 0)


TIME_LINE = re.compile(r"^\*\*Time:\*\* about (.+?) to read and run; the exercises take about (.+?)"
                       r"(?:, and the optional ones about (.+?) more)?\.$", re.M)


def stated_time(source):
    """The times a lecture's source states in its "Before you start" box."""
    match = TIME_LINE.search(source)
    if match is None:
        raise ValueError("no '**Time:** about ... to read and run; the exercises take about ...' line")
    reading, exercises, optional = match.groups()
    return StudyTime(minutes_of(reading), minutes_of(exercises), minutes_of(optional) if optional else 0)


def stated_minutes(time_line):
    """Minutes of "about ... to read and run" in a lecture's **Time:** line."""
    match = re.search(r"about (.+?) to read and run", time_line)
    if match is None:
        raise ValueError(f"no 'about ... to read and run' in {time_line!r}")
    return minutes_of(match.group(1))


def main_path_text(page):
    """The main path's text of a parsed lecture page (see the module docstring), each
    glued phrase in it replaced by GLUED_WORDS placeholder words."""
    article = page.select_one("article") or page
    for node in article.select(", ".join(OFF_PATH)):
        node.decompose()
    for node in article.select(GLUED):
        node.replace_with(" ".join(["glued"] * GLUED_WORDS))
    return " ".join(article.get_text(" ").split())


def main_path_words(page):
    return len(re.findall(r"[A-Za-z0-9][\w'’.,-]*", main_path_text(page)))


def page_figures(built_html, doc, root=ROOT):
    """(main-path words, stated reading minutes) of lecture `doc`, e.g. 'lectures/numpy'."""
    source = (Path(root) / f"{doc}.md").read_text(encoding="utf-8")
    return main_path_words(parse_page(built_html, doc)), stated_time(source).reading


def rule_and_stated(built_html, doc, root=ROOT):
    """(the rule's StudyTime, the stated one) of lecture `doc`."""
    source = (Path(root) / f"{doc}.md").read_text(encoding="utf-8")
    return study_time(main_path_words(parse_page(built_html, doc)), source), stated_time(source)


def main(argv):
    built = Path(argv[0]) if argv else HTML
    print(f"{'lecture':28s} {'words':>6s} {'read':>5s} {'exercises':>9s} {'optional':>8s} {'total':>6s}  stated")
    for doc in lectures():
        words = main_path_words(parse_page(built, doc))
        rule, stated = rule_and_stated(built, doc)
        print(f"{doc:28s} {words:6,d} {rule.reading:5d} {rule.exercises:9d} {rule.optional:8d} "
              f"{rule.reading + rule.exercises:6d}  {stated.reading}/{stated.exercises}/{stated.optional}")


if __name__ == "__main__":
    main(sys.argv[1:])
