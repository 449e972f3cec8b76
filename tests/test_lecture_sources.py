"""Rules every lecture source (lectures/*.md) must follow."""
import ast
import re

import jupytext
import pytest

from booktools import lecture_source
from booktools.book import HELPERS, ROOT, lectures, notebook_pages, toc_files
from booktools.student import strip_solutions

PAGES = [ROOT / f"{doc}.md" for doc in toc_files()]
LECTURES = [ROOT / f"{doc}.md" for doc in notebook_pages()]    # pages that are notebooks
TAUGHT = [ROOT / f"{doc}.md" for doc in lectures()]           # the lectures proper

# A number with a unit of time or memory, or "N times faster", typed into prose.
TYPED_MEASUREMENT = re.compile(
    r"\d[\d.,]* ?(x|×|times) (faster|slower|less|more)|\d[\d.,]* ?(ns|µs|ms|seconds|kB|MB|GB)\b")


def code_cells(path):
    return [c for c in jupytext.read(path).cells if c.cell_type == "code"]


def prose_lines(path):
    in_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            yield number, line


def test_there_are_lectures_and_every_page_source_is_in_the_toc():
    assert {p.stem for p in TAUGHT} >= {"numpy", "numba", "jax_intro", "vectorized", "sequential"}
    assert sorted((ROOT / "lectures").glob("*.md")) == sorted(PAGES)


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_is_a_jupytext_myst_notebook(path):
    nb = jupytext.read(path)
    assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_the_format_reader_reads_every_code_cell_and_its_tags_as_jupytext_does(path):
    """The grader and `make notebooks` read code cells with lecture_source.code_cells (no
    jupytext import in a grading), and match them against notebooks jupytext and myst-nb
    wrote: a cell read otherwise would count as the student's own code, or lose its tags.
    The same in the student edition's text, which the grader reads."""
    text = path.read_text(encoding="utf-8")
    for version in (text, strip_solutions(text, f"lectures/{path.stem}")[0]):
        ours = lecture_source.code_cells(version)
        theirs = [(c.source, c.metadata.get("tags", [])) for c in jupytext.reads(version, "md:myst").cells
                  if c.cell_type == "code"]
        assert ours == theirs


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_no_cell_installs_packages(path):
    for cell in code_cells(path):
        assert not re.search(r"^\s*[!%]\s*(pip|conda)\b", cell.source, re.M), (
            f"{path.name}: install cell {cell.source[:60]!r}; packages come from requirements.txt")


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_prose_types_no_measured_numbers(path):
    typed = [f"{path.name}:{n}: {line.strip()}" for n, line in prose_lines(path)
             if TYPED_MEASUREMENT.search(line)]
    assert not typed, "measured numbers belong in glue, not prose:\n" + "\n".join(typed)


# Words that compare speeds, sizes, counts or times. A prose sentence that uses one must take
# its figure, or its verb, from the run (a {glue} role), unless it is listed in
# HARDWARE_INDEPENDENT below with the reason it holds on any machine.
COMPARISON = re.compile(
    r"\b(faster|slower|fastest|slowest|quicker|speed-?ups?|outperforms?|beats?|overtakes?|overtook"
    r"|(?<!no )longer|shorter|cheaper|cheap|costlier|expensive|larger|smaller|bigger"
    r"|less memory|more memory|orders? of magnitude|times (?:as|faster|slower|more|less)"
    r"|handful|a few|same range|within \d+|far (?:more|less|larger|smaller|below|above|beyond)"
    r"|tiny|huge|dominates?|(?:nano|micro|milli)?seconds|minutes|hours)\b", re.I)

# (page, start of the sentence): why the comparison holds whatever machine builds the page.
HARDWARE_INDEPENDENT = {
    ("jax_intro.md", "Time by hand, without `time_call`"):
        "an exercise's statement: it defines what the function returns, it states no measurement",
    ("vectorized.md", "* **A**: it returns the maximum; it is only slower"):
        "a wrong choice offered in an exercise, stated as such (its solution and check say why)",
    ("vectorized.md", "Before measuring, predict: does XLA plan less memory"):
        "an exercise's question; its check compares the prediction with XLA's plan on the machine grading it",
    ("sequential.md", "On a GPU, which of these would you expect"):
        "an exercise's question, asking for a prediction",
    ("sequential.md", "1. a GPU's cores are each faster"):
        "the choices offered in an exercise, two of them wrong by design",
    ("sequential.md", "A GPU's cores are slower than a CPU's, one at a time"):
        "a GPU core's clock and single-thread speed are below a server CPU core's on every current GPU",
    ("sequential.md", "One path gives each step three arithmetic operations"):
        "the launch cost per step (jax#2491) against three operations: an argument, the sentence states no figure",
    ("beyond_one_device.md", "Dask's documentation puts that cost"):
        "quotes Dask's documentation, linked; the chunks here (500 values) are the page's own sizes",
    ("instructors.md", "The stated times add up to"):
        "sums of the lectures' stated times (the rule's, booktools.reading), checked by the test below",
    ("instructors.md", "**Three 90-minute sessions, reading at home**"):
        "the same sums of stated times",
    ("jax_intro.md", "The check asks for a jitted function and an estimate within 0.003"):
        "what an exercise's check tests: a statistical tolerance on pi, not a measurement of speed",
    ("sequential.md", "The check compares `qm_mean` with the mean of the series"):
        "what an exercise's check tests: XLA's memory plan, the same on every machine for these sizes",
    ("scaling.md", "Each record is a dict, and you need its keys"):
        "names the records' keys and their units; it states no measurement",
    ("instructors.md", "The times follow one rule"):
        "the rule for stated times (booktools.reading), in words: minutes per word, cell, point and line",
    ("instructors.md", "By that rule no lecture asks for more than"):
        "the cap the rule enforces on the stated times (test_site checks it), not a measurement",
    ("instructors.md", "Binder builds an environment"):
        "a property of the Binder service, not of the machine that built the page",
    ("intro.md", "These lectures teach each tool"):
        "names the questions the lectures ask; claims nothing",
    ("jax_intro.md", "Float32 is plenty for many tasks"):
        "a property of GPU products (vendors' specifications), not a measurement here",
    ("vectorized.md", "This lets us use a grid of 1,000 points"):
        "arithmetic on the grid sizes (1000**2 / 50**2), not a measurement",
    ("vectorized.md", "At best, $k$ threads on $k$ cores"):
        "the definition of ideal parallel speed-up; the measured one is glued next to it",
    ("sequential.md", "The cost then grows with the square"):
        "quotes a report (QuantEcon lecture-python-programming#622), linked, not this machine",
    ("sequential.md", "So \"sequential JAX belongs on the CPU\""):
        "mechanism (one kernel launch per step on a GPU, jax#2491); the page's figures are glued",
    ("sequential.md", "Measure at more than one size"):
        "advice on method; the figures it refers to are glued in the sections above",
    ("sequential.md", "So an output of a few megabytes soon comes"):
        "glibc's documented mmap threshold, a property of the C library; the cell below counts the pages",
    ("scaling.md", "It is not a lower bound"):
        "says what SIMD code can do; whether it did here is glued in 'Against the reference'",
    ("scaling.md", "An exponent below that means"):
        "how to read a fitted exponent; the exponents themselves are printed by the run",
    ("scaling.md", "An exponent above it means"):
        "how to read a fitted exponent, like the sentence before it",
    ("scaling.md", "(The time plot above puts the number of grid points"):
        "how to read the plot's axis: arithmetic on exponents, no measurement",
    ("vectorized.md", "Which of two such close variants is faster depends"):
        "says that the ranking can change with the machine, which holds on any machine",
}


def prose_paragraphs(text):
    """The paragraphs of a page's prose, each as one string: outside code cells and fenced
    code, including the text of directives (notes, exercises), without the front matter,
    option lines or tables; the authors' reading-time estimates ("**Time:**" lines) are not
    measurements and are left out."""
    if text.startswith("---\n"):
        text = text[text.index("\n---", 3) + 4:]
    paragraphs, lines, in_code = [], [], False
    for line in text.splitlines() + [""]:
        if line.startswith("```"):
            opens_code = line.startswith("```{code-cell}") or not line.startswith("```{")
            in_code = (not in_code and opens_code and line.strip() != "```")
            line = ""
        elif in_code or line.startswith((":", "|", "**Time:**")):
            continue
        if line.strip():
            lines.append(line.strip())
        elif lines:
            paragraphs.append(" ".join(lines))
            lines = []
    return paragraphs


def sentences(paragraph):
    return re.split(r"(?<=[.!?:])\s+(?=[A-Z*({\[\"])", paragraph)


def prose_sentences(text):
    """The sentences of a page's prose (see `prose_paragraphs`)."""
    return [s for p in prose_paragraphs(text) for s in sentences(p)]


def unglued_comparisons(name, text):
    """Sentences of page `name` with a clause (between semicolons or colons) that compares
    speeds, sizes or times with no glued figure in that clause, and no entry in
    HARDWARE_INDEPENDENT. A glued number elsewhere in the sentence does not vouch for it."""
    flagged = []
    for sentence in prose_sentences(text):
        words = re.sub(r"`[^`]*`|\$[^$]*\$", "", re.sub(r"\{glue:?\w*\}`[^`]*`", "{glue}", sentence))
        if (any(COMPARISON.search(clause) and "{glue}" not in clause
                for clause in re.split(r"[;:] ", words))
                and not any(page == name and sentence.startswith(start)
                            for page, start in HARDWARE_INDEPENDENT)):
            flagged.append(sentence)
    return flagged


PROSE_PAGES = PAGES + sorted((ROOT / "lectures" / "_includes").glob("*.md"))


@pytest.mark.parametrize("path", PROSE_PAGES, ids=lambda p: p.name)
def test_prose_compares_speeds_and_sizes_only_with_glued_figures(path):
    flagged = unglued_comparisons(path.name, path.read_text(encoding="utf-8"))
    assert not flagged, ("a comparison typed into prose can be false on another machine: glue its "
                         "figure or verb from the run, or reword it:\n" + "\n".join(flagged))


@pytest.mark.parametrize("planted", [
    "With a thousand rows to share among a handful of threads, each has plenty of work.",
    "Once compiled each step costs a few nanoseconds.",
    "On a CPU, both compile to a tight loop and land in the same range.",
    "Parallel code takes longer to compile: the first call took {glue:md}`parallel_compile`.",
    "The array is far larger than any cache.",
    "The two precisions part ways completely within 30 steps.",
    "Numba was 3 times faster than NumPy here.",
])
def test_a_planted_unglued_comparison_is_caught(planted):
    page = "Some prose.\n\n" + planted + "\n\n```{code-cell} ipython3\nx = 1  # faster\n```\n"
    assert unglued_comparisons("numba.md", page) == [planted]
    # The same sentence with its figure glued passes, and code cells are not prose.
    glued = "Numba was {glue:md}`numba_vs_numpy` NumPy here."
    assert unglued_comparisons("numba.md", page.replace(planted, glued)) == []


def test_every_hardware_independent_entry_still_names_a_sentence():
    sentences = {path.name: prose_sentences(path.read_text(encoding="utf-8")) for path in PROSE_PAGES}
    for page, start in HARDWARE_INDEPENDENT:
        assert any(s.startswith(start) for s in sentences[page]), (page, start)


LECTURES_WITH_CODE = [p for p in LECTURES if any("def " in c.source for c in code_cells(p))]


def test_every_tool_lecture_implements_code():
    assert {p.stem for p in LECTURES_WITH_CODE} >= {"numpy", "numba", "jax_intro",
                                                     "vectorized", "sequential"}


@pytest.mark.parametrize("path", LECTURES_WITH_CODE, ids=lambda p: p.name)
def test_lectures_with_code_check_their_results_in_hidden_cells(path):
    cells = code_cells(path)
    hidden_checks = [c for c in cells
                     if "remove-cell" in c.metadata.get("tags", []) and "assert" in c.source]
    assert hidden_checks, f"{path.name} implements code but never checks a result"


LECTURES_WITH_CELLS = [p for p in LECTURES if code_cells(p)]


def test_the_pages_that_run_code_are_the_lectures():
    assert {p.stem for p in LECTURES_WITH_CELLS} == {p.stem for p in TAUGHT}


@pytest.mark.parametrize("path", LECTURES_WITH_CELLS, ids=lambda p: p.name)
def test_cell_timeout_is_set_per_lecture_and_at_most_600_seconds(path):
    timeout = jupytext.read(path).metadata.get("mystnb", {}).get("execution_timeout")
    assert timeout is not None, f"{path.name}: set mystnb.execution_timeout in the front matter"
    assert 0 < timeout <= 600


def overview(path):
    """The "Before you start" box right under the lecture's title."""
    match = re.search(r"^# .+\n\n```\{admonition\} Before you start\n:class: lecture-overview\n(.*?)^```$",
                      path.read_text(encoding="utf-8"), re.S | re.M)
    assert match, f"{path.name}: no 'Before you start' box (class lecture-overview) under the title"
    return match.group(1)


@pytest.mark.parametrize("path", TAUGHT, ids=lambda p: p.name)
def test_lecture_opens_with_prerequisites_objectives_and_time(path):
    box = overview(path)
    assert re.search(r"^\*\*Prerequisites:\*\* \S", box, re.M)
    objectives = box.split("**You will learn to:**")[1].split("**Time:**")[0]
    assert len(re.findall(r"^\* \S", objectives, re.M)) >= 3
    assert re.search(r"^\*\*Time:\*\* about .+ to read and run; the exercises take .+\.$", box, re.M)


@pytest.mark.parametrize("path", TAUGHT, ids=lambda p: p.name)
def test_lecture_ends_with_exercises_each_with_a_collapsed_solution_checked_after_it(path):
    text = path.read_text(encoding="utf-8")
    assert re.findall(r"^## (.+)$", text, re.M)[-1] == "Exercises", f"{path.name}: exercises come last"
    exercises = [exercise.label for exercise in lecture_source.exercises(text)]
    solutions = lecture_source.solutions(text, path.name)
    assert len(exercises) >= 2, f"{path.name}: at least two exercises"
    assert [s.label for s in solutions] == exercises, "one solution per exercise, in order"
    assert all(s.collapsed for s in solutions), f"{path.name}: every solution is a collapsed dropdown"
    assert text.count("{solution-start}") == len(exercises)
    assert all(s.check and "assert" in s.check for s in solutions), (
        f"{path.name}: each solution is followed by a hidden cell that asserts its result")
    assert strip_solutions(text, path.name)[1] == exercises   # the student edition can strip them


def test_the_reader_finds_a_check_after_blank_lines_and_refuses_an_unclosed_solution():
    solution = ("```{solution-start} ex\n:class: dropdown\n```\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
                "```{solution-end}\n```\n")
    check = "```{code-cell} ipython3\n:tags: [remove-cell, hide-output]\nassert x == 1\n```\n"
    [found] = lecture_source.solutions("Text.\n" + solution + "\n\n\n" + check + "After.\n")
    assert (found.label, found.code, found.check, found.collapsed) == ("ex", "x = 1", "assert x == 1\n", True)
    assert found.lines == range(1, 18)                     # solution-start to the check's fence
    assert lecture_source.solutions(solution + "\n" + check.replace("remove-cell, ", ""))[0].check is None
    with pytest.raises(lecture_source.FormatError, match="toy: solution 'ex' has no closed solution-end"):
        lecture_source.solutions(solution.replace("```{solution-end}\n```\n", ""), "toy")


def test_instructors_table_agrees_with_each_lecture():
    from booktools.reading import phrase, stated_time
    table = (ROOT / "lectures" / "instructors.md").read_text(encoding="utf-8")
    for path in TAUGHT:
        row = next(line for line in table.splitlines() if line.startswith(f"| {{doc}}`{path.stem}` |"))
        text = path.read_text(encoding="utf-8")
        times = stated_time(text)
        optional = sum(e.optional for e in lecture_source.exercises(text))
        core = len(lecture_source.exercises(text)) - optional
        extra = f"{optional}, about {phrase(times.optional)}" if optional else "none"
        assert f"| about {phrase(times.reading)} | {core}, about {phrase(times.exercises)} | {extra} |" in row, (
            path.name, row)


@pytest.mark.parametrize("path", TAUGHT, ids=lambda p: p.name)
def test_each_check_uses_only_what_its_exercise_names(path):
    """A check that read the solution's own variables would fail a correct answer written
    differently: it may use the names the exercise statement asks for (in backticks), and
    anything of its own or of the lecture outside the solutions, nothing else."""
    text = path.read_text(encoding="utf-8")
    exercises = lecture_source.exercises(text)
    outside = set().union(*(lecture_source.top_level_names(source, imports=False)
                            for kind, where, source, _ in lecture_source.parts(text)
                            if kind == "code" and where != "solution" and not source.startswith("%")))
    for exercise in exercises:
        named = set(re.findall(r"[A-Za-z_]\w*", " ".join(re.findall(r"`([^`]+)`", exercise.statement))))
        private = lecture_source.top_level_names(exercise.solution, imports=False) - named - outside
        used = {node.id for node in ast.walk(ast.parse(exercise.check)) if isinstance(node, ast.Name)}
        used -= lecture_source.cell_names(exercise.check)[0]      # its own, a comprehension's loop names too
        label = exercise.label
        assert not (private & used), f"{path.name} {label}: the check reads the solution's own {sorted(private & used)}"


@pytest.mark.parametrize("path", TAUGHT, ids=lambda p: p.name)
def test_what_a_student_sees_never_mentions_the_hidden_checks(path):
    """Prose and visible code cells are what a student reads; the checks are invisible to them."""
    visible = [c.source for c in jupytext.read(path).cells
               if "remove-cell" not in c.metadata.get("tags", [])]
    mentions = [text[:120] for text in visible if re.search(r"hidden (check|cell)", text, re.I)]
    assert not mentions, f"{path.name}: {mentions}"


# ---------------------------------------------------------------- one number, one meaning
# A figure is glued from a measurement when its value is built with one of these helpers
# (directly, or through a variable assigned from one): a comparison, or a time or size.
MEASURING = {"compare_speed": "comparison", "compare_size": "comparison",
             "fmt_seconds": "figure", "fmt_bytes": "figure"}
QUANTITY = {"compare_speed": "time", "compare_size": "memory", "fmt_seconds": "time", "fmt_bytes": "memory"}
GLUE_ROLE = re.compile(r"\{glue:?\w*\}`([^`]+)`")


def measured_figures(text):
    """{glue key: {(kind, quantity)}} for the keys a page glues from a measurement."""
    code = "\n".join(c.source for c in jupytext.reads(text, "md:myst").cells
                     if c.cell_type == "code" and not c.source.startswith("%"))
    tree = ast.parse(code)
    variables = {}

    def made_by(expr):
        found = set()
        for node in ast.walk(expr):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in MEASURING:
                found.add((MEASURING[node.func.id], QUANTITY[node.func.id]))
            elif isinstance(node, ast.Name) and node.id in variables:
                found |= variables[node.id]
        return found

    for _ in range(2):                                   # variables assigned from variables
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and (made := made_by(node.value)):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        variables[target.id] = variables.get(target.id, set()) | made
    figures = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("glue", "glue_md")
                and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)
                and (made := made_by(node.args[1]))):
            figures.setdefault(node.args[0].value, set()).update(made)
    return figures


def glued_sources(page, sentence):
    """(page, key) that each glue role of a sentence pastes: its own page's, or another's
    (`{glue:text}`other.ipynb::key``)."""
    for role in GLUE_ROLE.findall(sentence):
        if "::" in role:
            doc, key = role.split("::", 1)
            yield re.sub(r"\.(ipynb|md)$", "", doc.rsplit("/", 1)[-1]) + ".md", key.split(":")[0]
        else:
            yield page, role.split(":")[0]


def test_a_measured_figure_is_glued_by_one_page_only():
    """One name, one meaning: a key glued from a measurement on two pages would be two
    measurements under one name. The other page pastes it (`page.ipynb::key`), or the two
    get names that say what differs."""
    pages = {path.name: measured_figures(path.read_text(encoding="utf-8")) for path in LECTURES}
    homes = {}
    for page, figures in pages.items():
        for key in figures:
            homes.setdefault(key, []).append(page)
    shared = {key: where for key, where in homes.items() if len(where) > 1}
    assert not shared, f"measured on more than one page under one name: {shared}"


# The implementations a sentence names: two pages whose sentences compare the same ones
# (in time, or in memory) state the same comparison.
SUBJECTS = {
    "Python": r"\bpure Python\b|\bPython loop\b|list comprehension|loop over (?:a|the) list",
    "NumPy": r"\bNumPy\b",
    "Numba": r"\bNumba\b",
    "JAX": r"\bJAX\b|\bscan\b|\bvmap\b|\blax\.map\b",
    "Dask": r"\bDask\b",
}
# Sentences that state one of those comparisons under a condition another page's does not
# share: (page, start of the sentence) -> the condition, which its paragraph must name.
DIFFERENT_CONDITIONS = {
    ("vectorized.md", "In float64, on the 1,000 × 1,000 grid, JAX"): "1,000 × 1,000",
    ("vectorized.md", "In float32, JAX was"): "In float32",
    ("vectorized.md", "Per grid point, NumPy was"): "Per grid point",
    ("sequential.md", "The loop over the NumPy array was"): "the loop over the list",
    ("scaling.md", "**Compile time against the number of calls.**"): "{glue:md}`largest`",
    ("scaling.md", "JAX from the grid, in the same precision"): "{glue:md}`largest`",
}


def same_comparisons(pages):
    """Pairs of sentences, on two pages, that compare the same implementations in the same
    quantity from different measurements, without both naming the condition that differs.
    `pages` maps a page's name to its source."""
    figures = {name: measured_figures(text) for name, text in pages.items()}
    stated = []
    for page, text in pages.items():
        for paragraph in prose_paragraphs(text):
            for sentence in sentences(paragraph):
                words = GLUE_ROLE.sub(" ", sentence)
                tools = frozenset(tool for tool, pattern in SUBJECTS.items() if re.search(pattern, words))
                for source in glued_sources(page, sentence):
                    for kind, quantity in figures.get(source[0], {}).get(source[1], ()):
                        if kind == "comparison" and len(tools) >= 2:
                            stated.append((page, sentence, paragraph, source, (tools, quantity)))

    def condition(page, sentence, paragraph):
        named = next((c for (p, start), c in DIFFERENT_CONDITIONS.items()
                      if p == page and sentence.startswith(start)), None)
        return named if named is not None and named in paragraph else None

    clashes = []
    for i, (page, sentence, paragraph, source, what) in enumerate(stated):
        for other in stated[i + 1:]:
            if other[0] == page or other[4] != what or other[3] == source:
                continue
            mine, theirs = condition(page, sentence, paragraph), condition(other[0], other[1], other[2])
            if mine is None or theirs is None or mine == theirs:
                clashes.append(((page, sentence), (other[0], other[1])))
    return clashes


def test_two_pages_state_a_comparison_from_one_measurement_or_say_what_differs():
    pages = {path.name: path.read_text(encoding="utf-8") for path in LECTURES}
    clashes = same_comparisons(pages)
    assert not clashes, ("the same comparison stated from two measurements: paste one page's figure into "
                         "the other ({glue:text}`page.ipynb::key`), or name in each paragraph the condition "
                         "that differs (DIFFERENT_CONDITIONS):\n"
                         + "\n".join(f"{a[0]}: {a[1][:100]}\n  {b[0]}: {b[1][:100]}" for a, b in clashes))


def test_a_planted_second_measurement_of_one_comparison_is_caught_and_a_paste_is_not():
    measuring = ("```{code-cell} ipython3\n:tags: [remove-cell]\n"
                 "glue_md('{key}', compare_speed(t_scan, t_numba))\n```\n\n")
    home = measuring.replace("{key}", "scan_vs_numba") + "Per step, the scan was {glue:md}`scan_vs_numba` Numba.\n"
    again = measuring.replace("{key}", "step_ratio") + \
        "At a million steps, JAX's scan was {glue:md}`step_ratio` the Numba loop.\n"
    pasted = "At a million steps, JAX's scan was {glue:text}`sequential.ipynb::scan_vs_numba` the Numba loop.\n"
    assert len(same_comparisons({"sequential.md": home, "scaling.md": again})) == 1
    assert same_comparisons({"sequential.md": home, "scaling.md": pasted}) == []
    # The same comparison of other implementations, or of memory, is another comparison.
    other = again.replace("Numba loop", "NumPy loop")
    assert same_comparisons({"sequential.md": home, "scaling.md": other}) == []


def test_every_different_condition_names_a_sentence_and_its_paragraph_names_the_condition():
    for (page, start), condition in DIFFERENT_CONDITIONS.items():
        paragraphs = prose_paragraphs((ROOT / "lectures" / page).read_text(encoding="utf-8"))
        holding = [p for p in paragraphs if any(s.startswith(start) for s in sentences(p))]
        assert holding, (page, start)
        assert condition in holding[0], (page, start, condition)


def test_the_session_plans_cover_every_lecture_within_their_sessions_time():
    """Each plan names every lecture; the in-class plan's sessions hold at most 90 minutes
    of the lectures' stated times, as the table says them; the reading-at-home plan's
    minutes are the sums of the stated times."""
    from booktools.reading import stated_time
    text = (ROOT / "lectures" / "instructors.md").read_text(encoding="utf-8")
    minutes = {path.stem: stated_time(path.read_text(encoding="utf-8")).reading for path in TAUGHT}
    plans = re.findall(r"^\| Session \|.*?\n\|---.*?\n((?:\|.*\n)+)", text, re.M)
    assert len(plans) == 2
    for plan in plans:
        sessions = [row for row in plan.splitlines() if row.startswith("| ")]
        named = {doc for row in sessions for doc in re.findall(r"\{doc\}`(\w+)`", row.split("|")[2])}
        assert named == set(minutes), (named, set(minutes))
    in_class = plans[0].splitlines()
    for row in in_class:
        stated = re.findall(r"\{doc\}`(\w+)` \((\d+) min\)", row)
        assert stated and all(int(m) == minutes[doc] for doc, m in stated), row
        assert sum(int(m) for _, m in stated) <= 90, row
    for row in plans[1].splitlines():
        docs = re.findall(r"\{doc\}`(\w+)`", row.split("|")[2])
        total = int(re.search(r"\((\d+) min\)", row).group(1))
        assert total == sum(minutes[doc] for doc in docs), row
    # The sums the page states, from the lectures' stated times.
    times = [stated_time(path.read_text(encoding="utf-8")) for path in TAUGHT]
    sums = [sum(t.reading for t in times), sum(t.exercises for t in times), sum(t.optional for t in times)]
    said = re.search(r"The stated times add up to about (\d+) hours (\d+) minutes of reading and running, "
                     r"about\s+(\d+) hours (\d+) minutes of exercises, and about (\d+) hours (\d+) minutes of "
                     r"optional exercises", text)
    assert said, "the sums of the stated times"
    hours_and_minutes = [int(v) for v in said.groups()]
    assert [60 * h + m for h, m in zip(hours_and_minutes[::2], hours_and_minutes[1::2])] == sums, sums


def _questions():
    """{label: grading.Question} of every exercise of every lecture: its points, from its
    statement, and its number as the site numbers it (and the grader reports it)."""
    from booktools import grading
    return {q.label: q for path in TAUGHT for q in grading.questions(f"lectures/{path.stem}")}


def _exercise_points():
    return {label: q.points for label, q in _questions().items()}


def _exercise_numbers():
    return {label: q.exercise for label, q in _questions().items()}


def test_the_rubric_table_gives_every_exercise_its_stated_points():
    """The instructors' page states the rubric once, with a row per exercise; each row's
    points are that exercise's `**Points:**`, and every exercise has a row."""
    text = (ROOT / "lectures" / "instructors.md").read_text(encoding="utf-8")
    section = text[text.index("## What a point is worth"):text.index("## Assigning a lecture")]
    rows = re.findall(r"^\| \{ref\}`(Exercise [\d.]+) <([\w-]+)>` \| (\d+) \| (.+) \|$", section, re.M)
    table = {label: float(points) for _, label, points, _ in rows}
    assert len(rows) == len(table), "an exercise has two rows"
    assert table == _exercise_points()
    assert {label: number for number, label, _, _ in rows} == _exercise_numbers()
    assert all(1 <= p <= 3 for p in table.values())


def test_every_misconception_is_graded_by_an_exercise():
    """Each misconception the instructors' page lists names at least one exercise that
    grades it, and each named exercise exists and carries points."""
    text = (ROOT / "lectures" / "instructors.md").read_text(encoding="utf-8")
    section = text[text.index("## Misconceptions to address"):text.index("## Questions for discussion")]
    rows = [line for line in section.splitlines() if line.startswith('| "')]
    assert len(rows) >= 6
    points = _exercise_points()
    for row in rows:
        graded = re.findall(r"\{ref\}`(Exercise [\d.]+) <([\w-]+)>`", row.rstrip(" |").rsplit("|", 1)[1])
        assert graded, f"no exercise grades {row.split('|')[1].strip()}"
        assert all(points.get(label, 0) >= 1 for _, label in graded), (row, graded)
        assert all(_exercise_numbers()[label] == number for number, label in graded), (row, graded)


def _helper_names():
    names = {}
    for module in HELPERS:
        tree = ast.parse((ROOT / "lectures" / f"{module}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names[node.name] = module
            for target in getattr(node, "targets", []):
                if isinstance(target, ast.Name):
                    names[target.id] = module
    return {name: module for name, module in names.items() if not name.startswith("_")}


def _names_answers_bind(text):
    """Names the exercises' solutions in a lecture source bind at their top level (not by
    import): the names a student's answer defines."""
    return set().union(*(lecture_source.top_level_names(exercise.solution, imports=False)
                         for exercise in lecture_source.exercises(text)))


@pytest.mark.parametrize("path", TAUGHT, ids=lambda p: p.name)
def test_one_name_one_meaning_between_the_helpers_and_the_exercises(path):
    """No exercise asks for a name the helper modules define: a student who imports the
    helper and answers the exercise must not find one name meaning two things. (The
    lectures' own cells show functions that benchmarks.py also runs, under the same names,
    for the same computation.)"""
    clash = _names_answers_bind(path.read_text(encoding="utf-8")) & set(_helper_names())
    assert not clash, f"{path.name} redefines {sorted(clash)} from {sorted({_helper_names()[n] for n in clash})}"


def test_a_planted_redefinition_of_a_helper_name_is_caught():
    text = (ROOT / "lectures" / "scaling.md").read_text(encoding="utf-8")
    planted = text.replace("def growth_exponent(records, name):", "def probe_exponent(records, name):")
    assert planted != text
    assert not _names_answers_bind(text) & set(_helper_names())
    assert "probe_exponent" in _names_answers_bind(planted) & set(_helper_names())


def _is_recorded_prediction(solution_code, name):
    """Whether `name` is bound, in the solution, to a literal: data written down (a
    prediction, a choice), not computed."""
    bound = {}
    for node in ast.parse(solution_code).body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound[target.id] = node.value
    def literal(node):
        try:
            ast.literal_eval(node)
            return True
        except ValueError:
            return False
    return name in bound and literal(bound[name])


@pytest.mark.parametrize("path", TAUGHT, ids=lambda p: p.name)
def test_each_lecture_grades_a_prediction_recorded_as_data(path):
    """At least one exercise per lecture is answered with data the student writes down
    (a prediction: booleans, numbers, a letter), graded against the run or the stated
    reasons; scaling's answers record their explanations the same way."""
    from booktools import grading
    doc = f"lectures/{path.stem}"
    names = grading.student_names(doc)
    recorded = [label for label, code in grading.solution_code(doc).items()
                if any(_is_recorded_prediction(code, n) for n in names[label])]
    assert recorded, f"{path.name}: no exercise grades a prediction recorded as data"


def bare_asserts(check):
    """The asserts of a check's code that carry no message: a student who fails one sees a
    bare AssertionError and no hint of what to fix."""
    return [ast.unparse(node.test)[:80] for node in ast.walk(ast.parse(check))
            if isinstance(node, ast.Assert) and node.msg is None]


@pytest.mark.parametrize("doc", lectures(), ids=lambda d: d.split("/")[-1])
def test_every_assert_of_a_graded_check_says_what_to_fix(doc):
    from booktools import grading
    bare = {q.label: found for q in grading.questions(doc) if (found := bare_asserts(q.check))}
    assert not bare, f"give these asserts a message a student can act on: {bare}"


def test_a_bare_assert_planted_in_a_check_is_found():
    check = "assert poly(1, [1]) == 1, 'poly is wrong'\nassert ecdf([1], [1]) == 1"
    assert bare_asserts(check) == ["ecdf([1], [1]) == 1"]


GLUED = re.compile(r"\bglue(?:_md|_text_block)?\(\s*[\"'](\w+)[\"']")
GLUE_USE = re.compile(r"\{glue(?::\w+)?\}`([\w.]+)(?::[^`]*)?`")


def leans_on_collapsed_parts(text):
    """What a lecture's main path takes from its collapsed parts: a name a main-path code cell
    reads that only a collapsed part's cells define, and a figure main-path prose pastes
    (`{glue}`) that only a collapsed part's cells compute."""
    import builtins
    parts = lecture_source.parts(text)
    found, seen_main, glued = [], set(dir(builtins)), {"main": set(), "deeper": set()}
    seen_anywhere = set(seen_main)
    for kind, where, source, tags in parts:
        if kind != "code":
            continue
        bound, read = lecture_source.cell_names(source)
        for key in GLUED.findall(source):
            glued["main" if where == "main" else "deeper"].add(key)
        if where == "main" and "remove-cell" not in tags:
            missing = sorted(n for n in read - bound - seen_main if n in seen_anywhere)
            found += [f"the main path reads `{name}`, defined only in a collapsed part" for name in missing]
        if where == "main":
            seen_main |= bound
        seen_anywhere |= bound
    for kind, where, source, _ in parts:
        if kind == "prose" and where == "main":
            for key in GLUE_USE.findall(source):
                if "::" not in key and key in glued["deeper"] and key not in glued["main"]:
                    found.append(f"the main path pastes `{key}`, computed only in a collapsed part")
    return found


@pytest.mark.parametrize("doc", lectures(), ids=lambda d: d.split("/")[-1])
def test_a_lectures_main_path_stands_without_its_collapsed_parts(doc):
    assert leans_on_collapsed_parts((ROOT / f"{doc}.md").read_text(encoding="utf-8")) == []


def test_a_main_path_that_leans_on_a_collapsed_part_is_caught():
    page = ("---\nx: 1\n---\n# T\n\n```{deeper-start} more\n```\n\n```{code-cell} ipython3\ndef hidden():\n"
            "    return 1\n```\n\n```{code-cell} ipython3\n:tags: [remove-cell]\nglue_md('n', '1')\n```\n\n"
            "```{deeper-end}\n```\n\nIt took {glue:md}`n`.\n\n```{code-cell} ipython3\nprint(hidden())\n```\n")
    assert leans_on_collapsed_parts(page) == [
        "the main path reads `hidden`, defined only in a collapsed part",
        "the main path pastes `n`, computed only in a collapsed part"]


def untaught(solution, taught, statement):
    """The functions, methods, attributes and keyword arguments a solution uses that neither
    the main path of its lecture or an earlier one (`taught`) nor the exercise's own text
    names: what a student would have to find elsewhere. Python's builtins and the methods of
    its built-in types (basic Python, which the lectures assume) and the solution's own
    names are not counted."""
    import builtins
    basic = set(dir(builtins)).union(*(dir(t) for t in (dict, list, str, set, tuple, int, float)))
    bound, _ = lecture_source.cell_names(solution)
    used = set()
    for node in ast.walk(ast.parse(solution)):
        if isinstance(node, ast.Call):
            used.update(k.arg + "=" for k in node.keywords if k.arg)
        if isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            used.add(node.id)
    missing = []
    for name in sorted(used):
        word = name.rstrip("=")
        if (word in basic and not name.endswith("=")) or word in bound:
            continue
        pattern = r"(?<!\w)" + re.escape(word) + (r"\s*=" if name.endswith("=") else r"(?!\w)")
        if not (re.search(pattern, taught) or re.search(pattern, statement)):
            missing.append(name)
    return missing


def test_every_exercise_is_solvable_from_the_page():
    """Every function, method and keyword the site's solution uses is taught on the main path
    of its lecture or an earlier one, or named in the exercise's statement."""
    from booktools import grading
    taught, gaps = "", {}
    for doc in lectures():
        text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
        taught += "\n".join(source for kind, where, source, tags in lecture_source.parts(text)
                            if where == "main" and "remove-cell" not in tags)
        statements = {exercise.label: exercise.statement for exercise in lecture_source.exercises(text)}
        for label, solution in grading.solution_code(doc).items():
            if missing := untaught(solution, taught, statements.get(label, "")):
                gaps[label] = missing
    assert not gaps, f"solutions use what the lectures do not teach: name it in the exercise, or teach it: {gaps}"


def test_a_solution_that_needs_something_untaught_is_caught():
    solution = "import numpy as np\ndef ecdf(d, t):\n    return np.searchsorted(np.sort(d), t, side='right') / len(d)"
    assert untaught(solution, "np.sort(x) sorts", "") == ["searchsorted", "side="]
    assert untaught(solution, "np.sort(x) sorts", "use `np.searchsorted(..., side=\"right\")`") == []


def reads_what_only_hidden_cells_define(text):
    """Names a shown code cell reads that only hidden (remove-cell) cells define: the
    notebooks readers run in Colab or Jupyter leave hidden cells out, so such a cell fails
    there with a NameError, however well it ran when the site was built."""
    import builtins
    shown, hidden = set(dir(builtins)), set()
    found = []
    for kind, where, source, tags in lecture_source.parts(text):
        if kind != "code":
            continue
        bound, read = lecture_source.cell_names(source)
        if "remove-cell" in tags:
            hidden |= bound
            continue
        found += sorted(name for name in read - bound - shown if name in hidden)
        shown |= bound
    return found


@pytest.mark.parametrize("doc", lectures(), ids=lambda d: d.split("/")[-1])
def test_no_shown_cell_reads_a_name_only_a_hidden_cell_defines(doc):
    assert reads_what_only_hidden_cells_define((ROOT / f"{doc}.md").read_text(encoding="utf-8")) == []


def test_a_shown_cell_that_reads_a_hidden_name_is_caught():
    page = ("# T\n\n```{code-cell} ipython3\n:tags: [remove-cell]\nratio = 2\n```\n\n"
            "```{code-cell} ipython3\nprint(ratio, len([1]))\n```\n")
    assert reads_what_only_hidden_cells_define(page) == ["ratio"]


def test_the_reader_finds_a_check_however_its_cell_is_written():
    """Blank lines before the check and more tags than remove-cell: one reader, one answer
    (the three parsers it replaced disagreed on both)."""
    text = ("```{exercise}\n:label: t-ex1\n\nDo it.\n\n**Points:** 2\n```\n\n"
            "```{solution-start} t-ex1\n:class: dropdown\n```\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
            "```{solution-end}\n```\n\n\n\n```{code-cell} ipython3\n:tags: [remove-cell, hide-output]\n"
            "assert x == 1, 'x'\n```\n")
    [exercise] = lecture_source.exercises(text)
    assert (exercise.label, exercise.points, exercise.solution, exercise.check) == ("t-ex1", 2.0, "x = 1",
                                                                                     "assert x == 1, 'x'\n")
    shown = text.replace(":tags: [remove-cell, hide-output]\n", "")
    assert lecture_source.exercises(shown)[0].check is None          # a shown cell is not a check


def test_a_check_in_weighted_parts_runs_each_part_after_its_shared_lines():
    check = ("x = answer()\nassert x > 0\n# Part (1.5 points): the value\nassert x == 2\n"
             "# Part (0.5 points): the method\nassert compiled(answer)\n")
    value, method = lecture_source.check_parts(check, 2.0, "t-ex1")
    assert (value.points, value.what, method.points, method.what) == (1.5, "the value", 0.5, "the method")
    assert value.code.startswith("x = answer()\nassert x > 0\n") and "compiled" not in value.code
    assert method.code.startswith("x = answer()\nassert x > 0\n") and "x == 2" not in method.code
    assert lecture_source.check_parts("assert x == 2\n", 3.0) == [lecture_source.Part(3.0, "", "assert x == 2\n")]
    with pytest.raises(lecture_source.FormatError, match="t-ex1: its check's parts give 2 points, its statement 3"):
        lecture_source.check_parts(check, 3.0, "t-ex1")


@pytest.mark.parametrize("doc", lectures())
def test_the_source_without_checks_drops_each_exercises_check_and_nothing_else(doc):
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    stripped = lecture_source.without_checks(text)
    solved = lecture_source.solutions(text)
    assert [s.code for s in lecture_source.solutions(stripped)] == [s.code for s in solved]
    # (a second hidden cell after a check, which checks the site's own solution, stays)
    assert not {s.check for s in lecture_source.solutions(stripped)} & {s.check for s in solved if s.check}
    dropped = len(text.splitlines()) - len(stripped.splitlines())
    assert dropped == sum(len(s.check_lines) for s in solved) and (dropped > 0) == bool(solved)
    assert all(s.check.strip() not in stripped for s in solved if s.check)


def names_a_failure_tells(check, allowed):
    """The names an assert message of `check` interpolates beyond `allowed` and what the
    check binds as loop variables (or inside the message itself): where a message may
    print a value computed from the truth."""
    import builtins
    tree = ast.parse(check)
    loops = {n.id for node in ast.walk(tree) if isinstance(node, (ast.For, ast.comprehension))
             for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    told = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is not None:
            inner = {n.id for part in ast.walk(node.msg) if isinstance(part, ast.comprehension)
                     for n in ast.walk(part.target) if isinstance(n, ast.Name)}
            told |= {n.id for n in ast.walk(node.msg) if isinstance(n, ast.Name)} - inner
    return sorted(told - set(allowed) - loops - set(dir(builtins)))


def _recorded_data(solution):
    """The names a solution assigns at its top level (data, such as a prediction; not a def)."""
    return {n.id for node in ast.parse(solution).body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


@pytest.mark.parametrize("doc", lectures(), ids=lambda d: d.split("/")[-1])
def test_a_failing_check_of_recorded_data_never_prints_the_answer(doc):
    """Where an exercise is answered with data (a prediction, a count), a failing check says
    what to look at and never what the answer is: its messages may show the student's own
    names and the exercise's variant values, nothing the check computed (on Gradescope a
    student reads every message; a leaked answer is a free resubmission). A function's
    expected value at a test input may be shown: it does not write the function."""
    from booktools import grading, variants
    own, values, solutions = grading.student_names(doc), variants.variants(doc), grading.solution_code(doc)
    told = {}
    for q in grading.questions(doc):
        if set(own[q.label]) & _recorded_data(solutions[q.label]):
            allowed = set(own[q.label]) | (set(values[q.label].alternatives) if q.label in values else set())
            if found := names_a_failure_tells(q.check, allowed):
                told[q.label] = found
    assert not told, f"these check messages print what the check computed, maybe the answer: {told}"


def test_a_planted_message_printing_the_truth_is_found_and_the_students_own_value_is_not():
    check = ("truth = frozen_run(factors)\n"
             "for n in sizes:\n    assert per_point[n] > 0, f'per_point[{n}] is {per_point[n]}'\n"
             "assert scale_predictions == truth, f'{scale_predictions} for {factors}: run it to see {truth}'")
    assert names_a_failure_tells(check, {"per_point", "scale_predictions", "factors"}) == ["truth"]
