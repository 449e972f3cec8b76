"""Keep in Font Awesome's brands font only the glyphs the site uses.

The theme's CSS draws its icons from Font Awesome's web fonts (_templates/README.md says
why the theme's icon script is not loaded). The brands font is 118 kB for the one glyph
the site shows from it, the repository's GitHub icon. After an HTML build this rewrites
the built copy of that font with the brand glyphs the built pages name (`fab fa-github`,
...), read through the theme's CSS (`.fa-github:before{content:"\\f09b"}`). The solid
font stays whole: the theme's CSS also uses it for admonition icons, by code point.
"""
import re
from pathlib import Path

from fontTools import subset

BRANDS = Path("_static") / "vendor" / "fontawesome" / "webfonts" / "fa-brands-400.woff2"
THEME_CSS = Path("_static") / "styles" / "pydata-sphinx-theme.css"
BRAND_CLASS = re.compile(r'class="[^"]*\b(?:fab|fa-brands)\b[^"]*"')


def code_points(css):
    """{icon name: code point} from Font Awesome's rules in the theme's CSS."""
    points = {}
    for selectors, code in re.findall(r'([^{}]+)\{content:"\\([0-9a-f]{4,5})"\}', css):
        for name in re.findall(r"\.fa-([a-z0-9-]+):before", selectors):
            points[name] = int(code, 16)
    return points


def brand_icons(outdir):
    """Names of the brand icons the built pages use (github, ...)."""
    used = set()
    for page in Path(outdir).rglob("*.html"):
        for classes in BRAND_CLASS.findall(page.read_text(encoding="utf-8", errors="replace")):
            used.update(re.findall(r"\bfa-(?!brands\b)([a-z0-9-]+)", classes))
    return used


def subset_brands(outdir):
    outdir = Path(outdir)
    font, css = outdir / BRANDS, outdir / THEME_CSS
    if not font.exists() or not css.exists():
        return None
    points = code_points(css.read_text(encoding="utf-8"))
    wanted = sorted(points[name] for name in brand_icons(outdir) if name in points)
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    face = subset.load_font(str(font), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(face)
    subset.save_font(face, str(font), options)
    return wanted


def after_build(app, exception):
    if exception is None and app.builder.format == "html":
        subset_brands(app.outdir)


def setup(app):
    app.connect("build-finished", after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
