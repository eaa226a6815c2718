# GoGym — `make help` lists the targets.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install the project

demo: $(STAMP) ## Run the product on the embedded default (SQLite, in-process jobs, simulated Twilio)
	$(BIN)/gogym demo

test: $(STAMP) ## Run the tests (PostgreSQL + Redis when reachable, required under CI=true)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

nlu-train: $(STAMP) ## Train the NLU artifact
	$(BIN)/gogym nlu train

bench: $(STAMP) ## Webhook load benchmark on PostgreSQL with 2 server workers (see bench/)
	bash bench/run_webhook_bench.sh

clean: ## Remove the virtualenv, the demo database and trained models
	rm -rf $(VENV) gogym.db gogym.db-wal gogym.db-shm models

.PHONY: help install demo test lint format nlu-train bench clean
