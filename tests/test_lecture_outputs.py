"""Recorded outputs (booktools/lecture_outputs.py): a cell tagged `nbval-check-output` fails
when it prints something else than what was recorded for it, in the suite and in a mutant;
a tagged cell with nothing recorded fails by name; the recordings are those of the lectures'
tagged cells as they are now."""
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jupytext
import pytest
from toy_lectures import toy_lecture

from booktools import lecture_mutation, lecture_outputs
from booktools.book import ROOT, lectures
from lecture_tools import machine_summary

TOY = toy_lecture(textwrap.dedent("""\
    # A toy lecture

    ```{code-cell} ipython3
    values = [3, 1, 2]
    ```

    ```{code-cell} ipython3
    :tags: [nbval-check-output]
    print(sorted(values), len(values))
    max(values)
    ```

    ```{code-cell} ipython3
    print("not compared: a timing, say")
    ```
    """))


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "toy.md").write_text(TOY, encoding="utf-8")
    shutil.copy(ROOT / "pytest.ini", tmp_path / "pytest.ini")
    return tmp_path


def test_a_tagged_cell_with_no_recorded_output_fails_naming_its_lecture_and_cell(toy):
    with pytest.raises(lecture_outputs.MissingOutput, match=r"lectures/toy\.md: the cell tagged "
                       r"nbval-check-output that starts 'print\(sorted\(values\), len\(values\)\)' "
                       r"\(tagged cell 1 of 1\).*make lecture-outputs"):
        lecture_outputs.with_recorded_outputs(jupytext.read(toy / "lectures" / "toy.md"), "toy", toy)


def test_the_recorded_outputs_go_into_the_tagged_cells_only_also_in_a_mutant(toy):
    path = lecture_outputs.path("toy", toy)
    path.parent.mkdir(parents=True)
    output = {"output_type": "stream", "name": "stdout", "text": ["[1, 2, 3] 3\n"]}
    path.write_text(json.dumps([{"source": [], "outputs": [output]}]), encoding="utf-8")
    notebook = lecture_outputs.with_recorded_outputs(jupytext.read(toy / "lectures" / "toy.md"), "toy", toy)
    assert [cell.outputs for cell in notebook.cells if cell.cell_type == "code"] == [
        [], [{"output_type": "stream", "name": "stdout", "text": "[1, 2, 3] 3\n"}], []]
    # A mutant of the tagged cell is run with the same recorded output to compare.
    mutant = next(m for m in lecture_mutation.lecture_mutants("toy", toy) if m.cell == 1)
    cells = [c for c in lecture_mutation.mutated_notebook(mutant, toy).cells if c.cell_type == "code"]
    tagged = [c for c in cells if lecture_outputs.TAG in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].outputs[0]["text"] == "[1, 2, 3] 3\n"
    assert mutant.after in tagged[0].source


def test_durations_are_neither_recorded_nor_compared_but_the_words_around_them_are():
    assert lecture_outputs.sanitized("qm: first call 812 µs; best of 3 warm calls 9.4 ms, 2.31 s, 1.2e+03 s, 5 ns") \
        == ("qm: first call <duration>; best of 3 warm calls <duration>, <duration>, <duration>, <duration>")
    assert lecture_outputs.sanitized("3 steps, 10 ms2, 4 sums") == "3 steps, 10 ms2, 4 sums"
    # A column padded to the duration's width: the padding goes with it.
    assert lecture_outputs.sanitized("A @ A   812 µs,  x") == lecture_outputs.sanitized("A @ A  1.25 ms,  x") \
        == "A @ A <duration>,  x"
    # The numpy lecture's machine-dependent count and measured ratio; a negative ratio shows.
    assert lecture_outputs.sanitized("BLAS threads available: 16") == "BLAS threads available: <count>" \
        == lecture_outputs.sanitized("BLAS threads available: None")
    # Inside the limit, the 1 is compared; a machine whose BLAS pool cannot be seen prints None.
    assert lecture_outputs.sanitized("BLAS threads inside the block: None\nA @ A 1.2 ms\n") \
        == lecture_outputs.sanitized("BLAS threads inside the block: 1\nA @ A 3.4 ms\n") \
        != lecture_outputs.sanitized("BLAS threads inside the block: 2\n")
    assert lecture_outputs.sanitized("np.exp: 0.98 seconds of CPU per second of wall time") \
        == "np.exp: <ratio> seconds of CPU per second of wall time"
    assert "-0.98" in lecture_outputs.sanitized("np.exp: -0.98 seconds of CPU per second of wall time")
    # IPython's %timeit writes a Greek mu, and warns of a wide spread on a busy machine only.
    timeit = "3.1 ms \u00b1 207 \u03bcs per loop (mean \u00b1 std. dev. of 5 runs, 3 loops each)\n"
    assert lecture_outputs.sanitized(timeit) == lecture_outputs.sanitized(
        "The slowest run took 4.56 times longer than the fastest. This could mean that an intermediate "
        "result is being cached.\n" + timeit.replace("207", "15.2")) \
        == " <duration> \u00b1 <duration> per loop (mean \u00b1 std. dev. of 5 runs, 3 loops each)\n"
    # A rate, in whichever unit fmt_bytes chose for its size.
    assert lecture_outputs.sanitized("copies 12.3 GB/s, reads 950 MB/s, 1e+03 MB/s; 4 GB") \
        == "copies <rate>, reads <rate>, <rate>; 4 GB"
    # The scaling exercises' figures from this machine's sweep: the sizes and names stay.
    assert lecture_outputs.sanitized("n =   100:   40.1 bytes per point =  5.0 float64 arrays of n\u00b2") \
        == "n =   100: <bytes> bytes per point = <arrays> float64 arrays of n\u00b2"
    assert lecture_outputs.sanitized("Numba serial                 b =  1.97\nJAX scan b = -0.03") \
        == "Numba serial                 b = <exponent>\nJAX scan b = <exponent>"
    # The scaling lecture's summary table: its header is compared, its rows (this machine's,
    # as many as were measured) become one line; a missing table or header still shows.
    header = "problem   implementation          dtype   device           n      best first call    memory  x ref\n"
    rows = ("max_of_f  NumPy meshgrid          float64 cpu            100    112 \u00b5s     -       391 kB    2.1\n"
            "logistic  JAX scan                float64 gpu      1,000,000    1.4 ms    210 ms    7.6 MB      -\n")
    assert lecture_outputs.sanitized(header + rows) == lecture_outputs.sanitized(header + rows[:rows.index("\n") + 1]) \
        == header + "<one row per measurement>"
    assert lecture_outputs.sanitized(rows) != lecture_outputs.sanitized(header + rows)
    assert lecture_outputs.sanitized("max_of_f is the problem\n") == "max_of_f is the problem\n"
    # The sequential lecture's page faults: the system's choice, or None where it counts none.
    assert lecture_outputs.sanitized("; new pages in one call of qm: 19533") \
        == lecture_outputs.sanitized("; new pages in one call of qm: None") == "; new pages in one call of qm: <count>"
    # The machine a lecture ran on (machine_summary, as every lecture prints it): the words
    # stay, the machine's own figures and names go; the same with or without Numba.
    import jax
    import numba  # noqa: F401  (machine_summary names the libraries imported)
    machine = "CPU: {}, {} logical cores; Numba uses {} threads\nJAX {}: default backend {!r}, device {}"
    assert lecture_outputs.sanitized(machine_summary()) \
        == lecture_outputs.sanitized(machine.format("aarch64", 64, 16, "0.4.38", "gpu", "NVIDIA H100 80GB HBM3")) \
        == ("CPU: <architecture>, <count> logical cores; Numba uses <count> threads\n"
            "JAX <version>: default backend <backend>, device <device>")
    assert lecture_outputs.sanitized(f"CPU: x86_64, 2 logical cores\nJAX {jax.__version__}: default backend "
                                     "'cpu', device cpu") \
        == "CPU: <architecture>, <count> logical cores\nJAX <version>: default backend <backend>, device <device>"
    # NumPy's peak temporaries: the size goes, the label and the meshes' size stay.
    assert lecture_outputs.sanitized("meshes: 16 MB\npeak temporaries during one call: 40 MB\n") \
        == lecture_outputs.sanitized("meshes: 16 MB\npeak temporaries during one call: 32.1 MB\n") \
        == "meshes: 16 MB\npeak temporaries during one call: <bytes>\n"
    # What XLA made of a loop: the backend's operations go, the lines and their words stay.
    loop = ("each step runs:     {}\nthen the condition: {}\nthe whole loop compiled into one function: {}\n")
    assert lecture_outputs.sanitized(loop.format("fusion, copy", "compare", True)) \
        == lecture_outputs.sanitized(loop.format("custom-call", "fusion.2", False)) \
        == loop.format("<operations>", "<operations>", "<True or False>")
    assert "<operations>" not in lecture_outputs.sanitized("each step runs:    \n")
    on = "<class 'jaxlib._jax.ArrayImpl'> {{{}(id=0)}}"
    assert lecture_outputs.sanitized(on.format("CpuDevice")) == lecture_outputs.sanitized(on.format("CudaDevice")) \
        == "<class 'jaxlib._jax.ArrayImpl'> {<device>}"
    # The sequential lecture's scan: the probe's exponent, the chosen length and device go.
    scan = ("cost grew like n^{} from 2,000 to 20,000 steps\n"
            "{} steps on {}: qm_jax: first call 3.1 ms{}; best of 5 warm calls 1.2 ms\n")
    assert lecture_outputs.sanitized(scan.format("1.02", "1,000,000", "CPU", " (includes compilation)")) \
        == lecture_outputs.sanitized(scan.format("-0.10", "20,000", "the host CPU", "")) \
        == lecture_outputs.sanitized(scan.format("2.31", "50,000", "GPU", " (includes compilation)")) \
        == ("cost grew like n^<exponent> from 2,000 to 20,000 steps\n"
            "<count> steps on <device>: qm_jax: first call <duration>; best of 5 warm calls <duration>\n")
    assert lecture_outputs.sanitized("first step where the two series differ by more than 0.1: t = 23") \
        == "first step where the two series differ by more than 0.1: t = <step>"
    agree = "identical to the Numba series for the first {} of 61 values"
    assert lecture_outputs.sanitized(agree.format(61)) == lecture_outputs.sanitized(agree.format(37)) \
        == agree.format("<count>")
    # The path-count table: an accelerator's extra row goes, every other row stays.
    table = "   10 paths: Numba 1.2 ms   JAX 3.4 ms\n100,000 paths: Numba 12.3 ms   JAX 1.23 s\n"
    assert lecture_outputs.sanitized(table + "1,000,000 paths: Numba 123 ms   JAX 4.56 s\n") \
        == lecture_outputs.sanitized(table) \
        == "   10 paths: Numba <duration>   JAX <duration>\n100,000 paths: Numba <duration>   JAX <duration>\n"
    assert lecture_outputs.sanitized("10,000,000 paths: Numba 1 s   JAX 2 s\n") != ""
    # The sequential summary: the JAX rows' device and the largest path count go; Numba's rows,
    # always on the CPU, keep theirs.
    summary = ("  qm_jax ({0}, float64)                   1.2 ms\n  qm_paths_numba (CPU, float64)    3 ms\n"
               "{1} path(s) of 1,000 steps, per step of one path:\n  qm_paths_jax ({0}, float64)   4 ns\n")
    assert lecture_outputs.sanitized(summary.format("CPU", "100,000")) \
        == lecture_outputs.sanitized(summary.format("GPU", "1,000,000")) \
        == ("  qm_jax (<device>, float64) <duration>\n  qm_paths_numba (CPU, float64) <duration>\n"
            "<the most paths> path(s) of 1,000 steps, per step of one path:\n"
            "  qm_paths_jax (<device>, float64) <duration>\n")
    assert "GPU" in lecture_outputs.sanitized("  qm_paths_numba (GPU, float64)  3 ms\n")
    # ... and the memory XLA plans for the exercise's two scans: the sizes go, the names stay.
    planned = "memory planned: qm_mean {}, qm_jax {}\n"
    assert lecture_outputs.sanitized(planned.format("48 bytes", "800 kB")) \
        == lecture_outputs.sanitized(planned.format("1.02 kB", "1.6 MB")) == planned.format("<bytes>", "<bytes>")
    # beyond_one_device's devices and their shards: the machine's names and counts go, the
    # words and each line's shape stay; a name that is not a device's stays too.
    pool = "{} devices: {}; {} CPU cores\n"
    assert lecture_outputs.sanitized(pool.format(4, "cpu:0, cpu:1, cpu:2, cpu:3", 2)) \
        == lecture_outputs.sanitized(pool.format(2, "cuda:0, cuda:1", 64)) \
        == pool.format("<count>", "<devices>", "<count>")
    assert "glue_md" in lecture_outputs.sanitized(pool.format(2, "<function glue_md at 0x7f>, cpu:1", 2))
    assert lecture_outputs.sanitized("cpu:0: x[0:500]\ncpu:1: x[500:1000]\ncpu:2: x[1000:1500]\n") \
        == lecture_outputs.sanitized("cuda:0: x[0:1000]\ncuda:1: x[1000:2000]\n") \
        == "<device>: x[<start>:<stop>], one line per device\n"
    # ... its timings by how many devices their input is on (one stays one), and one CPU
    # device's plans, which a GPU does not have: a line whose plans went missing still shows.
    timed = "on {} devices, max_f: first call 3 ms; best of 5 warm calls 1 ms\n"
    assert lecture_outputs.sanitized(timed.format(4)) == lecture_outputs.sanitized(timed.format(2)) \
        == "on <count> devices, max_f: first call <duration>; best of 5 warm calls <duration>\n"
    assert lecture_outputs.sanitized("on 1 device, max_f: 3 ms") == "on 1 device, max_f: <duration>"
    plans = "plans on one {} device, parts per fused operation: {}\n"
    assert lecture_outputs.sanitized(plans.format("CPU", "{'max_f': [4, 1], 'final_values': [1]}")) \
        == lecture_outputs.sanitized(plans.format("GPU", "{}")) == plans.format("<device>", "<plans>")
    assert lecture_outputs.sanitized(plans.format("CPU", "").rstrip()) == plans.format("CPU", "").rstrip()
    # Random estimates: the digits go, the sign of a wrong one shows.
    assert lecture_outputs.sanitized("estimate: 3.1418") == lecture_outputs.sanitized("estimate: 3.1395")
    assert lecture_outputs.sanitized("estimate: -0.0") == "estimate: -0.0"
    assert lecture_outputs.sanitized("sample variance 5.271, theory 5.263") == "sample variance <random>, theory 5.263"


@pytest.mark.slow
def test_a_tagged_cell_that_prints_something_else_fails_its_lecture(toy):
    """Recorded, the toy lecture passes; with one number changed in the tagged cell, that
    cell fails, showing both outputs; the untagged cell's output is never compared."""
    assert lecture_outputs.record("toy", toy) == 1
    recorded = json.loads(lecture_outputs.path("toy", toy).read_text(encoding="utf-8"))
    assert [o.get("text") or o["data"]["text/plain"] for o in recorded[0]["outputs"]] == [["[1, 2, 3] 3\n"], ["3"]]

    def run():
        return subprocess.run([sys.executable, "-m", "pytest", "lectures/toy.md", "-q", "-n", "0",
                               "-p", "no:cacheprovider"], cwd=toy, capture_output=True, text=True)

    passed = run()
    assert passed.returncode == 0, passed.stdout[-2000:]
    lecture = toy / "lectures" / "toy.md"
    lecture.write_text(TOY.replace("values = [3, 1, 2]", "values = [3, 1, 2, 0]")
                          .replace("not compared: a timing", "something else"), encoding="utf-8")
    failed = run()
    assert failed.returncode == 1
    summary = failed.stdout.split("short test summary")[-1]
    assert "FAILED lectures/toy.md::Cell 1" in summary and "Cell 2" not in summary
    assert "Cell outputs differ" in failed.stdout and "[0, 1, 2, 3] 4" in failed.stdout


@pytest.mark.parametrize("name", [Path(lecture).name for lecture in lectures()])
def test_each_lectures_recorded_outputs_are_those_of_its_tagged_cells_as_they_are_now(name):
    """One recording per tagged cell, with that cell's source: a tagged cell edited, added or
    removed without recording again (`make lecture-outputs`) fails here, before any run."""
    cells = lecture_outputs.tagged(jupytext.read(ROOT / "lectures" / f"{name}.md"))
    path = lecture_outputs.path(name)
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    assert [entry["source"] for entry in recorded] == [cell.source.splitlines() for cell in cells], \
        f"{name}: record the tagged cells' outputs again (make lecture-outputs LECTURES={name}) and read the diff"
    for cell, entry in zip(cells, recorded):
        assert entry["outputs"], f"{name}: a tagged cell that prints nothing: {cell.source[:60]!r}"
