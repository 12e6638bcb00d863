# Chairside: `make run` starts the clinic on this machine, `make test` runs every test.
# Both need only Python 3.11+; everything else is installed into .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Installation is redone only when the dependencies change, so later starts take seconds.
STAMP := $(VENV)/.installed
# pytest-xdist workers: one per CPU core (measured on 2 cores: 37 s against 41 s with none).
TEST_WORKERS ?= auto
ARGS ?=
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.bench-installed

.DEFAULT_GOAL := help
.PHONY: help run test bench lint format lock clean reset-data check-python

help:
	@echo "make run         start Chairside at http://127.0.0.1:$${PORT:-8000}/ (web, worker, beat)"
	@echo "make test        run the whole test suite (extra pytest options: ARGS=\"-k location\")"
	@echo "make bench       seed a clinic chain and load each key page (BENCH_ARGS=\"--scale 0.05\")"
	@echo "make lint        ruff, and the import contracts (which app may import which)"
	@echo "make format      let ruff fix the formatting"
	@echo "make lock        regenerate constraints.txt from a fresh install"
	@echo "make clean       remove caches and build leftovers (keeps .venv and .data)"
	@echo "make reset-data  delete .data: the embedded database, queue and mail (asks no questions)"

check-python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "Chairside needs Python 3.11 or newer, but '$(PYTHON)' was not found."; \
	  echo "Install Python 3.11+, or name it: make run PYTHON=/path/to/python3.12"; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Chairside needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "Install Python 3.11+, or name it: make run PYTHON=/path/to/python3.12"; \
	  exit 1; }

$(BIN)/python: | check-python
	@echo "Creating the virtual environment in $(VENV) ..."
	@$(PYTHON) -m venv $(VENV) || { \
	  rm -rf $(VENV); \
	  echo "Could not create $(VENV). On Debian or Ubuntu install the venv module first:"; \
	  echo "  sudo apt install python3-venv"; \
	  exit 1; }

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	@echo "Installing Chairside and its dependencies into $(VENV) (first time: a few minutes) ..."
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m clinic.launcher

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(ARGS)

# The benchmark's own tools (Locust) come from the "bench" extra, installed on first use.
$(BENCH_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .

# Resolve the newest versions pyproject.toml allows in a throwaway environment, and pin
# exactly what got installed; the project itself is left out.
lock: | check-python
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet -e ".[dev,bench]"; \
	{ echo "# Exact versions of every dependency, tested by CI. Regenerate with: make lock"; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable --exclude chairside; \
	} > constraints.txt
	@echo "constraints.txt updated; the next make run or make test installs these versions."

clean:
	rm -rf .pytest_cache .ruff_cache staticfiles test-artifacts *.egg-info build dist
	find . -path ./$(VENV) -prune -o -path ./.data -prune -o -name __pycache__ -type d -print \
	  | xargs rm -rf

reset-data:
	rm -rf .data
