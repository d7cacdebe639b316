# Stadtpuls developer tasks. `make help` lists them.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := stadtpuls ingest processing api devices dashboards firmware_sim devtools reports

# Debian packages of the servers the tests and the demo start as child processes, with their binaries.
DEBIAN_PACKAGES := mosquitto influxdb
SERVER_BINARIES := mosquitto influxd

# Root runs apt-get directly; anyone else goes through sudo when it is there.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo || true)

.PHONY: help deps venv lint check test demo bench-ingest clean distclean

help: ## List the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: ## Install Mosquitto and InfluxDB (Debian packages) when their binaries are missing
	@missing=""; \
	for binary in $(SERVER_BINARIES); do \
	  command -v $$binary >/dev/null || [ -x /usr/sbin/$$binary ] || [ -x /usr/bin/$$binary ] \
	    || missing="$$missing $$binary"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: mosquitto and influxd are installed"; exit 0; fi; \
	echo "deps: missing$$missing; installing $(DEBIAN_PACKAGES)"; \
	if [ "$$(id -u)" != 0 ] && [ -z "$(SUDO)" ]; then \
	  echo "deps: not root and no sudo: install $(DEBIAN_PACKAGES) as root" >&2; exit 1; \
	fi; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEBIAN_PACKAGES)

venv: $(STAMP) ## Create .venv and install the package with its dev extras (again when pyproject.toml changes)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

lint: venv ## ruff and mypy --strict over the code
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)

check: venv lint ## ruff, mypy and the unit tests: no Mosquitto or InfluxDB needed
	$(BIN)/pytest -q tests/unit -m "not integration"

test: deps venv lint ## Everything CI runs: deps, venv, lint, the whole pytest suite (starts local servers)
	$(BIN)/pytest

demo: deps venv ## Run the demo town: local broker and InfluxDB, simulated sensors, ingest, API
	$(BIN)/stadtpuls demo

bench-ingest: deps venv ## Measure the ingest pipeline against a local broker and InfluxDB
	$(BIN)/python bench/bench_ingest.py

clean: ## Remove caches, build output and run folders (keeps .venv and var/)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis run .bench
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## clean, and remove .venv as well
	rm -rf $(VENV)
