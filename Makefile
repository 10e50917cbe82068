# Two commands on a fresh machine: `make demo` and `make test`. Everything else is plumbing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo lint format clean

## setup: create .venv, install the project with its dev extra, fetch and cache the jars
setup: $(STAMP)
	$(BIN)/txn-platform fetch

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.version_info[:2] == (3, 11) or sys.exit("Python 3.11 is required, found " + sys.version.split()[0] + "; install it or run: make PYTHON=/path/to/python3.11")' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## test: the whole suite, plus the contract gates and lint
test: setup
	$(BIN)/txn-contract generate --check
	$(BIN)/txn-contract check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## demo: the pipeline on the embedded default (local broker + registry + Spark)
demo: setup
	bash scripts/demo.sh

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache
