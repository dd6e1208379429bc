# Thin wrappers. The README names two of them: `make run` and `make test`.
PY ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON := $(PY)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint chaos bench clean

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

lint: install
	$(VENV)/bin/ruff check shared services tests examples
	$(VENV)/bin/ruff format --check shared services tests examples

clean:
	rm -rf $(VENV) .tools examples/.relaygraph
