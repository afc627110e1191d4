# Community Safety Atlas — the two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest bench bench-quick init demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## run: install, build the embedded store with bundled boundaries and demo data, serve on :8000
run: $(VENV)/.installed
	$(BIN)/atlas init
	$(BIN)/atlas demo
	$(BIN)/atlas serve --host $(HOST) --port $(PORT)

init: $(VENV)/.installed
	$(BIN)/atlas init

demo: init
	$(BIN)/atlas demo

## test: install dev dependencies, lint, type-check and run the whole suite
test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check geo app tests bench
	$(BIN)/ruff format --check geo app tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	./scripts/ensure-chromium
	$(BIN)/pytest -n 2 --timeout 900

## bench: full benchmark run, writes bench/results.json, bench/README.md and the charts
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

bench-quick: $(VENV)/.installed-dev
	$(BIN)/python -m bench --quick

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
