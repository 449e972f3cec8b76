"""A pytest plugin (pytest.ini loads it: `-p booktools.pytest_lectures`) that collects
every lecture as a notebook test, straight from its MyST markdown.

nbval only collects .ipynb files. This hook hands nbval each `lectures/*.md`
that has a jupytext header, converted in memory with jupytext, so a new lecture
is tested without editing any test. Each code cell becomes one test item,
`lectures/<name>.md::Cell <n>`, run in order in one kernel per lecture. A cell tagged
`nbval-check-output` gets its recorded output (booktools.lecture_outputs), which nbval
compares with what it prints, durations left out (nbval-sanitize.cfg, beside this file).
"""
from unittest import mock

import jupytext
from nbval.plugin import IPyNbFile

from booktools.lecture_outputs import SANITIZE, with_recorded_outputs


def is_lecture(path):
    if path.suffix != ".md" or path.parent.name != "lectures":
        return False
    with open(path, encoding="utf-8") as handle:
        return handle.readline().strip() == "---" and "jupytext:" in handle.read(400)


class LectureNotebook(IPyNbFile):
    """An nbval notebook read from a jupytext MyST markdown file."""

    def collect(self):
        # nbval reads the file with nbformat.read; give it jupytext's reading instead.
        def read_markdown(path, as_version):
            return with_recorded_outputs(jupytext.read(path), self.path.stem, self.path.parent.parent)

        with mock.patch("nbval.plugin.nbformat.read", read_markdown):
            yield from super().collect()


def pytest_configure(config):
    # The durations a tagged cell prints are replaced before nbval compares its outputs.
    if getattr(config.option, "nbval_sanitize_with", None) is None:
        config.option.nbval_sanitize_with = str(SANITIZE)


def pytest_collect_file(file_path, parent):
    if (parent.config.option.nbval or parent.config.option.nbval_lax) and is_lecture(file_path):
        return LectureNotebook.from_parent(parent, path=file_path)
