"""Finding code in a submission that changes the machinery answers run on.

The grader's verdict never runs in the student's kernel (booktools.remote), so rebinding
`print`, `json.dumps` or `numpy.allclose` there cannot forge a grade; but it is not an
answer either, and an instructor should see it. `scan(cells)` reads each code cell's
syntax (never running it) and reports, with the cell and the reason:

* assigning to, or deleting, an attribute of anything the notebook imported
  (`np.allclose = ...`, `json.dumps = ...`, `sys.stdout = ...`, `builtins.print = ...`),
  or `setattr`/`delattr` on it;
* changing `sys.modules`, `__builtins__` or `builtins`' namespace;
* a top-level definition of a name from `WATCHED_BUILTINS` (`print = ...`, `def open(...)`);
* reaching for other processes or for the interpreter's insides, which no answer needs:
  signals (`os.kill`, `signal.signal`), forks and new sessions, `ctypes`.

`KERNEL_PROBE` asks the kernel afterwards whether such names still hold what Python and
the libraries put there, which catches rebinding hidden from the syntax (through `exec`).
The kernel can lie in that answer; the syntax cannot.
"""
import ast

from booktools import lecture_source

PROCESS_CALLS = {"signal.signal", "signal.pthread_kill", "os.kill", "os.killpg", "os.fork", "os.forkpty",
                 "os.setsid", "os.setpgid"}
WATCHED_BUILTINS = {"print", "open", "exec", "eval", "compile", "__import__", "isinstance", "issubclass",
                    "getattr", "setattr", "delattr", "globals", "locals", "vars", "super", "object"}


# Settings a library documents as set by assigning to it: assigning one is configuring the
# library, not tampering with it (numba's threading layer, from its documentation).
CONFIGURATION = {"numba.config.THREADING_LAYER", "numba.config.THREADING_LAYER_PRIORITY"}


def _imported(trees):
    """{name: the module or object it stands for} for every import of the notebook."""
    found = {"builtins": "builtins", "__builtins__": "builtins"}
    for tree in trees:
        found.update(lecture_source.imports(tree))
    return found


def _qualified(node, imported):
    """`nb.config.X` as "numba.config.X" when `import numba as nb`; None for other roots."""
    text = _text(node)
    root = text.split(".")[0]
    return imported[root] + text[len(root):] if root in imported else None


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("vars", "globals"):
        return node.func.id + "()"
    return node.id if isinstance(node, ast.Name) else None


def _text(node):
    try:
        return ast.unparse(node)[:80]
    except Exception:
        return "?"


def _targets(node):
    if isinstance(node, (ast.Assign, ast.Delete)):
        return node.targets
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    return []


def findings(source, imported):
    """Reasons one cell's code tampers, as short sentences (empty if it does not); `imported`
    is `_imported` of the notebook's cells."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        for target in _targets(node):
            for part in ast.walk(target) if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                root = _root(part)
                if isinstance(part, ast.Attribute) and root in imported:
                    if isinstance(node, ast.Assign) and _qualified(part, imported) in CONFIGURATION:
                        continue
                    found.append(f"it rebinds `{_text(part)}`, which belongs to the imported `{root}`")
                elif isinstance(part, ast.Subscript) and (
                        root in ("__builtins__", "vars()", "globals()")
                        or _text(part.value) in ("sys.modules", "builtins.__dict__")):
                    found.append(f"it changes `{_text(part)}`")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr")
                and node.args and _root(node.args[0]) in imported):
            found.append(f"it calls `{node.func.id}` on the imported `{_root(node.args[0])}`")
        if isinstance(node, ast.Call):
            called = _text(node.func)
            if called in PROCESS_CALLS or called.split(".")[-1] in ("kill", "killpg", "fork", "forkpty", "setsid"):
                found.append(f"it calls `{called}`, which reaches other processes")
            if any(k.arg in ("start_new_session", "preexec_fn") for k in node.keywords):
                found.append(f"it starts a process outside its own session (`{called}`)")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] == "ctypes" for m in modules):
                found.append("it imports `ctypes`, which reaches into the interpreter's memory")
    for node in tree.body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        for target in _targets(node):
            names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        for name in names:
            if name in WATCHED_BUILTINS:
                found.append(f"it redefines the builtin `{name}`")
    return list(dict.fromkeys(found))


def scan(sources, context=()):
    """[(index of the cell among `sources`, reason)] for every code cell that tampers.
    What the `context` cells import (the notebook's own, not scanned) counts as imported."""
    trees = []
    for source in [*sources, *context]:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            pass
    imported = _imported(trees)
    return [(index, reason) for index, source in enumerate(sources) for reason in findings(source, imported)]


# Run in the kernel after the notebook: what no longer holds what Python or a library put there.
KERNEL_PROBE = r'''
def __grader_probe__():
    import builtins, json, sys, types
    found = []
    for name in sorted(''' + repr(sorted(WATCHED_BUILTINS)) + r'''):
        value = getattr(builtins, name, None)
        if not isinstance(value, (types.BuiltinFunctionType, type)):
            found.append(f"builtins.{name} is no longer Python's")
    for module_name, names in (("json", ("dumps", "loads", "dump", "load")),
                               ("numpy", ("allclose", "isclose", "array_equal", "asarray", "abs", "max"))):
        module = sys.modules.get(module_name)
        for name in names:
            value = getattr(module, name, None) if module else None
            if module and not (getattr(value, "__module__", "") or "").startswith(module_name):
                found.append(f"{module_name}.{name} is no longer {module_name}'s")
    for stream in ("stdout", "stderr"):
        if type(getattr(sys, stream)).__module__.split(".")[0] != "ipykernel":
            found.append(f"sys.{stream} was replaced")
    return found
'''
