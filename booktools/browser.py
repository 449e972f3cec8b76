"""Serve the built site locally and drive Debian's Chromium over it (Playwright).

Shared by the browser tests (tests/test_browser.py) and `make screenshots`
(booktools/screenshots.py). Never downloads a browser: it uses /usr/bin/chromium,
which `make chromium` installs with apt-get.
"""
import contextlib
import functools
import gzip
import http.server
import io
import os
import threading
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


def chromium_problem():
    """Why Chromium cannot be used here, or None."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return (f"no Chromium at {CHROMIUM}. The browser tests use Debian's package: run "
            "`make chromium` (as root: apt-get install chromium), or set CHROMIUM=/path/to/chromium.")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".ipynb": "application/x-ipynb+json", ".md": "text/markdown; charset=utf-8",
                      ".js": "text/javascript", ".woff2": "font/woff2"}

    # Served compressed, as GitHub Pages serves them, so that a page's transferred size in
    # the browser tests is what a reader's connection carries.
    COMPRESSED = (".html", ".js", ".css", ".json", ".svg", ".ipynb", ".md", ".txt", ".map")

    def log_message(self, *args):
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if (path.suffix not in self.COMPRESSED or not path.is_file()
                or "gzip" not in self.headers.get("Accept-Encoding", "")):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self):
        # LinkChecker throttles every host to a few requests a second unless the server opts
        # in with this header (its documented switch); tests/linkcheckerrc then sets the rate.
        self.send_header("LinkChecker", "local test server")
        super().end_headers()


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass   # a client closing a connection early (link checkers do) is not our error


@contextlib.contextmanager
def serve(directory):
    """Serve `directory` on a free localhost port; yields the base URL (ending in /)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def launch(playwright):
    problem = chromium_problem()
    if problem:
        raise RuntimeError(problem)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_for_page(page, network_idle=True):
    """Wait until the page has loaded, its math is typeset, its fonts are in and its CSS
    transitions (the theme fades colours in) have ended; with `network_idle` (for checks on
    what a page requests), also until no request has been in flight for half a second,
    which costs every page that half second."""
    page.wait_for_load_state("networkidle" if network_idle else "load")
    page.evaluate("() => Promise.all([window.MathJax?.startup?.promise ?? null, document.fonts.ready])"
                  ".then(() => Promise.all(document.getAnimations().map(a => a.finished)))"
                  ".then(() => null)")
