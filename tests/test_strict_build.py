"""A broken lecture must fail the build and the test run, and say where it broke.

Each test writes a one-lecture fixture book that uses this site's real
_config.yml, builds it with the real `make html`, and checks the exit code and
the message. A control book with nothing broken must build cleanly, so the
failures below are caused by the breakage and nothing else.
"""
import re
import shutil
import subprocess
import sys
import time

import pytest
from toy_lectures import front_matter

from booktools.book import CONFIG_ASSETS, ROOT

pytestmark = pytest.mark.slow   # each test builds a book: `make check` leaves them to `make test`

HEADER = front_matter("mystnb:\n  execution_timeout: {timeout}\n") + """\

# Fixture lecture

Some prose{prose_extra}.

```{{code-cell}} ipython3
x = 1 + 1
```

```{{code-cell}} ipython3
{cell}
```
"""


def make_book(tmp_path, cell="print(x)", prose_extra="", timeout=60):
    """A fixture book with one lecture, lectures/fixture.md, and the site's own config."""
    # The site's own config, without its redirects: their target pages are not in this book.
    config = (ROOT / "_config.yml").read_text()
    config = re.sub(r"\n    rediraffe_redirects:\n(      .*\n)+", "\n    rediraffe_redirects: {}\n", config)
    assert "rediraffe_redirects: {}" in config
    (tmp_path / "_config.yml").write_text(config)
    for folder in CONFIG_ASSETS:                             # what the config refers to
        shutil.copytree(ROOT / folder, tmp_path / folder)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: lectures/fixture\n")
    (tmp_path / "lectures").mkdir()
    shutil.copy(ROOT / "lectures" / "lecture_tools.py", tmp_path / "lectures")
    (tmp_path / "lectures" / "fixture.md").write_text(
        HEADER.format(cell=cell, prose_extra=prose_extra, timeout=timeout))
    return tmp_path


def build(book):
    """Run the site's real `make html` on `book`; return (exit code, all output, seconds)."""
    start = time.perf_counter()
    result = subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "html",
                             f"BOOK={book}"], capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr, time.perf_counter() - start


def test_control_book_with_nothing_broken_builds(tmp_path):
    code, output, _ = build(make_book(tmp_path))
    assert code == 0, output[-3000:]
    assert (tmp_path / "_build" / "html" / "lectures" / "fixture.html").exists()


def test_failing_cell_fails_the_build_naming_lecture_and_cell(tmp_path):
    code, output, _ = build(make_book(tmp_path, cell="result = 1 / 0  # the broken cell"))
    assert code != 0
    assert "lectures/fixture.md" in output           # the lecture
    assert "result = 1 / 0  # the broken cell" in output   # the failing cell's source
    assert "ZeroDivisionError" in output


def test_hanging_cell_hits_the_lectures_timeout(tmp_path):
    code, output, _ = build(make_book(tmp_path, cell="import time\ntime.sleep(300)", timeout=5))
    assert code != 0
    assert "lectures/fixture.md" in output
    # The cell sleeps 300 s: only the lecture's 5 s timeout ends it with this error.
    assert "CellTimeoutError" in output or "timed out" in output


def test_broken_cross_reference_fails_the_build(tmp_path):
    code, output, _ = build(make_book(tmp_path, prose_extra=", see {doc}`no_such_lecture`"))
    assert code != 0
    assert "fixture.md" in output and "no_such_lecture" in output


def test_a_warning_while_reading_a_lecture_fails_the_build(tmp_path):
    # Skipping a heading level is reported while the sources are read, by the first of
    # `make html`'s two builds (the notebooks); the second reuses what it read.
    code, output, _ = build(make_book(tmp_path, prose_extra=".\n\n## A section\n\n#### Too deep"))
    assert code != 0, output[-3000:]
    assert "fixture.md" in output and "Non-consecutive header level increase" in output
    assert "warnings are errors" in output


def test_failing_cell_fails_the_test_suite_naming_lecture_and_cell(tmp_path):
    book = make_book(tmp_path, cell="result = 1 / 0  # the broken cell")
    shutil.copy(ROOT / "pytest.ini", book / "pytest.ini")
    result = subprocess.run([sys.executable, "-m", "pytest", "lectures/fixture.md", "-p", "no:cacheprovider"],
                            cwd=book, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "lectures/fixture.md::Cell 1 FAILED" in output or \
        "FAILED lectures/fixture.md::Cell 1" in output, output[-3000:]
    assert "result = 1 / 0  # the broken cell" in output
    assert "1 passed" in output   # Cell 0 ran fine: the failure is the broken cell's
