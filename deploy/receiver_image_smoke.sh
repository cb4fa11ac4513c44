#!/usr/bin/env bash
# Build the receiver image and run `serve`, a signed sample, `reconcile` and `redrive` inside it
# (`make receiver-image-smoke`). Needs root; not part of CI (no daemon there).
#
# Without a registry (these machines cannot reach Docker Hub or ECR Public) it installs Debian's
# docker.io and debootstrap, makes a Python 3.11 base image from Debian bookworm and passes it as
# BASE_IMAGE; with registry access set RECEIVER_BASE_IMAGE instead. Containers run with
# --network none, a read-only root and a tmpfs /tmp, as the Fargate tasks do. Starting dockerd
# changes host networking, so everything this script started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d)
CONTAINER=""
# shellcheck source=scripts/local_docker.sh
. "$ROOT/scripts/local_docker.sh"
cleanup() {
  if [ -n "$CONTAINER" ]; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
  stop_local_dockerd
  rm -rf "$WORK"
}
trap cleanup EXIT

start_local_dockerd
BASE_IMAGE=$(local_base_image "${RECEIVER_BASE_IMAGE:-}")

IMAGE=meta-capi-receiver:smoke
docker build -f "$ROOT/deploy/receiver.Dockerfile" --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ROOT"

SECRET="whsec_$(head -c 32 /dev/urandom | base64)"
PIXEL=1234567890123456
DATA="$WORK/data"
mkdir -p "$DATA"
chmod 0777 "$DATA"
common=(--network none --read-only --tmpfs /tmp -v "$DATA:/data" -e META_CAPI_STAGING_URL=/data/bucket -e "META_CAPI_WEBHOOK_SECRETS=$SECRET")

# The image has the receiver and not the source's CDK.
docker run --rm "${common[@]}" --entrypoint python3 "$IMAGE" -c \
  "import importlib.util as u, sys; sys.exit(1 if u.find_spec('airbyte_cdk') else 0)"
# (Outputs go to files first: grep -q closing a pipe early would fail the pipeline.)
docker run --rm "${common[@]}" "$IMAGE" env >"$WORK/env.md"
grep -q META_CAPI_STAGING_URL "$WORK/env.md"

# serve: health, then a signed batch staged end to end.
CONTAINER=$(docker run -d "${common[@]}" "$IMAGE")
for _ in $(seq 30); do
  docker exec "$CONTAINER" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" 2>/dev/null && break
  sleep 1
done
docker exec "$CONTAINER" meta-capi-receiver send-sample --url http://127.0.0.1:8080 --pixel "$PIXEL" --count 3 >"$WORK/sample.txt"
grep -q '^200 ' "$WORK/sample.txt"
docker exec "$CONTAINER" python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"
docker stop -t 20 "$CONTAINER" >/dev/null
docker logs "$CONTAINER" >"$WORK/serve.log" 2>&1
grep -q '"message": "batch staged"' "$WORK/serve.log"
docker rm "$CONTAINER" >/dev/null
CONTAINER=""

# The jobs, as the scheduled Fargate tasks run them.
docker run --rm "${common[@]}" -e META_CAPI_FORWARD_MODE=off "$IMAGE" reconcile --format json >"$WORK/reconcile.jsonl"
"$ROOT/.venv/bin/python" - "$WORK/reconcile.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert sum(row["staged"] for row in rows) == 3, rows
PY
docker run --rm "${common[@]}" -e META_CAPI_FORWARD_MODE=off "$IMAGE" redrive --dry-run >/dev/null
echo "receiver image smoke: serve, sample batch, reconcile and redrive passed"
