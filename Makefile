# Two entry points: `make demo` (the main job: the interactive app) and `make test` (tests + lint).
# Both create the virtual environment .venv and install dl3lab into it on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dl3lab-installed

.PHONY: demo tutorial test lint bench clean gammapy-env

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[app,test]'
	touch $(STAMP)

# The interactive app (Voila on 127.0.0.1, the app notebook on the example data); prints its URL.
demo: $(STAMP)
	$(BIN)/dl3lab app

# The text tutorial: reduce the Crab runs as in the makers tutorial and print the summaries.
tutorial: $(STAMP)
	$(BIN)/dl3lab demo

lint: $(STAMP)
	$(BIN)/ruff check dl3lab tests benchmarks

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .cache test-output

# Optional separate environment with Gammapy 2.1, used only by the benchmarks for comparison.
gammapy-env: .venv-gammapy/bin/python

.venv-gammapy/bin/python:
	$(PYTHON) -m venv .venv-gammapy
	.venv-gammapy/bin/python -m pip install --quiet gammapy==2.1 regions==0.10 matplotlib
