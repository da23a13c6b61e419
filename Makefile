# CloudAssist development loop. Quick start: `make run` (serve) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.DEFAULT_GOAL := help
.PHONY: help run test lint format seed bench clean clean-data requirements

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "CloudAssist needs Python 3.11 or newer; run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(PIP) install -r requirements.txt -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed  ## serve on http://127.0.0.1:8000 with embedded MongoDB/Redis, a worker and demo data
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py serve

test: $(VENV)/.dev-installed  ## run the test suite against real MongoDB and Redis (PYTEST_ARGS=... to narrow)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.runtime-installed  ## print benchmark figures (approval-to-INITIATED latency, jobs/s per worker)
	$(BIN)/python benchmarks/bench_provisioning.py

lint: $(VENV)/.dev-installed  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-installed  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

seed: $(VENV)/.runtime-installed  ## seed demo data into the configured MongoDB (MONGODB_URI, or a running `make run`)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo

requirements: $(VENV)/.dev-installed  ## regenerate the pinned requirements*.txt from requirements*.in
	$(PIP) install uv
	$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11 --universal -q
	$(BIN)/uv pip compile requirements-dev.in -o requirements-dev.txt --python-version 3.11 --universal -q

clean:  ## remove the virtualenv, caches and collected static files (keeps ./var data)
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data:  ## remove ./var: the embedded MongoDB and Redis data of `make run`
	rm -rf var
