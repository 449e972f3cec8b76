# The one entry point. `make help` lists every target.
# Everything runs inside .venv, created here from requirements.txt on first use, with the
# site's tooling (the booktools package: pyproject.toml) installed into it, editable.

# Interpreter used to create .venv (the pins are for Python 3.11).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install; older than requirements.txt means reinstall.
STAMP := $(VENV)/.installed-requirements
GPU_STAMP := $(VENV)/.installed-requirements-gpu
# Book to build; the tests point it at small fixture books.
BOOK ?= .
# Debian's Chromium, driven by the browser tests and `make screenshots`.
CHROMIUM ?= /usr/bin/chromium
# pytest-xdist workers (this project's machines have 2 cores).
JOBS ?= 2
PORT ?= 8000
# The course's seed for the exercises' variants (booktools/variants.py): the same for
# `make assignments` and `make grade`; exported, as the Python they run reads it.
export VARIANT_SEED
# The student edition's sources and site, and the assignments: the same folders as
# booktools/layout.py names (tests/test_config.py checks that they agree).
STUDENT_BOOK := _build/student-book
STUDENT := _build/student
ASSIGNMENTS := _build/assignments
# Where `make pdf` puts each page's PDF in the site (the book's goes to its root).
SITE_PDFS := _build/html/pdf
# Debian/Ubuntu packages `make pdf` needs (Jupyter Book's LaTeX builder runs XeLaTeX).
TEX_PACKAGES := latexmk texlive-xetex texlive-latex-recommended texlive-latex-extra \
  texlive-fonts-recommended tex-gyre fonts-freefont-otf

# Install Debian packages with apt-get, only when running as root (else fail, and the
# caller prints what to install). One at a time (flock): `make test` may ask for TeX and
# Chromium at once, and two apt-gets fail on each other's lock.
apt_install = { test "$$(id -u)" = 0 && flock /tmp/booktools-apt.lock sh -c \
  'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1)'; }

# bash with pipefail, so that a build piped through `tee` still fails when the build does.
SHELL := bash
.SHELLFLAGS := -o pipefail -c

.DEFAULT_GOAL := help
.PHONY: help venv check lecture-outputs require-gpu notebooks html student assignments grade sandbox latex pdf chromium test test-gpu portability release bench mutation mutation-helpers mutation-lectures screenshots serve clean environment.yml

help:  ## List every target
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# uv installs the pins (the same packages pip would, several times faster); pip installs
# only uv itself, at the version requirements.txt pins. --compile-bytecode: where Python
# writes no bytecode (PYTHONDONTWRITEBYTECODE, set on this project's machines) every
# kernel would compile every module it imports again (make test: 399 s against 341 s).
UV_PIN = $(shell grep -oE '^uv==[^ ]+' requirements.txt)
UV_INSTALL = $(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(UV_PIN)
	$(UV_INSTALL) -r requirements.txt -e .
	touch $@

venv: $(STAMP)  ## Create .venv, install the pinned requirements and the booktools package (only when they changed)

# Everything but execution: the linter, then the tests that need no build (unit, source,
# config and workflow tests). The edit loop's check; `make test` is the full suite.
check: $(STAMP)  ## Fast check for the edit loop (nothing executed or built): ruff, then the tests that need no build
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests -m "not needs_build and not slow" -n $(JOBS) -q

# Both builds execute lectures through the same cache, so each lecture runs once.
JB_BUILD = $(BIN)/jupyter-book build $(BOOK) -W -n --keep-going

# REQUIRE_GPU=1 (the GPU job): stop before any build unless JAX sees a GPU, naming what it sees.
require-gpu: $(STAMP)  ## With REQUIRE_GPU=1, fail at once unless JAX computes on a GPU (make test runs it first)
	@test "$(REQUIRE_GPU)" != 1 || $(BIN)/python -m booktools.require_gpu

notebooks: $(STAMP) require-gpu  ## Write clean .ipynb notebooks for Colab/Binder/download into _build/notebooks
	@mkdir -p $(BOOK)/_build
	$(JB_BUILD) --builder custom --custom-builder jupyter 2>&1 | tee $(BOOK)/_build/notebooks.log \
	  || { echo "Notebook build failed: the full log is in $(BOOK)/_build/notebooks.log"; exit 1; }
	@# This build reads the sources first (the html build reuses what it read), and it exits 0
	@# on warnings despite -W: a warning in its log fails here.
	@! grep -aE '(^|m|: )(WARNING|ERROR|CRITICAL): ' $(BOOK)/_build/notebooks.log \
	  || { echo "Notebook build failed: Sphinx warned (above; warnings are errors), see $(BOOK)/_build/notebooks.log"; exit 1; }
	$(BIN)/python -m booktools.notebooks $(BOOK)/_build

html: notebooks  ## Build the site into _build/html, executing lectures (cached); warnings are errors
	$(JB_BUILD) --builder html 2>&1 | tee $(BOOK)/_build/build.log \
	  || { echo "Build failed: the full log, with any cell's traceback, is in $(BOOK)/_build/build.log"; exit 1; }

# The student pages reuse the outputs of the full build (`html`): nothing is executed again,
# and the build fails if it were.
student: html  ## Student edition, solutions removed: _build/student/html (site) and _build/student/notebooks
	$(BIN)/python -m booktools.student $(STUDENT_BOOK)
	$(MAKE) --no-print-directory html BOOK=$(STUDENT_BOOK)
	$(BIN)/python -m booktools.student --verify $(STUDENT_BOOK)
	rm -rf $(STUDENT) && mkdir -p $(STUDENT)
	cp -r $(STUDENT_BOOK)/_build/html $(STUDENT_BOOK)/_build/notebooks $(STUDENT)/

# ROSTER=ids.csv: each student also gets _build/assignments/<lecture>/<id>.zip, with their own
# values of the exercises' variants (booktools/variants.py), drawn with VARIANT_SEED (set it
# to the same value for make assignments and make grade; a new one each term).
# EXTRA=dir: your own exercises, dir/<lecture>.md in the lectures' format, added to the
# assignments (never to the site); grade with the same EXTRA.
assignments: student  ## Per lecture: a zip for students (notebook + README) and an Otter autograder zip, in _build/assignments [ROSTER=ids.csv] [VARIANT_SEED=...] [EXTRA=dir]
	EXTRA_EXERCISES="$(EXTRA)" $(BIN)/python -m booktools.assignments $(STUDENT)/notebooks $(ASSIGNMENTS) $(if $(ROSTER),--roster "$(ROSTER)")

# Grades returned assignments, each in a sandbox (booktools/sandbox.py: bubblewrap, installed
# here as root). NOTEBOOK=one.ipynb prints its points per question and writes its result as
# JSON (OUT=..., default beside it); SUBMISSIONS=folder-or.zip grades a class, JOBS at a
# time, into OUT (default SUBMISSIONS-graded): gradebook.csv, and per student a JSON result
# and a feedback text; unchanged submissions are not graded again. ROSTER=ids.csv gives
# students who handed nothing in a row; OUT/overrides.csv (student,question,points,reason),
# or OVERRIDES=file, changes points and survives regrading; OTHER_CHECKS=1 grades notebooks
# handed out with other checks than the lectures have now (refused otherwise). The parts
# marked by hand are listed in OUT/to-mark.csv; filled in and saved as OUT/marks.csv (or
# MARKS=file), the marks are added on every run. With ROSTER,
# each notebook is graded against its student's own values (VARIANT_SEED as for assignments).
grade: $(STAMP) sandbox  ## Grade in a sandbox: make grade NOTEBOOK=one.ipynb, or SUBMISSIONS=folder-or.zip [JOBS=2] [OUT=...] [LECTURE=numba] [ROSTER=ids.csv] [OVERRIDES=...] [MARKS=...] [EXTRA=dir] [OTHER_CHECKS=1]
	@test -n "$(NOTEBOOK)$(SUBMISSIONS)" || { echo "usage: make grade NOTEBOOK=path.ipynb | SUBMISSIONS=folder-or.zip [JOBS=2] [LECTURE=name] [OUT=...] [ROSTER=ids.csv] [OVERRIDES=file.csv] [OTHER_CHECKS=1]"; exit 1; }
	$(if $(NOTEBOOK),EXTRA_EXERCISES="$(EXTRA)" $(BIN)/python -m booktools.grading "$(NOTEBOOK)" $(if $(LECTURE),--lecture $(LECTURE)) $(if $(OUT),--out "$(OUT)") $(if $(OTHER_CHECKS),--other-checks),\
	  EXTRA_EXERCISES="$(EXTRA)" $(BIN)/python -m booktools.gradebook "$(SUBMISSIONS)" --jobs $(JOBS) $(if $(LECTURE),--lecture $(LECTURE)) $(if $(OUT),--out "$(OUT)") \
	    $(if $(ROSTER),--roster "$(ROSTER)") $(if $(OVERRIDES),--overrides "$(OVERRIDES)") $(if $(MARKS),--marks "$(MARKS)") $(if $(OTHER_CHECKS),--other-checks))

sandbox:  ## Install bubblewrap, the grader's sandbox, if missing (apt-get, as root)
	@command -v bwrap >/dev/null || $(call apt_install,bubblewrap) \
	  || echo "bubblewrap not installed (run 'sudo apt-get install bubblewrap'): grading runs unsandboxed, and says so in every result"

latex:  ## Install the TeX packages `make pdf` needs, if missing (apt-get, as root)
	@{ command -v latexmk && command -v xelatex && fc-list | grep -q FreeSerif \
	  && kpsewhich fncychap.sty tgtermes.sty; } >/dev/null 2>&1 \
	  || $(call apt_install,--no-install-recommends $(TEX_PACKAGES)) \
	  || { echo "make pdf needs TeX: run 'sudo apt-get install $(TEX_PACKAGES)' (Debian/Ubuntu)"; exit 1; }

# --individualpages: book.pdf, and beside it one PDF per page (numpy.pdf, ...). Both are
# copied into the built site, where every page's download menu links them. After `html`,
# whose executed lectures it reads from the cache: it executes nothing itself. Sphinx then
# runs `make all-pdf`, one LaTeX run per PDF: MAKEFLAGS lets it run $(JOBS) at a time.
pdf: html latex  ## The book as one PDF, _build/latex/book.pdf, and one per page (executes lectures, cached)
	@mkdir -p $(BOOK)/_build
	@echo "Building the PDFs: LaTeX's output goes to $(BOOK)/_build/pdf.log"
	MAKEFLAGS=-j$(JOBS) $(JB_BUILD) --builder pdflatex --individualpages > $(BOOK)/_build/pdf.log 2>&1 \
	  || { tail -n 40 $(BOOK)/_build/pdf.log; echo "PDF build failed: the full log is in $(BOOK)/_build/pdf.log, LaTeX's in $(BOOK)/_build/latex/book.log"; exit 1; }
	mkdir -p $(SITE_PDFS)
	cp _build/latex/book.pdf _build/html/book.pdf
	cd _build/latex && cp $$(ls *.pdf | grep -v '^book.pdf$$') ../../$(SITE_PDFS)/

chromium:  ## Install Debian's Chromium for the browser tests, if missing (apt-get, as root)
	@test -x $(CHROMIUM) || $(call apt_install,chromium) \
	  || { echo "Chromium is needed at $(CHROMIUM): run 'sudo apt-get install chromium' (Debian/Ubuntu)"; exit 1; }

# `make test` alone runs $(JOBS) jobs at a time: the lectures still execute once, with nothing
# beside them (their timings are published), then the student edition builds beside the
# PDF (whose LaTeX output goes to its log, so the two do not interleave on the screen).
ifeq ($(MAKECMDGOALS),test)
MAKEFLAGS += -j$(JOBS)
endif

test: html student assignments pdf chromium sandbox  ## Build site, student edition, assignments and PDF, then run the whole suite
	$(BIN)/python -m pytest -n $(JOBS) --durations=10

# Not part of `make test` (about an hour on 2 cores): the lectures and the grader's classes
# under other machines' conditions (booktools/portability.py). CONDITIONS=one-core limits it.
portability: assignments sandbox  ## Lectures and grading under one core, no SIMD, a generic CPU, 8 JAX devices: _build/portability/report.txt
	$(BIN)/python -m booktools.portability $(CONDITIONS) --jobs $(JOBS)

# The release workflow runs this after `make test` on a version tag, with SITE_VERSION=TAG.
release: $(STAMP)  ## Files for a GitHub release from what `make test` built: make release TAG=v1.2.0 (_build/release)
	@test -n "$(TAG)" || { echo "usage: make release TAG=v1.2.0"; exit 1; }
	$(BIN)/python -m booktools.release $(TAG) _build/release

$(GPU_STAMP): $(STAMP) requirements-gpu.txt
	$(UV_INSTALL) -r requirements-gpu.txt
	touch $@

# The execution cache does not know which device ran a lecture, so the GPU run starts
# clean: every page is executed, and its numbers measured, on the GPU.
test-gpu: $(GPU_STAMP) chromium latex  ## On an NVIDIA GPU machine: CUDA JAX overlay, clean build, whole suite with REQUIRE_GPU=1
	-nvidia-smi
	$(BIN)/python -c "import jax; print('JAX', jax.__version__, 'devices:', jax.devices())"
	rm -rf _build
	$(MAKE) --no-print-directory html student assignments pdf
	REQUIRE_GPU=1 $(BIN)/python -m pytest -n $(JOBS)

# From lectures/, where `python -m` finds the lecture helpers the benchmarks import.
bench: $(STAMP)  ## Time every implementation over a range of sizes, against reference kernels (_build/bench)
	cd lectures && ../$(BIN)/python -m booktools.bench --out ../_build/bench

# mutmut copies the site to mutants/, plants one bug at a time in the lecture helpers and
# benchmarks (pyproject.toml says which, and which tests run), and records what survives.
mutation: $(STAMP)  ## Mutation testing of the helpers (mutmut) and of the lectures' code cells (slow; resumable): _build/mutation/
	$(MAKE) mutation-helpers; helpers=$$?; $(MAKE) mutation-lectures; lectures=$$?; \
	  cat _build/mutation/report.txt _build/mutation/lectures-report.txt; exit $$((helpers || lectures))

mutation-helpers: $(STAMP)  ## Mutants of lecture_tools.py and benchmarks.py (mutmut), the tests once per mutant: _build/mutation/report.txt
	rm -rf mutants
	# Numba's default OpenMP threading layer aborts a process that forks after using it;
	# mutmut forks a process for every mutant.
	NUMBA_THREADING_LAYER=workqueue $(BIN)/mutmut run --max-children $(JOBS)
	$(BIN)/python -m booktools.mutation_report _build/mutation

# LECTURES=numpy limits it to one lecture; FRESH=1 forgets earlier results.
mutation-lectures: $(STAMP)  ## Mutants of every lecture's visible code cells, the lecture's nbval test once per mutant: _build/mutation/lectures-report.txt
	$(BIN)/python -m booktools.lecture_mutation $(LECTURES) --jobs $(JOBS) $(if $(FRESH),--fresh) --out _build/mutation

lecture-outputs: $(STAMP)  ## Record what the cells tagged nbval-check-output print (tests/lecture-outputs/), then read the diff [LECTURES=numpy ...]
	$(BIN)/python -m booktools.lecture_outputs $(LECTURES)

screenshots: html chromium  ## Desktop (light, dark) and phone screenshots of every page in _build/screenshots
	$(BIN)/python -m booktools.screenshots _build/html _build/screenshots

serve: html  ## Preview the built site at http://localhost:8000 (PORT=...)
	$(BIN)/python -m http.server $(PORT) --directory _build/html

environment.yml: $(STAMP)  ## Regenerate environment.yml and requirements-gpu.txt from requirements.txt
	$(BIN)/python -m booktools.environment

clean:  ## Remove the built site and execution cache (keeps .venv)
	rm -rf _build mutants
