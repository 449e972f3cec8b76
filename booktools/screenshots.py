"""Screenshots of every page for review: desktop (light and dark) and phone.

    python -m booktools.screenshots [SITE_DIR] [OUT_DIR]    # `make screenshots` runs this

Writes OUT_DIR/<page>-desktop-light.png, -desktop-dark.png and -phone.png (full pages).
"""
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from booktools.browser import DESKTOP, PHONE, launch, serve, wait_for_page
from booktools.layout import BUILD, HTML

VARIANTS = {"desktop-light": (DESKTOP, "light"), "desktop-dark": (DESKTOP, "dark"),
            "phone": (PHONE, "light")}


def main(site_dir, out_dir):
    site_dir, out_dir = Path(site_dir), Path(out_dir)
    pages = sorted(p.relative_to(site_dir).with_suffix("").as_posix()
                   for p in site_dir.glob("lectures/*.html"))
    pages += ["search", "genindex"]
    out_dir.mkdir(parents=True, exist_ok=True)
    with serve(site_dir) as base, sync_playwright() as playwright:
        browser = launch(playwright)
        for variant, (viewport, scheme) in VARIANTS.items():
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            for name in pages:
                page.goto(f"{base}{name}.html")
                wait_for_page(page)
                target = out_dir / f"{name.replace('/', '-')}-{variant}.png"
                page.screenshot(path=target, full_page=True)
                print(target)
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*(sys.argv[1:] or [HTML, BUILD / "screenshots"])))
