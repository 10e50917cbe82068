# Two commands on a fresh machine: `make demo` and `make test`. Everything else is plumbing.
# Any supported interpreter (3.11, 3.12, 3.13): make setup PYTHON=python3.13
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
# Per interpreter: `make setup PYTHON=python3.13` after a 3.11 setup rebuilds the venv.
STAMP := $(VENV)/.installed-$(PYVER)

.PHONY: setup test demo lint format clean

## setup: create .venv, install the project with its dev extra, fetch and cache the jars
setup: $(STAMP)
	$(BIN)/txn-platform fetch

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; (3, 11) <= sys.version_info[:2] <= (3, 13) or sys.exit("Python 3.11, 3.12 or 3.13 is required, found " + sys.version.split()[0] + "; install one or run: make PYTHON=/path/to/python3.X")'
	@# A venv of another interpreter than PYTHON is rebuilt, so PYTHON= always takes effect.
	@test ! -x $(BIN)/python || $(BIN)/python -c 'import sys, subprocess; want = subprocess.check_output(["$(PYTHON)", "-c", "import sys; print(sys.version_info[:2])"], text=True).strip(); sys.exit(0 if str(sys.version_info[:2]) == want else 1)' || { echo "rebuilding $(VENV) with $(PYTHON)"; rm -rf $(VENV); }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## test: the contract gates and lint, then the whole suite and, at the same time, the unit tests
## and contract gates on every other supported Python present (scripts/suite.sh)
test: setup
	$(BIN)/txn-contract generate --check
	$(BIN)/txn-contract check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo
	bash scripts/suite.sh

## demo: the pipeline on the embedded default (local broker + registry + Spark)
demo: setup
	bash scripts/demo.sh

## chromium: Debian's chromium, for the HTML report's browser test (tests call this when
## /usr/bin/chromium is missing; it installs outside the clone, once per machine)
.PHONY: chromium
chromium:
	@test -x /usr/bin/chromium || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y -q chromium || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }; }
	@/usr/bin/chromium --version

## airflow: Airflow's own venv (never .venv), outside the clone like the other downloads, installed
## from orchestration/airflow/requirements.lock; rebuilt when the lock changes. Prints its path.
AIRFLOW_LOCK := orchestration/airflow/requirements.lock
AIRFLOW_VENV ?= $(or $(TXN_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/txn-pipeline)/airflow-venv-$(PYVER)
AIRFLOW_STAMP = $(AIRFLOW_VENV)/.installed-$(shell sha1sum $(AIRFLOW_LOCK) | cut -c1-12)
.PHONY: airflow
airflow: $(AIRFLOW_STAMP)
	@echo $(AIRFLOW_VENV)

$(AIRFLOW_VENV)/.installed-%: $(AIRFLOW_LOCK)
	@$(PYTHON) -c 'import sys; (3, 11) <= sys.version_info[:2] <= (3, 13) or sys.exit("Airflow'"'"'s venv needs Python 3.11, 3.12 or 3.13; run: make airflow PYTHON=/path/to/python3.X")'
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -r $(AIRFLOW_LOCK)
	touch $@

## promtool: Debian's prometheus package, for promtool in the alert-rule and scrape-config tests
## (tests/unit/test_compose_ops.py calls this when promtool is missing; installs outside the clone;
## the lock timeout lets the unit runs of several Pythons (scripts/suite.sh) ask at the same time)
.PHONY: promtool
promtool:
	@command -v promtool >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
		APT="$$SUDO apt-get -o DPkg::Lock::Timeout=600"; \
		$$APT install -y -q --no-install-recommends prometheus || { $$APT update -q && $$APT install -y -q --no-install-recommends prometheus; }; }
	@promtool --version | head -1

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports --no-cache --no-logo

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .venv-3.* .local .pytest_cache .ruff_cache
