# The two commands of the README: `make demo` and `make test`. Each sets up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench throughput clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/wmc demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check ledger fx settlement cli tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pytest benchmarks --benchmark-only -p no:randomly

throughput: $(STAMP)
	$(BIN)/python -m benchmarks.throughput --repeat 3

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .benchmarks
