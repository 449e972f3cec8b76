"""The site says which version of the lectures it is, in every page's footer and on the
PDF's title page.

The version is the release tag being built (the release workflow sets SITE_VERSION to
it, e.g. v1.2.0); otherwise what `git describe --tags --always --dirty` says of the
checkout (v1.2.0-3-gabc1234 three commits after v1.2.0, or a commit hash before any
tag); "unversioned" outside git. Instructors pin a version by its release
(lectures/instructors.md says how).
"""
import os
import subprocess

from markupsafe import escape


def site_version(srcdir):
    if os.environ.get("SITE_VERSION"):
        return os.environ["SITE_VERSION"]
    try:
        described = subprocess.run(["git", "describe", "--tags", "--always", "--dirty"], cwd=srcdir,
                                   capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unversioned"
    return described.stdout.strip() if described.returncode == 0 and described.stdout.strip() else "unversioned"


def set_version(app, config):
    version = site_version(app.srcdir)
    config.version = config.release = version
    footer = config.html_theme_options.get("extra_footer", "") or ""
    config.html_theme_options["extra_footer"] = (
        f'{footer}<p class="site-version">Version <span class="version-id">{escape(version)}</span></p>')


def setup(app):
    app.connect("config-inited", set_version)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
