"""Finish the notebooks that sphinx-tojupyter wrote, for readers in Colab, Binder or Jupyter.

    python -m booktools.notebooks [BUILD_DIR]     # `make notebooks` runs this

Reads BUILD_DIR/jupyter/lectures/*.ipynb (MyST already rendered as plain Jupyter
markdown, hidden test cells already dropped) and writes BUILD_DIR/notebooks/, the
tree that CI publishes to the notebooks branch:

    lectures/<name>.ipynb    each lecture, with a setup cell before its first code cell
    lectures/lecture_tools.py, lectures/benchmarks.py   (helper modules the lectures import)
    requirements.txt, runtime.txt   the Binder environment (pinned, from requirements.txt)
    README.md

The setup cell installs, quietly and pinned, only the packages the runtime lacks
(on Colab: quantecon), and holds every package that is already installed at its
installed version, so Colab's own JAX (GPU build included), NumPy and Numba are
never replaced. Collapsed cells then make the helper modules the lecture imports
(`lecture_tools`, `benchmarks`) importable: written next to the notebook if they are
not there (Colab opens a notebook alone; a downloaded notebook travels alone), from
copies embedded in the cells.
"""
import re
import shutil
import sys
from pathlib import Path

import nbformat

from booktools import book, lecture_source
from booktools.book import ROOT, notebook_pages, page_url
from booktools.layout import BUILD
from booktools.requirements import LECTURE_RUNTIME, pinned_versions, python_version

SETUP_TEMPLATE = '''\
# Setup: install the packages this lecture needs that this Python lacks, pinned to the
# versions the website was built with. Packages already installed are held at their
# installed versions, so Colab's own JAX (GPU build included), NumPy and Numba stay.
import importlib.metadata, importlib.util, subprocess, sys, tempfile

PINNED = {{  # import name: pinned requirement
{pinned}
}}
missing = [spec for module, spec in PINNED.items() if importlib.util.find_spec(module) is None]
if missing:
    installed = []
    for spec in PINNED.values():
        name = spec.split("==")[0]
        try:
            installed.append(f"{{name}}=={{importlib.metadata.version(name)}}")
        except importlib.metadata.PackageNotFoundError:
            pass
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as hold:
        hold.write("\\n".join(installed))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-c", hold.name, *missing],
                   check=True)
    importlib.invalidate_caches()
    print("installed:", ", ".join(missing))
'''

HELPER_TEMPLATE = '''\
#@title Helper module `{module}`; run this cell
# This lecture imports {module}.py, which sits next to the notebooks in the website's
# repository. A notebook opened on its own (Colab, a download) writes this copy of it.
import importlib.util
if importlib.util.find_spec("{module}") is None:
    with open("{module}.py", "w", encoding="utf-8") as module_file:
        module_file.write({source!r})
    importlib.invalidate_caches()
'''
HELPERS = list(book.HELPERS)      # helper modules in lectures/, in dependency order


def pinned_runtime():
    pins = pinned_versions()
    return {module: f"{dist}=={pins[dist]}" for module, dist in LECTURE_RUNTIME.items()}


def setup_cells(helpers):
    """The install cell, then one collapsed cell per helper module the notebook needs."""
    pinned = "\n".join(f"    {module!r}: {spec!r}," for module, spec in pinned_runtime().items())
    cells = [nbformat.v4.new_code_cell(SETUP_TEMPLATE.format(pinned=pinned),
                                       metadata={"tags": ["setup"]})]
    for module in helpers:
        source = (ROOT / "lectures" / f"{module}.py").read_text(encoding="utf-8")
        cells.append(nbformat.v4.new_code_cell(
            HELPER_TEMPLATE.format(module=module, source=source),
            # Collapsed in Colab (a form showing only the title) and in JupyterLab.
            metadata={"tags": ["setup"], "cellView": "form", "jupyter": {"source_hidden": True}}))
    return cells


def helpers_needed(nb):
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    needed = [m for m in HELPERS if re.search(rf"^\s*(import|from)\s+{m}\b", code, re.M)]
    if "benchmarks" in needed and "lecture_tools" not in needed:
        needed.insert(0, "lecture_tools")
    return needed


def provenance(docname, title):
    return (f"*This notebook is generated from the lecture [{title}]({page_url(docname)}). "
            "Numbers quoted in the text were measured when the website was built; the outputs "
            "you get by running the cells are measured on your machine and will differ.*")


# What the notebooks call an exercise, its solution and the section holding them: written
# by exercise_headings, read back by grading and assignments (one definition).
EXERCISES_SECTION = "## Exercises"
EXERCISE_HEADING = re.compile(r"^### (Exercise (\d+)\.(\d+))", re.M)       # "### Exercise 4.1"
SOLUTION_HEADING = re.compile(r"^### Solution to (Exercise [\d.]+)", re.M)


def exercise_headings(markdown):
    """sphinx-tojupyter writes sphinx-exercise's titles as `## Exercise 4.1` and
    `## Solution to[ Exercise 4.1](SITE/lectures/#label)`, a link with no page in it, and
    the lecture's overview box as a second top-level heading. Make the exercise titles
    subheadings of the "Exercises" section, without the link, and the box a section."""
    markdown = re.sub(r"^## Solution to\[ (Exercise [\d.]+[^\]]*)\]\([^)]*\)", r"### Solution to \1",
                      markdown, flags=re.M)
    markdown = re.sub(r"^## (Exercise [\d.]+)", r"### \1", markdown, flags=re.M)
    return re.sub(r"^# (Before you start)$", r"## \1", markdown, flags=re.M)


# Cell tags readers' Jupyter needs (sphinx-tojupyter drops every tag): a cell tagged
# raises-exception raises on purpose, and JupyterLab's "Run all" goes on past it.
KEPT_TAGS = {"raises-exception"}


def source_tags(source_md):
    """{code cell source: kept tags} for the cells of the page's MyST source that have any."""
    if source_md is None or not Path(source_md).exists():
        return {}
    cells = lecture_source.code_cells(Path(source_md).read_text(encoding="utf-8"))
    return {source.strip(): sorted(KEPT_TAGS & set(tags)) for source, tags in cells if KEPT_TAGS & set(tags)}


def finish_notebook(nb, docname, source_md=None):
    """Return `nb` ready for readers: standard metadata, the tags readers need (from the page's
    source, `source_md`), and setup cells before the first code."""
    tags = source_tags(source_md)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "title": nb.metadata.get("title", ""),
    }
    lecture = ROOT / f"{docname}.md"           # the full edition's source, checks included
    if lecture.is_file() and lecture_source.exercises(text := lecture.read_text(encoding="utf-8")):
        # What the grader checks this notebook's answers against (booktools.grading refuses
        # to grade it with other checks unless asked to).
        nb.metadata["assignment"] = {"lecture": docname, "checks": lecture_source.checks_version(text)}
    for cell in nb.cells:
        cell.metadata.pop("hide-output", None)     # sphinx-tojupyter's own bookkeeping
        if cell.cell_type == "markdown":
            cell.source = exercise_headings(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if cell.source.strip() in tags:
                cell.metadata["tags"] = tags[cell.source.strip()]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)
    if first_code is not None:
        nb.cells[first_code:first_code] = setup_cells(helpers_needed(nb))
    # Right under the title: where the notebook comes from and whose numbers the text quotes.
    title_cell = next(c for c in nb.cells if c.source.lstrip().startswith("# "))
    heading, _, rest = title_cell.source.lstrip().partition("\n")
    title_cell.source = f"{heading}\n\n{provenance(docname, nb.metadata['title'])}\n{rest}"
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):           # stable ids: republishing changes no ids
        cell["id"] = f"cell-{i}"
    nbformat.validate(nb)
    return nb


def binder_requirements():
    pins = pinned_versions()
    runtime = sorted(set(LECTURE_RUNTIME.values()))
    return "".join(f"{dist}=={pins[dist]}\n" for dist in runtime)


README = """# Lecture notebooks: NumPy vs Numba vs JAX

Generated by `make notebooks` from the lectures on the `main` branch and published by CI.
Do not edit: changes are overwritten on every publication. Open a notebook in Colab or
Binder from the launch button of its page on the website.
"""


def main(build_dir):
    build_dir = Path(build_dir)
    source_dir = build_dir / "jupyter" / "lectures"
    out = build_dir / "notebooks"
    # Only pages that are notebooks (a kernelspec); plain pages have nothing to run.
    runnable = {Path(doc).name for doc in notebook_pages(build_dir.parent)}
    sources = sorted(p for p in source_dir.glob("*.ipynb") if p.stem in runnable)
    if not sources:
        print(f"no notebooks in {source_dir}: run the jupyter builder first (`make notebooks`)",
              file=sys.stderr)
        return 1
    shutil.rmtree(out, ignore_errors=True)
    (out / "lectures").mkdir(parents=True)
    for path in sources:
        nb = finish_notebook(nbformat.read(path, as_version=4), f"lectures/{path.stem}",
                             build_dir.parent / "lectures" / f"{path.stem}.md")
        nbformat.write(nb, out / "lectures" / path.name)
    for module in HELPERS:
        shutil.copy(ROOT / "lectures" / f"{module}.py", out / "lectures" / f"{module}.py")
    (out / "requirements.txt").write_text(binder_requirements())
    (out / "runtime.txt").write_text(f"python-{python_version()}\n")
    (out / "README.md").write_text(README)
    print(f"wrote {len(sources)} notebooks to {out / 'lectures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else BUILD))
