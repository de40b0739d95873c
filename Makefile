# hedgemesh — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime-installed
# Benchmarks measure one core: no hidden thread pools.
ONE_CORE := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 VECLIB_MAXIMUM_THREADS=1

.PHONY: help install up test lint format schema bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hedgemesh needs Python 3.11+, found " + sys.version.split()[0] + " (set PYTHON=python3.12)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e '.[test,ml]'
	@touch $@

# `make up` needs only what the desk runs on, not the test toolchain.
$(RUNTIME): pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e .
	@touch $@

install: $(STAMP) ## Create .venv and install hedgemesh with its test tools and PyTorch (CPU)
	@echo "installed: $(VENV)/bin/hedgemesh"

up: $(RUNTIME) ## Run the cluster on embedded defaults (runtime dependencies only); Ctrl-C stops it
	$(VENV)/bin/hedgemesh up

test: $(STAMP) ## Lint, type-check the libraries, check the wire schemas, run the whole suite
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs
	$(PY) -m hedgemesh.wire.schema --check
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check, mypy on the libraries
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs

format: $(STAMP) ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schema: $(STAMP) ## Regenerate the checked-in JSON Schemas of the wire messages
	$(PY) -m hedgemesh.wire.schema

$(VENV)/.bench-installed: $(STAMP)
	$(PIP) install --quiet -e '.[test,ml,bench]'
	@touch $@

bench: $(VENV)/.bench-installed ## Benchmarks on one core, figures as ratios against baselines of the same run
	$(ONE_CORE) $(PY) bench/run.py $(BENCH_ARGS)

clean: ## Remove the virtualenv, caches and local state (var/)
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
