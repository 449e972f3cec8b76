"""The notebooks readers open in Colab, Binder or Jupyter: where the buttons point, and what they get."""
import re
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import jupytext
import nbformat
import pytest

from booktools.book import ROOT, branches, lectures, notebook_pages, repository, site_url
from booktools.layout import STUDENT, parse_page
from booktools.lecture_source import without_checks

DOCS = notebook_pages()   # pages with launch buttons and a generated notebook
MYST_SYNTAX = ["```{", "{doc}`", "{ref}`", "{glue", "{code-cell}", ":tags:", ":class:", "{include}",
               "{admonition}", "{note}", "(parallel)="]


def launch_url(built_html, doc, service):
    """The parsed URL of the page's Colab or Binder launch button."""
    link = parse_page(built_html, doc).select_one(f"a.btn-launch-{service}-button")
    assert link is not None, f"{doc}: no {service} button"
    return urlparse(link["href"])


def notebook(built_notebooks, doc):
    return nbformat.read(built_notebooks / f"{doc}.ipynb", as_version=4)


@pytest.fixture(params=["full", "student"])
def edition(request, built_html, built_notebooks):
    """(site, notebooks, branch the launch buttons open) of the full edition and of the
    student edition (`make student`), each checked against its own notebooks."""
    if request.param == "full":
        return built_html, built_notebooks, branches()["full"]
    if not (STUDENT / "html" / "index.html").exists():
        pytest.fail(f"no student edition in {STUDENT}: run `make student` first (`make test` does)")
    return STUDENT / "html", STUDENT / "notebooks", branches()["student"]


@pytest.mark.parametrize("doc", DOCS)
def test_colab_button_opens_the_generated_notebook_on_its_editions_branch(edition, doc):
    org, repo = repository()
    html, notebooks, branch = edition
    url = launch_url(html, doc, "colab")
    assert (url.scheme, url.netloc) == ("https", "colab.research.google.com")
    match = re.fullmatch(rf"/github/{org}/{repo}/blob/{branch}/(.+)", url.path)
    assert match, f"{doc}: Colab URL {url.geturl()} is not /github/{org}/{repo}/blob/{branch}/PATH"
    path = match.group(1)
    assert path.endswith(".ipynb"), f"Colab cannot open {path}"
    assert (notebooks / path).is_file(), f"{path} is not among the generated notebooks"
    assert path == f"{doc}.ipynb"


@pytest.mark.parametrize("doc", DOCS)
def test_binder_button_opens_the_same_notebook_in_jupyterlab(edition, doc):
    org, repo = repository()
    html, notebooks, branch = edition
    url = launch_url(html, doc, "binder")
    assert (url.scheme, url.netloc, url.path) == ("https", "mybinder.org", f"/v2/gh/{org}/{repo}/{branch}")
    (urlpath,) = parse_qs(url.query)["urlpath"]
    assert urlpath.startswith("lab/tree/")
    path = urlpath.removeprefix("lab/tree/")
    assert (notebooks / path).is_file() and path == f"{doc}.ipynb"


@pytest.mark.parametrize("doc", DOCS)
def test_download_buttons_give_the_generated_notebook_and_the_markdown_source(built_html, built_notebooks, doc):
    html = built_html / f"{doc}.html"
    soup = parse_page(built_html, doc)
    ipynb = soup.select_one("a.btn-download-notebook-button")
    source = soup.select_one("a.btn-download-source-button")
    assert ipynb is not None and source is not None, f"{doc}: download buttons missing"
    served_ipynb = (html.parent / ipynb["href"]).resolve()
    served_md = (html.parent / source["href"]).resolve()
    assert served_ipynb.read_bytes() == (built_notebooks / f"{doc}.ipynb").read_bytes()
    assert served_md.suffix == ".md"
    # The source as written, but for the exercises' checks (booktools.extensions.sources_without_checks).
    assert served_md.read_text(encoding="utf-8") == without_checks((ROOT / f"{doc}.md").read_text(encoding="utf-8"))
    # The menu's links save files rather than open them (script shipped with every page).
    scripts = [s.get("src", "") for s in soup.find_all("script")]
    assert any("download-links.js" in s for s in scripts)


@pytest.mark.parametrize("doc", DOCS)
def test_generated_notebook_is_valid_and_free_of_myst_syntax(built_notebooks, doc):
    nb = notebook(built_notebooks, doc)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for marker in MYST_SYNTAX:
                assert marker not in cell.source, f"{doc}: MyST syntax {marker!r} in:\n{cell.source[:300]}"
        else:   # code: no leftover cell options (strings inside the code may mention anything)
            assert not re.match(r"\s*(:\w+:|```)", cell.source), f"{doc}: MyST residue in code"
            assert not cell.outputs, f"{doc}: notebooks are published without outputs"


@pytest.mark.parametrize("doc", DOCS)
def test_generated_notebook_keeps_every_visible_cell_and_drops_the_hidden_checks(built_notebooks, doc):
    source = [c for c in jupytext.read(ROOT / f"{doc}.md").cells if c.cell_type == "code"]
    code = [c.source.strip() for c in notebook(built_notebooks, doc).cells if c.cell_type == "code"]
    for cell in source:
        hidden = "remove-cell" in cell.metadata.get("tags", [])
        assert (cell.source.strip() in code) != hidden, (
            f"{doc}: {'hidden' if hidden else 'visible'} cell {'leaked into' if hidden else 'missing from'} "
            f"the notebook:\n{cell.source[:200]}")


@pytest.mark.parametrize("doc", DOCS)
def test_links_between_lectures_point_to_pages_of_the_published_site(built_html, built_notebooks, doc):
    site = site_url(f"https://github.com/{'/'.join(repository())}")
    text = "\n".join(c.source for c in notebook(built_notebooks, doc).cells if c.cell_type == "markdown")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    for target in targets:
        assert not target.endswith((".md", ".ipynb")), f"{doc}: relative notebook link {target}"
        if target.startswith(site):
            page_path = target.removeprefix(site).split("#")[0]
            assert (built_html / page_path).is_file(), f"{doc}: {target} is not a page of the site"
    if doc.endswith("vectorized"):
        assert sum(t.startswith(site) for t in targets) >= 3


@pytest.mark.parametrize("doc", [d for d in DOCS if "import jax" in (ROOT / f"{d}.md").read_text()])
def test_lectures_that_use_jax_tell_colab_users_how_to_get_a_gpu(built_notebooks, doc):
    assert "{include} _includes/gpu_note.md" in (ROOT / f"{doc}.md").read_text()
    text = "\n".join(c.source for c in notebook(built_notebooks, doc).cells)
    assert "Change runtime type" in text


@pytest.mark.parametrize("doc", [d for d in DOCS if "code-cell" in (ROOT / f"{d}.md").read_text()])
def test_setup_cell_comes_before_the_lectures_own_code(built_notebooks, doc):
    code = [c for c in notebook(built_notebooks, doc).cells if c.cell_type == "code"]
    assert "setup" in code[0].metadata.get("tags", [])
    assert "pip" in code[0].source and "install" in code[0].source


def test_setup_cell_installs_nothing_where_everything_is_installed(built_notebooks):
    code = [c for c in notebook(built_notebooks, "lectures/vectorized").cells
            if c.cell_type == "code"]
    setup = code[0].source
    # Make any pip call fail loudly: in this environment the cell must not need pip at all.
    guard = ("import subprocess\ndef _no_pip(*a, **k): raise AssertionError('pip was called')\n"
             "subprocess.run = _no_pip\n")
    result = subprocess.run([sys.executable, "-c", guard + setup], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "installed:" not in result.stdout


def test_binder_environment_pins_what_the_notebooks_import(built_notebooks):
    pins = {line.split("==")[0]: line for line in
            (ROOT / "requirements.txt").read_text().splitlines() if "==" in line}
    binder = (built_notebooks / "requirements.txt").read_text().split()
    assert binder and all(pins[p.split("==")[0]].startswith(p) for p in binder)
    assert {"jax", "numba", "numpy", "quantecon", "matplotlib"} <= {p.split("==")[0] for p in binder}
    assert (built_notebooks / "runtime.txt").read_text().strip() == "python-3.11"
    for module in ("lecture_tools", "benchmarks"):
        assert (built_notebooks / "lectures" / f"{module}.py").read_text() == \
            (ROOT / "lectures" / f"{module}.py").read_text()


@pytest.mark.parametrize("doc", lectures())
def test_both_editions_notebooks_carry_the_same_setup_cells(built_notebooks, student, doc):
    """The Colab-like run executes the student edition's notebooks; the full edition's start
    with the very same setup (install and helper-module) cells."""
    def setup(nb):
        return [c.source for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    full = setup(notebook(built_notebooks, doc))
    assert len(full) >= 2 and full == setup(nbformat.read(student / "notebooks" / f"{doc}.ipynb", as_version=4))


@pytest.mark.parametrize("doc", DOCS)
def test_no_cell_raises_on_purpose_so_run_all_reaches_the_end(doc):
    """Colab's "Run all" stops at the first error, tag or no tag: a lecture shows an error
    by catching it and printing it, so that every notebook runs to its end everywhere."""
    tagged = [c.source[:60] for c in jupytext.read(ROOT / f"{doc}.md").cells
              if "raises-exception" in c.metadata.get("tags", [])]
    assert not tagged, f"{doc}: catch the error instead of raising it: {tagged}"


TABBED = [d for d in DOCS if "_includes/implementations.md" in (ROOT / f"{d}.md").read_text()]
# The functions the tabs show, in order, as the included page names them.
SHOWN = re.findall(r"^:pyobject: (\w+)$", (ROOT / "lectures" / "_includes" / "implementations.md").read_text(), re.M)


@pytest.mark.parametrize("doc", TABBED)
def test_side_by_side_tabs_become_the_running_code_in_order_in_the_notebook(built_notebooks, doc):
    """Each tab's title becomes a markdown cell and its code the very function benchmarks.py
    holds (read from the file, not pasted), in the tabs' order."""
    import inspect

    import benchmarks
    cells = notebook(built_notebooks, doc).cells
    sources = [c.source.strip() for c in cells]
    positions = [sources.index(inspect.getsource(getattr(benchmarks, name)).strip()) for name in SHOWN]
    assert positions == sorted(positions)
    titles = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.strip() in
              ("NumPy", "Numba", "JAX")]
    python_loop = positions[SHOWN.index("qm_python")]          # the second tab set's NumPy tab
    assert len(titles) == 6 and titles[0] < positions[0] and titles[3] < python_loop < titles[4]


@pytest.mark.parametrize("doc", DOCS)
def test_every_code_cell_of_a_notebook_is_code_the_page_runs(built_notebooks, doc):
    """A ```python fence in the prose would become a code cell that readers run (and the
    Colab-like run with them): only the page's code cells, the setup cells and the
    functions the page includes from benchmarks.py may be code."""
    import inspect

    import benchmarks
    allowed = {c.source.strip() for c in jupytext.read(ROOT / f"{doc}.md").cells if c.cell_type == "code"}
    allowed |= {inspect.getsource(getattr(benchmarks, name)).strip() for name in SHOWN}
    extra = [c.source[:120] for c in notebook(built_notebooks, doc).cells if c.cell_type == "code"
             and "setup" not in c.metadata.get("tags", []) and c.source.strip() not in allowed]
    assert not extra, f"{doc}: code cells that are not the page's code: {extra}"
