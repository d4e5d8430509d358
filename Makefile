# Sluice: `make demo` starts the server with its demo, `make test` runs every check.
# Both create the virtualenv in .venv on first use (Python 3.11) and install pinned
# versions from constraints.txt with uv (itself pinned there; ten times faster than pip).

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
UV := $(BIN)/uv
INSTALL := $(UV) pip install --python $(BIN)/python -c constraints.txt
SERVE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test install install-dev lint typecheck unit azurite cluster constraints clean

demo: $(VENV)/.installed  ## Start Sluice on http://127.0.0.1:8080 with the demo flows
	$(BIN)/sluice serve $(SERVE_ARGS)

test: $(VENV)/.installed-dev lint typecheck unit  ## ruff, mypy and the whole test suite

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src examples/sluice-calendar/src

unit: $(VENV)/.installed-dev azurite
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The Azure Blob Storage emulator the Azure tests start: installed from the npm registry,
# pinned by tests/emulators/package-lock.json, once (never at test time).
AZURITE_DIR := .cache/azurite
AZURITE := $(AZURITE_DIR)/node_modules/.bin/azurite-blob
azurite: $(AZURITE)
$(AZURITE): tests/emulators/package.json tests/emulators/package-lock.json
	mkdir -p $(AZURITE_DIR)
	cp tests/emulators/package.json tests/emulators/package-lock.json $(AZURITE_DIR)/
	cd $(AZURITE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The scaled-out topology on this machine: S3-compatible lake (moto), PostgreSQL metadata,
# the machine's Redis as broker, 2 API processes, 2 schedulers, 3 Celery workers.
cluster: $(VENV)/.installed-dev  ## Start the scaled-out topology locally (Ctrl-C stops it)
	PYTHONPATH=tests $(BIN)/python scripts/cluster.py

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): $(BIN)/python
	$(PIP) install --disable-pip-version-check -q -c constraints.txt uv

$(VENV)/.installed: $(UV) pyproject.toml constraints.txt
	$(INSTALL) -e .
	touch $@

# The example third-party connector (examples/sluice-calendar) joins the dev environment: the
# tests find it through its `sluice.connectors` entry point and run the contract kit on it.
EXAMPLE_CONNECTOR := examples/sluice-calendar

$(VENV)/.installed-dev: $(UV) pyproject.toml constraints.txt $(EXAMPLE_CONNECTOR)/pyproject.toml
	$(INSTALL) -e '.[dev]'
	$(UV) pip install --python $(BIN)/python --no-deps -e $(EXAMPLE_CONNECTOR)
	touch $@ $(VENV)/.installed

constraints: $(VENV)/.installed-dev  ## Re-pin constraints.txt from the dev environment
	{ sed -n '1,2p' constraints.txt; $(PIP) freeze --exclude-editable | grep -v -i -e '^sluice' -e '^#'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
