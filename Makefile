# Thin wrappers. The README names two of them: `make run` and `make test`.
PY ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON := $(PY)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint chaos chaos-cluster bench bench-quick clean

install: $(VENV)/.installed  ## set up .venv from uv.lock; leaves .venv/bin/relaygraph

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen
	touch $@

run: install  ## the whole system on this machine: API on http://127.0.0.1:2024
	cd examples && ../$(VENV)/bin/relaygraph dev

test: install  ## the test suite, against real nats-server and valkey-server processes
	$(VENV)/bin/pytest

chaos: install  ## 1000 threads while executors are killed and NATS and Redis restart
	$(VENV)/bin/python -m tests.chaos.workload --threads 1000

chaos-cluster: install  ## the same on a 3-node NATS cluster and a 3-master, 3-replica Valkey cluster, killing nodes
	$(VENV)/bin/python -m tests.chaos.workload --threads 1000 --cluster

lint: install  ## ruff (lint and format) and mypy --strict on shared/ and services/
	$(VENV)/bin/ruff check shared services tests examples
	$(VENV)/bin/ruff format --check shared services tests examples
	$(VENV)/bin/mypy

bench: install  ## relaygraph vs the official LangGraph dev server (~20 min): bench/results/server.md
	$(VENV)/bin/python bench/run.py

bench-quick: install  ## the same, short (~3 min): bench/.work/results-quick/server.md
	$(VENV)/bin/python bench/run.py --quick

clean:
	rm -rf $(VENV) .tools examples/.relaygraph
