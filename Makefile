# The README names these targets; .ci/run runs `make test`. A bare `make` prints `make help`.
.DEFAULT_GOAL := help
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help install test lint typecheck unit integration demo pyairbyte docker-smoke clean wheel connector-test sample-bucket

## This list: each target with the `## ` comment line right above it.
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[A-Za-z0-9_.-]+:([^=]|$$)/{if(doc!=""){sub(/:.*/,"");printf "  %-22s %s\n",$$0,doc}} {doc=""}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# The distribution was called source-meta-capi before it took Airbyte's PyPI name.
	@$(BIN)/python -m pip uninstall --quiet -y source-meta-capi 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[dev,receiver]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

## Create .venv and install the project with its development tools (again only when pyproject.toml changes).
install: $(STAMP)

# PyAirbyte lives in its own venv (its pins are its own) and drives our console script, as users do.
PYAIRBYTE := .venv-pyairbyte/.installed
$(PYAIRBYTE):
	@test -x .venv-pyairbyte/bin/python || $(PYTHON) -m venv .venv-pyairbyte
	.venv-pyairbyte/bin/python -m pip install --quiet --upgrade pip
	.venv-pyairbyte/bin/python -m pip install --quiet 'airbyte>=0.71,<1'
	@touch $(PYAIRBYTE)

## PyAirbyte in its own .venv-pyairbyte, for the tests that run the connector through it.
pyairbyte: $(PYAIRBYTE)

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

## ruff check and ruff format --check.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## mypy (strict) on source_meta_capi.
typecheck: $(STAMP)
	$(BIN)/mypy source_meta_capi

## The whole test suite: lint, types, unit + integration tests (starts its own servers on 127.0.0.1), Airbyte's connector test, the wheel.
test: lint typecheck $(PYAIRBYTE) $(DBT) wheel
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory connector-test

## Airbyte's own `airbyte-cdk connector test` on the committed sample bucket (image tests deselected: no daemon in CI).
connector-test: $(STAMP)
	bash scripts/connector_test.sh

## The wheel PyPI and PyAirbyte install (dist/), checked with twine.
wheel: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --wheel --sdist --no-isolation --outdir dist . >/dev/null
	$(BIN)/python -m twine check --strict dist/*

## Regenerate integration_tests/sample_bucket/ (the acceptance tests' bucket) with the project's writer.
sample-bucket: $(STAMP)
	$(BIN)/python scripts/make_sample_bucket.py

## The unit tests only.
unit: $(STAMP)
	$(BIN)/python -m pytest -q unit_tests

## The integration tests only (servers on 127.0.0.1).
integration: $(STAMP)
	$(BIN)/python -m pytest -q integration_tests

## The main job on the embedded default: the receiver stages signed events in .demo/bucket, the source syncs them.
demo: $(STAMP) $(PYAIRBYTE) $(DBT)
	$(BIN)/python scripts/demo.py

## Remove .venv, .venv-pyairbyte, .demo, build, dist, .tmp and the egg-info.
clean:
	rm -rf $(VENV) .venv-pyairbyte .venv-dbt .demo build dist .tmp *.egg-info

## Build the image with a local Docker daemon and run spec/check/discover/read inside it (root; not in CI).
docker-smoke: $(STAMP)
	bash scripts/docker_smoke.sh

# ---- deployment: the receiver's Lambda package and image, template checks (docs/deploy.md) -------
LAMBDA_ARCH ?= x86_64
LAMBDA_ZIP ?= build/receiver-lambda.zip
RECEIVER_IMAGE ?= meta-capi-receiver:dev
RECEIVER_BASE_IMAGE ?= public.ecr.aws/docker/library/python:3.11-slim-bookworm

.PHONY: lambda-zip cfn-lint template-schemas receiver-image receiver-image-smoke

## The receiver's Lambda package: its dependencies only (no airbyte-cdk), reproducible, size-checked.
lambda-zip: $(STAMP)
	$(BIN)/python deploy/build_lambda_zip.py --arch $(LAMBDA_ARCH) --output $(LAMBDA_ZIP)

## cfn-lint (errors, warnings and informational findings) on every template under deploy/.
cfn-lint: $(STAMP)
	$(BIN)/cfn-lint --include-checks I -- deploy/*.yaml

## Write source_meta_capi/schemas/*.json into the template's AWS::Glue::SchemaVersion definitions (a test checks).
template-schemas: $(STAMP)
	$(BIN)/python deploy/template_schemas.py

## The receiver image (serve + redrive/reconcile jobs) with a running Docker daemon.
receiver-image:
	docker build -f deploy/receiver.Dockerfile --build-arg BASE_IMAGE=$(RECEIVER_BASE_IMAGE) -t $(RECEIVER_IMAGE) .

## Build the receiver image with a local daemon and run serve + the jobs inside it (root; not in CI).
receiver-image-smoke: $(STAMP)
	bash deploy/receiver_image_smoke.sh

# ---- benchmarks (docs/benchmarks.md; not part of `make test` or CI) ------------------------------
# Every benchmark on 127.0.0.1 with data generated at run time; prints one table and rewrites the
# generated part of docs/benchmarks.md. Bounded: --budget-minutes stops repeating, and timeout(1)
# interrupts (cleanly: servers stopped, .bench/run removed) whatever runs past 20 minutes.
# BENCH_ARGS passes options, e.g. make bench BENCH_ARGS="--runs 1 --events 100000".
.PHONY: bench
## Benchmarks on loopback: one table of medians and ratios, rewrites docs/benchmarks.md (not in CI).
bench: $(STAMP)
	timeout --signal=INT 1200 $(BIN)/python -m benchmarks.run $(BENCH_ARGS)

# ---- reliability (docs/reliability.md) -----------------------------------------------------------
# The full fault, load and fuzz suite: the `reliability`-marked variants of scenarios 1-9
# (≥ 10,000 generated hostile requests, a 60 s load run, …). Everything on 127.0.0.1, bounded in
# count and time (timeout(1) stops it at 30 min), servers stopped afterwards. The fast variants of
# the same tests run in `make test`. Figures land in build/reliability/figures.json.
.PHONY: reliability
## The full fault, load and fuzz suite (~12 min, capped at 30); its fast variants run in `make test`.
reliability: $(STAMP)
	RELIABILITY_FULL=1 timeout --signal=INT 1800 $(BIN)/python -m pytest -q --timeout 900 -m reliability integration_tests/reliability -rA

.PHONY: dbt dbt-test
## The dbt package's venv (.venv-dbt): dbt-core + dbt-duckdb.
dbt: $(DBT)

## The package's tests alone: fixtures in both connectors' shapes, dbt build, known answers.
dbt-test: $(STAMP) $(DBT) $(PYAIRBYTE)
	$(BIN)/python -m pytest -q integration_tests/test_dbt_reconciliation.py integration_tests/test_dbt_pyairbyte_cache.py

