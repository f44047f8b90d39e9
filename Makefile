# Only python3 and make are assumed; everything else is installed into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/sample

.PHONY: audit test lint format sample clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.core

audit: $(VENV)/.core
	$(BIN)/auditkit audit data/sample --out $(OUT)

# Debian's chromium, for the report's browser test (Playwright drives it; it downloads nothing).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

test: $(VENV)/.dev $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the shipped sample bundle (deterministic: same seed, same files).
sample: $(VENV)/.core
	$(BIN)/auditkit sample data/sample --clients 40 --seed 7 --broken-rows

clean:
	rm -rf $(VENV) out

# Pipeline benchmarks at 10k, 100k and 1M appointments (generated once into benchmarks/.data).
bench: $(VENV)/.core
	$(BIN)/python benchmarks/run.py --json benchmarks/.data/latest.json
