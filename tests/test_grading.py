"""The grader's questions and refusals (booktools/grading.py), without executing a lecture.

Real submissions: answered (full marks) in the Colab-like run, tests/test_colab_run.py;
unanswered in tests/test_grading_submissions.py; bad answers in
tests/test_grading_bad_answers.py."""
import json
import re

import nbformat
import pytest
from submissions import exercises_only

from booktools import assignments, grading, lecture_source
from booktools.book import ROOT, lectures

LECTURES = lectures()


@pytest.mark.parametrize("doc", LECTURES)
def test_every_exercise_is_a_question_with_points_and_a_check(doc):
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    graded = grading.questions(doc)
    assert [q.label for q in graded] == [exercise.label for exercise in lecture_source.exercises(text)]
    assert all(q.points > 0 and "assert" in q.check for q in graded)
    chapter = LECTURES.index(doc) + 1
    assert [q.exercise for q in graded] == [f"Exercise {chapter}.{k}" for k in range(1, len(graded) + 1)]


@pytest.mark.parametrize("doc", LECTURES)
def test_otter_test_files_hold_each_check_with_its_points(doc, tmp_path):
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    paths = assignments.write_test_files(doc, tmp_path)
    for q, path in zip(grading.questions(doc), paths):
        test = create_test_file(str(path), NBMetadataConfig())     # as Otter reads it
        run = [part for part in q.parts if not part.by_hand]     # Gradescope's manual grading marks the rest
        assert test.name == q.label and sum(case.points for case in test.test_cases) == sum(p.points for p in run)
        assert [case.points for case in test.test_cases] == [part.points for part in run]
        assert all(repr(part.code) in path.read_text() for part in run)


def test_an_otter_test_passes_on_a_right_answer_and_fails_on_a_wrong_one(tmp_path):
    import numpy as np
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file
    path = assignments.write_test_files("lectures/numpy", tmp_path)[0]           # poly(x, coef)
    # Under Otter's own runner the checks read the variant's values from the student's
    # kernel, where the notebook's variant cell set them (the site's here).
    site = {"np": np, "coef_order": "lowest first"}
    right = {**site, "poly": lambda x, coef: np.polynomial.polynomial.polyval(np.asarray(x, float), coef)}
    wrong = {**site, "poly": lambda x, coef: np.zeros_like(np.asarray(x, float))}
    def looped(x, coef):            # right values, but a Python loop over the points: the value part only
        x = np.asarray(x, float)
        return np.array([sum(c * v**k for k, c in enumerate(coef)) for v in x.ravel()]).reshape(x.shape)
    q = grading.questions("lectures/numpy")[0]
    method = next(part.points for part in q.parts if "method" in part.what)
    for env, score in ((right, q.points), (wrong, 0.0), ({**site, "poly": looped}, q.points - method)):
        test = create_test_file(str(path), NBMetadataConfig())
        test.run(env)
        assert test.score == score and test.possible == q.points, (test.score, score)


def run_grader(capsys, *args):
    """The command line, in this process (a refusal starts no kernel): (exit code, stderr)."""
    code = grading.main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_a_file_that_is_not_a_notebook_is_refused(tmp_path, capsys):
    path = tmp_path / "answers.ipynb"
    path.write_text("print('hello')\n")
    code, err = run_grader(capsys, path)
    assert code == 2 and "is not a Jupyter notebook" in err
    assert not list(tmp_path.glob("*.json"))


def test_an_empty_notebook_is_refused(tmp_path, capsys):
    path = tmp_path / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# NumPy")]), path)
    code, err = run_grader(capsys, path)
    assert code == 2 and "empty notebook" in err


def student_like(doc):
    """A notebook with the lecture's title and exercise headings, as a student's would have."""
    cells = [nbformat.v4.new_markdown_cell(f"### {q.exercise}\n\nText.") for q in grading.questions(doc)]
    cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["title"] = grading.title(doc)
    return nb


def test_a_notebook_from_another_lecture_is_refused(tmp_path, capsys):
    path = tmp_path / "numba.ipynb"
    nbformat.write(student_like("lectures/numba"), path)
    code, err = run_grader(capsys, path, "--lecture", "numpy")
    assert code == 2 and "is the assignment of lectures/numba, not of numpy" in err


def test_a_notebook_of_no_lecture_is_refused(tmp_path, capsys):
    path = tmp_path / "other.ipynb"
    nb = student_like("lectures/numba")
    nb.metadata["title"] = "Some other course"
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]
    nbformat.write(nb, path)
    code, err = run_grader(capsys, path)
    assert code == 2 and "cannot tell which lecture" in err


def test_the_notebook_is_identified_by_its_title_or_its_exercises():
    nb = student_like("lectures/scaling")
    assert grading.identify(nb, "x.ipynb") == "lectures/scaling"
    nb.metadata.pop("title")
    assert grading.identify(nb, "x.ipynb", "scaling") == "lectures/scaling"


def test_the_report_lists_each_question_and_the_total():
    result = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, 2.0, ""),
        grading.QuestionResult("numpy-ex2", "Exercise 1.2", 3.0, 0.0, "AssertionError: wrong")],
        seconds=3.0, sandboxed=True, flags=[grading.Flag(4, "Exercise 1.1", "rebinds np.allclose")])
    text = grading.report(result)
    assert "Exercise 1.1 (numpy-ex1): 2 / 2" in text
    assert "Exercise 1.2 (numpy-ex2): 0 / 3  AssertionError: wrong" in text
    assert "flag: cell 4 (Exercise 1.1): rebinds np.allclose" in text
    assert text.endswith("total: 2 / 5  (3 s)")


def test_a_result_is_saved_and_read_back_whole():
    result = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, 0.0, "no points")],
        seconds=1.5, sandboxed=False, flags=[grading.Flag(None, None, "the kernel reports that x")], notes=["n"])
    saved = json.loads(json.dumps(result.to_dict()))
    assert saved["total"] == 0.0 and saved["max"] == 2.0
    assert grading.GradingResult.from_dict(saved) == result


def test_exercises_only_keeps_the_opening_cells_and_the_exercises():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[
        md("# Title"), md("## Before you start"), code("setup"), code("import numpy as np"),
        md("## A section"), code("lecture()"), md("## Another"), code("more()"),
        md("## Exercises"), md("### Exercise 1.1"), code("# answer")])
    assert [c.source for c in exercises_only(nb).cells] == [
        "# Title", "## Before you start", "setup", "import numpy as np",
        "## Exercises", "### Exercise 1.1", "# answer"]


def test_the_checks_version_follows_the_checks_not_the_prose():
    lecture = ("```{exercise}\n:label: t-ex1\nFind x.\n\n**Points:** 1\n```\n\n"
               "```{solution-start} t-ex1\n```\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
               "```{solution-end}\n```\n\n```{code-cell} ipython3\n:tags: [remove-cell]\nassert x == 1\n```\n")
    version = lecture_source.checks_version(lecture)
    assert lecture_source.checks_version("Some prose.\n\n" + lecture.replace("Find x.", "Compute x.")) == version
    assert lecture_source.checks_version(lecture.replace("x = 1", "x = 2 - 1")) == version   # the same answer name
    assert lecture_source.checks_version(lecture.replace("assert x == 1", "assert x == 2")) != version
    assert lecture_source.checks_version(lecture.replace("**Points:** 1", "**Points:** 2")) != version
    assert lecture_source.checks_version(lecture.replace("x = 1", "y = 1")) != version


def stamped(tmp_path, doc, checks):
    path = tmp_path / "hand-in.ipynb"
    nb = student_like(doc)
    nb.metadata["assignment"] = {"lecture": doc, "checks": checks}
    nbformat.write(nb, path)
    return path


def test_a_notebook_handed_out_with_other_checks_is_refused_unless_asked(tmp_path):
    """Before any kernel runs (grading.examine): the checks it was handed out with are not
    these, so its grade would not mean what the assignment said."""
    path = stamped(tmp_path, "lectures/numba", "0123456789ab")
    with pytest.raises(grading.SubmissionError, match="handed out with version 0123456789ab"):
        grading.examine(path)
    allowed = grading.examine(path, other_checks=True)
    current = grading.checks_version("lectures/numba")
    assert allowed.notes == [f"handed out with version 0123456789ab of the checks, graded with version {current}"]
    assert grading.examine(stamped(tmp_path, "lectures/numba", current)).notes == []


def test_a_notebook_whose_metadata_names_another_lecture_is_refused(tmp_path):
    path = tmp_path / "hand-in.ipynb"
    nb = student_like("lectures/numba")
    nb.metadata["assignment"] = {"lecture": "lectures/numpy", "checks": grading.checks_version("lectures/numpy")}
    nbformat.write(nb, path)
    with pytest.raises(grading.SubmissionError, match="says it is the assignment of lectures/numpy, but its title"):
        grading.examine(path)
    nb.metadata["title"] = "Renamed by the student"              # the metadata then decides
    nb.cells = [c for c in nb.cells if c.cell_type == "code"]
    nbformat.write(nb, path)
    assert grading.examine(path).lecture == "lectures/numpy"


@pytest.mark.parametrize("doc", LECTURES)
def test_the_student_notebooks_carry_the_version_of_their_checks(doc, student):
    nb = nbformat.read(student / "notebooks" / f"{doc}.ipynb", as_version=4)
    assert nb.metadata["assignment"] == {"lecture": doc, "checks": grading.checks_version(doc)}


def test_gradescope_results_give_each_question_its_points_and_a_refusal_scores_zero(tmp_path):
    from booktools import gradescope
    result = grading.GradingResult("a.ipynb", "lectures/numpy", [
        grading.QuestionResult("numpy-ex1", "Exercise 1.1", 2.0, 1.0, "the method (1 of 2 points): loops"),
        grading.QuestionResult("numpy-ex2", "Exercise 1.2", 3.0, 3.0, "")], seconds=1.0, sandboxed=True,
        flags=[grading.Flag(4, "Exercise 1.1", "it rebinds `np.allclose`")])
    found = gradescope.results(result)
    assert found["score"] == 4.0 and "it rebinds `np.allclose`" in found["output"]
    assert [(t["name"], t["score"], t["max_score"], t["output"]) for t in found["tests"]] == [
        ("Exercise 1.1 (numpy-ex1)", 1.0, 2.0, "the method (1 of 2 points): loops"),
        ("Exercise 1.2 (numpy-ex2)", 3.0, 3.0, "")]
    (tmp_path / "submission" / ".ipynb_checkpoints").mkdir(parents=True)          # Jupyter's copy is not one
    (tmp_path / "submission" / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    args = [str(tmp_path / "submission"), str(tmp_path / "results.json"), "--lecture", "lectures/numpy"]
    assert gradescope.main(args) == 0
    empty = json.loads((tmp_path / "results.json").read_text())
    assert empty["score"] == 0.0 and "holds 0" in empty["output"]


LECTURE = [
    "import numpy as np\nimport matplotlib.pyplot as plt\nfrom lecture_tools import time_call",
    "np.seterr(all='raise')\nrng = np.random.default_rng(0)\nwarm_up = rng.normal(size=3)\nprint(warm_up)",
    "def f(x):\n    total = 0.0\n    for v in x:\n        total += v\n    return total\n"
    "grid = np.linspace(0, 1, 5)\nt_f = time_call(f, grid)\nprint(t_f)\nplt.show()\nassert f(grid) == grid.sum()",
    "out = np.zeros(3)\nfill(out)\nscale = 2.0\ntext = f.lower(grid)\nm = scale * f(grid)\ndraw = rng.normal()",
    "def g(total):\n    return total + 1\nunused = g(1)",
]


def kept(names):
    return "\n".join(grading.needed_cells(LECTURE, names))


def test_the_graders_slice_keeps_the_statements_a_check_needs_not_the_timings_or_the_lectures_own_checks():
    sliced = kept({"m"})
    assert "scale = 2.0" in sliced and "def f(x)" in sliced and "grid = np.linspace" in sliced
    assert "time_call(f, grid)" not in sliced and "print" not in sliced     # timed and shown, read by no check
    assert "assert" not in sliced                                           # the lecture's own check
    assert "np.seterr(all='raise')" in sliced and "import numpy as np" in sliced    # settings, and what they read
    assert "lecture_tools" not in sliced and "plt" not in sliced           # imports no kept statement reads,
                                                                            # and a plot shown
    assert "f.lower(grid)" not in sliced                                    # lowering reads f, changes nothing
    assert "def g" not in sliced                    # a name a function binds locally (total) pulls nothing in


def test_the_graders_slice_keeps_what_changes_a_needed_value_in_place_or_draws_from_its_generator():
    assert "fill(out)" in kept({"out"})                 # a call made as a statement may fill its argument
    sliced = kept({"draw"})
    assert "warm_up = rng.normal(size=3)" in sliced and "rng = np.random.default_rng(0)" in sliced
    assert "m = scale * f(grid)" not in sliced
    # Calling a function changes no name (the signatures a Numba function compiled are not seen).
    assert "m = scale * f(grid)" not in kept({"f"})


@pytest.mark.parametrize("doc", LECTURES)
def test_the_graders_slice_of_a_lecture_runs_none_of_its_timings(doc):
    """No lecture's own `time_call`, `peak_allocation` or sweep (bm.sweep, which times as it
    goes): scaling's checks measure the one figure they need, NumPy's memory, themselves."""
    graded = grading.questions(doc)
    remote = grading.student_names(doc)
    needed = set().union(*(grading.free_names(q.check) - set(remote.get(q.label, [])) for q in graded))
    sliced = "\n".join(grading.needed_cells(grading.lecture_cells(doc), needed))
    assert not re.search(r"\b(time_call|peak_allocation|timeit)\(", sliced)
    assert "bm.sweep(" not in sliced and "bm.scan_probe(" not in sliced


# What a cell does to a needed object without binding a name: each toy lecture gives its needed
# name the same value sliced as run whole.
SIDE_EFFECTS = {
    "an alias changed in place": (["import numpy as np\na = np.zeros(3)\nb = a\nb[0] = 1.0"], "a"),
    "records filled in a loop": (["records = [{'n': 1}, {'n': 2}]\nfor r in records:\n    r['sq'] = r['n'] ** 2"],
                                 "records"),
    "a list extended through an alias": (["a = [1]\nb = a\nb += [2]"], "a"),
    "an array filled through out=": (["import numpy as np\na = np.zeros(3)\n_ = np.add(a, 1, out=a)"], "a"),
    "a function that changes a global": (["data = []\ndef add(v):\n    data.append(v)\nadd(1)"], "data"),
    "a global read by a function, bound after it": (["def f():\n    return scale * 2\nscale = 3\nf = f()"], "f"),
    "draws from NumPy's global generator": (["import numpy as np\nnp.random.seed(0)\nnoise = np.random.normal(size=3)",
                                             "x = np.random.normal()"], "x"),
    "the generator's state saved and restored": (["import numpy as np\nnp.random.seed(0)",
                                                  "state = np.random.get_state()\nnp.random.seed(3)\n"
                                                  "tmp = np.random.uniform()\nnp.random.set_state(state)",
                                                  "x = np.random.uniform()"], "x"),
}


@pytest.mark.parametrize("case", SIDE_EFFECTS)
def test_the_graders_slice_gives_a_needed_name_what_the_whole_lecture_gives_it(case):
    cells, name = SIDE_EFFECTS[case]

    def run(sources):
        namespace = {}
        for source in sources:
            exec(source, namespace)
        return repr(namespace[name])
    assert run(grading.needed_cells(cells, {name})) == run(cells)
