"""What the book is made of, read from _config.yml and _toc.yml (the one reader of both).

Pages and lectures come from _toc.yml: a lecture is a page under the "Lectures" caption.
The repository, the site's URL and the branches the notebooks are published to come from
_config.yml. The scripts that build the editions, the Sphinx extensions and the tests all
ask here, so they agree.
"""
import os
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LECTURES_CAPTION = "Lectures"
# Folders _config.yml refers to (static files, MathJax, LaTeX files, template overrides): a
# copy of the book (the student edition, a test's fixture book) needs them beside its config.
CONFIG_ASSETS = ["_static", "_vendor", "_latex", "_templates"]
# The helper modules in lectures/ that lectures and checks import, in dependency order
# (benchmarks imports lecture_tools): notebooks ship them, grading hashes them, the
# mutation run copies them.
HELPERS = ("lecture_tools", "benchmarks")


def _toc(root=ROOT):
    return yaml.safe_load((Path(root) / "_toc.yml").read_text())


@cache
def _config_text(path):
    return Path(path).read_text()


def config(root=ROOT):
    """_config.yml, parsed."""
    return yaml.safe_load(_config_text(Path(root) / "_config.yml"))


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


# A folder of the instructor's own exercises, never published: EXTRA_EXERCISES=dir holds
# dir/<lecture name>.md, exercises in the lectures' format (statement, variant, solution,
# check), that the assignments and the grader add after the lecture's own (`make
# assignments EXTRA=dir`, `make grade EXTRA=dir`).
EXTRA = "EXTRA_EXERCISES"


def extra_exercises(doc):
    """The source of the instructor's own exercises for lecture `doc` ("" if none)."""
    folder = os.environ.get(EXTRA, "")
    path = Path(folder) / f"{Path(doc).name}.md"
    return path.read_text(encoding="utf-8") if folder and path.is_file() else ""


def graded_source(doc, root=ROOT):
    """The lecture's source with the instructor's own exercises for it (`extra_exercises`)
    after its own: what grading, variants and the assignments read."""
    text = (Path(root) / f"{doc}.md").read_text(encoding="utf-8")
    extra = extra_exercises(doc)
    return text + ("\n\n" + extra if extra else "")


def notebook_pages(root=ROOT):
    """The pages that are notebooks (a kernelspec in their front matter): they get launch
    and .ipynb download buttons. Plain pages, like the instructors' page, do not."""
    return [doc for doc in toc_files(root)
            if "\nkernelspec:" in (Path(root) / f"{doc}.md").read_text(encoding="utf-8").split("\n---", 1)[0]]


def repo_parts(repository_url):
    """('ORG', 'REPO') from https://github.com/ORG/REPO; ValueError for anything else."""
    prefix = "https://github.com/"
    parts = repository_url.rstrip("/").removeprefix(prefix).split("/")
    if not repository_url.startswith(prefix) or len(parts) != 2 or not all(parts):
        raise ValueError(f"repository.url must be https://github.com/ORG/REPO, got {repository_url!r}")
    return parts[0], parts[1]


def site_url(repository_url):
    """GitHub Pages' address for the repository: https://org.github.io/REPO/."""
    org, repo = repo_parts(repository_url)
    return f"https://{org.lower()}.github.io/{repo}/"


def repository(root=ROOT):
    """('ORG', 'REPO') of the repository the site is published from (repository.url)."""
    return repo_parts(config(root)["repository"]["url"])


def page_url(docname, root=ROOT):
    """The published address of a page, e.g. page_url('lectures/numpy')."""
    return f"{site_url(config(root)['repository']['url'])}{docname}.html"


def branches(root=ROOT):
    """{edition: branch its launch buttons open}: the branches CI publishes notebooks to."""
    settings = config(root)["sphinx"]["config"]
    return {"full": settings["notebooks_branch"], "student": settings["student_notebooks_branch"]}
