"""Find checks that decide by a stopwatch (CONTRIBUTING.md, "No verdict on a stopwatch").

A check (an `assert`, or an `if` whose body raises) must not compare a duration, a speed
or CPU-time ratio, a page-fault count or a core count with a threshold: every machine
runs at its own speed, so such a check passes where it was written and fails on the next
machine. `verdicts(code)` lists the comparisons in a piece of Python that do.

It follows values, not names. A value is *measured* when it comes from a clock
(`time.perf_counter()`, `time.process_time()`, ...), from the site's timers (`time_call`,
`time_first_and_best`), from a fault or core count (`minor_faults`, `os.cpu_count()`,
`numba.get_num_threads()`, `blas_thread_count()`, `machine_summary()`), from a timing
record's fields (`.best`, `.first`, `.runs`, `["best_s"]`, ...), or is computed from a
measured value by arithmetic, `min`, `max`, `sum`, a container or an f-string. What a timed
call *returned* (`timing.result()`) is a value like any other.

A comparison is a verdict on a stopwatch when it orders a measured value against anything
(`t < 0.5 * t_blocked`, `speedup > 2`), or tests a measured value for equality with one
that is not measured (`measured == {"np.sort": False}`). Equality between two measured
values is allowed: it checks that one figure was derived from another (a table's ratio
from its timings), which holds on any machine. So are `is None` and `in` (a label in a line).

The one sanctioned way to compare a duration is `lecture_tools.assert_took`, on a stand-in
whose delay is known; its own body is not read.
"""
import ast
import re
from pathlib import Path

# Calls whose result is measured: clocks, the site's timers, fault and core counts.
MEASURING_CALLS = {
    "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time",
    "process_time_ns", "thread_time", "thread_time_ns", "time_ns", "default_timer",
    "time_call", "time_first_and_best", "speedup_over_loop", "cpu_per_wall", "minor_faults",
    "cpu_count", "physical_cores", "get_num_threads", "sched_getaffinity", "getrusage",
    "blas_thread_count", "machine_summary",
}
# Attributes that hold measurements, whatever object they belong to.
MEASURED_ATTRIBUTES = {"best", "first", "runs", "compile_estimate", "elapsed", "num_threads",
                       "ru_minflt", "ru_majflt", "ru_utime", "ru_stime"}
# Keys of measurement records (benchmarks.py): seconds, bytes per second, ratios to a reference.
MEASURED_KEY = re.compile(r"(_s|_Bps|_seconds|_threads|_cores)$|^(best|first|elapsed|x_reference|t_\w+)$")
# Names that say they hold a duration, wherever the value came from (a helper's return).
MEASURED_NAME = re.compile(r"^(seconds|elapsed|duration|wall|speedup)$|_(seconds|elapsed|duration)$")
# Calls through which a measured value stays measured.
PASSING_CALLS = {"min", "max", "sum", "abs", "float", "int", "round", "mean", "median", "array",
                 "asarray", "approx", "all", "any", "bool"}
# Attributes of a measured object that are not measurements (what a timed call compiled).
FACTS = {"compiled", "call", "result", "shape", "dtype", "ndim", "size", "nbytes", "devices",
         "name", "label", "fn", "args", "kwargs", "precision", "device"}
# Functions whose own comparisons are the sanctioned kind.
SANCTIONED = {"assert_took"}


def _call_name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


class _Scope:
    """Names bound to measured values; `plain` names shadow a measured name of the scope above
    (a comprehension's own variables)."""

    def __init__(self, parent=None):
        self.parent, self.measured, self.plain = parent, set(), set()
        self.literals = {}          # name -> the list or tuple written out that it holds

    def literal(self, name):
        if name in self.literals or self.parent is None:
            return self.literals.get(name)
        return self.parent.literal(name)

    def has(self, name):
        if name in self.measured or name in self.plain:
            return name in self.measured
        return self.parent is not None and self.parent.has(name)


def _is_clock(node):
    """`time.time()`: the module's clock (a bare `.time()` on other objects is not one)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "time"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "time")


def _measured(node, scope):
    """Whether the value of expression `node` is a measurement, or computed from one."""
    if node is None:
        return False
    if isinstance(node, ast.Name):
        return scope.has(node.id) or bool(MEASURED_NAME.search(node.id))
    if isinstance(node, ast.Call):
        name = _call_name(node.func)
        if name in MEASURING_CALLS or _is_clock(node):
            return True
        if name in PASSING_CALLS:
            return any(_measured(a, scope) for a in node.args) or any(_measured(k.value, scope) for k in node.keywords)
        return False
    if isinstance(node, ast.Attribute):
        if node.attr in MEASURED_ATTRIBUTES:        # ... unless of a record built by hand here
            return not (isinstance(node.value, ast.Call) and _call_name(node.value.func) == "Timing")
        return node.attr not in FACTS and _measured(node.value, scope)
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and MEASURED_KEY.search(key.value):
            return True
        return _measured(node.value, scope)
    if isinstance(node, (ast.BinOp,)):
        return _measured(node.left, scope) or _measured(node.right, scope)
    if isinstance(node, ast.UnaryOp):
        return _measured(node.operand, scope)
    if isinstance(node, ast.BoolOp):
        return any(_measured(v, scope) for v in node.values)
    if isinstance(node, ast.Compare):             # a verdict's truth value is itself measured
        return _decides(node, scope)
    if isinstance(node, ast.IfExp):
        return _measured(node.body, scope) or _measured(node.orelse, scope)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_measured(e, scope) for e in node.elts)
    if isinstance(node, ast.Dict):
        return any(_measured(v, scope) for v in node.values)
    if isinstance(node, ast.Starred):
        return _measured(node.value, scope)
    if isinstance(node, ast.JoinedStr):
        return any(_measured(v.value, scope) for v in node.values if isinstance(v, ast.FormattedValue))
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = _comprehension_scope(node, scope)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return any(_measured(p, inner) for p in parts)
    return False


def _comprehension_scope(node, scope):
    inner = _Scope(scope)
    for generator in node.generators:
        measured = _measured_targets(generator.target, generator.iter, inner, iterated=True)
        inner.measured |= measured
        inner.plain |= _names(generator.target) - measured
    return inner


def _measured_targets(target, value, scope, iterated=False):
    """The names in `target` that `value` (or, `iterated`, each item of it) binds to measured
    values: element by element where both are written out as tuples or lists."""
    if iterated:
        if isinstance(value, ast.Name) and scope.literal(value.id) is not None:
            value = scope.literal(value.id)
        if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
            found = set()
            for item in value.elts:
                found |= _measured_targets(target, item, scope)
            return found
        if isinstance(value, ast.Call) and _call_name(value.func) in ("zip", "enumerate") \
                and isinstance(target, (ast.Tuple, ast.List)):
            sources = value.args if _call_name(value.func) == "zip" else [None, *value.args[:1]]
            if len(sources) == len(target.elts):
                found = set()
                for element, source in zip(target.elts, sources):
                    if source is not None:
                        found |= _measured_targets(element, source, scope, iterated=True)
                return found
    elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts) and not any(isinstance(e, ast.Starred) for e in target.elts):
        found = set()
        for element, item in zip(target.elts, value.elts):
            found |= _measured_targets(element, item, scope)
        return found
    return _names(target) if _measured(value, scope) else set()


def _names(target):
    """The names an assignment to `target` binds: `x` in `x`, `(x, y)` and `x[i]` (not `i`)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_names(e) for e in target.elts))
    if isinstance(target, ast.Starred):
        return _names(target.value)
    if isinstance(target, (ast.Subscript, ast.Attribute)):
        return _names(target.value)
    return set()


def _bind(statements, scope):
    """Mark the names these statements bind to measured values, until nothing changes
    (a name measured anywhere in a scope counts as measured everywhere in it)."""
    for node in _walk_scope(statements):        # rows = [(...), ...]: read element by element
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    scope.literals[target.id] = node.value
    changed = True
    while changed:
        changed = False
        for node in _walk_scope(statements):
            # lines.append(f"... {timing.best} ..."): the container now holds a measurement
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("append", "extend", "insert", "add", "update") \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id not in scope.measured \
                    and any(_measured(a, scope) for a in node.args):
                scope.measured.add(node.func.value.id)
                changed = True
            targets, value, iterated = [], None, False
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets, value = [node.target], node.value
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets, value, iterated = [node.target], node.iter, True
            elif isinstance(node, ast.NamedExpr):
                targets, value = [node.target], node.value
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                targets, value = [node.optional_vars], node.context_expr
            if value is None:
                continue
            new = set().union(*(_measured_targets(t, value, scope, iterated) for t in targets)) - scope.measured
            if new:
                scope.measured |= new
                changed = True


def _walk_scope(statements):
    """Every node of these statements, not descending into nested functions or classes."""
    stack = list(statements)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _decides(compare, scope):
    """Whether a comparison decides by a measurement: it orders a measured value against
    anything, or sets one equal to a value that is not measured."""
    operands = [compare.left, *compare.comparators]
    for op, left, right in zip(compare.ops, operands, operands[1:]):
        if isinstance(op, (ast.Is, ast.IsNot, ast.In, ast.NotIn)):   # None checks, labels in text
            continue
        a, b = _measured(left, scope), _measured(right, scope)
        if isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and (a or b):
            return True
        if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and a != b:
            return True
    return False


def _verdicts_in(test, scope):
    """Whether a check's condition decides by a measurement: one of its comparisons does, or
    it tests a measured truth value itself (`assert wins`, where wins holds comparisons of times)."""
    return (any(_decides(node, scope) for node in ast.walk(test) if isinstance(node, ast.Compare))
            or (not isinstance(test, ast.Compare) and _measured(test, scope)))


def _checks(statements):
    """(condition, node) of every check in these statements, nested functions excluded."""
    for node in _walk_scope(statements):
        if isinstance(node, ast.Assert):
            yield node.test, node
        elif isinstance(node, ast.If) and any(isinstance(s, ast.Raise) for s in node.body):
            yield node.test, node


FAKE = "fake measurement"       # a test's comment: the figure here comes from a made-up clock or count


def verdicts(code, filename="<code>", fakes=False):
    """[(line, source of the check)] for every check in `code` that decides by a stopwatch.
    With `fakes` (tests only), a check whose line says "fake measurement" in a comment is not
    reported: it compares figures a test made up, from a clock or counter it replaced."""
    tree = ast.parse(code, filename)
    lines = code.splitlines()
    found = []

    def visit(statements, parent):
        scope = _Scope(parent)
        _bind(statements, scope)
        for test, node in _checks(statements):
            if _verdicts_in(test, scope):
                text = lines[node.lineno - 1]
                if not (fakes and "#" in text and FAKE in text.split("#", 1)[1]):
                    found.append((node.lineno, text.strip()))
        for node in _walk_scope(statements):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name not in SANCTIONED:
                visit(node.body, scope)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, scope)
            elif isinstance(node, ast.Lambda):
                visit([ast.Expr(node.body)], scope)

    visit(tree.body, None)
    return sorted(set(found))


def lecture_verdicts(path):
    """`verdicts` over a lecture's code cells, read in order as one program (a name a cell
    binds to a measurement stays one in later cells), with the lecture's own line numbers."""
    import jupytext

    from booktools.lecture_mutation import _cell_lines, code_cells, python_source
    path = Path(path)
    cells = [python_source(cell.source).rstrip("\n") for _, cell in code_cells(jupytext.read(path))]
    starts, offsets, line = _cell_lines(path), [], 1
    for code in cells:
        offsets.append(line)
        line += len(code.splitlines()) + 1
    found = []
    for line, text in verdicts("\n\n".join(cells), str(path)):
        cell = max(i for i, offset in enumerate(offsets) if offset <= line)
        found.append((starts[cell] + line - offsets[cell], text))
    return found
