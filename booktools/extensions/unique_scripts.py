"""Drop duplicate <script> entries from every page.

Under Jupyter Book 1, sphinx-thebe registers its inline configuration script twice,
and the second `const THEBE_JS_URL = ...` throws "Identifier has already been
declared" in the reader's browser. Keeping the first of identical scripts removes
that error without touching the theme. (tests/test_browser.py checks the console.)
"""


def drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # The copies differ only in an empty filename given as None or "".
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
