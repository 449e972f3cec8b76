# The one entry point. `make help` lists every target.
# Everything runs inside .venv, created here from requirements.txt on first use.

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

# bash with pipefail, so that a build piped through `tee` still fails when the build does.
SHELL := bash
.SHELLFLAGS := -o pipefail -c

.DEFAULT_GOAL := help
.PHONY: help venv notebooks html chromium test test-gpu bench screenshots serve clean environment.yml

help:  ## List every target
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

venv: $(STAMP)  ## Create .venv and install the pinned requirements (only when they changed)

# Both builds execute lectures through the same cache, so each lecture runs once.
JB_BUILD = $(BIN)/jupyter-book build $(BOOK) -W -n --keep-going

notebooks: $(STAMP)  ## Write clean .ipynb notebooks for Colab/Binder/download into _build/notebooks
	@mkdir -p $(BOOK)/_build
	$(JB_BUILD) --builder custom --custom-builder jupyter 2>&1 | tee $(BOOK)/_build/notebooks.log \
	  || { echo "Notebook build failed: the full log is in $(BOOK)/_build/notebooks.log"; exit 1; }
	$(BIN)/python scripts/make_notebooks.py $(BOOK)/_build

html: notebooks  ## Build the site into _build/html, executing lectures (cached); warnings are errors
	$(JB_BUILD) --builder html 2>&1 | tee $(BOOK)/_build/build.log \
	  || { echo "Build failed: the full log, with any cell's traceback, is in $(BOOK)/_build/build.log"; exit 1; }

chromium:  ## Install Debian's Chromium for the browser tests, if missing (apt-get, as root)
	@test -x $(CHROMIUM) || { test "$$(id -u)" = 0 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || { echo "Chromium is needed at $(CHROMIUM): run 'sudo apt-get install chromium' (Debian/Ubuntu)"; exit 1; }

test: html chromium  ## Build the site, then run the whole test suite (JOBS=2 workers)
	$(BIN)/python -m pytest -n $(JOBS)

$(GPU_STAMP): $(STAMP) requirements-gpu.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-gpu.txt
	touch $@

# The execution cache does not know which device ran a lecture, so the GPU run starts
# clean: every page is executed, and its numbers measured, on the GPU.
test-gpu: $(GPU_STAMP) chromium  ## On an NVIDIA GPU machine: CUDA JAX overlay, clean build, whole suite with REQUIRE_GPU=1
	-nvidia-smi
	$(BIN)/python -c "import jax; print('JAX', jax.__version__, 'devices:', jax.devices())"
	rm -rf _build
	$(MAKE) --no-print-directory html
	REQUIRE_GPU=1 $(BIN)/python -m pytest -n $(JOBS)

bench: $(STAMP)  ## Time every implementation over a range of sizes against the hardware's floor (_build/bench)
	$(BIN)/python scripts/bench.py --out _build/bench

screenshots: html chromium  ## Desktop (light, dark) and phone screenshots of every page in _build/screenshots
	$(BIN)/python scripts/screenshots.py _build/html _build/screenshots

serve: html  ## Preview the built site at http://localhost:8000 (PORT=...)
	$(BIN)/python -m http.server $(PORT) --directory _build/html

environment.yml: requirements.txt  ## Regenerate environment.yml and requirements-gpu.txt from requirements.txt
	$(PYTHON) scripts/sync_environment.py

clean:  ## Remove the built site and execution cache (keeps .venv)
	rm -rf _build
