"""Mutation testing of the lectures' own code: plant one small bug in one visible cell, run
the lecture's test, and see whether a hidden check notices.

    python -m booktools.lecture_mutation [LECTURE ...] [--jobs N]     # `make mutation-lectures`
        [--list]                 # print every mutant (ID, line, change) and run nothing
        [--only ID ...]          # run these mutants only
        [--fresh]                # forget earlier results
        [--results FILE] [--out DIR]

A lecture's code cells are what a reader reads and copies: every executed code cell that is
not a hidden check (tag `remove-cell`) is mutated, solutions included. Each cell is parsed
with `ast`; every operator below makes one mutant per place it applies, and a mutant is the
lecture with that one change, run as a notebook by nbval with the suite's own options
(pytest.ini), in a throwaway folder, stopping at the first failing cell (`-x`). A cell
tagged `nbval-check-output` carries its recorded output (booktools.lecture_outputs), as in
the suite: a mutant that changes what it prints fails it.

The operators (mutmut's, plus the mistakes this subject invites):

* a comparison turned (`<` and `<=`, `==` and `!=`, `is`, `in`) or flipped (`<` and `>`),
  `and` for `or`;
* an arithmetic operator turned (`+` and `-`, `*` and `/`, `//` to `/`, `**` to `*`),
  also in `+=` and friends; the operands of `-`, `/`, `**`, `@` swapped; a unary `-` or
  `not` dropped;
* a number off by one, ten times as large, zero or negated; `True` and `False` swapped;
* the first two arguments of a call swapped, its last positional argument or a keyword
  dropped, and the entries of an index (`[:, None]` and `[None, :]`) or of an `in_axes` /
  `out_axes` tuple reversed; an `in_axes` entry 0 for `None` and back; `axis=` moved;
* a dtype changed (`dtype=np.float32` for `np.float64`, in `astype` too);
* a name swapped for another of its kind in scope (`key` for `subkey`, `t_jax` for
  `t_jax64`, the wrong function timed: the copy-paste bug);
* a statement deleted, a decorator dropped (`@numba.jit`, `@jax.jit`), `prange` for `range`;
* `max` for `min` and back (also `argmax`, `maximum`, `nanmax`, ...);
* a loop's bounds moved: `range(n)` to `range(n - 1)`, `range(a, b)` to `range(a + 1, b)`
  and `range(a, b - 1)` (`prange` too);
* `block_until_ready` dropped, leaving the value it waited for; `.best` for `.first`;
* a figure's labels swapped (`label=` given another curve's, a list of labels reversed).

A figure's drawing (calls on `plt`, `ax`, `fig`) is not mutated but for its labels: a test
of the built pages looks at the figures; nor is how many times a timing repeats (`repeat=`):
one run more times the same code. Everything else a cell computes or prints is.

A mutant first runs in a slice of the lecture: its cell, the later cells its change can
reach (affected_cells: those that read what the cell may change, and so on), and the
earlier cells all of those need (what binds or changes a name they read, imports, magics,
configuration); a cell left out computes what it does in the lecture, which passes. Each
slice is run unmutated first; where it fails (hidden state links two cells), its mutants
run in the whole lecture instead. A mutant that survives its slice runs again in the whole
lecture, which decides: a slice only makes the many killed mutants cheaper. A mutant the
test fails on is
*killed* (an exception, a failed check, a run over its time limit, three times the
unmutated lecture's, or over MEMORY_LIMIT, which is stopped). One it passes on *survived*:
kill it with a hidden check, or explain it in tests/mutation-survivors.md as
`` - `ID`: reason `` (IDs follow the changed line, not cell numbers).

Results are kept in tests/mutation-lectures.jsonl (RESULTS), one line per mutant as it
finishes, so a run that stops is resumed by running it again: a killed mutant whose cell is
unchanged is not run again; a survivor is, when its lecture or a helper changed since (a
new check may kill it). The file is committed with the checks it reflects: it is the record
of the last run (a pass over every lecture takes hours on two cores), and the next run, on
any machine, resumes from it; at the end of a run it keeps one line per mutant that exists.
Each lecture first runs unmutated; a lecture that fails as it is stops the run, since its
mutants would prove nothing.

The report (OUT/lectures-report.txt; OUT is _build/mutation) counts mutants per lecture,
lists each survivor by lecture, file line, cell and change, and fails (exit 1) when more
than MAX_UNEXPLAINED of the mutants survive unexplained, or when any mutant was not run.
"""
import argparse
import ast
import builtins
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import jupytext
import nbformat
import psutil
from IPython.core.inputtransformer2 import TransformerManager

from booktools import book, lecture_outputs, lecture_source
from booktools.book import ROOT, lectures
from booktools.layout import BUILD

EXPLAINED = ROOT / "tests" / "mutation-survivors.md"
RESULTS = ROOT / "tests" / "mutation-lectures.jsonl"
MAX_UNEXPLAINED = 0.02           # issue 36: at most 2% of the mutants survive unexplained
MEMORY_LIMIT = 6 * 2**30          # bytes per mutant (pytest and its kernel); two run at once
# The helpers a lecture imports from beside it; copied into each throwaway folder.
HELPERS = tuple(f"{name}.py" for name in book.HELPERS)
KILLED = {"killed", "timeout", "memory"}

COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
ARITHMETIC = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
              ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult,
              ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.LShift: ast.RShift, ast.RShift: ast.LShift}
EXTREMES = {"max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax", "maximum": "minimum",
            "minimum": "maximum", "nanmax": "nanmin", "nanmin": "nanmax", "amax": "amin", "amin": "amax",
            "nanargmax": "nanargmin", "nanargmin": "nanargmax"}
LOOPS = {"range", "prange"}
AXES_KEYWORDS = {"in_axes", "out_axes"}
DIRECTION = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
# Operators whose operands do not commute: swapping them is a bug of its own.
NOT_COMMUTING = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult)
DTYPES = {"float32": "float64", "float64": "float32", "int32": "int64", "int64": "int32"}
TIMING_ATTRIBUTES = {"best": "first", "first": "best"}
# IPython's machinery, not the reader's code: its arguments are not mutated.
NOT_MUTATED_CALLS = {"display", "run_line_magic", "run_cell_magic", "system"}    # `%timeit`, `!ls`
# A figure's drawing: only its labels are mutated (a legend that credits the wrong curve).
DRAWING_OBJECTS = {"plt", "ax", "axes", "fig"}
# How many times a timing repeats: one more run times the same code.
TIMING_KEYWORDS = {"repeat", "runs", "number"}


def _source(node):
    return ast.unparse(node)


def _called_name(call):
    func = call.func
    if isinstance(func, ast.Name):
        return func.id, None
    if isinstance(func, ast.Attribute):
        base = func.value
        while isinstance(base, ast.Attribute):
            base = base.value
        return func.attr, base.id if isinstance(base, ast.Name) else None
    return None, None


class _Mutator(ast.NodeTransformer):
    """Walks a cell's syntax tree and numbers every place a mutation applies. With
    `target` set, it applies that one mutation (and no other) and stops."""

    def __init__(self, target=None, known=(), modules=()):
        self.target = target
        self.sites = []              # (line, what the code said, what the mutant says, operator)
        self.applied = None
        self.known = set(known)      # names bound before this cell, or in it: substitutes
        self.modules = set(modules)  # names of imported modules: never substituted
        self.labels = []             # the label strings of the cell's figures

    def _site(self, node, new, operator):
        """Offer the mutation `node` -> `new`; returns the node to keep in the tree."""
        index = len(self.sites)
        self.sites.append((node.lineno, _source(node), _source(new), operator))
        if index == self.target:
            self.applied = self.sites[-1]
            return new
        return node

    def _mutate(self, node, variants):
        """Offer each (new node, operator) in turn, the node's children first visited."""
        for new, operator in variants:
            kept = self._site(node, new, operator)
            if kept is not node:
                return kept
        return node

    def visit_JoinedStr(self, node):            # f-strings: the values they format
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                part.value = self.visit(part.value)
        return node

    def _deletable(self, node):
        """A statement whose deletion leaves a program: `pass` in its place."""
        return self._mutate(node, [(ast.Pass(), "statement deleted")])

    def visit_Expr(self, node):                 # a docstring or a bare string is text
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node
        self.generic_visit(node)
        if isinstance(node.value, ast.Call) and _called_name(node.value)[1] in DRAWING_OBJECTS:
            return node                          # drawing a figure: its labels are mutated
        return self._deletable(node)

    def visit_Assign(self, node):
        self.generic_visit(node)
        return self._deletable(node)

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        variants = []
        for i in range(len(node.decorator_list)):
            new = copy.deepcopy(node)
            del new.decorator_list[i]
            variants.append((new, "decorator dropped"))
        return self._mutate(node, variants)

    def visit_Name(self, node):
        """The copy-paste bug: another name of the same kind (`t_jax` for `t_jax64`, `key` for
        `subkey`, the wrong function timed), the one most like it."""
        if not isinstance(node.ctx, ast.Load) or node.id in self.modules or node.id in dir(builtins):
            return node
        candidates = sorted(name for name in self.known - self.modules - {node.id} if _same_kind(name, node.id))
        if not candidates:
            return node
        import difflib
        best = max(candidates, key=lambda name: difflib.SequenceMatcher(None, name, node.id).ratio())
        return self._mutate(node, [(ast.Name(best, ast.Load()), "name swapped")])

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and node.attr in TIMING_ATTRIBUTES:
            new = copy.deepcopy(node)
            new.attr = TIMING_ATTRIBUTES[node.attr]
            return self._mutate(node, [(new, "timing attribute")])
        return node

    def visit_List(self, node):                 # ["label a", "label b"]: labels the wrong way round
        self.generic_visit(node)
        strings = [e for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if len(strings) == len(node.elts) >= 2 and len({e.value for e in strings}) > 1:
            new = copy.deepcopy(node)
            new.elts.reverse()
            return self._mutate(node, [(new, "strings reversed")])
        return node

    visit_Tuple = visit_List

    def visit_Compare(self, node):
        self.generic_visit(node)
        variants = []
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE:
                new = copy.deepcopy(node)
                new.ops[i] = COMPARE[type(op)]()
                variants.append((new, "comparison"))
            if type(op) in DIRECTION:
                new = copy.deepcopy(node)
                new.ops[i] = DIRECTION[type(op)]()
                variants.append((new, "comparison direction"))
        return self._mutate(node, variants)

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return self._mutate(node, [(new, "boolean")])

    @staticmethod
    def _operator_turned(node):
        """`+` for `-` and the like, in `a - b` or `a -= b`."""
        if type(node.op) not in ARITHMETIC:
            return []
        new = copy.deepcopy(node)
        new.op = ARITHMETIC[type(node.op)]()
        return [(new, "arithmetic")]

    def visit_BinOp(self, node):
        self.generic_visit(node)
        variants = self._operator_turned(node)
        if isinstance(node.op, NOT_COMMUTING) and _source(node.left) != _source(node.right):
            new = copy.deepcopy(node)
            new.left, new.right = new.right, new.left
            variants.append((new, "operands swapped"))
        return self._mutate(node, variants)

    def visit_AugAssign(self, node):            # `x += y`: its operator, or the whole update
        self.generic_visit(node)
        return self._mutate(node, self._operator_turned(node) + [(ast.Pass(), "statement deleted")])

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.USub, ast.Not)):
            return self._mutate(node, [(copy.deepcopy(node.operand), "unary dropped")])
        return node

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool):
            return self._mutate(node, [(ast.Constant(not value), "boolean")])
        if isinstance(value, (int, float)):
            variants, seen = [], {value}
            for new, operator in ((value + 1, "number"), (value * 10, "number scaled"), (0 * value, "number zeroed"),
                                  (-value, "number negated")):
                if new not in seen:
                    seen.add(new)
                    variants.append((ast.Constant(new), operator))
            return self._mutate(node, variants)
        return node

    def visit_Subscript(self, node):
        self.generic_visit(node)
        index = node.slice
        if isinstance(index, ast.Tuple) and len(index.elts) >= 2:
            new = copy.deepcopy(node)
            new.slice.elts.reverse()
            if _source(new) != _source(node):
                return self._mutate(node, [(new, "index order")])
        return node

    def visit_Call(self, node):
        name, base = _called_name(node)
        if name in NOT_MUTATED_CALLS:
            return node
        if base in DRAWING_OBJECTS:                 # a figure: only its labels
            return self._mutate(node, self._label_swaps(node))
        node.func = self.visit(node.func)
        node.args = [self.visit(arg) for arg in node.args]
        for keyword in node.keywords:
            if keyword.arg not in TIMING_KEYWORDS:
                keyword.value = self.visit(keyword.value)
        variants = []
        func = node.func
        if name == "prange":
            new = copy.deepcopy(node)
            new.func = ast.Name("range", ast.Load())
            variants.append((new, "prange to range"))
        if name == "astype" and node.args:
            variants += self._dtype_swaps(node, lambda call: call.args, 0)
        for i, keyword in enumerate(node.keywords):
            if keyword.arg == "dtype":
                variants += self._dtype_swaps(node, lambda call, i=i: call.keywords, i, keyword=True)
            if (keyword.arg == "axis" and isinstance(keyword.value, ast.Constant)
                    and isinstance(keyword.value.value, int)):
                new = copy.deepcopy(node)
                new.keywords[i].value = ast.Constant(0 if keyword.value.value != 0 else 1)
                variants.append((new, "axis"))
            if keyword.arg in AXES_KEYWORDS:
                value = keyword.value
                elements = value.elts if isinstance(value, ast.Tuple) else [value]
                for j, element in enumerate(elements):
                    if isinstance(element, ast.Constant) and (element.value is None or isinstance(element.value, int)):
                        new = copy.deepcopy(node)
                        target = new.keywords[i].value
                        swapped = ast.Constant(0 if element.value is None else None)
                        if isinstance(target, ast.Tuple):
                            target.elts[j] = swapped
                        else:
                            new.keywords[i].value = swapped
                        variants.append((new, "in_axes"))
            if keyword.arg not in TIMING_KEYWORDS:
                new = copy.deepcopy(node)
                del new.keywords[i]
                variants.append((new, "argument dropped"))
        if len(node.args) >= 2 and not isinstance(node.args[-1], ast.Starred):
            new = copy.deepcopy(node)
            del new.args[-1]
            variants.append((new, "argument dropped"))
        if name == "block_until_ready":
            if isinstance(func, ast.Attribute) and not node.args and base != "jax":
                variants.append((copy.deepcopy(func.value), "block_until_ready dropped"))
            elif len(node.args) == 1:
                variants.append((copy.deepcopy(node.args[0]), "block_until_ready dropped"))
        if name in EXTREMES:
            new = copy.deepcopy(node)
            if isinstance(new.func, ast.Name):
                new.func.id = EXTREMES[name]
            else:
                new.func.attr = EXTREMES[name]
            variants.append((new, "max/min"))
        if name in LOOPS and node.args and not any(isinstance(a, ast.Starred) for a in node.args):
            if len(node.args) == 1:
                new = copy.deepcopy(node)
                new.args[0] = ast.BinOp(new.args[0], ast.Sub(), ast.Constant(1))
                variants.append((new, "loop bound"))
            else:
                new = copy.deepcopy(node)
                new.args[0] = ast.BinOp(new.args[0], ast.Add(), ast.Constant(1))
                variants.append((new, "loop bound"))
                new = copy.deepcopy(node)
                new.args[1] = ast.BinOp(new.args[1], ast.Sub(), ast.Constant(1))
                variants.append((new, "loop bound"))
        positional = node.args
        if (len(positional) >= 2 and not any(isinstance(a, ast.Starred) for a in positional[:2])
                and _source(positional[0]) != _source(positional[1])):
            new = copy.deepcopy(node)
            new.args[0], new.args[1] = new.args[1], new.args[0]
            variants.append((new, "arguments swapped"))
        for i, keyword in enumerate(node.keywords):
            if keyword.arg in AXES_KEYWORDS and isinstance(keyword.value, ast.Tuple):
                new = copy.deepcopy(node)
                new.keywords[i].value.elts.reverse()
                if _source(new) != _source(node):
                    variants.append((new, "axes order"))
        return self._mutate(node, variants)


    def _dtype_swaps(self, node, field, index, keyword=False):
        """`dtype=np.float64` for `np.float32` (and back, and the integer widths), in a keyword
        or in `astype`'s argument."""
        value = field(node)[index].value if keyword else field(node)[index]
        name = value.attr if isinstance(value, ast.Attribute) else value.id if isinstance(value, ast.Name) else (
            value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None)
        if name not in DTYPES:
            return []
        new = copy.deepcopy(node)
        target = field(new)[index].value if keyword else field(new)[index]
        if isinstance(target, ast.Attribute):
            target.attr = DTYPES[name]
        elif isinstance(target, ast.Name):
            target.id = DTYPES[name]
        else:
            target.value = DTYPES[name]
        return [(new, "dtype")]

    def _label_swaps(self, node):
        """A figure's `label=` given another label of the same cell: a legend that credits
        one curve with another's data."""
        variants = []
        for i, keyword in enumerate(node.keywords):
            if keyword.arg == "label" and isinstance(keyword.value, ast.Constant):
                for other in self.labels:
                    if other != keyword.value.value:
                        new = copy.deepcopy(node)
                        new.keywords[i].value = ast.Constant(other)
                        variants.append((new, "label swapped"))
                        break
        return variants


def _tokens(name):
    return set(re.findall(r"[A-Za-z]+|\d+", name.replace("_", " ")))


def _same_kind(a, b):
    """Names a reader could swap by mistake: one ends with the other (`key`, `subkey`), or
    they share a part (`t_jax`, `t_jax64`; `x_mesh`, `y_mesh`)."""
    return a.endswith(b) or b.endswith(a) or bool(_tokens(a) & _tokens(b))


def python_source(cell_source):
    """A cell's code as Python: IPython's `%magic` and `!shell` lines become the calls
    IPython makes of them, which the kernel runs the same way."""
    return TransformerManager().transform_cell(cell_source)


def _prepared(code, target=None, known=(), modules=()):
    """A mutator for one cell: the names in scope (bound before it or in it), the modules
    imported so far, and the labels its figures carry."""
    tree = ast.parse(code)
    bound, imported = _bound_and_imported(tree)
    mutator = _Mutator(target, set(known) | bound, set(modules) | imported)
    mutator.labels = sorted({k.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
                             for k in node.keywords if k.arg == "label" and isinstance(k.value, ast.Constant)
                             and isinstance(k.value.value, str)})
    return mutator, tree


def _bound_and_imported(tree):
    """(names a cell binds at any depth, module names it imports)."""
    bound, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                name = alias.asname or alias.name
                (modules if name in ("lax", "numba", "jnp", "np", "plt") else bound).add(name)
    return bound, modules


def cell_sites(code, known=(), modules=()):
    """Every mutation that applies to one cell's Python code, as (line in the cell, what
    the code said, what the mutant says, operator). `known`: the names the lecture bound
    before this cell (other names of the same kind are substitutes); `modules`: its imports."""
    mutator, tree = _prepared(code, known=known, modules=modules)
    mutator.visit(tree)
    return mutator.sites


def mutate_cell(code, index, known=(), modules=()):
    """The cell's code with mutation number `index` (of cell_sites) applied, and that site."""
    mutator, tree = _prepared(code, index, known, modules)
    tree = mutator.visit(tree)
    if mutator.applied is None:
        raise IndexError(f"no mutation {index} in this cell")
    return ast.unparse(ast.fix_missing_locations(tree)), mutator.applied


@dataclass
class Mutant:
    lecture: str          # e.g. "vectorized"
    cell: int             # the notebook cell's position among code cells, as nbval names it
    site: int             # the mutation's number within the cell
    line: int             # line in lectures/<lecture>.md
    operator: str
    before: str           # the code the mutation changed ...
    after: str            # ... and what the mutant has there
    id: str               # stable while the line it changes is unchanged
    key: str              # the ID and the cell's code: a killed result is kept while both hold

    @property
    def where(self):
        return f"lectures/{self.lecture}.md:{self.line} (Cell {self.cell})"


def code_cells(notebook):
    """(nbval's cell number, cell) for every code cell."""
    return list(enumerate(c for c in notebook.cells if c.cell_type == "code"))


def is_hidden_check(cell):
    return "remove-cell" in cell.metadata.get("tags", [])


def _cell_lines(path):
    """The line in the .md file where each code cell's code starts."""
    lines = path.read_text(encoding="utf-8").splitlines()
    starts, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```{code-cell}"):
            i += 1
            while i < len(lines) and lines[i].startswith(":"):      # :tags: [...] options
                i += 1
            starts.append(i + 1)
        i += 1
    return starts


def _digest(*parts):
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:10]


def scopes(cells):
    """For each code cell (nbval's number, cell), the names bound by the visible cells before
    it, and the modules imported by any cell before it: what a name in it may be mistaken
    for. A name only a hidden check binds (a stand-in, a saved original) is not one a reader
    or an author of the visible code has seen; a visible cell that used it would fail in
    the notebooks readers run, which have no hidden cells."""
    known, modules, found = set(), set(), []
    for _, cell in cells:
        found.append((frozenset(known), frozenset(modules)))
        try:
            bound, imported = _bound_and_imported(ast.parse(python_source(cell.source)))
        except SyntaxError:
            continue
        if not is_hidden_check(cell):
            known |= bound
        modules |= imported
    return found


def lecture_mutants(name, root=ROOT):
    """Every mutant of lectures/<name>.md, in cell order."""
    path = root / "lectures" / f"{name}.md"
    notebook = jupytext.read(path)
    starts = _cell_lines(path)
    mutants = []
    seen = {}         # the same change to the same line, again (in this cell or another): -2, -3, ...
    cells = code_cells(notebook)
    for (number, cell), (known, modules) in zip(cells, scopes(cells)):
        if is_hidden_check(cell):
            continue
        code = python_source(cell.source)
        lines = code.splitlines()
        for site, (line, before, after, operator) in enumerate(cell_sites(code, known, modules)):
            statement = lines[line - 1].strip() if line <= len(lines) else ""
            stable = _digest(name, statement, before, after)
            seen[stable] = seen.get(stable, 0) + 1
            ident = f"{name}-{stable}" + (f"-{seen[stable]}" if seen[stable] > 1 else "")
            mutants.append(Mutant(name, number, site, starts[number] + line - 1, operator, before,
                                  after, ident, _digest(ident, cell.source)))
    return mutants


_local_names = lecture_source.local_name_nodes


def _names(code):
    """What a cell's code does with names: (every name it reads or writes, function bodies
    included; the names it reads before it binds them, which is every name read inside a
    function; the names it binds before reading them; names bound by import; the names whose
    attributes it calls at the start of a statement, like `jax.config.update(...)`; the names whose
    value it may change: those it binds or deletes, and those it changes in place, by
    `x[i] = `, `x.a = `, `x += ` or a method call, `rng.uniform()`). A function's own
    names (parameters, locals) and a comprehension's loop variables are none of these."""
    tree = ast.parse(code)
    used, imported, configured, changed = set(), lecture_source.imported_names(tree), set(), set()
    occurrences = []                                  # (line, column, name, binds it)
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            for inner in ast.walk(node):
                if inner is not node:
                    in_function.add(id(inner))
    local = _local_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) in local:
            continue
        target = None
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            target = node.value                                    # x[i] = ..., x.a = ..., del x[i]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value                               # x.append(...), rng.uniform()
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if isinstance(target, ast.Name) and id(target) not in local:
            changed.add(target.id)
        if isinstance(node, ast.Name):
            used.add(node.id)
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                changed.add(node.id)
            binds = isinstance(node.ctx, ast.Store) and id(node) not in in_function
            occurrences.append((node.lineno, node.col_offset, node.id, binds))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            used.add(node.name)
            changed.add(node.name)
            if id(node) not in in_function:
                occurrences.append((node.lineno, node.col_offset, node.name, True))
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            occurrences.append((node.lineno, node.col_offset - 1, node.target.id, False))
        elif (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Attribute)):
            root = node.value.func                  # `jax.config.update(...)`, not `glue_md(...)`
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            if isinstance(root, ast.Name):
                configured.add(root.id)
    first = {}
    for _, _, name, binds in sorted(occurrences):
        first.setdefault(name, binds)
    reads = {name for name, binds in first.items() if not binds}
    fresh = {name for name, binds in first.items() if binds}
    if "get_ipython" in used:           # a magic: its code is in a string, read by nobody here
        reads.add("*")
    return used, reads, fresh, imported, configured, changed


def affected_cells(codes, mutated, sliced=False, changed=()):
    """Which code cells a change to cell `mutated` can affect: it, every cell before it (they
    make its inputs), and every later cell that reads, before binding it, a name the changed
    cell may change (binds, deletes, changes in place: _names), directly or through a cell
    kept for that reason (a function defined later that reads the name, a check of that
    function's result, ...), and `changed`, the names the mutant's own code may change. A
    cell that binds a name afresh ends its spread (`z = ...` in a new example). Modules and
    imported functions do not spread it (every cell reads `np`), unless the changed cell
    calls one as a statement (`jax.config.update(...)`); nor do builtins. A cell that runs a
    magic is always kept, and so is every cell that binds a name a kept cell reads.

    sliced: of the cells before it, only those the kept cells need: a cell that touches a
    name a kept cell reads (binds it, changes it in place), imports, runs a magic or calls
    a module as a statement (`np.random.seed(1)`), and what those need in turn. A cell
    that binds only what no kept cell reads (an earlier example, a timing) is left out.

    What this leaves out is what the names show: a function that changes an argument in
    place, or hidden state (a global generator's draws), can link two cells no name links.
    So run() runs each slice unmutated first, and uses it only where it passes, and runs a
    mutant that survives its slice again in the whole lecture: a survivor is one the whole
    lecture lets through."""
    names = [_names(code) for code in codes]
    modules = set().union(*(n[3] for n in names))
    imported = modules | set(dir(builtins))
    configured, cell_changed = names[mutated][4:]
    tainted = ((cell_changed | set(changed)) - imported) | (configured & modules)
    keep = set(range(mutated + 1))
    for i in range(mutated + 1, len(codes)):
        _, reads, fresh, _, _, later_changed = names[i]
        if "*" in reads or reads & tainted:
            keep.add(i)
            tainted |= later_changed - imported
        else:
            tainted -= fresh
    if sliced:
        keep -= set(range(mutated))
    # A module or a builtin is given by the cell that imports it, not by every cell that
    # uses it (every cell uses `np`); a builtin the lecture rebinds is a name like any other.
    given_anyway = imported - set().union(*(n[2] for n in names)) - modules
    # A kept cell also needs what the cells left out would have given it: keep those that
    # touch a name a kept cell reads (they compute as in the unmutated lecture).
    needed = set()
    for i in range(len(codes) - 1, -1, -1):
        cell_used, reads, _, cell_imports, cell_configured, _ = names[i]
        touches = (cell_used - modules - given_anyway) | cell_imports
        if i not in keep and ("*" in needed or touches & needed
                              or (i < mutated and ("*" in reads or cell_imports or cell_configured & modules))):
            keep.add(i)
        if i in keep:
            needed |= reads - given_anyway
    return keep


def slice_key(name, cell, digest, kept):
    """The results file's key for the unmutated run of the cells `kept`, run for mutants of
    `cell`."""
    return f"{name}-slice-{cell}-{digest}-{_digest(*map(str, sorted(kept)))}"


def _mutated(mutant, root):
    """(the lecture as a notebook with recorded outputs, its code cells, the mutant's code)."""
    notebook = lecture_outputs.with_recorded_outputs(jupytext.read(root / "lectures" / f"{mutant.lecture}.md"),
                                                     mutant.lecture, root)
    cells = code_cells(notebook)
    known, modules = scopes(cells)[mutant.cell]
    code, applied = mutate_cell(python_source(cells[mutant.cell][1].source), mutant.site, known, modules)
    if applied[1:3] != (mutant.before, mutant.after):
        raise RuntimeError(f"{mutant.id}: the lecture changed since its mutants were listed")
    return notebook, cells, code


def kept_cells(mutant, root=ROOT, sliced=False):
    """The code cells (numbers) a mutant runs (affected_cells, for its own code)."""
    _, cells, code = _mutated(mutant, root)
    return frozenset(affected_cells([python_source(c.source) for _, c in cells], mutant.cell, sliced,
                                    _names(code)[5]))


def mutated_notebook(mutant, root=ROOT, sliced=False, mutate=True, whole=False, keep=None):
    """The lecture as a notebook with the mutant's one change in its one cell, and only the
    cells that change can affect (kept_cells, `sliced` or not); the others would run as in
    the unmutated lecture, which passes. mutate=False: the same cells, unchanged. whole:
    every cell of the lecture. keep: these cells (a slice shared by several mutants)."""
    notebook, cells, code = _mutated(mutant, root)
    if keep is None:
        keep = range(len(cells)) if whole else kept_cells(mutant, root, sliced)
    if mutate:
        cells[mutant.cell][1].source = code
    dropped = {id(c) for number, c in cells if number not in keep}
    notebook.cells = [c for c in notebook.cells if id(c) not in dropped]
    return notebook


def _tree_memory(process):
    try:
        procs = [process] + process.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_notebook(notebook, name, timeout, memory_limit=MEMORY_LIMIT, root=ROOT):
    """Run a lecture notebook the way the suite does, in a throwaway folder, stopping at its
    first failing cell: (status, detail, seconds). status: "passed", "killed" (a cell failed;
    detail names it), "timeout", "memory" or "error" (pytest could not run it)."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{name}-") as tmp:
        work = Path(tmp)
        (work / "lectures").mkdir()
        for helper in HELPERS:
            if (root / "lectures" / helper).exists():
                shutil.copy(root / "lectures" / helper, work / "lectures" / helper)
        shutil.copy(ROOT / "pytest.ini", work / "pytest.ini")           # the suite's nbval options
        nbformat.write(notebook, work / "lectures" / f"{name}.ipynb")
        command = [sys.executable, "-m", "pytest", f"lectures/{name}.ipynb", "-x", "-q", "-n", "0",
                   "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnraisableExceptionWarning"]
        env = dict(os.environ, NUMBA_CACHE_DIR=str(work / "numba-cache"))
        start = time.perf_counter()
        with open(work / "log.txt", "w+", encoding="utf-8") as log:
            proc = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
            watched = psutil.Process(proc.pid)
            status = None
            while proc.poll() is None:
                if time.perf_counter() - start > timeout:
                    status = "timeout"
                elif _tree_memory(watched) > memory_limit:
                    status = "memory"
                if status:
                    _kill_tree(watched)
                    proc.wait()
                    break
                time.sleep(0.25)
            seconds = time.perf_counter() - start
            log.seek(0)
            output = re.sub(r"\x1b\[[0-9;]*m", "", log.read())            # no terminal colours
    if status:
        return status, f"stopped after {seconds:.0f} s", seconds
    if proc.returncode == 0:
        return "passed", "", seconds
    failed = re.search(r"^FAILED \S+::(Cell \d+)", output, re.M)
    if proc.returncode == 1 and failed:
        errors = re.findall(r"\b(\w*(?:Error|Exception|Interrupt)\b.*)$", output, re.M)
        return "killed", failed.group(1) + (f": {errors[-1][:200]}" if errors else ""), seconds
    return "error", f"pytest exit {proc.returncode}: " + output[-2000:], seconds


def _kill_tree(process):
    try:
        procs = process.children(recursive=True) + [process]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


class Results:
    """The results file (RESULTS): one line per finished run, read back on the next run."""

    def __init__(self, path=RESULTS, fresh=False, root=ROOT):
        self.path = path
        self.root = root
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        self.records = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.records[record["key"]] = record
        self.lock = threading.Lock()

    def add(self, record):
        with self.lock:
            self.records[record["key"]] = record
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")

    def compact(self, everything):
        """Keep one line per mutant of `everything` ({lecture: mutants}) and per unmutated
        run of those lectures as they are now; other lectures' lines are kept as they are."""
        with self.lock:
            current = {m.key for mutants in everything.values() for m in mutants}
            bases = {f"{name}-unmutated-{lecture_hash(name, self.root)}" for name in everything}
            digests = {name: lecture_hash(name, self.root) for name in everything}
            bases |= {key for key, record in self.records.items()
                      if record.get("lecture") in everything and "kept" in record
                      and key == slice_key(record["lecture"], record["cell"], digests[record["lecture"]],
                                           record["kept"])}
            kept = {key: record for key, record in self.records.items()
                    if record.get("lecture") not in everything or key in current | bases}
            self.records = kept
            self.path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept.values()),
                                 encoding="utf-8")

    def done(self, mutant, lecture_hash):
        """The stored result for this mutant, if it still holds."""
        record = self.records.get(mutant.key)
        if record is None or record.get("status") == "error":
            return None
        if record["status"] in KILLED or record.get("lecture_hash") == lecture_hash:
            return record
        return None


def lecture_hash(name, root=ROOT):
    recorded = lecture_outputs.path(name, root)
    texts = [(root / "lectures" / f"{name}.md").read_text(encoding="utf-8")]
    texts += [recorded.read_text(encoding="utf-8")] if recorded.exists() else []
    texts += [(root / "lectures" / helper).read_text(encoding="utf-8") for helper in HELPERS
              if (root / "lectures" / helper).exists()]
    return _digest(*texts)


def run(names, results, jobs=2, only=None, log=print, root=ROOT):
    """Run every mutant of the lectures `names` not already done (of those whose IDs are in
    `only`, if given); returns {name: mutants}."""
    everything = {}
    for name in names:
        mutants = lecture_mutants(name, root)
        everything[name] = mutants
        digest = lecture_hash(name, root)
        todo = [m for m in mutants if results.done(m, digest) is None and (only is None or m.id in only)]
        log(f"{name}: {len(mutants)} mutants, {len(mutants) - len(todo)} already done")
        if not todo:
            continue
        base_key = f"{name}-unmutated-{digest}"
        base = results.records.get(base_key)
        if base is None:
            status, detail, seconds = run_notebook(lecture_outputs.with_recorded_outputs(
                jupytext.read(root / "lectures" / f"{name}.md"), name, root), name,
                                                   timeout=1800, root=root)
            base = {"key": base_key, "lecture": name, "status": status, "detail": detail, "seconds": seconds}
            if status == "passed":
                results.add(base)
        if base["status"] != "passed":
            raise SystemExit(f"{name}: the lecture itself does not pass ({base['status']}: {base['detail']}); "
                             "its mutants would prove nothing")
        timeout = 3 * base["seconds"] + 60
        log(f"{name}: unmutated run {base['seconds']:.0f} s; each mutant gets {timeout:.0f} s")
        counter = {"n": 0}

        # Each slice (the cells a mutant runs, sliced) runs unmutated first; a mutant runs in
        # its slice where that passes, else after every cell before its own. A mutant that
        # survives its slice runs again in the whole lecture, which decides.
        # One slice per changed cell: the cells any of its mutants needs (kept_cells).
        slices = {}
        for mutant in todo:
            slices[mutant.cell] = slices.get(mutant.cell, frozenset()) | kept_cells(mutant, root, sliced=True)
        kept = {mutant.key: slices[mutant.cell] for mutant in todo}
        firsts = {}
        for mutant in todo:
            firsts.setdefault(mutant.cell, mutant)

        def check_slice(mutant):
            key = slice_key(name, mutant.cell, digest, kept[mutant.key])
            if key not in results.records:
                status, detail, seconds = run_notebook(mutated_notebook(mutant, root, mutate=False,
                                                                        keep=kept[mutant.key]),
                                                       name, timeout, root=root)
                results.add({"key": key, "lecture": name, "cell": mutant.cell, "kept": sorted(kept[mutant.key]),
                             "status": status, "detail": detail, "seconds": round(seconds, 1)})
                log(f"  slice of cell {mutant.cell} ({len(kept[mutant.key])} cells): {status} in {seconds:.0f} s")

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(check_slice, firsts.values()))

        def one(mutant):
            piece = results.records[slice_key(name, mutant.cell, digest, kept[mutant.key])]
            sliced = piece["status"] == "passed"
            # A mutant that hangs (a loop that never ends) waits out the time of what it runs:
            # three times its slice's unmutated run, and a minute, not the whole lecture's.
            limit = min(timeout, 3 * piece["seconds"] + 60) if sliced else timeout
            mutated = mutated_notebook(mutant, root, whole=not sliced, keep=kept[mutant.key] if sliced else None)
            status, detail, seconds = run_notebook(mutated, name, limit, root=root)
            # A library's own time limit (Dask's cluster starting on a loaded machine raises a
            # TimeoutError) is the machine's, not the mutant's: such a kill is run once more,
            # and the second run decides.
            if status == "killed" and "TimeoutError" in detail:
                status, detail, more = run_notebook(mutated, name, limit, root=root)
                seconds += more
            if status == "passed" and sliced:
                status, detail, more = run_notebook(mutated_notebook(mutant, root, whole=True), name, timeout,
                                                    root=root)
                seconds += more
            status = "survived" if status == "passed" else status
            results.add(dict(asdict(mutant), status=status, detail=detail, seconds=round(seconds, 1),
                             lecture_hash=digest))
            with results.lock:
                counter["n"] += 1
                log(f"  [{counter['n']}/{len(todo)}] {mutant.id} {status:8} {seconds:5.0f} s  "
                    f"{mutant.where}: {mutant.before[:50]!r} -> {mutant.after[:50]!r}")

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, todo))
    return everything


MUTANT_ID = re.compile(r"[a-z_]+-[0-9a-f]{10}(?:-\d+)?")


def explained(path=EXPLAINED):
    """{mutant id: reason} from tests/mutation-survivors.md: lines `- `id`: reason`, or
    `- `id`, `id`, ...: reason` for several mutants with one reason. (The helpers' mutmut
    names, `lectures.lecture_tools.x_...`, are booktools.mutation_report's.)"""
    from booktools.mutation_report import survivor_reasons
    return {ident: reason for ident, reason in survivor_reasons(path).items() if MUTANT_ID.fullmatch(ident)}


def report(everything, results, reasons, root=ROOT):
    """The report's lines and whether the run meets the bar."""
    lines, survivors, errors, killed_ids, not_run, total = [], [], [], set(), 0, 0
    lines.append("Lectures' code cells (booktools.lecture_mutation):")
    for name, mutants in everything.items():
        digest = lecture_hash(name, root)
        counts = {"killed": 0, "survived": 0, "explained": 0, "not run": 0}
        for mutant in mutants:
            record = results.done(mutant, digest)            # None: never run, or run on other code
            stored = results.records.get(mutant.key)
            if record and record["status"] in KILLED:
                counts["killed"] += 1
                killed_ids.add(mutant.id)
            elif record and record["status"] == "survived":
                counts["survived"] += 1
                counts["explained"] += mutant.id in reasons
                survivors.append((mutant, reasons.get(mutant.id)))
            else:
                counts["not run"] += 1
                if stored and stored["status"] == "error":
                    errors.append((mutant, stored["detail"][-300:]))
        total += len(mutants)
        not_run += counts["not run"]
        lines.append(f"  {name}: {len(mutants)} mutants, {counts['killed']} killed, {counts['survived']} survived "
                     f"({counts['explained']} explained)" + (f", {counts['not run']} not run yet"
                                                             if counts["not run"] else ""))
    unexplained = [m for m, reason in survivors if reason is None]
    share = len(unexplained) / total if total else 0.0
    lines.append(f"  all: {total} mutants, {len(killed_ids)} killed, {len(survivors)} survived, "
                 f"{len(survivors) - len(unexplained)} of them explained, {not_run} not run yet; "
                 f"unexplained {share:.1%} (at most {MAX_UNEXPLAINED:.0%} allowed)")
    if survivors:
        lines += ["", "Surviving mutants:"]
        for mutant, reason in survivors:
            lines.append(f"  {mutant.id}  {mutant.where}: `{mutant.before}` -> `{mutant.after}` "
                         f"({mutant.operator}); {reason or 'NOT EXPLAINED'}")
    if errors:
        lines += ["", "Mutants whose run failed (pytest could not run them; run again):"]
        lines += [f"  {m.id}  {m.where}: {detail}" for m, detail in errors]
    ids = {m.id for mutants in everything.values() for m in mutants}
    lecture_reasons = {i for i in reasons if i.split("-")[0] in everything}
    stale = sorted(i for i in lecture_reasons if i in killed_ids or i not in ids)
    if stale:
        lines += ["", "Listed in tests/mutation-survivors.md but not surviving (remove them):"]
        lines += [f"  {i}" + ("" if i in ids else " (no such mutant now)") for i in stale]
    ok = share <= MAX_UNEXPLAINED and not not_run
    if unexplained:
        lines += ["", f"{len(unexplained)} surviving mutants are not explained: kill each with a hidden check, "
                  "or list it in tests/mutation-survivors.md with the reason it is equivalent."]
    return lines, ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lectures", nargs="*", help="lecture names (default: every lecture with code)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results and run everything")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants (IDs from --list)")
    parser.add_argument("--out", type=Path, default=BUILD / "mutation", help="where the report goes")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"results file (default {RESULTS.name})")
    args = parser.parse_args(argv)
    if args.only and not args.lectures:
        args.lectures = sorted({i.split("-")[0] for i in args.only})
    names = args.lectures or [doc.split("/")[-1] for doc in lectures()
                              if any(not is_hidden_check(c) for _, c in
                                     code_cells(jupytext.read(ROOT / f"{doc}.md")))]
    if args.list:
        for name in names:
            for m in lecture_mutants(name):
                print(f"{m.id}  {m.where}  {m.operator}: `{m.before}` -> `{m.after}`")
        return 0
    results = Results(args.results, fresh=args.fresh)
    everything = run(names, results, jobs=args.jobs, only=set(args.only or ()) or None)
    results.compact(everything)
    lines, ok = report(everything, results, explained())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lectures-report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {args.out / 'lectures-report.txt'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
