#!/usr/bin/env bash
# `airbyte-cdk connector test` (`make connector-test`, part of `make test`): Airbyte's own command
# for the standard tests, reading acceptance-test-config.yml and the committed sample bucket.
#
# The command derives the connector's name (and so its module and class, and the test suite) from
# the directory's name, which must start with `source-`. A clone named otherwise (a CI checkout, a
# git worktree) runs it in build/connector-test/source-meta-capi/, a directory of links to this
# one, so relative paths resolve exactly as in a clone named source-meta-capi.
# Image tests are deselected: they need a Docker daemon (`make docker-smoke` covers the image).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CDK="$ROOT/.venv/bin/airbyte-cdk"
ARGS=(connector test --pytest-arg=-m --pytest-arg="not image_tests" --pytest-arg=-q)

case "$(basename "$ROOT")" in
  source-*)
    exec "$CDK" "${ARGS[@]}"
    ;;
esac
HERE="$ROOT/build/connector-test/source-meta-capi"
rm -rf "$HERE"
mkdir -p "$HERE"
for entry in "$ROOT"/*; do
  case "$(basename "$entry")" in build | dist) continue ;; esac
  ln -s "$entry" "$HERE/"
done
cd "$HERE"
exec "$CDK" "${ARGS[@]}"
