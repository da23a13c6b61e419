# CloudAssist development loop. Quick start: `make run` (serve) and `make test`.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
PIP     := $(BIN)/python -m pip --disable-pip-version-check -q
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE   ?= cloudassist
DOCKER  ?= docker
# `make build` output: the tree the container image has under /app (see .dockerignore).
BUILD_DIR ?= build/cloudassist
# The Django apps (top-level packages with an apps.py); `make build` copies them without their tests.
APPS    := $(patsubst %/apps.py,%,$(wildcard */apps.py))
# Settings refuse to load without these when DEBUG is false; throwaway values for collectstatic only.
COLLECTSTATIC_ENV := DEBUG=false SECRET_KEY=collectstatic-only-not-a-secret SECRETS_KEYS=collectstatic-only-not-a-secret

.DEFAULT_GOAL := help
.PHONY: help setup run test fuzz browser screenshots lint format seed bench build artifact chart-check clean clean-data requirements

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

setup: $(VENV)/.dev-installed  ## create .venv and install the pinned runtime and development requirements

run: $(VENV)/.runtime-installed  ## serve on http://127.0.0.1:8000 with embedded MongoDB/Redis, a worker and demo data
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py serve

test: $(VENV)/.dev-installed browser  ## run the test suite against real MongoDB and Redis (PYTEST_ARGS=... to narrow)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite's schemathesis run, longer: FUZZ_MAX_EXAMPLES random examples per operation (default 100) and
# the coverage phase for both roles; prints schemathesis's summary per role. FUZZ_SEED=... for another seed.
fuzz: $(VENV)/.dev-installed  ## schemathesis over the served OpenAPI as a developer and as an admin, many examples per operation
	FUZZ_FULL=1 FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-100} $(BIN)/python -m pytest cloudassist/tests/test_openapi_fuzz.py -q -s -p no:cacheprovider

# The portal's browser tests need Debian's chromium + chromium-driver: CI (CI=true) installs them
# when missing (and fails without them); elsewhere the tests skip with a message saying so.
browser:
	@if [ "$${CI:-}" = "true" ] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then \
	    echo "installing chromium and chromium-driver for the browser tests"; \
	    SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

screenshots: $(VENV)/.dev-installed  ## PNGs of the portal and the console (docs/screenshots/), taken by the browser tests
	PORTAL_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest portal/tests/test_browser.py -q

bench: $(VENV)/.dev-installed  ## print benchmark figures (worker latency and jobs/s, approval -> INITIATED with slow email; HTTP req/s, p50/p99 and CPU ms per request per endpoint)
	$(BIN)/python benchmarks/bench_provisioning.py
	$(BIN)/python benchmarks/bench_http.py

lint: $(VENV)/.dev-installed  ## ruff check, ruff format --check, the import contracts between the apps, hadolint on the Dockerfile
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

format: $(VENV)/.dev-installed  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

seed: $(VENV)/.runtime-installed  ## seed demo data into the configured MongoDB (MONGODB_URI, or a running `make run`)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo

build: $(VENV)/.runtime-installed  ## build/cloudassist: the app as the image has it (code, pinned requirements, collected static files)
	rm -rf $(BUILD_DIR)
	mkdir -p $(BUILD_DIR)
	cp -R $(APPS) manage.py pyproject.toml requirements.in requirements.txt $(BUILD_DIR)/
	find $(BUILD_DIR) \( -name __pycache__ -o -name tests -o -path $(BUILD_DIR)/cloudassist/testing -o -name '*.py[cod]' \) -prune -exec rm -rf {} +
	cd $(BUILD_DIR) && $(COLLECTSTATIC_ENV) STATIC_ROOT=$(abspath $(BUILD_DIR))/staticfiles CLOUDASSIST_ENV_FILE=/dev/null \
	    $(abspath $(BIN))/python manage.py collectstatic --noinput --verbosity 0
	@echo "built $(BUILD_DIR) (CloudAssist $(VERSION)); the image installs requirements.txt without the embedded servers (see Dockerfile)"

artifact:  ## docker build -t cloudassist:VERSION . (needs a Docker engine; the build machines have none)
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "make artifact: '$(DOCKER)' not found; building the image needs a Docker engine (none on the build machines)" >&2; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make artifact: no Docker engine answers ('$(DOCKER) info' fails); building the image needs one (none on the build machines)" >&2; exit 1; }
	$(DOCKER) build -t $(IMAGE):$(VERSION) .

chart-check: $(VENV)/.dev-installed  ## lint and render the Helm chart offline (value sets in charts/cloudassist/ci), validate every manifest strictly
	$(BIN)/python charts/check.py $(if $(KUBE_VERSION),--kube-version $(KUBE_VERSION))

requirements: $(VENV)/.dev-installed  ## regenerate the pinned requirements*.txt from requirements*.in
	$(PIP) install uv
	$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11 --universal -q
	$(BIN)/uv pip compile requirements-dev.in -o requirements-dev.txt --python-version 3.11 --universal -q

clean:  ## remove the virtualenv, caches, build output and collected static files (keeps ./var data)
	rm -rf $(VENV) staticfiles build dist .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data:  ## remove ./var: the embedded MongoDB and Redis data of `make run`
	rm -rf var
