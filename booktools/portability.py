"""The same site and the same grades on other machines: `make portability`.

    python -m booktools.portability [CONDITION ...] [--out _build/portability] [--jobs 2]

Runs, under each condition below (all of them by default), every lecture from scratch
(nbval: every cell, hidden checks included, no execution cache) and the grader's classes
(the honest and hostile submissions, every exercise's wrong answers, the bad answers, and
the answered assignments in a Colab-like Python, which must score full marks; they grade
the student edition and assignments `make assignments` built). Each condition imitates a machine unlike
the one the lectures were written on:

* `one-core`: the whole run on one CPU (`taskset -c 0`), as on a small CI runner;
* `no-simd`: NumPy without any of the SIMD paths it dispatches to at run time
  (`NPY_DISABLE_CPU_FEATURES` set to every target of its `__cpu_dispatch__`: from NumPy 2.4
  these are groups such as `X86_V3`, and the old names `AVX2 FMA3` are ignored without a
  word), so only its build's baseline remains, as on an older or a different CPU, whose
  `pow` and `cos` cost several times more; the line says which targets stayed on;
* `generic-cpu`: Numba compiling for a generic CPU of this architecture (`NUMBA_CPU_NAME`);
* `eight-devices`: JAX with eight simulated CPU devices (XLA's
  `--xla_force_host_platform_device_count`), as where a library or a user asked for them.

It prints one line per condition: passed, or the checks that failed; then, for every
comparison whose measurement chose words on a page (`compare_speed`, `compare_size`), how
far the ratio was from choosing other words (lecture_tools.word_margin), closest first, so
that a margin shrinking from machine to machine shows before a sentence changes. No
condition fails on a margin: the words are chosen by the run, whatever it measures.
Logs: OUT/CONDITION.log; margins: OUT/CONDITION/*.jsonl.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from booktools.book import ROOT, lectures

CONDITIONS = {
    "one-core": {"prefix": ["taskset", "-c", "0"], "env": {}},
    "no-simd": {"prefix": [], "env": {"NPY_DISABLE_CPU_FEATURES": None}},     # set by _dispatch_targets
    "generic-cpu": {"prefix": [], "env": {"NUMBA_CPU_NAME": "generic"}},
    "eight-devices": {"prefix": [], "env": {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}},
}
# The grader's classes: the same notebooks must get the same points under every condition
# (the honest and hostile submissions, the answered assignments, wrong answers and methods).
GRADING_TESTS = ["tests/test_grading_hostile.py", "tests/test_exercise_checks.py",
                 "tests/test_grading_bad_answers.py",
                 "tests/test_colab_run.py::test_answered_assignment_runs_alone_in_a_colab_like_python_and_scores_full_marks"]
SHOWN_MARGINS = 8         # the closest calls of each condition


def describe(name, env):
    """What the condition really changed, read in a Python run under it."""
    probe = ("import os, numpy, numba, jax\n"
             "from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d\n"
             "print('cores', len(os.sched_getaffinity(0)), '| NumPy dispatches to:',"
             " ' '.join(k for k in d if f.get(k)) or 'none (baseline only)',"
             " '| Numba CPU', numba.config.CPU_NAME or 'host', '| JAX devices', len(jax.devices()))")
    ran = subprocess.run([*CONDITIONS[name]["prefix"], sys.executable, "-c", probe], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    return ran.stdout.strip() or ran.stderr.strip().splitlines()[-1]


def _dispatch_targets():
    """Every SIMD target this NumPy dispatches to at run time (named as its version names them)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__
    return " ".join(__cpu_dispatch__)


def run_condition(name, out, jobs):
    """Run the lectures and the grading classes under one condition: (passed, failures, margins)."""
    condition = CONDITIONS[name]
    if name == "no-simd":
        condition = {**condition, "env": {"NPY_DISABLE_CPU_FEATURES": _dispatch_targets()}}
    margins = out / name
    shutil.rmtree(margins, ignore_errors=True)
    margins.mkdir(parents=True)
    env = {**os.environ, **condition["env"]}
    jobs = 1 if name == "one-core" else jobs
    failures, log = [], out / f"{name}.log"
    with open(log, "w", encoding="utf-8") as stream:
        stream.write(f"{name}: {describe(name, env)}\n")
        for doc in lectures():
            lecture_env = {**env, "LECTURE_MARGINS": str(margins / f"{Path(doc).name}.jsonl")}
            failures += _pytest(condition["prefix"], [f"{doc}.md"], lecture_env, 1, stream)
        failures += _pytest(condition["prefix"], GRADING_TESTS, env, jobs, stream)
    return not failures, failures, _margins(margins)


def _pytest(prefix, paths, env, jobs, stream):
    """Run pytest on `paths` (no cache, so every lecture executes from scratch); the names of
    the tests that failed, or the reason pytest itself failed."""
    command = [*prefix, sys.executable, "-m", "pytest", *paths, "-p", "no:cacheprovider", "-q", "-rf",
               "-n", str(jobs if jobs > 1 else 0)]
    stream.write("$ " + " ".join(command) + "\n")
    stream.flush()
    ran = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stream.write(ran.stdout)
    failed = re.findall(r"^FAILED (\S+)", ran.stdout, re.M)
    if ran.returncode != 0 and not failed:
        failed = [f"pytest {' '.join(paths)} exited {ran.returncode}"]
    return failed


def _margins(folder):
    """Every recorded comparison, closest to other words first: (margin, lecture, record)."""
    found = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.append((record["margin"], path.stem, record))
    return sorted(found, key=lambda item: item[0])


def report(name, passed, failures, margins, out):
    lines = [f"{name}: " + ("passed" if passed else "FAILED " + ", ".join(failures))]
    lines.append(f"  {(out / f'{name}.log').read_text(encoding='utf-8').splitlines()[0].split(': ', 1)[1]}")
    lines.append(f"  {len(margins)} measured comparisons chose words; the closest:")
    for margin, lecture, record in margins[:SHOWN_MARGINS]:
        lines.append(f"    x{margin:5.2f}  {lecture}: \"{record['words']}\" (ratio {record['ratio']:.3g}, "
                     f"tolerance {record['tolerance']:g})  {record['line'][:90]}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("conditions", nargs="*", help=f"of {', '.join(CONDITIONS)} (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "portability")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.conditions) - set(CONDITIONS))
    if unknown:
        parser.error(f"no condition {', '.join(unknown)}; the conditions are {', '.join(CONDITIONS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.conditions or list(CONDITIONS):
        passed, failures, margins = run_condition(name, args.out, args.jobs)
        text = report(name, passed, failures, margins, args.out)
        print(text, flush=True)
        results.append((name, passed, text))
    (args.out / "report.txt").write_text("\n".join(text for _, _, text in results) + "\n", encoding="utf-8")
    return 0 if all(passed for _, passed, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
