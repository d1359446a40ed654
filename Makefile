# The README's commands. `make run` installs and starts the embedded stack;
# `make test` runs every test but the compose stack (`make test-compose`, which .ci/run adds).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help install install-dev run test test-fast test-postgres test-compose local-images \
	lint format bench models superuser api-key modelserver
.DEFAULT_GOAL := help

help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime ## the runtime into .venv (about 2.2 GB: TensorFlow is most of it)
install-dev: $(VENV)/.dev ## the runtime and the test, lint and benchmark tools

# nginx (Debian's nginx-light) is not installed here, which needs root: runstack puts it
# in front of gunicorn when it is there, and warns when it is not.
run: install ## install, migrate SQLite, create the demo user, start model server + gateway (+ nginx)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py create_demo_user
	$(PY) manage.py runstack

test: install-dev ## every test but the compose stack: the fast suite, then the end-to-end ones
	$(PY) -m pytest -m "not slow" -n 2
	$(PY) -m pytest -m "slow and not compose"

test-fast: install-dev ## the fast suite only (no gunicorn, browser or load tests)
	$(PY) -m pytest -m "not slow" -n 2

# The database-backed tests again, against PostgreSQL (DATABASE_URL must point at it).
test-postgres: install-dev ## the database tests on PostgreSQL (set DATABASE_URL)
	$(PY) -m pytest -m "not slow" tests/gateway

# docker-compose.yml run for real with the local images (built first by
# deploy/local-images.sh, which installs and starts Docker if needed); skipped where
# Docker cannot run.
test-compose: install-dev ## the docker-compose stack run for real (local images, then removed)
	$(PY) -m pytest -m compose tests/deploy/test_compose_stack.py

# Images for `docker-compose -f docker-compose.yml -f deploy/compose.local.yml up` on a
# machine that cannot pull from a registry (see deploy/README.md).
local-images: ## the images docker-compose.yml needs, built here (no registry needed)
	deploy/local-images.sh

lint: install-dev ## ruff: lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev ## ruff: fix and format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install-dev ## every benchmark, results in bench/results/
	$(PY) -m bench

models: install ## re-export the demo SavedModels (deterministic)
	$(PY) models/export.py

superuser: install ## a staff account for /admin/ and /ops/ (asks for a name and password)
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py createsuperuser

# make api-key OWNER=demo NAME=my-app [DAYS=90]
api-key: install ## an API key (printed once): make api-key OWNER=demo NAME=my-app DAYS=90
	$(PY) manage.py migrate --noinput -v 0
	$(PY) manage.py create_api_key $(OWNER) $(NAME) $(if $(DAYS),--expires-days $(DAYS))

modelserver: install ## the embedded model server alone, on 127.0.0.1:8500
	$(PY) -m modelserver --port=8500 --model_config_file=models/models.config
