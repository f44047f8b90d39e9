# Only python3 and make are assumed; everything else is installed into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out/sample
# The QA review queue's decisions (notebooks/qa_review.ipynb): applied by `make audit` once any exist.
REVIEWS ?= out/reviews.csv

.PHONY: audit test lint format sample clean dashboard review lab bench

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

$(VENV)/.notebooks: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[notebooks]'
	touch $@ $(VENV)/.core

audit: $(VENV)/.core
	$(BIN)/auditkit audit data/sample --out $(OUT) $(if $(wildcard $(REVIEWS)),--reviews $(REVIEWS))

# Debian's chromium, for the report's browser test (Playwright drives it; it downloads nothing).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update && apt-get install -y chromium

# The suite on every core, four at most (pytest-xdist), a test file to a core: a file's module
# fixtures (a Dask cluster, a browser) start once, and no more than four of each run at a time
# on a large machine. `.venv/bin/python -m pytest tests/...` runs a part on one core.
test: $(VENV)/.dev $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The supervisor's dashboard and the QA review queue as web apps on this machine only, no code
# shown (each on a port of its own, so both can run). The "offline" template (notebooks/jupyter)
# is Voila's lab template without the stylesheets it fetches from a CDN. Set AUDITKIT_BUNDLE to
# audit another bundle than data/sample. A cell's error shows on the page (--show_tracebacks):
# auditkit's as its message (a bundle not found, say), where Voila would say only that a cell
# failed. Voila starts a kernel for every page opened: one left by a page closed (or reloaded)
# is shut down after 10 minutes without activity, so a server left running all day does not
# grow by a kernel per reload; an open page's kernel is kept however long it waits.
VOILA_APP = cd notebooks && JUPYTER_PATH=jupyter ../$(BIN)/voila --no-browser \
	--Voila.ip=127.0.0.1 --template=offline --show_tracebacks=True \
	--MappingKernelManager.cull_interval=60 --MappingKernelManager.cull_idle_timeout=600

dashboard: $(VENV)/.notebooks
	$(VOILA_APP) --port=8866 monthly_audit.ipynb

review: $(VENV)/.notebooks
	$(VOILA_APP) --port=8867 qa_review.ipynb

# JupyterLab on the notebooks, on this machine only, fetching no news or update checks, and not
# asking whether to (notebooks/jupyter/config disables the announcements plugin that asks); its
# extension manager lists what is installed and neither searches nor installs from PyPI.
# (--allow-root only where make runs as root, as on the development machines.)
lab: $(VENV)/.notebooks
	JUPYTER_CONFIG_PATH=notebooks/jupyter/config \
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --LabApp.news_url=None \
		--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
		--LabApp.extension_manager=readonly \
		$(if $(filter 0,$(shell id -u)),--allow-root) notebooks

# Regenerate the shipped sample bundle (deterministic: same seed, same files).
sample: $(VENV)/.core
	$(BIN)/auditkit sample data/sample --clients 40 --seed 7 --broken-rows

clean:
	rm -rf $(VENV) out

# Pipeline benchmarks at 10k, 100k and 1M appointments (generated once into benchmarks/.data),
# timed by pytest-benchmark (benchmarks/, not part of `make test`); the table is made from its
# JSON. AUDITKIT_BENCH_SIZES=10000,100000 and AUDITKIT_BENCH_REPEAT=1 make a shorter run;
# BENCH_ARGS picks benchmarks: AUDITKIT_BENCH_SIZES=1000000 make bench BENCH_ARGS='-k example'
# measures issue 7's target on its example alone. auditkit's bytecode is compiled first, as a
# user's first run leaves it (with PYTHONDONTWRITEBYTECODE set, every run compiled its sources:
# 0.09 s for all of them), as pip compiled pandas' and pyarrow's for the baseline.
bench: $(VENV)/.dev
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m pytest benchmarks --benchmark-json=benchmarks/.data/latest.json \
		--benchmark-columns=median,min,max,rounds --benchmark-group-by=param:size $(BENCH_ARGS)
	$(BIN)/python benchmarks/table.py benchmarks/.data/latest.json
