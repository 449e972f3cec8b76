"""A reader of the lecture format (lectures/*.md, MyST): its code cells and prose, where
each stands (the main path, a collapsed "Going deeper" part, an exercise, a solution), and
its exercises with their points and solutions; and what a cell's code binds and reads.

    parts(text)        [(kind, where, source, tags)] in page order
    exercises(text)    [Exercise] in page order
    cell_names(code)   (names the code binds, names it reads)

The source tests and the stated-time rule (booktools.reading) read lectures through it.
"""
import ast
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
            j, tags = i + 1, []
            while lines[j].startswith(":"):
                if lines[j].startswith(":tags:"):
                    tags = re.findall(r"[\w-]+", lines[j].split(":", 2)[2])
                j += 1
            end = lines.index("```", j)
            found.append(("code", where[-1], "\n".join(lines[j:end]), tags))
            i = end + 1
            continue
        elif not line.startswith("```") and line.strip():
            found.append(("prose", where[-1], line, []))
        i += 1
    return found


def main_path_cells(text):
    """The code cells a reader sees on the main path (not hidden, not collapsed, not in an
    exercise's solution)."""
    return [source for kind, where, source, tags in parts(text)
            if kind == "code" and where == "main" and "remove-cell" not in tags]


@dataclass
class Exercise:
    label: str          # e.g. "numpy-ex1"
    statement: str      # the exercise's text, its options left out
    points: float
    optional: bool      # beyond the lecture's stated time
    solution: str       # the code of its solution's cells, joined
    check: str = None   # the hidden cell right after the solution: the question's test


SOLUTION = re.compile(r"^```\{solution-start\} (\S+)\n(.*?)^```\{solution-end\}\n```\n", re.M | re.S)
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n((?::[^\n]*\n)*)(.*?)^```$", re.M | re.S)


def _tags(options):
    found = re.search(r"^:tags:(.*)$", options, re.M)
    return re.findall(r"[\w-]+", found.group(1)) if found else []


def exercises(text):
    """The exercises of a lecture's source, in order, with their solutions' code and the
    check that follows each solution (its first code cell after the solution, when that
    cell is hidden: tag `remove-cell`, whatever else the tags say, and blank lines between)."""
    solutions, checks = {}, {}
    for block in SOLUTION.finditer(text):
        label = block.group(1)
        solutions[label] = "\n".join(code.rstrip("\n") for _, code in CODE_CELL.findall(block.group(2)))
        rest = text[block.end():]
        after = CODE_CELL.match(text, block.end() + len(rest) - len(rest.lstrip("\n")))
        if after and "remove-cell" in _tags(after.group(1)):
            checks[label] = after.group(2)
    found = []
    for label, statement in re.findall(r"^```\{exercise\}\n:label: (\S+)\n(.*?)^```$", text, re.M | re.S):
        points = POINTS.search(statement)
        found.append(Exercise(label, statement, float(points.group(1)) if points else 0.0,
                              bool(OPTIONAL.search(statement)), solutions.get(label, ""), checks.get(label)))
    return found


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
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound, read
