"""Checks on the built HTML site (_build/html), as a reader would meet it."""
import os
import re
import subprocess

import pytest
from matplotlib import image as mpimg

from booktools import grading, lecture_source, reading
from booktools.book import ROOT, lectures, toc_files
from booktools.extensions.site_version import site_version
from booktools.layout import parse_page

LECTURE_PAGES = [f for f in toc_files()]


@pytest.mark.parametrize("doc", LECTURE_PAGES)
def test_every_toc_entry_produced_a_page_with_a_title(built_html, doc):
    page = built_html / f"{doc}.html"
    assert page.exists(), f"{doc} is in _toc.yml but {page} was not built"
    h1 = parse_page(built_html, doc).find("h1")
    assert h1 is not None and h1.get_text(strip=True), f"{page} has no title"


@pytest.mark.parametrize("doc", LECTURE_PAGES)
def test_no_page_shows_a_traceback_error_or_warning_output(built_html, doc):
    page = parse_page(built_html, doc)
    for cell in page.select("div.cell.tag_raises-exception"):   # raises on purpose, to show the error
        assert cell.select("div.output.traceback, div.output.error"), f"{doc}: a raises-exception cell did not raise"
        cell.decompose()
    errors = page.select("div.output.error, div.output.traceback, div.output.stderr")
    assert not errors, f"{doc}: error or stderr output in the page: {errors[0].get_text()[:300]}"
    outputs = " ".join(o.get_text() for o in page.select("div.cell_output"))
    for marker in ("Traceback (most recent call last)", "Warning:", "Error:"):
        if marker == "Error:":
            # Lectures print caught exceptions on purpose as "<Name>Error: message";
            # only an uncaught one leaves the "---------" banner of an IPython traceback.
            assert "-" * 40 not in outputs, f"{doc}: traceback banner in output"
            continue
        assert marker not in outputs, f"{doc}: {marker!r} appears in a cell output"


@pytest.mark.parametrize("doc", LECTURE_PAGES)
def test_glued_values_were_all_filled_in(built_html, doc):
    text = parse_page(built_html, doc).get_text()
    assert "{glue" not in text, f"{doc}: an unresolved glue role is shown as text"


def test_surface_plot_is_rendered_as_a_real_image(built_html):
    page = built_html / "lectures" / "vectorized.html"
    cell = parse_page(built_html, "lectures/vectorized").select_one("div.tag_surface-plot")
    assert cell is not None, "the cell tagged surface-plot is missing from the page"
    img = cell.find("img")
    assert img is not None, "the surface-plot cell has no image output"
    png = (page.parent / img["src"]).resolve()
    assert png.exists() and png.stat().st_size > 20_000, f"{png} is missing or tiny"
    pixels = mpimg.imread(png)
    height, width = pixels.shape[:2]
    assert width >= 400 and height >= 300
    # A real plot has many distinct colours, not a blank canvas.
    assert len({tuple(p) for p in pixels[::7, ::7].reshape(-1, pixels.shape[-1])}) > 100


def test_comparison_lecture_links_to_the_three_tool_lectures(built_html):
    page = parse_page(built_html, "lectures/vectorized")
    hrefs = {a["href"].split("#")[0] for a in page.select("article a.reference.internal")}
    for target in ("numpy.html", "numba.html", "jax_intro.html"):
        assert target in hrefs, f"no link to {target}; links found: {sorted(hrefs)}"


@pytest.mark.parametrize("doc", ["lectures/vectorized", "lectures/sequential"])
def test_comparison_prose_states_speed_ratios_filled_in_from_the_notebook(built_html, doc):
    page = parse_page(built_html, doc)
    prose = " ".join(p.get_text() for p in page.select("article section p"))   # Going deeper parts too
    ratios = re.findall(r"(?:\d+\.\d|about [\d,]+) times (?:faster|slower) than|about as fast as", prose)
    # Every comparison the notebook computes and glues appears, filled in, in the prose.
    source = (ROOT / f"{doc}.md").read_text()
    computed = len(re.findall(r'glue(?:_md)?\("\w+", compare_(?:speed|timed)\(', source))
    assert computed >= 5
    # (On a GPU one more comparison, the host-CPU scan, is glued as part of a sentence.)
    assert len(ratios) >= computed, f"{computed} comparisons computed, prose shows {ratios}"
    assert re.search(r"\d (ns|µs|ms|s)\b", prose) and re.search(r"\d (kB|MB|GB)\b", prose)


@pytest.mark.parametrize("doc", LECTURE_PAGES)
def test_every_page_says_which_version_of_the_lectures_it_is(built_html, doc):
    version = parse_page(built_html, doc).select_one("footer .site-version .version-id")
    assert version is not None, f"{doc}: no version in the footer"
    text = version.get_text()
    if os.environ.get("SITE_VERSION"):          # a release build: the tag itself
        assert text == os.environ["SITE_VERSION"]
        return
    # Otherwise `git describe` at build time: a revision of this checkout (the commit
    # built, or one before it if something was committed since), perhaps edited ("-dirty").
    revision = text.removesuffix("-dirty")
    assert subprocess.run(["git", "merge-base", "--is-ancestor", revision, "HEAD"], cwd=ROOT).returncode == 0, (
        f"{doc}: version {text!r} is not a commit of this checkout")


def test_the_version_is_the_release_tag_when_one_is_built(monkeypatch, tmp_path):
    monkeypatch.setenv("SITE_VERSION", "v9.9.9")
    assert site_version(ROOT) == "v9.9.9"
    monkeypatch.delenv("SITE_VERSION")
    assert site_version(tmp_path) == "unversioned"          # not a git checkout
    assert site_version(ROOT) not in ("", "unversioned")


# TeX that did not become math: `$...$` or `\(`/`\[` left as text, and MyST roles left as
# text ({doc}`...`): what a glued phrase shows when it is pasted as CommonMark, the default
# of {glue:md}; a phrase with math or a role is pasted with {glue:md}`key:myst`. Code,
# cell outputs and the math elements are not prose.
RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\[(\[]|\{[a-z][\w:-]*\}`")


def raw_tex(page):
    """Text fragments of a parsed page that show TeX source instead of rendered math."""
    for hidden in page.select("script, style, pre, code, .math, div.cell_output, .MathJax"):
        hidden.decompose()
    article = page.select_one("article") or page
    return [match.group(0) for match in RAW_TEX.finditer(article.get_text(" "))]


def test_raw_tex_is_caught_in_prose_but_not_in_math_or_code():
    from bs4 import BeautifulSoup
    planted = BeautifulSoup('<article><p>the cost grew like $n^{0.8}$ between</p>'
                            '<p>and like \\(n^2\\) here, as {doc}`scaling` shows</p></article>', "html.parser")
    assert raw_tex(planted) == ["$n^{0.8}$", "\\(", "{doc}`"]
    fine = BeautifulSoup('<article><p>grew like <span class="math notranslate">\\(n^{0.8}\\)</span>; '
                         'it costs $5 and $6</p><pre>echo $HOME $PATH</pre>'
                         '<div class="cell_output">$x$</div></article>', "html.parser")
    assert raw_tex(fine) == ["$5 and $"] and raw_tex(BeautifulSoup("<p>$ 5 and $</p>", "html.parser")) == []


@pytest.mark.parametrize("doc", LECTURE_PAGES)
def test_no_page_shows_raw_tex(built_html, doc):
    assert raw_tex(parse_page(built_html, doc)) == [], f"{doc}: TeX shown as text, not rendered as math"


def test_the_intro_lists_every_lecture_in_the_order_of_the_table_of_contents(built_html):
    from booktools.book import lectures
    section = parse_page(built_html, "lectures/intro").select_one("section#the-lectures")
    links = [a["href"].split("#")[0] for a in section.select("ol > li a.reference.internal")]
    assert links == [f"{doc.removeprefix('lectures/')}.html" for doc in lectures()]
    items = [li.get_text(" ", strip=True) for li in section.select("ol > li")]
    assert all(":" in item and len(item.split(":", 1)[1]) > 20 for item in items), items   # each with its line


def test_a_lecture_without_a_summary_cannot_join_the_list(tmp_path):
    from sphinx.errors import ExtensionError

    from booktools.extensions.lecture_list import summary
    page = tmp_path / "new.md"
    page.write_text('---\nsummary: "one line,\n  folded"\njupytext: {}\n---\n# New\n')
    assert summary(page) == "one line, folded"
    page.write_text("---\njupytext: {}\n---\n# New\n")
    with pytest.raises(ExtensionError, match="no `summary:`"):
        summary(page)


def test_the_split_comparison_lectures_old_address_leads_to_its_first_part(built_html):
    redirect = (built_html / "lectures" / "numpy_vs_numba_vs_jax.html").read_text(encoding="utf-8")
    assert re.search(r'http-equiv="refresh" content="0; url=vectorized.html"', redirect), redirect[:500]


@pytest.mark.parametrize("doc", lectures())
def test_a_lectures_stated_times_follow_the_rule_and_fit_two_and_a_half_hours(built_html, doc):
    words, _ = reading.page_figures(built_html, doc)
    rule, stated = reading.rule_and_stated(built_html, doc)
    print(f"{doc}: {words:,} words on the main path; the rule: {rule}; stated: {stated}")
    assert words <= reading.MAX_WORDS, f"{doc}: {words:,} main-path words > {reading.MAX_WORDS:,}"
    assert stated == rule, f"{doc}: state the rule's times (booktools.reading): {rule.line()}"
    assert rule.reading + rule.exercises <= reading.MAX_LECTURE_MINUTES, (
        f"{doc}: {rule.reading + rule.exercises} minutes of reading and exercises: fold what a student may "
        "skip into a Going deeper part, or mark exercises optional")


def test_the_rule_counts_words_cells_points_and_solution_lines():
    source = ("# T\n\n```{code-cell} ipython3\nx = 1\n```\n\n```{code-cell} ipython3\n:tags: [remove-cell]\n"
              "assert x\n```\n\n## Exercises\n\n```{exercise}\n:label: t-ex1\n\nDo it.\n\n**Points:** 2\n```\n\n"
              "```{solution-start} t-ex1\n:class: dropdown\n```\n\n"
              "```{code-cell} ipython3\na = 1\n# why\nb = 2\n```\n\n"
              "```{solution-end}\n```\n\n```{exercise}\n:label: t-ex2\n\n*Optional, beyond the stated time.*\nMore.\n\n"
              "**Points:** 1\n```\n")
    # 1,230 words at 60 a minute and one shown cell: 22 minutes, a quarter hour; exercises 10 + 20 + 2.
    assert reading.study_time(1_230, source) == reading.StudyTime(reading=15, exercises=30, optional=15)
    assert reading.study_time(1_500, source).reading == 30                         # 26.5 minutes
    assert reading.stated_time(reading.StudyTime(45, 90, 45).line()) == reading.StudyTime(45, 90, 45)
    assert reading.stated_time(reading.StudyTime(60, 135).line()) == reading.StudyTime(60, 135, 0)


def test_a_planted_long_page_fails_the_reading_time_and_a_folded_one_passes():
    from bs4 import BeautifulSoup
    prose = "<p>" + " ".join(["word"] * 1_500) + "</p>"
    page = f"<article><h1>T</h1>{prose}<div class='cell'><pre>{prose}</pre></div></article>"
    assert reading.main_path_words(BeautifulSoup(page, "html.parser")) == 1_501     # the title counts
    assert reading.study_time(1_501, "# T\n").reading == 30                          # 25 minutes, not 15
    folded = page.replace(prose, f"<div class='admonition dropdown going-deeper'>{prose}</div>", 1)
    assert reading.main_path_words(BeautifulSoup(folded, "html.parser")) == 1
    for block in ("exercise", "solution"):
        assert reading.main_path_words(BeautifulSoup(page.replace("<p>", f"<div class='{block}'><p>", 1)
                                                     .replace("</p>", "</p></div>", 1), "html.parser")) == 1


def test_a_glued_phrase_counts_the_same_words_whatever_the_machine_measured():
    from bs4 import BeautifulSoup
    def words(glued):
        page = f"<article><p>JAX was <span class='pasted-md'>{glued}</span> NumPy.</p></article>"
        return reading.main_path_words(BeautifulSoup(page, "html.parser"))
    short, long = "1.6 times faster than", "about as fast as (a difference within the noise of this machine)"
    assert words(short) == words(long) == 3 + reading.GLUED_WORDS
    text = "<article><p><span class='pasted-text'>12 ms</span></p></article>"
    assert reading.main_path_words(BeautifulSoup(text, "html.parser")) == reading.GLUED_WORDS


def test_the_site_marks_every_glued_phrase_on_its_pages(built_html):
    """booktools.extensions.glued_marks wraps each {glue:md} phrase; a page whose source
    pastes phrases shows as many marked ones (what the reading rule relies on)."""
    for doc in lectures():
        source = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
        pasted = len(re.findall(r"\{glue:(?:md|text)?\}`", source))
        marked = len(parse_page(built_html, doc).select(reading.GLUED))
        assert marked == pasted, f"{doc}: {pasted} glued phrases in the source, {marked} marked on the page"


@pytest.mark.parametrize("line, minutes", [("**Time:** about 45 minutes to read and run; x.", 45),
                                           ("about an hour to read and run", 60),
                                           ("about an hour and a quarter to read and run", 75)])
def test_stated_times_are_read_from_the_before_you_start_box(line, minutes):
    assert reading.stated_minutes(line) == minutes


# ------------------------------------------------------------------ the glossary
# What is not prose for the glossary rule: code, math, outputs, headings and titles.
NOT_PROSE = ("script, style, pre, code, .math, div.cell_output, div.cell_input, h1, h2, h3, h4, h5, h6, "
             ".admonition-title, nav, .headerlink, caption, .sd-tab-label")


def glossary_terms(built_html):
    page = parse_page(built_html, "lectures/glossary")
    for anchor in page.select("dl.glossary > dt a.headerlink"):
        anchor.decompose()
    return [dt.get_text(" ", strip=True) for dt in page.select("dl.glossary > dt")]


def term_pattern(term):
    """A term as it reads in prose: any case (acronyms exactly), singular or plural."""
    flags = 0 if term.isupper() else re.I
    return re.compile(r"(?<![\w-])" + re.escape(term).replace(r"\ ", r"\s+") + r"(?:s|es)?(?![\w-])", flags)


def unlinked_first_uses(page, terms):
    """(term, text) for each term whose first use in a page's prose is not a link to the glossary."""
    article = page.select_one("article") or page
    for node in article.select(NOT_PROSE):
        node.decompose()
    waiting = {term: term_pattern(term) for term in terms}
    unlinked = []
    for text in article.find_all(string=True):
        for term, pattern in list(waiting.items()):
            if pattern.search(text):
                if not any(a.name == "a" and "glossary.html#term-" in a.get("href", "") for a in text.parents):
                    unlinked.append((term, " ".join(text.split())[:80]))
                del waiting[term]
    return unlinked


def test_the_glossary_defines_the_terms_the_lectures_rely_on(built_html):
    terms = glossary_terms(built_html)
    assert {"all-reduce", "kernel", "SIMD", "latency", "bandwidth", "tracing", "fusion", "reduction",
            "page fault", "dispatch"} <= set(terms), terms
    assert terms == sorted(terms, key=str.lower), "glossary terms in alphabetical order"


@pytest.mark.parametrize("doc", lectures())
def test_a_lecture_links_the_first_use_of_each_glossary_term(built_html, doc):
    unlinked = unlinked_first_uses(parse_page(built_html, doc), glossary_terms(built_html))
    assert not unlinked, f"{doc}: first uses not linked to the glossary ({{term}}`...`): {unlinked}"


def test_an_unlinked_first_use_is_caught_and_a_linked_one_passes():
    from bs4 import BeautifulSoup
    linked = '<a class="reference internal" href="glossary.html#term-latency"><span>latency</span></a>'
    page = (f"<article><h2>Latency</h2><p>The {linked} here, then latency again.</p>"
            "<p><code>kernel</code> in code; the kernels of a GPU.</p></article>")
    assert unlinked_first_uses(BeautifulSoup(page, "html.parser"), ["latency", "kernel"]) == [
        ("kernel", "in code; the kernels of a GPU.")]


def test_the_brands_icon_font_holds_every_brand_glyph_the_pages_use_and_little_else(built_html):
    from fontTools.ttLib import TTFont

    from booktools.extensions.icon_fonts import BRANDS, THEME_CSS, brand_icons, code_points
    used = brand_icons(built_html)
    assert "github" in used                                  # the repository button
    points = code_points((built_html / THEME_CSS).read_text(encoding="utf-8"))
    cmap = TTFont(built_html / BRANDS).getBestCmap()
    assert {points[name] for name in used} <= set(cmap), (used, sorted(cmap))
    assert (built_html / BRANDS).stat().st_size < 10_000


QUANTECON = "https://python-programming.quantecon.org/numpy_vs_numba_vs_jax.html"


@pytest.mark.parametrize("doc", ["lectures/intro", "lectures/vectorized", "lectures/sequential"])
def test_the_lecture_the_comparison_follows_is_credited_with_a_link(built_html, doc):
    page = parse_page(built_html, doc)
    assert any(a.get("href") == QUANTECON for a in page.select("article a")), doc
    assert "QuantEcon" in page.select_one("article").get_text()


@pytest.mark.parametrize("doc", LECTURE_PAGES)
def test_every_footer_states_the_licences(built_html, doc):
    footer = parse_page(built_html, doc).select_one("footer .site-licence")
    assert footer is not None, f"{doc}: no licence in the footer"
    text = footer.get_text(" ", strip=True)
    assert "CC BY-SA 4.0" in text and "BSD 3-Clause" in text and "QuantEcon" in text
    assert (ROOT / "LICENSE").is_file() and "Attribution-ShareAlike 4.0" in (ROOT / "LICENSE-CONTENT").read_text()


@pytest.mark.parametrize("doc", lectures())
def test_the_served_page_source_holds_no_exercise_check(built_html, doc):
    """The download menu offers `_sources/`: the lecture as written, but for the hidden
    cell after each solution that grades it (booktools.extensions.sources_without_checks)."""
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    served = (built_html / "_sources" / f"{doc}.md").read_text(encoding="utf-8")
    assert served == lecture_source.without_checks(text)
    assert not any(q.check.strip() in served for q in grading.questions(doc))


def test_building_again_serves_the_same_page_source(tmp_path):
    """Sphinx copies a page's source to `_sources/` only when the page changed; the served
    copy left by the first build must come out of a second one unchanged (stripping the
    stripped copy would drop the next hidden cell too: it did, on a second `make html`)."""
    from types import SimpleNamespace

    from booktools.extensions.sources_without_checks import strip_checks
    doc = "lectures/numpy"
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    assert lecture_source.without_checks(lecture_source.without_checks(text)) != lecture_source.without_checks(text)
    (tmp_path / "src" / "lectures").mkdir(parents=True)
    (tmp_path / "src" / f"{doc}.md").write_text(text, encoding="utf-8")
    served = tmp_path / "out" / "_sources" / f"{doc}.md"
    served.parent.mkdir(parents=True)
    served.write_text(text, encoding="utf-8")                       # as Sphinx copies it
    app = SimpleNamespace(outdir=str(tmp_path / "out"), srcdir=str(tmp_path / "src"),
                          builder=SimpleNamespace(format="html"))
    for _ in range(2):                                               # the first build, then one more
        strip_checks(app, None)
        assert served.read_text(encoding="utf-8") == lecture_source.without_checks(text)
