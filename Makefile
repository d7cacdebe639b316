# Stadtpuls developer tasks. `make help` lists them.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency pinned (the linters too): make venv, the tests, the demo and the Dockerfile install from it.
CONSTRAINTS := constraints.txt
LOCK_VENV := .lock-venv
PIP_TOOLS := pip-tools==7.6.2
LOCK_FLAGS ?=
PACKAGES := stadtpuls ingest processing api devices dashboards firmware_sim devtools reports

# Debian packages: the servers the demo and the tests start as child processes, and the libraries the PDF
# report is drawn with; the tests also need chromium (the technician page's browser test) and poppler-utils
# (they read the report's PDF); npm, which fetches the accessibility checker, is installed when missing.
RUN_PACKAGES := mosquitto influxdb libpango-1.0-0 libpangoft2-1.0-0
TEST_PACKAGES := chromium poppler-utils
# the ingest benchmark builds its publisher against libmosquitto; it installs Node-RED with npm (installed when missing)
BENCH_PACKAGES := gcc libc6-dev libmosquitto-dev
# axe-core, the accessibility checker the browser test runs in the page (from the npm registry, unpacked here)
AXE_VERSION := 4.14.1
AXE := $(VENV)/share/axe-core/axe.min.js

# Root runs apt-get directly; anyone else goes through sudo when it is there.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo || true)

.PHONY: help deps test-deps bench-deps venv lock lint check test demo bench-ingest report-pages clean distclean

help: ## List the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: ## Install the Debian packages the demo needs (Mosquitto, InfluxDB, Pango) when they are missing
	@$(call apt_install,$(RUN_PACKAGES))

test-deps: deps ## Install the Debian packages the tests need besides (Chromium, poppler-utils, npm)
	@$(call apt_install,$(TEST_PACKAGES))

# $(call apt_install,PACKAGES): apt-get install those of PACKAGES that dpkg does not list as installed
define apt_install
missing=""; \
for package in $(1); do \
  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
done; \
if [ -z "$$missing" ]; then echo "deps: $(1) installed"; exit 0; fi; \
echo "deps: installing$$missing"; \
if [ "$$(id -u)" != 0 ] && [ -z "$(SUDO)" ]; then echo "deps: not root and no sudo: install$$missing as root" >&2; exit 1; fi; \
$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing
endef

venv: $(STAMP) ## Create .venv: the package with its dev extras, versions from constraints.txt (again when either changes)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[dev]'
	@# grafana-client's HTTP library depends on urllib3-future, whose .pth file copies it over urllib3 at every
	@# interpreter start, which breaks requests (schemathesis's transport). Keep the two apart: niquests then
	@# uses urllib3_future and everything else the real urllib3.
	rm -f $(VENV)/lib/python3*/site-packages/urllib3_future.pth
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) --force-reinstall --no-deps urllib3
	touch $@

lock: ## Pin the dependencies of pyproject.toml anew into constraints.txt (LOCK_FLAGS=--upgrade: newest allowed)
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install -q '$(PIP_TOOLS)'
	$(LOCK_VENV)/bin/pip-compile --quiet --all-extras --strip-extras --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --custom-compile-command 'make lock' $(LOCK_FLAGS) --output-file=$(CONSTRAINTS) pyproject.toml
	rm -rf $(LOCK_VENV)

lint: venv ## ruff and mypy --strict over the code
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)

check: venv lint ## ruff, mypy and the unit tests: no Mosquitto or InfluxDB needed
	$(BIN)/pytest -q tests/unit -m "not integration"

test: test-deps venv $(AXE) lint ## Everything CI runs: deps, venv, lint, the whole pytest suite (starts local servers)
	$(BIN)/pytest
	NUMBA_DISABLE_JIT=1 $(BIN)/pytest -q -p no:cacheprovider tests/unit/test_counters.py tests/unit/test_processing_*.py \
	  tests/unit/test_anomaly_*.py tests/unit/test_detect_events.py

$(AXE): | venv
	@command -v npm >/dev/null || { $(call apt_install,npm); }
	mkdir -p $(@D) && tmp=$$(mktemp -d) && (cd $$tmp && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null) \
	  && tar -xzf $$tmp/axe-core-$(AXE_VERSION).tgz -C $$tmp && cp $$tmp/package/axe.min.js $$tmp/package/LICENSE $(@D)/ \
	  && rm -rf $$tmp

demo: deps venv ## Run the demo town: local broker and InfluxDB, simulated sensors, ingest, API
	$(BIN)/stadtpuls demo

bench-deps: deps ## Install the Debian packages the ingest benchmark needs besides (a C compiler, libmosquitto-dev, npm)
	@$(call apt_install,$(BENCH_PACKAGES))
	@command -v npm >/dev/null || { $(call apt_install,npm); }

bench-ingest: bench-deps venv ## Measure ingest beside Node-RED and a Python peer (BENCH_ARGS="--count 20000 ...")
	$(BIN)/python bench/bench_ingest.py $(BENCH_ARGS)

REPORT_WEEK ?= 2026-W47
report-pages: test-deps venv ## The footfall report of a simulated, processed week (REPORT_WEEK) in run/report; its README pages in docs/images
	$(BIN)/python -m devtools.report_pages --week $(REPORT_WEEK) --out run/report --pages-to docs/images

clean: ## Remove caches, build output and run folders (keeps .venv and var/)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis run .bench $(LOCK_VENV)
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## clean, and remove .venv as well
	rm -rf $(VENV)
