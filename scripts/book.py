"""What the book is made of, read from _toc.yml: its pages, and which of them are lectures.

Used by the scripts that build student versions and by the tests, so both agree on
what a lecture is: a page under the "Lectures" caption of _toc.yml.
"""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LECTURES_CAPTION = "Lectures"
# Folders _config.yml refers to (extensions, static files, MathJax, LaTeX files): a copy
# of the book (the student edition, a test's fixture book) needs them beside its config.
CONFIG_ASSETS = ["_ext", "_static", "_vendor", "_latex"]


def _toc(root=ROOT):
    return yaml.safe_load((Path(root) / "_toc.yml").read_text())


def _files(entries):
    files = []
    for entry in entries:
        if "file" in entry:
            files.append(entry["file"])
        files += _files(entry.get("chapters", []) + entry.get("sections", []))
    return files


def toc_files(root=ROOT):
    """Every document listed in _toc.yml, root first (paths without suffix)."""
    toc = _toc(root)
    return [toc["root"]] + _files(toc.get("chapters", []) + toc.get("parts", []))


def lectures(root=ROOT):
    """The lectures, in order (e.g. 'lectures/numpy'): the files of the "Lectures" part."""
    parts = [p for p in _toc(root).get("parts", []) if p.get("caption") == LECTURES_CAPTION]
    if len(parts) != 1:
        raise ValueError(f"_toc.yml needs exactly one part with caption {LECTURES_CAPTION!r}")
    return _files(parts[0]["chapters"])


def notebook_pages(root=ROOT):
    """The pages that are notebooks (a kernelspec in their front matter): they get launch
    and .ipynb download buttons. Plain pages, like the instructors' page, do not."""
    return [doc for doc in toc_files(root)
            if "\nkernelspec:" in (Path(root) / f"{doc}.md").read_text(encoding="utf-8").split("\n---", 1)[0]]
