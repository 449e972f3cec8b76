"""Each student's own version of the exercises: values drawn from their id.

An exercise may declare values that each student gets their own of (a
lecture_source.Variant: a code cell tagged `variant` after its statement, which the
reader sees, and each name's alternatives in its metadata, the site's first). The site
shows the site's values with the site's solution; `make assignments ROSTER=ids.csv`
writes each student a notebook whose variant cells hold their values (`draw`: seeded
from the id, the exercise and the course's seed), recorded in its metadata; the grader
checks each submission against its own student's values (booktools.grading), which
the checks read from the grader, never from the student's kernel.

    draw(doc, student, seed)     {label: {name: value}} for one student
    site_values(doc)             {label: {name: value}}: the site's (the first of each)
    cell_code(variant, values)   the variant cell's code with these values
    personal_notebook(nb, doc, student, seed)   the assignment notebook made that student's

The seed (VARIANT_SEED, default "") lets a course draw other values than last term's;
the notebook records only its fingerprint.
"""
import copy
import hashlib
import json

from booktools import lecture_source
from booktools.book import graded_source


def literal(value):
    """Python source for a value as the variant's YAML gives it: a list is a tuple."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"a variant's value must be a string, number, boolean or list, not {value!r}")


def is_value(value):
    """Whether `value` is one a variant can have (what `literal` writes): a string, number,
    boolean or None, or a list of those, at any depth."""
    if isinstance(value, list):
        return all(is_value(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def python_value(value):
    """The value as the cell's code binds it (lists become tuples)."""
    return tuple(python_value(v) for v in value) if isinstance(value, list) else value


def cell_code(variant, values):
    """The variant cell's code with `values` ({name: value}): each `name = ...` line of
    the site's cell gets its value; comments and other lines stay."""
    lines = []
    for line in variant.code.splitlines():
        name = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and name in variant.alternatives:
            line = f"{line.split('=', 1)[0].rstrip()} = {literal(values[name])}"
        lines.append(line)
    return "\n".join(lines)


def _exercises(doc):
    return lecture_source.exercises(graded_source(doc))


def variants(doc):
    """{label: Variant} of the exercises of `doc` that have one."""
    return {e.label: e.variant for e in _exercises(doc) if e.variant is not None}


def site_values(doc):
    """{label: {name: value}}: the values the site shows (each name's first alternative)."""
    return {label: {name: options[0] for name, options in v.alternatives.items()} for label, v in variants(doc).items()}


def fingerprint(seed):
    """What a notebook records of the course's seed: enough to tell seeds apart, not to read it."""
    return hashlib.sha256(f"variant seed\0{seed}".encode()).hexdigest()[:8]


def draw(doc, student, seed=""):
    """{label: {name: value}} for `student`: each name's alternative picked by a hash of
    the seed, the student's id, the exercise and the name (so the same id always gets the
    same values, and one exercise's values say nothing about another's)."""
    found = {}
    for label, variant in variants(doc).items():
        found[label] = {}
        for name, options in variant.alternatives.items():
            digest = hashlib.sha256("\0".join([seed, student, label, name]).encode("utf-8")).digest()
            found[label][name] = options[int.from_bytes(digest[:8], "big") % len(options)]
    return found


def namespace_values(values):
    """{name: value} to put in the checks' namespace, from {label: {name: value}}."""
    return {name: python_value(v) for by_name in values.values() for name, v in by_name.items()}


def cell_sources(doc, values):
    """The variant cells' code with `values`, as a set of stripped sources."""
    return {cell_code(variant, values[label]).strip() for label, variant in variants(doc).items() if label in values}


class VariantError(ValueError):
    """An assignment notebook that cannot be made a student's (the message says why)."""


def personal_notebook(nb, doc, student, seed=""):
    """A copy of the assignment notebook `nb` of lecture `doc` with `student`'s values in
    its variant cells, and in its metadata (`assignment`: student, variants, seed)."""
    nb = copy.deepcopy(nb)
    values, site = draw(doc, student, seed), site_values(doc)
    cells = {c.source.strip(): c for c in nb.cells if c.cell_type == "code"}
    for label, variant in variants(doc).items():
        cell = cells.get(cell_code(variant, site[label]).strip())
        if cell is None:
            raise VariantError(f"{doc}: the notebook has no cell with the site's values of {label}'s variant")
        cell.source = cell_code(variant, values[label])
    nb.metadata.setdefault("assignment", {}).update(student=student, variants=values, seed=fingerprint(seed))
    return nb
