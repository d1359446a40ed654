# The README's commands. `make run` installs and starts the embedded stack;
# `make test` runs every test (the fast ones first, then the slow end-to-end ones).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install install-dev run test test-fast test-postgres lint format bench models

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_demo_user
	$(PY) manage.py runstack

test: install-dev
	$(PY) -m pytest -m "not slow" -n 2
	$(PY) -m pytest -m slow

test-fast: install-dev
	$(PY) -m pytest -m "not slow" -n 2

# The database-backed tests again, against PostgreSQL (DATABASE_URL must point at it).
test-postgres: install-dev
	$(PY) -m pytest -m "not slow" tests/gateway

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-dev
	$(PY) -m bench

models: install
	$(PY) models/export.py
