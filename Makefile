# Pet App: `make run` to use it, `make test` to check it. Both install what is missing first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install services test-services run test test-fast compose-test test-in-container bench lint audit status dead-letters clean

help:
	@echo "make run    start Redis, the database, the API and three consumers (Ctrl-C stops all)"
	@echo "make test   run the whole test suite against real services it starts itself"
	@echo "make test-fast     the in-process tests only (tests/unit, seconds): services, selectors, policies"
	@echo "make compose-test  docker compose up for real: builds, runs the README's Docker steps, kills, restarts (needs a Docker engine)"
	@echo "make test-in-container  a fresh clone's make test in a bare Debian 12 container (needs a Docker engine)"
	@echo "make bench  the API and workers against bare floor implementations (about 8 minutes)"
	@echo "make status        where the tasks are (the Redis that make run uses)"
	@echo "make dead-letters  tasks that failed for good, with why (./scripts/consumer dead ... acts on them)"
	@echo "make lint   ruff, mypy, the import rules (import-linter) and hadolint"
	@echo "make audit  known vulnerabilities in the pinned requirements (pip-audit; needs PyPI's JSON API)"
	@echo "make clean  remove the virtualenv, local data and results"

install: $(STAMP)

$(STAMP): requirements.txt requirements-worker.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

services:
	@./scripts/ensure-system-packages.sh

test-services:
	@./scripts/ensure-system-packages.sh --with-browser

run: install services
	@./scripts/run.sh

# The suite in parallel: each pytest-xdist worker starts its own servers on free ports, and an idle
# worker steals queued tests from a busy one. One worker more than there are cores: the tests spend
# much of their time waiting (heartbeats, restarts, a slow stand-in Wikipedia), and on 2 cores 3
# workers took 282 s where 2 took 315-361 s.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: install test-services
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

test-fast: install
	$(PY) -m pytest tests/unit

compose-test: install
	$(PY) -m pytest tests/compose/smoke.py -x -s -p no:cacheprovider --timeout 1800

test-in-container:
	@./scripts/test-in-container.sh

bench: install
	@./scripts/ensure-system-packages.sh --with-bench
	$(PY) -m bench

status: install
	@./scripts/consumer status

dead-letters: install
	@./scripts/consumer dead list

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=true $(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/hadolint Dockerfile Dockerfile.consumer
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml tests/compose/compose.test.yml
	@if docker compose version >/dev/null 2>&1; then \
		echo "docker compose config -q"; docker compose config -q && \
		COMPOSE_FILE=docker-compose.yml:tests/compose/compose.test.yml docker compose config -q; \
	else echo "docker compose is not installed: its own config check skipped (the schema check above ran)"; fi

audit: install
	$(VENV)/bin/pip-audit --strict --progress-spinner off -r requirements.txt

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache db.sqlite3
	find processed_data -type f ! -name .gitkeep -delete
