# Every target bootstraps .venv itself, so a fresh machine needs only Python 3.11+ and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAB_ARGS ?=
JOBS ?= 2
SUBMISSIONS ?= submissions
OUT ?= graded
# nbgrader runs `alembic` from PATH: put the venv's bin/ first for every recipe.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install warmup lab test release release-check grade bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; run: make PYTHON=python3.11 ...")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Compile (or load from Numba's on-disk cache) every dlkit kernel once, before notebooks start.
warmup: $(STAMP)
	$(BIN)/python -m dlkit.kernels.warmup

lab: warmup
	$(BIN)/python -m autograde student-lab --quiet
	cd course && ../$(BIN)/jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

# One BLAS (and dlkit) thread per test process: JOBS processes already share the cores.
test: warmup
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 DLKIT_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS)

release: $(STAMP)
	$(BIN)/python -m autograde release

release-check: $(STAMP)
	$(BIN)/python -m autograde release --check

grade: warmup
	$(BIN)/python -m autograde grade --submissions $(SUBMISSIONS) --out $(OUT) --jobs $(JOBS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
