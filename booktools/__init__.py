"""The site's tooling: everything that builds, packages and checks the book, in one package.

`make venv` installs it (editable) into .venv; the Makefile runs its modules with
`python -m booktools.<module>`, Sphinx loads its extensions by module path (_config.yml),
and the tests import it like any other package.

    book          the one reader of _config.yml and _toc.yml: pages, lectures, URLs, branches
    requirements  the one reader of requirements.txt: pins and the Python version
    layout        where the builds put things under _build/
    environment   writes environment.yml and requirements-gpu.txt from requirements.txt
    notebooks     finishes the Colab/Binder notebooks (setup cells, helper modules)
    student       the student edition: solutions removed, outputs reused, not re-executed
    assignments   one zip per lecture for a course platform
    grading       `make grade`: one returned notebook, question by question
    gradebook     `make grade SUBMISSIONS=`: a class's notebooks, into gradebook.csv
    sandbox       the student's kernel, in bubblewrap with its own user and limits
    remote        what crosses between that kernel and the grader (plain data only)
    tampering     flags code that changes what answers run on
    browser       serves the built site and drives Chromium (tests, screenshots)
    reading       the rule for a lecture's stated times, and its main path in words
    lecture_source  a reader of the lecture format: cells, where they stand, exercises
    screenshots   desktop and phone screenshots of every page
    bench         `make bench`: the benchmark sweep over lectures/benchmarks.py
    mutation_report  `make mutation`'s verdict
    lecture_mutation `make mutation-lectures`: mutants of the lectures' own code cells
    stopwatch     finds checks that decide by a duration, a speed ratio or a core count
    portability   `make portability`: lectures and grading under other machines' conditions
    require_gpu   REQUIRE_GPU=1: fail at once unless JAX computes on a GPU
    pytest_lectures  the pytest plugin that runs every lecture, cell by cell, under nbval
    extensions/   the Sphinx extensions named in _config.yml

The lecture helpers (lectures/lecture_tools.py, lectures/benchmarks.py) are not here: they
sit beside the lectures, and the notebooks carry them.
"""
