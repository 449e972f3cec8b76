"""Recorded outputs: a lecture cell whose printed output is the lesson (`print(z[2:5])`,
`print(m.sum(axis=0))`) is checked against the output recorded for it, so a changed value,
a dropped line or a swapped argument shows as a failing cell, not as a page that quietly
says something else.

    python -m booktools.lecture_outputs [LECTURE ...]     # `make lecture-outputs`: record

A cell opts in with nbval's own tag, `:tags: [nbval-check-output]`; it must print the same
thing on any machine once nbval-sanitize.cfg has replaced what may vary (no device names).
Its output is kept in tests/lecture-outputs/<lecture>.json, one entry per tagged cell in
page order, with the cell's source beside it for the reviewer. A duration is neither kept
nor compared (nbval-sanitize.cfg replaces it, as it does core counts, rates and the digits
of an unseeded estimate): a timing cell is checked for what it prints around its times,
such as the label a Timing carries. nbval compares the outputs: the suite's plugin
(booktools.pytest_lectures) and the lecture mutation run put the recorded outputs into the
tagged cells of the notebook they run (with_recorded_outputs); nothing else reads them.

Record after changing a tagged cell on purpose, and read the diff: it is what the page now
prints. A tagged cell with nothing recorded fails the lecture's collection, naming the cell.
"""
import argparse
import functools
import json
import re
import sys
from pathlib import Path

import jupytext
import nbformat

from booktools.book import ROOT, lectures

# What nbval replaces before comparing (durations); recordings keep the replaced text.
SANITIZE = Path(__file__).with_name("nbval-sanitize.cfg")
TAG = "nbval-check-output"          # nbval's tag: compare this cell's outputs even under --nbval-lax
# What is recorded and compared: printed text and a value's plain-text form. nbval ignores
# metadata and images; an output kind left out here would show as a difference, not pass.
KEPT = ("stream", "execute_result", "display_data", "error")


def path(name, root=ROOT):
    return Path(root) / "tests" / "lecture-outputs" / f"{name}.json"


def tagged(notebook):
    """The tagged code cells, in page order."""
    return [cell for cell in notebook.cells if cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])]


@functools.cache
def _sanitize_patterns():
    from nbval.plugin import get_sanitize_patterns

    rules = get_sanitize_patterns(SANITIZE.read_text(encoding="utf-8"))
    return [(re.compile(regex), replace) for regex, replace in rules]


def sanitized(text):
    """`text` as nbval compares it: what may vary replaced by SANITIZE's rules (durations,
    rates, counts, random digits)."""
    for regex, replace in _sanitize_patterns():
        text = regex.sub(replace, text)
    return text


def _plain(output):
    kept = {"output_type": output["output_type"]}
    if output["output_type"] == "stream":
        kept.update(name=output["name"], text=sanitized(output["text"]).splitlines(keepends=True))   # a line each
    elif output["output_type"] == "error":
        kept.update(ename=output["ename"], evalue=output["evalue"], traceback=[])
    else:
        text = output["data"].get("text/plain")
        kept["data"] = {"text/plain": sanitized(text).splitlines(keepends=True)} if text is not None else {}
        kept["metadata"] = {}
        if output["output_type"] == "execute_result":
            kept["execution_count"] = None
    return kept


def _joined(output):
    """A recorded output as nbformat holds it: its text in one string."""
    output = dict(output)
    if "text" in output:
        output["text"] = "".join(output["text"])
    if "text/plain" in output.get("data", {}):
        output["data"] = {"text/plain": "".join(output["data"]["text/plain"])}
    return output


class MissingOutput(LookupError):
    pass


def with_recorded_outputs(notebook, name, root=ROOT):
    """The notebook with each tagged cell's recorded outputs in it (in place; returned)."""
    cells = tagged(notebook)
    if not cells:
        return notebook
    file = path(name, root)
    recorded = json.loads(file.read_text(encoding="utf-8")) if file.exists() else []
    for number, cell in enumerate(cells):
        if number >= len(recorded):
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            raise MissingOutput(f"lectures/{name}.md: the cell tagged {TAG} that starts {first!r} (tagged "
                                f"cell {number + 1} of {len(cells)}) has no output recorded in "
                                f"{file.relative_to(root)}: run `make lecture-outputs` and read the diff")
        cell.outputs = [nbformat.from_dict(_joined(output)) for output in recorded[number]["outputs"]]
        cell.execution_count = number + 1          # nbval refuses outputs in a cell never run
    return notebook


def record(name, root=ROOT, timeout=600):
    """Run the lecture (in lectures/, as nbval does) and write its tagged cells' outputs;
    returns how many cells were recorded."""
    from nbclient import NotebookClient
    from nbval.plugin import coalesce_streams

    notebook = jupytext.read(Path(root) / "lectures" / f"{name}.md")
    if not tagged(notebook):
        path(name, root).unlink(missing_ok=True)
        return 0
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(Path(root) / "lectures")}}).execute()
    entries = [{"source": cell.source.splitlines(),
                "outputs": [_plain(output) for output in coalesce_streams(cell.outputs)   # as nbval compares
                            if output["output_type"] in KEPT]}
               for cell in tagged(notebook)]
    file = path(name, root)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(entries)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lectures", nargs="*", help="lecture names (default: every lecture)")
    args = parser.parse_args(argv)
    for name in args.lectures or [Path(lecture).name for lecture in lectures()]:
        count = record(name)
        print(f"{name}: {count} cells recorded" + (f" in {path(name).relative_to(ROOT)}" if count else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
