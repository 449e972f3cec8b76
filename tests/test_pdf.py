"""The PDFs (`make pdf`): the whole book, every lecture with its exercises, solutions and
figures; and each page's own PDF, linked with the book's from every page's download menu."""
import re
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from booktools.book import ROOT, lectures, toc_files
from booktools.layout import PDF, parse_page


@pytest.fixture(scope="module")
def pdf():
    if not PDF.exists():
        pytest.fail(f"no {PDF}: run `make pdf` first (`make test` does)")
    reader = PdfReader(PDF)
    text = "\n".join(page.extract_text() for page in reader.pages)
    print(f"{PDF.relative_to(ROOT)}: {len(reader.pages)} pages")
    return {"reader": reader, "text": text, "outline": outline_titles(reader.outline)}


def outline_titles(outline):
    titles = []
    for entry in outline:
        titles += outline_titles(entry) if isinstance(entry, list) else [entry.title]
    return titles


def title(built_html, doc):
    return parse_page(built_html, doc).find("h1").get_text(" ", strip=True).rstrip("#").strip()


def test_pdf_has_a_chapter_for_every_page_after_the_front_page(pdf, built_html):
    root, *chapters = toc_files()
    for doc in chapters:
        assert title(built_html, doc) in pdf["outline"], f"{doc} is not a chapter of the PDF"
    # The front page is the book's opening text, before the first part.
    intro = parse_page(built_html, root).select_one("section p").get_text(" ", strip=True)
    assert " ".join(intro.split()[:8]) in " ".join(pdf["text"].split())
    assert len(pdf["reader"].pages) > 10 * len(chapters) // 2


@pytest.mark.parametrize("doc", lectures())
def test_each_lecture_in_the_pdf_has_its_exercises_numbered_as_on_the_site(pdf, built_html, doc):
    on_site = [e.select_one(".admonition-title").get_text(" ", strip=True)
               for e in parse_page(built_html, doc).select("div.exercise")]
    assert len(on_site) >= 2
    for name in on_site:      # "Exercise 4.2", as the site and the assignments say
        assert re.search(rf"^{re.escape(name)}$", pdf["text"], re.M), f"{name} ({doc}) not in the PDF"
        assert re.search(rf"^Solution to {re.escape(name)}$", pdf["text"], re.M)


def test_pdf_has_the_figures_and_no_unresolved_references(pdf, built_html):
    figures = sum(len(parse_page(built_html, doc).select("div.cell_output img")) for doc in toc_files())
    images = sum(len(page.images) for page in pdf["reader"].pages)
    assert figures >= 3 and images >= figures
    assert "??" not in pdf["text"]


def test_make_latex_says_what_to_install_when_tex_is_missing_and_it_cannot_install(tmp_path):
    """With no TeX on PATH and no way to run apt-get as root, `make latex` (and so `make pdf`)
    fails and names the packages to install."""
    bin_dir = tmp_path / "bin"       # a PATH with a shell and make, and nothing else
    bin_dir.mkdir()
    for name in ("bash", "make"):
        (bin_dir / name).symlink_to(shutil.which(name))
    result = subprocess.run(["make", "--no-print-directory", "latex"], cwd=ROOT, capture_output=True,
                            text=True, env={"PATH": str(bin_dir)})
    assert result.returncode != 0
    assert "make pdf needs TeX: run 'sudo apt-get install latexmk texlive-xetex" in result.stdout


def download_link(built_html, doc, label):
    link = parse_page(built_html, doc).select_one(f"a.btn-{label}")
    return None if link is None else (built_html / doc).parent / link["href"]


@pytest.mark.parametrize("doc", toc_files())
def test_every_page_links_the_book_pdf_and_its_own(pdf, built_html, doc):
    book = download_link(built_html, doc, "download-book-pdf-button")
    assert book is not None and book.resolve().read_bytes() == PDF.read_bytes()
    own = download_link(built_html, doc, "download-page-pdf-button")
    if doc == toc_files()[0]:
        assert own is None          # the front page's PDF is the book
        return
    assert own is not None and own.resolve().is_file(), f"{doc}: no PDF of its own at {own}"
    reader = PdfReader(own.resolve())
    first = " ".join(reader.pages[0].extract_text().split())
    assert first.startswith(title(built_html, doc)), f"{own.name} starts {first[:60]!r}"
    # One lecture, not the book: far shorter, and with the lecture's exercises as numbered on the site.
    assert len(reader.pages) < len(pdf["reader"].pages) / 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    for exercise in parse_page(built_html, doc).select("div.exercise .admonition-title"):
        assert exercise.get_text(" ", strip=True) in text


def test_student_edition_offers_no_pdf_it_holds_the_solutions(student):
    for doc in lectures():
        page = parse_page(student / "html", doc)
        assert not page.select("a.btn-download-book-pdf-button, a.btn-download-page-pdf-button")
        assert not page.select("a.btn-download-pdf-button")   # nor the theme's print-to-PDF


def test_side_by_side_tabs_print_every_implementation_in_the_pdf(pdf):
    """A tab set cannot switch on paper: the PDF prints each tab's code in turn."""
    text = " ".join(pdf["text"].split())
    for name in ("max_numpy", "max_numba_parallel", "max_jax_vmap", "qm_python", "qm_numba_into", "qm_jax"):
        assert f"def {name}(" in text, f"{name} is not printed in the PDF"
