# The README names these targets; .ci/run runs `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install test lint typecheck unit integration demo pyairbyte docker-smoke clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

# PyAirbyte lives in its own venv (its pins are its own) and drives our console script, as users do.
PYAIRBYTE := .venv-pyairbyte/.installed
$(PYAIRBYTE):
	@test -x .venv-pyairbyte/bin/python || $(PYTHON) -m venv .venv-pyairbyte
	.venv-pyairbyte/bin/python -m pip install --quiet --upgrade pip
	.venv-pyairbyte/bin/python -m pip install --quiet 'airbyte>=0.71,<1'
	@touch $(PYAIRBYTE)

pyairbyte: $(PYAIRBYTE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy source_meta_capi

## The whole test suite: lint, types, unit + integration tests (starts its own servers on 127.0.0.1).
test: lint typecheck $(PYAIRBYTE)
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q unit_tests

integration: $(STAMP)
	$(BIN)/python -m pytest -q integration_tests

## The main job on the embedded default: stage sample data in a local folder and sync it.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) .venv-pyairbyte .demo build *.egg-info

## Build the image with a local Docker daemon and run spec/check/discover/read inside it (root; not in CI).
docker-smoke: $(STAMP)
	bash scripts/docker_smoke.sh
