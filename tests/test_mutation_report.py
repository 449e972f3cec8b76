"""`make mutation`'s verdict (booktools/mutation_report.py): a surviving mutant must be explained,
and at most 10% may survive."""


from booktools import mutation_report as mr


def statuses(killed, **others):
    result = {f"lectures.benchmarks.x_f__mutmut_{i}": "killed" for i in range(killed)}
    for status, names in others.items():
        result.update({name: status.replace("_", " ") for name in names})
    return result


def test_a_run_with_only_explained_survivors_under_the_bar_passes():
    run = statuses(19, survived=["lectures.lecture_tools.x_g__mutmut_1"])
    lines, ok = mr.report(run, {"lectures.lecture_tools.x_g__mutmut_1": "equivalent: same output"})
    assert ok
    assert "survival rate 5.0% (at most 10% allowed)" in lines
    assert "  lectures.lecture_tools.x_g__mutmut_1: survived; equivalent: same output" in lines


def test_an_unexplained_survivor_fails_the_run():
    run = statuses(99, survived=["lectures.lecture_tools.x_g__mutmut_1"])
    lines, ok = mr.report(run, {})
    assert not ok and any("NOT EXPLAINED" in line for line in lines)


def test_more_than_ten_percent_surviving_fails_even_when_explained():
    lived = [f"lectures.lecture_tools.x_g__mutmut_{i}" for i in range(3)]
    run = statuses(17, survived=lived[:2], no_tests=lived[2:])
    lines, ok = mr.report(run, {name: "reason" for name in lived})
    assert not ok and "survival rate 15.0% (at most 10% allowed)" in lines


def test_crashes_and_timeouts_count_as_caught_and_stale_explanations_are_reported():
    run = statuses(8, segfault=["a.x_h__mutmut_1"], timeout=["a.x_h__mutmut_2"])
    lines, ok = mr.report(run, {"a.x_h__mutmut_1": "was surviving once"})
    assert ok and "survival rate 0.0% (at most 10% allowed)" in lines
    assert "  a.x_h__mutmut_1" in lines[lines.index(
        "Listed in tests/mutation-survivors.md but no longer surviving (remove them):") + 1:]


def test_every_explained_survivor_names_a_mutant_and_gives_a_reason():
    reasons = mr.explained()
    text = mr.EXPLAINED.read_text(encoding="utf-8").split("## The lectures' code cells")[0]
    assert reasons and len(reasons) == text.count("\n- `")           # every line of the helpers' part
    for name, reason in reasons.items():
        assert name.startswith(("lectures.lecture_tools.x", "lectures.benchmarks.x")) and "__mutmut_" in name
        assert len(reason.split()) >= 3, (name, reason)
