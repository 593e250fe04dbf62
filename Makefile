# linecampaigns — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export DEBUG ?= true

.PHONY: help install run info test lint format bench bench-quick clean

help:
	@echo "make run         start the dashboard, worker, beat and LINE emulator on 127.0.0.1:$(PORT)"
	@echo "make info        show the running dashboard's URLs, Admin and Sandbox again"
	@echo "make test        lint and run the whole test suite"
	@echo "make lint        ruff check, ruff format --check, import layers, makemigrations --check"
	@echo "make format      format the code with ruff"
	@echo "make bench       run every benchmark scenario (make bench-quick: reduced sizes)"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
	@$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/python -m linecampaigns.devserver --port $(PORT)

info: $(STAMP)
	@$(BIN)/python -m linecampaigns.devserver --info

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
