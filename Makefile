# jobsched: `make run` serves the app with an embedded scheduler; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 5000
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test install install-dev migrate vendor bench bench-smoke clean

run: install
	JOBSCHED_ENV=$${JOBSCHED_ENV:-development} $(BIN)/flask --app jobsched db upgrade --directory migrations
	JOBSCHED_ENV=$${JOBSCHED_ENV:-development} HOST=$(HOST) PORT=$(PORT) exec $(BIN)/python wsgi.py

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jobsched needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `pip install -e .` adds the `jobsched` command (pyproject.toml's [project.scripts]) to
# $(BIN); --no-deps because requirements*.txt already pinned everything it needs.
$(VENV)/.installed: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(VENV)/.installed $@

migrate: install
	$(BIN)/flask --app jobsched db upgrade --directory migrations

vendor:
	bash tools/vendor.sh

# Benchmarks on PostgreSQL (BENCH_DATABASE_URL, default 127.0.0.1:5432 user postgres) and a
# private redis-server: `bench` measures everything (~20 min) into docs/benchmarks.md;
# BENCH_ARGS="--only throughput" picks figures. `bench-smoke` checks the scripts (< 1 min).
BENCH_ARGS ?=
bench: install-dev
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-smoke: install-dev
	$(BIN)/python bench/run.py --smoke $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
