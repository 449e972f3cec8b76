"""A reader of the lecture format (lectures/*.md, MyST): its code cells and prose, where
each stands (the main path, a collapsed "Going deeper" part, an exercise, a solution), and
its exercises with their points and solutions; and what a cell's code binds and reads.

    parts(text)             [(kind, where, source, tags)] in page order
    code_cells(text)        [(source, tags)] of its code cells, in page order
    solutions(text)         [Solution] in page order: label, code, check, lines spanned
    without_checks(text)    the source without the exercises' checks (the site's `_sources`)
    exercises(text)         [Exercise] in page order, each with its solution, check and its parts,
                            and its variant (the cell of values each student may get others of)
    checks_version(text)    a short hash of what grading depends on: labels, points, checks
    cell_names(code)        (names the code binds, names it reads)
    top_level_names(code)   names the code binds at its top level

Grading, the student edition, the tags `make notebooks` keeps (booktools.notebooks), the
stated-time rule (booktools.reading) and the source tests read lectures through it; none
parses the format itself (a source test holds its code cells to jupytext's reading).
"""
import ast
import builtins
import hashlib
import json
import re
from dataclasses import dataclass

_OPENS = {"deeper-start": "deeper", "solution-start": "solution", "exercise": "exercise"}
POINTS = re.compile(r"^\*\*Points:\*\* (\d+(?:\.\d+)?)\s*$", re.M)
# An exercise beyond the lecture's stated time starts its statement with this line.
OPTIONAL = re.compile(r"^\*Optional(?:, beyond the stated time)?\.\*", re.M)


def parts(text):
    """The code cells and prose lines of a lecture's source, in order, each as
    (kind, where, source, tags): kind "code" or "prose"; where "main", or "deeper" (a
    collapsed part), "exercise" (a statement, whole) or "solution"."""
    found, where, lines = [], ["main"], text.split("\n---\n", 1)[-1].splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        opened = re.match(r"^```\{(deeper-start|solution-start|exercise)\}", line)
        if opened:
            if opened.group(1) == "exercise":              # the statement ends with its fence
                j = lines.index("```", i + 1)
                found.append(("prose", "exercise", "\n".join(lines[i + 1:j]), []))
                i = j + 1
                continue
            where.append(_OPENS[opened.group(1)])
        elif re.match(r"^```\{(deeper-end|solution-end)\}", line):
            where.pop()
        elif line.startswith("```{code-cell}"):
            tags, source, i = _code_cell(lines, i)
            # An exercise's variant cell (its values, see Variant) is part of the exercise.
            found.append(("code", "exercise" if "variant" in tags else where[-1], source, tags))
            continue
        elif not line.startswith("```") and line.strip():
            found.append(("prose", where[-1], line, []))
        i += 1
    return found


def code_cells(text):
    """Every code cell of a lecture's source, as (source, tags), in order: what jupytext
    reads as its code cells (tests/test_lecture_sources.py holds the two together)."""
    return [(source, tags) for kind, _, source, tags in parts(text) if kind == "code"]


def main_path_cells(text):
    """The code cells a reader sees on the main path (not hidden, not collapsed, not in an
    exercise's solution)."""
    return [source for kind, where, source, tags in parts(text)
            if kind == "code" and where == "main" and "remove-cell" not in tags]


# A check may give partial credit: its lines from `# Part (1 point): what it checks` to the
# next such line are one part, worth those points; the lines before the first part are
# shared by every part. A part `# Part (1 point, by hand): what to mark` is marked by a
# person (a written explanation, a figure): the grader exports the student's work on the
# exercise for marking (booktools.gradebook) instead of running it; on the site its
# lines still run, after the shared ones.
PART = re.compile(r"^# Part \((\d+(?:\.\d+)?) points?(, by hand)?\): (.+)$", re.M)


@dataclass(frozen=True)
class Part:
    points: float
    what: str           # what it checks, as a student's feedback names it ("" for a whole check)
    code: str           # the check's shared lines, then the part's own: it runs alone
    by_hand: bool = False   # marked by a person, not run by the grader


@dataclass
class Exercise:
    label: str          # e.g. "numpy-ex1"
    statement: str      # the exercise's text, its options left out
    points: float
    optional: bool      # beyond the lecture's stated time
    solution: str       # the code of its solution's cells, joined
    check: str = None   # the hidden cell right after the solution: the question's test
    variant: "Variant" = None   # its values, where each student may get others (or None)

    @property
    def parts(self):
        return check_parts(self.check, self.points, self.label) if self.check is not None else []


def check_parts(check, points, label="the exercise"):
    """The weighted parts of a check (see PART), each runnable alone; a check without parts
    is one part worth all the points. Raises FormatError when the parts' points do not add
    up to the exercise's."""
    marks = list(PART.finditer(check))
    if not marks:
        return [Part(points, "", check)]
    shared = check[:marks[0].start()]
    found = [Part(float(mark.group(1)), mark.group(3).strip(),
                  shared + check[mark.start():marks[k + 1].start() if k + 1 < len(marks) else len(check)],
                  bool(mark.group(2)))
             for k, mark in enumerate(marks)]
    if abs(sum(part.points for part in found) - points) > 1e-9:
        raise FormatError(f"{label}: its check's parts give {sum(part.points for part in found):g} points, "
                          f"its statement {points:g}")
    return found


class FormatError(ValueError):
    """A lecture's source breaks the exercise format (a solution never closed)."""


@dataclass
class Solution:
    label: str          # the exercise it solves
    code: str           # the code of its cells, joined
    check: str          # the hidden cell right after it (None when there is none)
    collapsed: bool     # shown as a dropdown (`:class: dropdown`)
    lines: range        # the source lines it spans (0-based), its check included
    check_lines: range = range(0)   # the lines of its check's cell (empty when there is none)


SOLUTION_START = re.compile(r"^```\{solution-start\}\s+(\S+)\s*$")
SOLUTION_END = re.compile(r"^```\{solution-end\}\s*$")
FENCE = re.compile(r"^```\s*$")


def _code_cell(lines, i):
    """(tags, source, index after its closing fence) of the code cell opening at line i."""
    metadata, source, end = _code_cell_metadata(lines, i)
    return metadata.get("tags", []), source, end


def _code_cell_metadata(lines, i):
    """(metadata, source, index after its closing fence) of the code cell opening at line i:
    its options as `:key: value` lines, or as a YAML block between `---` lines."""
    import yaml
    j, metadata = i + 1, {}
    if j < len(lines) and lines[j] == "---":
        close = lines.index("---", j + 1)
        metadata = yaml.safe_load("\n".join(lines[j + 1:close])) or {}
        j = close + 1
    while j < len(lines) and lines[j].startswith(":"):
        if lines[j].startswith(":tags:"):
            metadata["tags"] = re.findall(r"[\w-]+", lines[j].split(":", 2)[2])
        j += 1
    end = j
    while end < len(lines) and not FENCE.match(lines[end]):
        end += 1
    if end == len(lines):
        raise FormatError(f"a code cell at line {i + 1} is never closed")
    return metadata, "\n".join(lines[j:end]), end + 1


def solutions(text, name="lecture"):
    """The solutions of a lecture's source, in order: from ```{solution-start} LABEL to
    the fence after ```{solution-end}, with the check that follows (the next code cell,
    after any blank lines, when it is hidden: tag `remove-cell`, whatever else the tags
    say). Raises FormatError, naming the lecture, for a solution never closed."""
    lines, found, i = text.splitlines(), [], 0
    while i < len(lines):
        start = SOLUTION_START.match(lines[i])
        if not start:
            i += 1
            continue
        first, code, collapsed = i, [], False
        i += 1
        while i < len(lines) and not SOLUTION_END.match(lines[i]):
            if lines[i].strip() == ":class: dropdown":
                collapsed = True
            if lines[i].startswith("```{code-cell}"):
                _, source, i = _code_cell(lines, i)
                code.append(source)
                continue
            i += 1
        if i + 1 >= len(lines) or not FENCE.match(lines[i + 1]):
            raise FormatError(f"{name}: solution {start.group(1)!r} has no closed solution-end")
        i += 2
        j, check, check_lines = i, None, range(0)
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j < len(lines) and lines[j].startswith("```{code-cell}"):
            tags, source, after = _code_cell(lines, j)
            if "remove-cell" in tags:
                check, i, check_lines = source + "\n", after, range(j, after)
        found.append(Solution(start.group(1), "\n".join(code), check, collapsed, range(first, i), check_lines))
    return found


def without_checks(text):
    """The lecture's source without its exercises' checks (the hidden cell after each
    solution): what the site offers as the page's source."""
    lines = text.splitlines(keepends=True)
    dropped = {n for solution in solutions(text) for n in solution.check_lines}
    return "".join(line for n, line in enumerate(lines) if n not in dropped)


@dataclass(frozen=True)
class Variant:
    """The values of an exercise that each student may get others of: the code cell tagged
    `variant` between the exercise's statement and its solution. Its code assigns the
    site's values, `name = value`, one a line (comments allowed); its metadata lists each
    name's alternatives, the site's first (booktools.variants draws and writes them):

        ```{code-cell} ipython3
        ---
        tags: [variant]
        variants:
          coef_order: ["lowest first", "highest first"]
        ---
        coef_order = "lowest first"
        ```
    """
    code: str
    alternatives: dict   # {name: [value, ...]}, as YAML gives them (str, number, bool, list)


def _variant_after(lines, start):
    """The Variant in the code cells from line `start` to the next solution (None if none)."""
    i = start
    while i < len(lines) and not SOLUTION_START.match(lines[i]) and not lines[i].startswith("```{exercise}"):
        if lines[i].startswith("```{code-cell}"):
            metadata, source, after = _code_cell_metadata(lines, i)
            if "variant" in metadata.get("tags", []):
                alternatives = metadata.get("variants")
                if not isinstance(alternatives, dict) or not alternatives \
                        or not all(isinstance(v, list) and v for v in alternatives.values()):
                    raise FormatError(f"the variant cell at line {i + 1} needs `variants:`, each name's "
                                      "alternatives as a list")
                return Variant(source, alternatives)
            i = after
            continue
        i += 1
    return None


def exercises(text):
    """The exercises of a lecture's source, in order, each with its solution's code, the
    check that follows the solution (see `solutions`) and its Variant (or None)."""
    solved = {solution.label: solution for solution in solutions(text)}
    lines, found = text.splitlines(), []
    for match in re.finditer(r"^```\{exercise\}\n:label: (\S+)\n(.*?)^```$", text, re.M | re.S):
        label, statement = match.groups()
        points = POINTS.search(statement)
        solution = solved.get(label)
        found.append(Exercise(label, statement, float(points.group(1)) if points else 0.0,
                              bool(OPTIONAL.search(statement)), solution.code if solution else "",
                              solution.check if solution else None,
                              _variant_after(lines, text.count("\n", 0, match.end()) + 1)))
    return found


def checks_version(text):
    """A short hash of what grading a lecture's assignment depends on: each exercise's label,
    points and check, the names its solution defines (the answers a check reads) and its
    variant's alternatives. The
    prose, the lecture's other code and the solutions' bodies do not change it."""
    graded = [(e.label, e.points, e.check, sorted(top_level_names(e.solution)) if e.solution else [])
              + ((e.variant.alternatives,) if e.variant else ()) for e in exercises(text)]
    return hashlib.sha256(json.dumps(graded).encode("utf-8")).hexdigest()[:12]


def solution_lines(code):
    """Lines of a solution's code that are neither blank nor comments."""
    return sum(1 for line in code.splitlines() if line.strip() and not line.strip().startswith("#"))


def cell_names(code, arguments=True):
    """(names a cell binds, names it reads) from its syntax, IPython's magics read as
    IPython runs them; (set(), set()) for code that does not parse. Over-approximated: a
    name bound anywhere in the cell counts, its functions' parameters too (`arguments`)."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        tree = ast.parse(TransformerManager().transform_cell(code))
    except SyntaxError:
        return set(), set()
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg) and arguments:
            bound.add(node.arg)
    return bound | imported_names(tree), read


def imports(tree):
    """{name: the module or object it stands for} for the imports anywhere in `tree` (parsed
    code): `import a.b` binds `a` to "a", `import a.b as c` binds `c` to "a.b", and
    `from a import b` binds `b` to "a.b"."""
    found = {}
    for node in ast.walk(tree):
        for alias in getattr(node, "names", []) if isinstance(node, (ast.Import, ast.ImportFrom)) else []:
            if isinstance(node, ast.ImportFrom):
                found[alias.asname or alias.name] = f"{node.module or ''}.{alias.name}".lstrip(".")
            elif alias.asname:
                found[alias.asname] = alias.name
            else:
                found[alias.name.split(".")[0]] = alias.name.split(".")[0]
    return found


def imported_names(tree):
    """Names the imports anywhere in `tree` (parsed code) bind: `import a.b` binds `a`."""
    return set(imports(tree))


def local_name_nodes(tree):
    """The Name nodes of `tree` that stand for a function's, a lambda's or a comprehension's
    own names (its parameters, what it binds, a comprehension's loop variables): they are
    no name of the notebook's, which a later cell could read or change."""
    local = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            own = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            own |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
            inside = [inner for body in ([node.body] if isinstance(node, ast.Lambda) else node.body)
                      for inner in ast.walk(body)]
            declared = {name for inner in inside if isinstance(inner, (ast.Global, ast.Nonlocal))
                        for name in inner.names}
            own |= {inner.id for inner in inside if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Store)}
            own |= {inner.name for inner in inside if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef))}
            own -= declared
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inside = list(ast.walk(node))
            own = {target.id for generator in node.generators for target in ast.walk(generator.target)
                   if isinstance(target, ast.Name)}
        else:
            continue
        local |= {id(inner) for inner in inside if isinstance(inner, ast.Name) and inner.id in own}
    return local


# Methods that read their object and change nothing: `qm_jax.lower(x0, n)` (JAX's lowering of
# a jitted function), `t.result()`, `x.copy()`, ... (statement_names; any other method may).
READING_METHODS = {"lower", "result", "copy", "devices", "astype", "item", "tolist", "reshape", "sum",
                   "max", "min", "mean", "inspect_llvm", "inspect_asm", "inspect_types", "get_metadata",
                   "keys", "values", "items"}


# NumPy's and Python's global random generators, as if a name: a draw reads and changes it, and
# so do seeding it and setting its state (a Generator from default_rng is an object like any).
RANDOM_STATE = "<global random state>"
GLOBAL_RANDOM = re.compile(r"^(np|numpy)\.random\.(?!default_rng$|Generator$|SeedSequence$|PCG64)\w+$"
                           r"|^random\.\w+$")


def statement_names(statement):
    """What one top-level statement (an `ast` node) does with the notebook's names, as sets
    (binds, reads, changes). binds: what it assigns, defines or imports; reads: every name it
    reads, inside its functions too (`x += 1` reads x); changes: the names whose value it may
    change in place: `x[i] = `, `x.a = `, an object whose method it calls (`rng.normal()`
    draws), the global random state (`np.random.uniform()`), and the arguments of a call
    made as a statement (`records.append(r)`, `qm_into(out, x0, n)`). Calling a function
    is not counted as changing it (a Numba function compiles a new signature when called).
    A function's own names and a comprehension's loop variables are none of these."""
    local = local_name_nodes(statement)
    in_function = {id(inner) for node in ast.walk(statement)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
                   for inner in ast.walk(node) if inner is not node}
    binds, reads, changes = set(), set(), set()

    def root(node, through_calls=False):        # `out[0]`: out; `str(x)`: a new value, no name's
        while isinstance(node, (ast.Subscript, ast.Attribute)) or through_calls and isinstance(node, ast.Call):
            node = node.func if isinstance(node, ast.Call) else node.value
        return node.id if isinstance(node, ast.Name) and id(node) not in local else None

    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and id(node) not in local:
            (reads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and id(node) not in in_function:
            binds.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            binds |= {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and id(node.target) not in local:
            reads.add(node.target.id)             # and changes it in place, if it is a list or an array
            changes.add(node.target.id)
        if isinstance(node, ast.Call):            # np.add(a, 1, out=a) fills a
            changes |= {root(k.value) for k in node.keywords if k.arg == "out"}
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            changes.add(root(node.value))
        if isinstance(node, ast.Call) and GLOBAL_RANDOM.match(ast.unparse(node.func)):
            reads.add(RANDOM_STATE)                 # np.random.seed(3), np.random.uniform(): one state
            changes.add(RANDOM_STATE)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if isinstance(node.func.value, ast.Name) and node.func.attr not in READING_METHODS:
                changes.add(root(node.func.value))                       # rng.normal(): rng draws
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Attribute):                    # records.append(r): records
                changes.add(root(call.func.value, through_calls=True))
            if not (isinstance(call.func, ast.Name) and call.func.id in dir(builtins)):   # print(x)
                changes |= {root(arg) for arg in call.args + [k.value for k in call.keywords]}
    return binds, reads, changes - {None} - set(dir(builtins))    # len(x) changes no name len


def called_root(call):
    """The name a call's function hangs from: `np` for `np.random.seed(1)`, `f` for `f(x)`."""
    node = call.func
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def top_level_names(code, imports=True):
    """Names a piece of code binds at its top level: assignments (targets of every kind),
    function and class definitions, and (with `imports`) imports."""
    names = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and imports:
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        for target in getattr(node, "targets", []) + [getattr(node, "target", None)]:
            if target is not None:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names
