# One entry point for people and CI: `make demo`, `make test`, `make lint`, `make bench`, `make serve`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed-stamp

# Airflow keeps its metadata database and logs inside the project, never in ~/airflow.
export AIRFLOW_HOME := $(abspath .airflow)
export AIRFLOW__CORE__DAGS_FOLDER := $(abspath dags)
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: install demo test lint format bench serve clean airflow

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) with $(PYTHON) and installing the pinned dependencies (about a minute)"
	@$(PYTHON) -m venv $(VENV) || { echo "==> $(PYTHON) has no venv module: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

install: $(STAMP)
	@bash scripts/ensure_redis.sh --install-only

DEMO_START ?= 2026-11-01
DEMO_DAYS ?= 5
demo: install
	PATH=$(BIN):$$PATH DEMO_START=$(DEMO_START) DEMO_DAYS=$(DEMO_DAYS) bash scripts/demo.sh

test: install
	PATH=$(BIN):$$PATH $(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench.ingest --scale medium

# The lookup service (docs/service.md) under uvicorn; RECSYS_SERVICE_WORKERS and
# RECSYS_SERVICE_PORT (and every other RECSYS_SERVICE_* setting) come from the environment,
# e.g. `make serve RECSYS_SERVICE_WORKERS=4 RECSYS_SERVICE_PORT=8080`.
serve: install
	@bash scripts/ensure_redis.sh
	$(BIN)/python -m feature_store.service

# A local Airflow over dags/ (api-server, scheduler, dag-processor, triggerer) until Ctrl-C; see
# scripts/airflow.sh for the port (AIRFLOW__API__PORT), the login and the RECSYS_* defaults.
airflow: install
	PATH=$(BIN):$$PATH bash scripts/airflow.sh

clean:
	rm -rf data .airflow .redis .pytest_cache .mypy_cache .ruff_cache
