# Two entry points (README's first section):
#   make run   install into .venv, migrate the SQLite database, run the daemon on the example config
#   make test  install with test extras, then lint, type-check and run every test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config/monitor.example.yaml

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The install compiles the classifier with mypyc (setup.py), ~30 s: it reruns only when the project's
# metadata or a compiled module's source changed since the last one (stamp files in the venv).
BUILD_INPUTS := pyproject.toml setup.py $(wildcard monitor/classify/*.py)

$(VENV)/.installed: $(BIN)/python $(BUILD_INPUTS)
	$(BIN)/pip install -q -e .
	touch $@

# The tests install the optional transformer stage too (torch, ~1 GB), to test it.
$(VENV)/.installed-test: $(BIN)/python $(BUILD_INPUTS)
	$(BIN)/pip install -q -e '.[test,transformer]'
	touch $@ $(VENV)/.installed

.PHONY: install install-test run test lint migration
install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/monitor --config $(CONFIG) db upgrade
	$(BIN)/monitor --config $(CONFIG) run

lint: install-test
	$(BIN)/ruff check monitor tests bench setup.py
	$(BIN)/ruff format --check monitor tests bench setup.py
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

# A new Alembic revision from the models: make migration MSG="what changed"
migration: install
	$(BIN)/python -m monitor.db.migrations "$(MSG)"
