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

.PHONY: install install-test run test lint migration
install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

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
