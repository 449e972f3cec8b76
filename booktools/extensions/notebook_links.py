"""Launch and download buttons for the lecture notebooks, and web links inside them.

Every URL is derived from two settings in _config.yml:

* `repository.url` (https://github.com/ORG/REPO): the site is published at
  https://ORG.github.io/REPO/ and the notebooks in the same repository;
* `sphinx.config.notebooks_branch`: the branch where CI publishes the output of
  `make notebooks` (lectures/<name>.ipynb and a Binder environment);
  `student_notebooks_branch` is the student edition's (booktools/student.py makes it
  that edition's `notebooks_branch`).

On each lecture page this adds a launch menu (Colab, Binder/JupyterLab) and a
`.ipynb` entry in the download menu (the `.md` source is there already). The
`.ipynb` files offered for download are the generated notebooks, copied into the
site at `_notebooks/`. For the notebooks build (sphinx-tojupyter), it makes links
between lectures point at the published website.

With `pdf_downloads` on (the full edition; the student edition has no PDF, which
holds the solutions), every page's download menu offers the book's PDF (book.pdf at
the site's root) and each page but the first its own PDF (pdf/<page>.pdf), in place
of the theme's print-this-page entry. `make pdf` builds both and copies them there.
"""
import shutil
from pathlib import Path

from sphinx.errors import ConfigError
from sphinx.util import logging

from booktools import book
from booktools.layout import SITE_PDFS

logger = logging.getLogger(__name__)

COLAB = "https://colab.research.google.com"
BINDER = "https://mybinder.org"
NOTEBOOKS_OUTPUT = Path("_build") / "notebooks"   # written by `make notebooks`, relative to the book
NOTEBOOKS_IN_SITE = "_notebooks"                  # where the site serves them for download
BOOK_PDF = "book.pdf"                             # the whole book, at the site's root


def repo_parts(repository_url):
    """('ORG', 'REPO') from https://github.com/ORG/REPO."""
    try:
        return book.repo_parts(repository_url)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def site_url(repository_url):
    repo_parts(repository_url)
    return book.site_url(repository_url)


def launch_urls(repository_url, branch, docname):
    """Colab and Binder URLs that open the generated notebook for `docname`."""
    org, repo = repo_parts(repository_url)
    path = f"{docname}.ipynb"
    return {
        "Colab": f"{COLAB}/github/{org}/{repo}/blob/{branch}/{path}",
        "Binder": f"{BINDER}/v2/gh/{org}/{repo}/{branch}?urlpath=lab/tree/{path}",
    }


def _repository_url(app):
    return app.config.html_theme_options.get("repository_url", "")


def configure_notebook_links(app, config):
    """Links between lectures in the notebooks point at pages of the published site."""
    # Lectures all live in lectures/, and sphinx-tojupyter writes links relative to it.
    config.tojupyter_urlpath = site_url(_repository_url(app)) + "lectures/"


def pdf_entries(app, pagename, pathto):
    """Download-menu entries for the book's PDF and, except on the root page, the page's own."""
    entries = []
    if pagename != app.config.root_doc:
        entries.append({"type": "link", "text": "Lecture PDF", "icon": "fas fa-file-pdf",
                        "url": f"{pathto(SITE_PDFS, 1)}/{Path(pagename).name}.pdf",
                        "tooltip": "Download this page as a PDF", "label": "download-page-pdf-button"})
    entries.append({"type": "link", "text": "Book PDF", "icon": "fas fa-book",
                    "url": pathto(BOOK_PDF, 1), "tooltip": "Download the whole book as a PDF",
                    "label": "download-book-pdf-button"})
    return entries


def add_buttons(app, pagename, templatename, context, doctree):
    if "header_buttons" not in context:
        return
    pathto = context["pathto"]
    downloads = next((g for g in context["header_buttons"] if g.get("label") == "download-buttons"), None)
    if downloads is not None:
        # The theme's ".pdf" entry prints the web page; the PDFs we build replace it.
        downloads["buttons"] = [b for b in downloads["buttons"] if b.get("label") != "download-pdf-button"]
        if app.config.pdf_downloads:
            downloads["buttons"] += pdf_entries(app, pagename, pathto)
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    urls = launch_urls(_repository_url(app), app.config.notebooks_branch, pagename)
    icons = {"Colab": "_static/images/logo_colab.png", "Binder": "_static/images/logo_binder.svg"}
    launch = [{"type": "link", "text": name, "url": url, "icon": icons[name],
               "tooltip": f"Open this lecture as a notebook in {name}",
               "label": f"launch-{name.lower()}-button"} for name, url in urls.items()]
    context["header_buttons"].append({"type": "group", "tooltip": "Run this lecture as a notebook",
                                      "icon": "fas fa-rocket", "buttons": launch,
                                      "label": "launch-buttons"})
    notebook = {"type": "link", "text": ".ipynb", "icon": "fas fa-code",
                "url": f"{pathto(NOTEBOOKS_IN_SITE, 1)}/{pagename}.ipynb",
                "tooltip": "Download this lecture as a notebook",
                "label": "download-notebook-button"}
    if downloads is not None:
        downloads["buttons"].insert(0, notebook)


def copy_notebooks_into_site(app, exception):
    if exception is not None or app.builder.name != "html":
        return
    source = Path(app.srcdir) / NOTEBOOKS_OUTPUT
    if not source.is_dir():
        logger.warning(f"no generated notebooks in {source}: run `make notebooks` before the "
                       "HTML build (`make html` does), or the .ipynb download links will 404")
        return
    target = Path(app.outdir) / NOTEBOOKS_IN_SITE
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.py", "*.txt", "*.md"))


def setup(app):
    app.add_config_value("notebooks_branch", "notebooks", "html")
    app.add_config_value("student_notebooks_branch", "student-notebooks", "html")
    app.add_config_value("pdf_downloads", True, "html")
    app.connect("config-inited", configure_notebook_links)
    app.connect("html-page-context", add_buttons, priority=600)   # after the theme's buttons
    app.connect("build-finished", copy_notebooks_into_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
