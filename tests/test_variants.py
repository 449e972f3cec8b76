"""The exercises' variants (booktools.variants): how the lectures declare them, how a
student's values are drawn and written into their notebook, and which values the grader
grades a notebook against (grading.whose_values). The checks' side, every value with a
right answer and with the site's: tests/test_exercise_checks.py; a class graded end to
end: tests/test_grading_variants.py."""
import nbformat
import pytest

from booktools import grading, lecture_source, variants
from booktools.book import ROOT, lectures

DOC = "lectures/numpy"
VARIED = [doc for doc in lectures() if variants.variants(doc)]


def test_at_least_half_of_the_graded_points_have_a_variant():
    points = {q.label: q.points for doc in lectures() for q in grading.questions(doc)}
    varied = {label for doc in VARIED for label in variants.variants(doc)}
    assert sum(points[label] for label in varied) >= sum(points.values()) / 2, \
        f"{sum(points[label] for label in varied):g} of {sum(points.values()):g} points"


@pytest.mark.parametrize("doc", VARIED, ids=lambda d: d.split("/")[-1])
def test_each_variant_cell_shows_the_sites_values_and_names_used_once(doc):
    """The site's cell is its first values written out (so a student's cell, written the
    same way, replaces it), and no name is a variant's twice or also bound elsewhere."""
    text = (ROOT / f"{doc}.md").read_text(encoding="utf-8")
    site = variants.site_values(doc)
    names = []
    for label, variant in variants.variants(doc).items():
        assert variants.cell_code(variant, site[label]) == variant.code, label
        assert set(lecture_source.top_level_names(variant.code)) == set(variant.alternatives), label
        names += list(variant.alternatives)
        for name, options in variant.alternatives.items():
            assert len(options) >= 2 and len({repr(o) for o in options}) == len(options), (label, name)
    assert len(names) == len(set(names))
    codes = {v.code for v in variants.variants(doc).values()}
    elsewhere = set().union(*(lecture_source.cell_names(source, arguments=False)[0] for kind, _, source, _ in
                              lecture_source.parts(text) if kind == "code" and source not in codes))
    assert not elsewhere & set(names), sorted(elsewhere & set(names))


def test_a_variant_cell_without_its_alternatives_is_refused():
    text = ("```{exercise}\n:label: x-ex1\n\nDo it.\n\n**Points:** 1\n```\n\n"
            "```{code-cell} ipython3\n:tags: [variant]\nn = 3\n```\n\n"
            "```{solution-start} x-ex1\n```\n\n```{code-cell} ipython3\nanswer = n\n```\n\n"
            "```{solution-end}\n```\n")
    with pytest.raises(lecture_source.FormatError, match="needs `variants:`"):
        lecture_source.exercises(text)
    declared = text.replace(":tags: [variant]\n", "---\ntags: [variant]\nvariants:\n  n: [3, 4]\n---\n")
    assert lecture_source.exercises(declared)[0].variant == lecture_source.Variant("n = 3", {"n": [3, 4]})
    other = declared.replace("n: [3, 4]", "n: [3, 5]")
    assert lecture_source.checks_version(declared) != lecture_source.checks_version(other)


def test_a_students_values_depend_on_the_id_and_the_seed_only():
    assert variants.draw(DOC, "ana", "s") == variants.draw(DOC, "ana", "s")
    drawn = {(who, seed): repr(variants.draw(DOC, who, seed)) for who in ("ana", "ben", "chloe", "dev", "emma",
                                                                          "fred") for seed in ("", "s")}
    assert len(set(drawn.values())) >= 10          # of 12: a few draws may coincide, not most
    assert variants.literal(["a", 1.5, True]) == '("a", 1.5, True)' and variants.literal(["x"]) == '("x",)'


def _site_notebook():
    """A notebook of the numpy assignment as the site hands it out: its variant cells hold
    the site's values, and its metadata names no student."""
    cells = [nbformat.v4.new_markdown_cell("# NumPy")]
    cells += [nbformat.v4.new_code_cell(v.code) for v in variants.variants(DOC).values()]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["assignment"] = {"lecture": DOC, "checks": grading.checks_version(DOC)}
    return nb


def test_a_personal_notebook_holds_the_students_values_in_its_cells_and_metadata():
    nb = variants.personal_notebook(_site_notebook(), DOC, "ana", "s")
    drawn = variants.draw(DOC, "ana", "s")
    assert nb.metadata["assignment"]["student"] == "ana" and nb.metadata["assignment"]["variants"] == drawn
    assert [c.source for c in nb.cells[1:]] == [variants.cell_code(v, drawn[label])
                                                for label, v in variants.variants(DOC).items()]
    broken = _site_notebook()
    broken.cells.pop()
    with pytest.raises(variants.VariantError, match="no cell with the site's values"):
        variants.personal_notebook(broken, DOC, "ana", "s")


def test_the_grader_takes_the_students_values_and_flags_anothers():
    site, mine = _site_notebook(), variants.personal_notebook(_site_notebook(), DOC, "ana", "s")
    values, whose, flags, notes = grading.whose_values(DOC, site, "site.ipynb", seed="")
    assert (values, whose, flags, notes) == (variants.site_values(DOC), "site", [], [])
    values, whose, flags, notes = grading.whose_values(DOC, site, "site.ipynb", seed="s")   # personal notebooks
    assert (values, whose) == (variants.site_values(DOC), "site") and [f.kind for f in flags] == ["variant"]
    # The site's notebook, from a known student: their own values where the course hands
    # out personal notebooks (a seed), the site's where it does not.
    values, whose, flags, notes = grading.whose_values(DOC, site, "site.ipynb", "ana", seed="s")
    assert (values, whose, flags) == (variants.draw(DOC, "ana", "s"), "ana", []) and "site's values" in notes[0]
    assert grading.whose_values(DOC, site, "site.ipynb", "ana", seed="")[:2] == (variants.site_values(DOC), "site")
    assert grading.whose_values(DOC, mine, "ana.ipynb", seed="s")[:3] == (variants.draw(DOC, "ana", "s"), "ana", [])
    values, whose, flags, _ = grading.whose_values(DOC, mine, "ana.ipynb", "ben", seed="s")
    assert (values, whose) == (variants.draw(DOC, "ben", "s"), "ben")
    assert [f.kind for f in flags] == ["variant"] and "values of ana, not ben's" in flags[0].reason
    edited = variants.personal_notebook(_site_notebook(), DOC, "ana", "s")
    edited.metadata["assignment"]["variants"] = variants.draw(DOC, "ben", "s")
    assert grading.whose_values(DOC, edited, "ana.ipynb", seed="s")[2], "values edited in the metadata"
    with pytest.raises(grading.SubmissionError, match="another course seed"):
        grading.whose_values(DOC, mine, "ana.ipynb", seed="another")


def test_values_no_variant_could_have_make_the_cell_the_students_and_do_not_stop_the_grading(tmp_path):
    nb = variants.personal_notebook(_site_notebook(), DOC, "ana", "s")
    nb.metadata["assignment"]["variants"]["numpy-ex1"]["coef_order"] = [{"x": 1}]
    nbformat.write(nb, tmp_path / "ana.ipynb")
    submission = grading.examine(tmp_path / "ana.ipynb", seed="s")
    assert [f.kind for f in submission.flags] == ["variant"] and submission.variant == "ana"


def test_gradescope_grades_a_notebook_as_its_submitter(tmp_path):
    from booktools import gradescope
    nb = variants.personal_notebook(_site_notebook(), DOC, "jane_uni.edu", "s")
    nbformat.write(nb, tmp_path / "nb.ipynb")
    meta = tmp_path / "submission_metadata.json"
    meta.write_text('{"users": [{"sid": "12345", "email": "jane@uni.edu"}]}')
    assert gradescope.submitter(meta, tmp_path / "nb.ipynb") == "jane_uni.edu"     # the email named in it
    meta.write_text('{"users": [{"sid": "12345", "email": "joe@uni.edu"}]}')
    assert gradescope.submitter(meta, tmp_path / "nb.ipynb") == "12345"            # someone else's notebook
    assert gradescope.submitter(tmp_path / "absent.json", tmp_path / "nb.ipynb") is None


def test_a_variant_flag_costs_no_points_by_itself_and_tampering_costs_all():
    question = grading.Question("numpy-ex1", "Exercise 1.1", 2.0, "assert True")
    run = grading.KernelRun({"numpy-ex1": (2.0, "")}, [], [], True)
    def graded(flags):
        submission = grading.Submission(None, None, DOC, [question], {}, [], set(), flags, "", [])
        return grading.verdict(submission, run, 1.0).total
    assert graded([grading.Flag(None, None, "values of ben", "variant")]) == 2.0
    assert graded([grading.Flag(3, None, "rebinds print")]) == 0.0
