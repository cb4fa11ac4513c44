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

# ---------------------------------------------------------------------------------------------
# Deployment (issue 7; docs/deploy.md): the receiver's Lambda package and image, template checks.
# Appended block; the targets above are unchanged.
LAMBDA_ARCH ?= x86_64
LAMBDA_ZIP ?= build/receiver-lambda.zip
RECEIVER_IMAGE ?= meta-capi-receiver:dev
RECEIVER_BASE_IMAGE ?= public.ecr.aws/docker/library/python:3.11-slim-bookworm

.PHONY: lambda-zip cfn-lint receiver-image receiver-image-smoke

## The receiver's Lambda package: its dependencies only (no airbyte-cdk), reproducible, size-checked.
lambda-zip: $(STAMP)
	$(BIN)/python deploy/build_lambda_zip.py --arch $(LAMBDA_ARCH) --output $(LAMBDA_ZIP)

## cfn-lint (errors, warnings and informational findings) on every template under deploy/.
cfn-lint: $(STAMP)
	$(BIN)/cfn-lint --include-checks I -- deploy/*.yaml

## The receiver image (serve + redrive/reconcile jobs) with a running Docker daemon.
receiver-image:
	docker build -f deploy/receiver.Dockerfile --build-arg BASE_IMAGE=$(RECEIVER_BASE_IMAGE) -t $(RECEIVER_IMAGE) .

## Build the receiver image with a local daemon and run serve + the jobs inside it (root; not in CI).
receiver-image-smoke: $(STAMP)
	bash deploy/receiver_image_smoke.sh

# ---- benchmarks (benchmarks/ owns this block; not part of `make test` or CI) ----------------------
# Every benchmark on 127.0.0.1 with data generated at run time; prints one table and rewrites the
# generated part of docs/benchmarks.md. Bounded: --budget-minutes stops repeating, and timeout(1)
# interrupts (cleanly: servers stopped, .bench/run removed) whatever runs past 20 minutes.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--runs 1 --events 100000".
.PHONY: bench
bench: $(STAMP)
	timeout --signal=INT 1200 $(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# ---- reliability (issue 5; docs/reliability.md; integration_tests/reliability/ owns this block) ----
# The full fault, load and fuzz suite: the `reliability`-marked variants of scenarios 1-9
# (≥ 10,000 generated hostile requests, a 60 s load run, …). Everything on 127.0.0.1, bounded in
# count and time (timeout(1) stops it at 30 min), servers stopped afterwards. The fast variants of
# the same tests run in `make test`. Figures land in build/reliability/figures.json.
.PHONY: reliability
reliability: $(STAMP)
	RELIABILITY_FULL=1 timeout --signal=INT 1800 $(BIN)/python -m pytest -q --timeout 900 -m reliability integration_tests/reliability -rA

# ---- dbt package (issue 11; docs/reconciliation.md; transformations/ owns this block) -------------
# dbt lives in its own venv: its pins (dbt-core, dbt-adapters, protobuf, …) are not airbyte-cdk's.
# duckdb is pinned to PyAirbyte's (airbyte 0.71.3 pins duckdb==1.4.3) so both read and write the
# same cache file. The facebook-marketing wheel (--no-deps) is there for its stream schemas only.
DBT_PINS := dbt-core==1.11.16 dbt-duckdb==1.11.1 duckdb==1.4.3 jsonschema==4.26.0
DBT := .venv-dbt/.installed-$(shell echo '$(DBT_PINS) airbyte-source-facebook-marketing==6.1.9' | cksum | cut -d' ' -f1)
$(DBT):
	@test -x .venv-dbt/bin/python || $(PYTHON) -m venv .venv-dbt
	.venv-dbt/bin/python -m pip install --quiet --upgrade pip
	.venv-dbt/bin/python -m pip install --quiet $(DBT_PINS)
	.venv-dbt/bin/python -m pip install --quiet --no-deps airbyte-source-facebook-marketing==6.1.9
	@rm -f .venv-dbt/.installed-*; touch $(DBT)

.PHONY: dbt dbt-test
## The dbt package's venv (.venv-dbt): dbt-core + dbt-duckdb.
dbt: $(DBT)

## The package's tests alone: fixtures in both connectors' shapes, dbt build, known answers.
dbt-test: $(STAMP) $(DBT) $(PYAIRBYTE)
	$(BIN)/python -m pytest -q integration_tests/test_dbt_reconciliation.py integration_tests/test_dbt_pyairbyte_cache.py

# make demo ends with the reconciliation (scripts/demo.py show_reconciliation): PyAirbyte + dbt.
demo: $(PYAIRBYTE) $(DBT)
