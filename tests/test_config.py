"""The machinery's own rules: each fact in one place (copies only where a format forces
them, checked here), and imports any reader or tool can follow."""
import ast
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from booktools import layout
from booktools.book import ROOT, config
from booktools.requirements import pinned_versions, python_version

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Every Python file of the site's own (not the venv's, not build output).
PYTHON_FILES = sorted(p for folder in ("booktools", "tests", "lectures") for p in (ROOT / folder).rglob("*.py")
                      if "__pycache__" not in p.parts)
SOURCES = [p for p in PYTHON_FILES if p.name != "test_config.py"]   # this file names what it forbids


def test_workflows_set_up_the_python_the_pins_are_for():
    """YAML cannot read requirements.txt: each fixed `python-version` must repeat its version."""
    found = 0
    for path in WORKFLOWS:
        for version in re.findall(r"python-version: \"?([\d.]+)\"?", path.read_text()):
            assert version == python_version(), (
                f"{path.name} sets up Python {version}; the pins are for {python_version()}")
            found += 1
    assert found >= 3


def test_makefile_names_the_build_folders_booktools_layout_names():
    makefile = (ROOT / "Makefile").read_text()
    variables = dict(re.findall(r"^(\w+) := (\S+)$", makefile, re.M))
    for name in ("STUDENT_BOOK", "STUDENT", "ASSIGNMENTS"):
        assert ROOT / variables[name] == getattr(layout, name), f"Makefile's {name} is not booktools.layout's"
    assert ROOT / variables["SITE_PDFS"] == layout.HTML / layout.SITE_PDFS


def test_parallel_make_test_executes_lectures_only_in_html():
    """`make test` runs two jobs at a time. The builds that read the execution cache (the
    PDF, the student edition) must wait for `html`, or they would execute every lecture
    again, beside it, and disturb the timings the pages publish."""
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = {target: deps.split() for target, deps in
                     re.findall(r"^([\w.-]+):(?!=)([^#\n]*)", makefile, re.M)}
    assert "-j$(JOBS)" in makefile and "ifeq ($(MAKECMDGOALS),test)" in makefile
    assert "html" in prerequisites["pdf"] and "html" in prerequisites["student"]
    assert "notebooks" in prerequisites["html"]


def test_make_venv_installs_the_uv_requirements_txt_pins():
    """The Makefile reads uv's pin with grep (booktools is not installed yet when it
    runs): it must find the very pin booktools.requirements reads."""
    printed = subprocess.run(["make", "-s", "--eval", "print-uv-pin: ; @echo $(UV_PIN)", "print-uv-pin"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert printed == f"uv=={pinned_versions()['uv']}"


def test_sphinx_loads_our_extensions_from_the_package_by_module_path():
    extensions = config()["sphinx"]["extra_extensions"]
    ours = [e for e in extensions if e.startswith("booktools.")]
    assert len(ours) == len(list((ROOT / "booktools" / "extensions").glob("[a-z]*.py"))) >= 4
    assert "local_extensions" not in config()["sphinx"]
    for name in ours:
        assert (ROOT / (name.replace(".", "/") + ".py")).is_file()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_edits_sys_path_or_imports_from_conftest(path):
    text = path.read_text(encoding="utf-8")
    assert "sys.path" not in text, f"{path.name}: import through the package, not by editing sys.path"
    assert not re.search(r"^\s*(from|import) conftest\b", text, re.M), f"{path.name} imports from conftest"


# Imports a reader cannot see. Allowed, each for its reason: under `make mutation`,
# tests/conftest.py hands the tests mutmut's copies of the lecture helpers
# (lectures.lecture_tools), which the plain imports `import lecture_tools` then get; the
# grader loads the same helpers by path, for the lecture cells it runs itself, as the
# lectures import them from their own folder; the tampering scan only names `__import__`
# among the builtins it watches.
HIDDEN_IMPORTS = re.compile(r"import_module|__import__|runpy|spec_from_file_location|SourceFileLoader")
HIDDEN_ALLOWED = {"tests/conftest.py", "booktools/grading.py", "booktools/tampering.py"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_is_an_import_statement(path):
    if str(path.relative_to(ROOT)) not in HIDDEN_ALLOWED:
        assert not HIDDEN_IMPORTS.search(path.read_text(encoding="utf-8")), f"{path.name}: a hidden import"


def imports(path):
    """The modules a file imports (absolute names; `from booktools import x` gives booktools.x)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def booktools_modules():
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p
            for p in (ROOT / "booktools").rglob("*.py") if p.name != "__init__.py"}


def test_import_graph_reaches_every_tooling_module_through_plain_imports():
    """Each booktools module is imported by name somewhere (other modules, tests), or run by
    name: `python -m` in the Makefile, an extension in _config.yml, the plugin in pytest.ini."""
    modules = booktools_modules()
    graph = {name: sorted(i for i in imports(path) if i in modules) for name, path in modules.items()}
    print("\n".join(f"{name} -> {', '.join(deps) or '-'}" for name, deps in sorted(graph.items())))
    imported = {i for path in PYTHON_FILES for i in imports(path)}
    named = (ROOT / "Makefile").read_text() + (ROOT / "_config.yml").read_text() + (ROOT / "pytest.ini").read_text()
    for name in modules:
        assert name in imported or re.search(rf"(-m|-p) {re.escape(name)}\b|- {re.escape(name)}\b", named), (
            f"{name} is neither imported nor run by name")
    for path in PYTHON_FILES:
        for name in imports(path):
            if name.startswith("booktools.") and name.count(".") == 1 + name.startswith("booktools.extensions."):
                assert name in modules, f"{path.name} imports {name}, which does not exist"


def test_config_files_parse():
    for path in [ROOT / "_config.yml", ROOT / "_toc.yml", *WORKFLOWS]:
        assert yaml.safe_load(path.read_text()), path.name


def test_the_template_override_is_the_themes_file_less_its_icon_script():
    """_templates/static/webpack-macros.html drops pydata-sphinx-theme's fontawesome.js and
    nothing else (_templates/README.md says why): compared with the installed theme's file,
    so that an upgrade of the theme that changes it fails here."""
    import pydata_sphinx_theme
    theme = (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
             / "webpack-macros.html").read_text().splitlines()
    ours = (ROOT / "_templates" / "static" / "webpack-macros.html").read_text().splitlines()
    dropped = [line for line in theme if "fontawesome.js" in line or "users can add custom icons" in line]
    assert len(dropped) == 2
    assert [line for line in theme if line not in dropped] == [line for line in ours if "This site:" not in line]
    assert not any("fontawesome" in line and "<script" in line for line in ours)
    assert "_templates" in config()["sphinx"]["config"]["templates_path"]
