"""`make mutation`'s report: how many planted bugs (mutants) the tests killed, and which lived.

    python -m booktools.mutation_report [OUT_DIR]      # after `mutmut run`

Reads mutmut's results, writes OUT_DIR/report.txt (counts per file, the survival rate,
every surviving mutant with its reason if it has one) and prints it. Fails (exit 1) when a
mutant survives that tests/mutation-survivors.md does not explain, or when more than
MAX_SURVIVAL of the mutants survive.
"""
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from booktools.layout import BUILD, ROOT

EXPLAINED = ROOT / "tests" / "mutation-survivors.md"
MAX_SURVIVAL = 0.10
# Statuses of a mutant the tests let through; "segfault" and "timeout" mean the tests
# did not pass with the mutant in place, so it counts as caught.
LIVED = {"survived", "no tests", "suspicious"}


def results(mutmut=None):
    """{mutant name: status} from `mutmut results --all true`."""
    mutmut = mutmut or str(Path(sys.executable).parent / "mutmut")
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return dict(re.findall(r"^\s+(\S+): (.+?)\s*$", out, re.M))


def survivor_reasons(path=EXPLAINED):
    """{mutant: reason} from a survivors file (tests/mutation-survivors.md): lines
    `- `name`: reason`, or `- `name`, `name`, ...: reason` for several with one reason."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    reasons = {}
    for names, reason in re.findall(r"^- ((?:`[^`]+`(?:, )?)+): (.+)$", text, re.M):
        for name in re.findall(r"`([^`]+)`", names):
            reasons[name] = reason
    return reasons


def explained():
    """{mutant name: reason} for mutmut's mutants (`...__mutmut_N`) in the survivors file;
    the lectures' mutants are booktools.lecture_mutation's."""
    return {name: reason for name, reason in survivor_reasons().items() if "__mutmut_" in name}


def report(statuses, reasons):
    """The report's lines, and whether the run meets the project's bar."""
    by_file = Counter()
    lived_by_file = Counter()
    for name, status in statuses.items():
        source = name.split(".x")[0]
        by_file[source] += 1
        lived_by_file[source] += status in LIVED
    lived = sorted(name for name, status in statuses.items() if status in LIVED)
    unexplained = [name for name in lived if name not in reasons]
    rate = len(lived) / len(statuses) if statuses else 0.0
    lines = [f"{len(statuses)} mutants: " + ", ".join(
        f"{count} {status}" for status, count in Counter(statuses.values()).most_common())]
    lines += [f"  {source}: {by_file[source]} mutants, {lived_by_file[source]} lived"
              for source in sorted(by_file)]
    lines.append(f"survival rate {rate:.1%} (at most {MAX_SURVIVAL:.0%} allowed)")
    lines += ["", "Surviving mutants (`mutmut show NAME` prints the change):"]
    lines += [f"  {name}: {statuses[name]}; {reasons.get(name, 'NOT EXPLAINED')}" for name in lived]
    stale = sorted(set(reasons) - set(lived))
    if stale:
        lines += ["", "Listed in tests/mutation-survivors.md but no longer surviving (remove them):"]
        lines += [f"  {name}" for name in stale]
    ok = rate <= MAX_SURVIVAL and not unexplained
    if unexplained:
        lines += ["", f"{len(unexplained)} surviving mutants are not explained: kill each with a test, "
                  "or list it in tests/mutation-survivors.md with the reason."]
    return lines, ok


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else BUILD / "mutation"
    lines, ok = report(results(), explained())
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out / 'report.txt'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
