"""The built site as readers see it: a real Chromium over the site served on localhost.

Chromium is Debian's (`make chromium` installs it; `make test` runs that first); it is
never downloaded by Playwright. Every page is loaded once and then checked for console
errors, failed or off-site requests, page weight, math, code, layout at phone width and
accessibility (axe-core), in light and dark mode.
"""
import io
import subprocess
from urllib.parse import unquote

import pytest
from matplotlib import image as mpimg

from booktools.book import branches, notebook_pages, repository, toc_files
from booktools.browser import DESKTOP, PHONE, chromium_problem, launch, serve, wait_for_page
from booktools.layout import ROOT, tool

# Every page a reader can reach: the lectures, plus search and the index.
PAGES = toc_files() + ["search", "genindex"]
LECTURES = toc_files()
NOTEBOOK_PAGES = notebook_pages()
WITH_CODE = [d for d in LECTURES if "{code-cell}" in (ROOT / f"{d}.md").read_text()]
# Bytes transferred for one page with an empty cache, compressed as GitHub Pages serves
# them (booktools.browser gzips text): a reader on a phone connection. MathJax (~270 kB)
# and the icon fonts (~270 kB) are the largest parts; _templates/README.md says why the
# theme's icon script (543 kB) is not among them.
PAGE_BUDGET = 1_000_000
# How long the last test waits for messages a page sends after it has loaded.
LATE_MESSAGES_MS = 5_000

WEIGHT_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return nav.encodedBodySize + performance.getEntriesByType('resource')
    .reduce((sum, r) => sum + r.encodedBodySize, 0);
}"""


@pytest.fixture(scope="module")
def browser():
    problem = chromium_problem()
    if problem:
        pytest.fail(problem)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(built_html):
    with serve(built_html) as base:
        yield base


@pytest.fixture(scope="module")
def journal():
    """What every page the suite opens logs and requests, in every context (desktop, phone,
    light, dark), from its opening to the end of the module: console errors and warnings,
    page errors, failed requests and requests that leave the site. Pages stay open, so a
    message that comes seconds after load is recorded too; the last test reads it all."""
    return []


@pytest.fixture(scope="module")
def open_page(browser, site, journal):
    """Open a page of the site in a fresh context (viewport, colour scheme), watched. With
    `idle=False`, return once it has loaded and typeset, without waiting for the network to
    go quiet: for checks on the rendered page. With `shared=True`, in the one context of
    its viewport and mode that such pages share, as a reader's tabs do, with the cache off
    (DevTools' switch), so that it still fetches all it needs as with an empty cache: a
    fresh context costs Chromium about a second of CPU (the processes it starts), for
    pages whose checks leave nothing in their context (the tab test's stored choice does).
    It stays open and watched, and the last test of this module reads what every page
    logged, late requests included."""
    contexts, shared_contexts = [], {}

    def open_(doc, viewport=DESKTOP, mode="light", query="", idle=True, shared=False):
        key = (viewport["width"], viewport["height"], mode)
        if shared and key in shared_contexts:
            context = shared_contexts[key]
        else:
            context = browser.new_context(viewport=viewport, color_scheme=mode)
            contexts.append(context)
            if shared:
                shared_contexts[key] = context
        page = context.new_page()
        if shared:
            devtools = context.new_cdp_session(page)
            devtools.send("Network.enable")
            devtools.send("Network.setCacheDisabled", {"cacheDisabled": True})
        where = f"{doc} ({mode}, {viewport['width']}px)"
        record = {"page": page, "console": [], "failed": [], "requests": []}

        def log(kind, text):
            journal.append(f"{where}: {kind}: {text}")

        def on_console(message):
            if message.type == "error":
                record["console"].append(message.text)
            if message.type in ("error", "warning"):
                log(f"console {message.type}", message.text)

        def on_response(response):
            if response.status >= 400:
                record["failed"].append(f"{response.status} {response.url}")
                log("failed request", f"{response.status} {response.url}")

        def on_request(request):
            record["requests"].append(request.url)
            if not request.url.startswith(site):
                log("off-site request", request.url)

        page.on("console", on_console)
        page.on("pageerror", lambda e: (record["console"].append(str(e)), log("page error", e)))
        page.on("requestfailed", lambda r: (record["failed"].append(r.url), log("request failed", r.url)))
        page.on("response", on_response)
        page.on("request", on_request)
        page.goto(f"{site}{doc}.html{query}")
        wait_for_page(page, network_idle=idle)
        return record

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def visits(open_page):
    """Each page loaded once at desktop size in light mode, with what it logged and requested."""
    cache = {}

    def visit(doc):
        if doc not in cache:
            cache[doc] = open_page(doc, shared=True)
            cache[doc]["weight"] = cache[doc]["page"].evaluate(WEIGHT_JS)
        return cache[doc]

    return visit


@pytest.mark.parametrize("doc", PAGES)
def test_page_loads_without_console_errors_or_failed_requests(visits, doc):
    record = visits(doc)
    assert not record["console"], f"{doc}: console errors {record['console']}"
    assert not record["failed"], f"{doc}: failed requests {record['failed']}"


@pytest.mark.parametrize("doc", PAGES)
def test_every_request_goes_to_the_site_itself_so_it_works_offline(visits, site, doc):
    remote = [url for url in visits(doc)["requests"] if not url.startswith(site)]
    assert not remote, f"{doc} fetched from elsewhere: {remote}"


@pytest.mark.parametrize("doc", PAGES)
def test_page_weight_is_within_budget(visits, doc):
    weight = visits(doc)["weight"]
    print(f"{doc}: {weight / 1e6:.2f} MB transferred (budget {PAGE_BUDGET / 1e6:.1f} MB)")
    assert 0 < weight <= PAGE_BUDGET, f"{doc}: {weight:,} bytes > budget {PAGE_BUDGET:,}"


ICONS_JS = """async () => {
  await document.fonts.ready;
  const icons = [...document.querySelectorAll('i[class*="fa-"], span[class*="fa-"]')];
  return icons.map(i => {
    const before = getComputedStyle(i, '::before');
    const box = i.getBoundingClientRect();
    return {icon: i.className, content: before.content, font: before.fontFamily,
            shown: i.offsetParent !== null || getComputedStyle(i).position === 'fixed',
            width: box.width};
  });
}"""


@pytest.mark.parametrize("doc", ["lectures/intro", "lectures/vectorized"])
def test_every_icon_is_drawn_by_the_icon_font(visits, doc):
    """Without Font Awesome's script, the theme's CSS draws each icon from a web font: a
    glyph in the ::before content, in a Font Awesome family that has loaded."""
    page = visits(doc)["page"]
    icons = page.evaluate(ICONS_JS)
    assert len(icons) >= 10, icons
    for icon in icons:
        assert icon["content"] not in ("none", "normal", '""'), icon
        assert "Font Awesome" in icon["font"], icon
        if icon["shown"]:
            assert icon["width"] > 0, icon
    loaded = page.evaluate("() => [...document.fonts].filter(f => f.family.includes('Font Awesome'))"
                           ".map(f => f.status)")
    assert loaded and "loaded" in loaded, loaded
    assert page.locator("script[src*='fontawesome']").count() == 0


@pytest.mark.parametrize("doc", LECTURES)
def test_math_is_typeset_and_no_raw_tex_is_left(visits, doc):
    page = visits(doc)["page"]
    source_math = page.locator("div.math, span.math").count()
    typeset = page.locator("mjx-container").count()
    assert typeset >= source_math, f"{doc}: {source_math} formulas, {typeset} typeset"
    text = page.locator("article").inner_text()
    assert "$$" not in text and "\\(" not in text and "\\[" not in text, f"{doc}: raw TeX in the page"
    if doc.endswith("sequential"):
        assert typeset >= 10


@pytest.mark.parametrize("doc", WITH_CODE)
def test_code_cells_and_their_outputs_are_shown(visits, doc):
    page = visits(doc)["page"]
    inputs = page.locator("div.cell div.cell_input")
    outputs = page.locator("div.cell div.cell_output")
    assert inputs.count() > 3 and outputs.count() > 3
    assert inputs.first.is_visible() and outputs.first.is_visible()


def test_surface_plot_is_visible_and_not_blank(visits):
    page = visits("lectures/vectorized")["page"]
    image = page.locator("div.tag_surface-plot img")
    image.scroll_into_view_if_needed()
    assert image.is_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) > 300
    pixels = mpimg.imread(io.BytesIO(image.screenshot()), format="png")
    rgb = (pixels[..., :3] * 255).astype(int).reshape(-1, 3)
    colours = {tuple(p) for p in rgb[::5]}
    not_white = (rgb.sum(axis=1) < 3 * 240).mean()
    assert len(colours) > 200, f"only {len(colours)} colours: the plot looks blank"
    assert not_white > 0.15, f"only {not_white:.0%} of the plot is not white"


@pytest.mark.parametrize("doc", PAGES)
def test_no_horizontal_page_scroll_at_phone_width(open_page, doc):
    page = open_page(doc, viewport=PHONE, idle=False, shared=True)["page"]
    scroll, width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= width, f"{doc}: the page is {scroll}px wide on a {width}px phone"


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("doc", PAGES)
def test_no_serious_or_critical_accessibility_violations(visits, open_page, doc, mode):
    from axe_playwright_python.sync_playwright import Axe
    # Light: the page every check above read (desktop, light), not a second load of it.
    page = visits(doc)["page"] if mode == "light" else open_page(doc, mode=mode, idle=False, shared=True)["page"]
    assert page.evaluate("document.documentElement.dataset.theme") == mode
    # preload=False: axe's own fetch of the theme's @import-ed stylesheets resolves them
    # against the site root (a 404 for /basic.css that no reader's browser makes); it feeds
    # only the CSS-orientation rule.
    violations = Axe().run(page, options={"resultTypes": ["violations"], "preload": False}
                           ).response["violations"]
    serious = [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. "
               f"{v['nodes'][0]['target']})" for v in violations
               if v["impact"] in ("serious", "critical")]
    assert not serious, f"{doc} ({mode}):\n" + "\n".join(serious)


def test_search_for_vmap_finds_the_comparison_lecture(open_page):
    page = open_page("search", query="?q=vmap")["page"]
    results = page.locator("#search-results li a")
    results.first.wait_for(timeout=20_000)
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("vectorized" in h for h in hrefs), hrefs


@pytest.mark.parametrize("doc", NOTEBOOK_PAGES)
def test_launch_and_download_menus_open_on_the_urls_the_config_derives(visits, doc):
    (org, repo), branch = repository(), branches()["full"]
    page = visits(doc)["page"]
    page.locator(".dropdown-launch-buttons button.dropdown-toggle").click()
    colab = page.locator("a.btn-launch-colab-button")
    binder = page.locator("a.btn-launch-binder-button")
    assert colab.is_visible() and binder.is_visible()
    assert colab.get_attribute("href") == (
        f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{doc}.ipynb")
    assert binder.get_attribute("href") == (
        f"https://mybinder.org/v2/gh/{org}/{repo}/{branch}?urlpath=lab/tree/{doc}.ipynb")
    page.keyboard.press("Escape")
    page.locator(".dropdown-download-buttons button.dropdown-toggle").click()
    notebook = page.locator("a.btn-download-notebook-button")
    assert notebook.is_visible()
    assert notebook.get_attribute("download") == f"{doc.split('/')[-1]}.ipynb"
    page.keyboard.press("Escape")


TABBED = [d for d in LECTURES if "_includes/implementations.md" in (ROOT / f"{d}.md").read_text()]
SELECTED_TABS = """() => [...document.querySelectorAll('.sd-tab-set')]
  .map(set => set.querySelector('input:checked + label')?.dataset.syncId ?? null)"""


@pytest.mark.parametrize("viewport, mode", [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light")],
                         ids=["desktop-light", "desktop-dark", "phone"])
def test_choosing_a_tool_switches_every_tab_set_and_follows_the_reader_to_the_next_page(
        open_page, site, viewport, mode):
    first, second = TABBED[:2]
    page = open_page(first, viewport, mode)["page"]
    before = page.evaluate(SELECTED_TABS)
    assert len(before) >= 2 and set(before) == {"numpy"}, before
    folded = page.locator(".dropdown:has(.sd-tab-set) .toggle-button")
    if folded.count():                   # the tabs sit in a collapsed part: a reader opens it first
        folded.first.click()
    label = page.locator(".sd-tab-set").first.locator("label[data-sync-id='jax']")
    label.scroll_into_view_if_needed()
    label.click()
    assert page.evaluate(SELECTED_TABS) == ["jax"] * len(before)
    # What shows in the last set is now the JAX code, and only that.
    shown = page.locator(".sd-tab-set").last.locator(".sd-tab-content:visible pre")
    assert shown.count() == 1 and "jax.jit" in shown.first.inner_text()
    page.goto(f"{site}{second}.html")
    wait_for_page(page)
    after = page.evaluate(SELECTED_TABS)
    assert len(after) >= 2 and set(after) == {"jax"}, after


def test_every_internal_link_resolves(site):
    """LinkChecker, every URL the site links to (pages, assets, downloads), on this server.
    Its AnchorCheck is off: it fetches and parses a page again for every #anchor linked to
    on it (linkchecker/linkchecker#781), 59 of this check's 64 s here. The anchors are
    checked in the next test, in the pages Chromium has open."""
    result = subprocess.run([tool("linkchecker"), "-f", str(ROOT / "tests" / "linkcheckerrc"),
                             "--no-status", f"{site}index.html"],
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "0 warnings found. 0 errors found." in output


ANCHORS_JS = """() => ({
  links: [...document.querySelectorAll('a[href*="#"]')].map(a => a.href),
  anchors: [...document.querySelectorAll('[id]')].map(e => e.id)
    .concat([...document.querySelectorAll('a[name]')].map(a => a.name)),
})"""


def broken_anchors(found, site):
    """Of the links in `found` ({page URL: {"links": absolute URLs, "anchors": ids and
    names}}) to a #anchor on a page of `site`, those to an anchor that page lacks, or to a
    page not in `found`: ["page: link", ...]."""
    broken = []
    for page, seen in found.items():
        for link in seen["links"]:
            target, _, fragment = link.partition("#")
            target = target.partition("?")[0]
            if not target.startswith(site) or not fragment:
                continue
            if target not in found:
                broken.append(f"{page}: {link} (a page not checked here)")
            elif unquote(fragment) not in found[target]["anchors"]:
                broken.append(f"{page}: {link}")
    return broken


def test_a_link_to_a_missing_anchor_or_an_unchecked_page_is_named():
    site = "http://127.0.0.1:1/"
    found = {f"{site}a.html": {"links": [f"{site}b.html#x", f"{site}b.html#%CF%81", f"{site}b.html#gone",
                                          f"{site}c.html#y", "https://elsewhere.org/#z", f"{site}a.html#"],
                               "anchors": []},
             f"{site}b.html": {"links": [], "anchors": ["x", "ρ"]}}
    assert broken_anchors(found, site) == [f"{site}a.html: {site}b.html#gone",
                                           f"{site}a.html: {site}c.html#y (a page not checked here)"]


def test_every_internal_anchor_resolves(visits, site):
    """Every link to a #anchor on the site, from every page a reader can reach, finds it,
    in the page as Chromium built it (ids set by scripts included)."""
    found = {f"{site}{doc}.html": visits(doc)["page"].evaluate(ANCHORS_JS) for doc in PAGES}
    assert sum(len(seen["links"]) for seen in found.values()) > len(PAGES)
    broken = broken_anchors(found, site)
    assert not broken, "links to anchors that are not there:\n" + "\n".join(broken)


# Last in this module on purpose: it reads what every earlier test's pages logged.
def test_no_page_in_any_context_logged_a_problem_during_the_whole_session(visits, journal):
    """Console errors and warnings, page errors, failed and off-site requests, from every page
    opened above (desktop and phone, light and dark), including any that came seconds after
    the page loaded: the pages are still open, and we give them a few more seconds."""
    for doc in PAGES:
        visits(doc)                       # every page at least once, even if run alone
    visits(PAGES[0])["page"].wait_for_timeout(LATE_MESSAGES_MS)   # lets queued events arrive
    assert not journal, "\n".join(journal)
